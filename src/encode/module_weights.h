// The weights of a libtorch module as bytes: the payload of a model file (common/model_file.h)
// for every model Tessera trains with libtorch.
#pragma once

#include <string>
#include <string_view>

#include <torch/nn/module.h>

#include "common/status.h"

namespace tessera {

// Serializes the parameters and buffers of `module`. `model_name` names the model in the error, e.g.
// "joint-space".
Result<std::string> SerializeWeights(const torch::nn::Module& module, std::string_view model_name);

// Loads weights written by SerializeWeights into `module`, whose layers must have the same names
// and shapes. Fails with kCorruption, naming `source` (e.g. "model file /path"), when the bytes
// cannot be read or do not fit the module.
Status LoadWeights(torch::nn::Module& module, std::string_view bytes, std::string_view source);

}  // namespace tessera
