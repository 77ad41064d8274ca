// Decodes the first frame of a GIF with giflib, because Debian 12's OpenCV 4.6 is built without
// a GIF reader (cv::imdecode returns an empty image for a valid GIF).
#pragma once

#include <string_view>

#include "common/status.h"
#include "encode/image_decoder.h"

namespace tessera {

// Decodes the first frame of the GIF in `bytes` onto a white canvas of the logical screen size,
// with transparent pixels left white. Later frames are ignored and never decoded.
// Preconditions: the caller has checked the screen size against its pixel limit, because this
// function allocates width * height * 3 bytes for it.
// Errors: a damaged or truncated file, or a file with no frame -> kUnsupported.
// `bytes` is only read during the call.
Result<DecodedImage> DecodeGifFirstFrame(std::string_view bytes);

}  // namespace tessera
