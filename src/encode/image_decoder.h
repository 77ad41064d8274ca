// Decodes uploaded and catalogue photos into pixels, within byte and pixel limits.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

struct ImageLimits {
  size_t max_bytes = 20u << 20;         // 20 MiB
  uint64_t max_pixels = 50'000'000;     // 50 megapixels; guards against decompression bombs
};

// An 8-bit BGR image in row-major order (OpenCV's channel order), 3 bytes per pixel.
struct DecodedImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> bgr;
};

// Decodes JPEG, PNG, WebP, BMP, TIFF and the other formats Debian's OpenCV 4.6 reads. Alpha is
// composited onto white, since catalogue photos are shot on white. Errors: empty input or
// over-limit input -> kInvalidArgument / kTooLarge; bytes no decoder accepts -> kUnsupported.
Result<DecodedImage> DecodeImage(std::string_view bytes, const ImageLimits& limits = {});

}  // namespace tessera
