// The product text the joint space encodes, shared by training and serving so both see the
// same words.
#pragma once

#include <string>

#include "ingest/product.h"

namespace tessera {

// The words a shopper may type that the title can lack: the article type, colour, gender and
// usage attributes of the fashion catalogue, or the deepest category of other catalogues.
std::string JointSpaceExtraText(const Product& product);

// The title followed by JointSpaceExtraText: what the engine encodes for every product.
std::string JointSpaceProductText(const Product& product);

}  // namespace tessera
