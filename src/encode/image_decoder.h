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

// Decodes JPEG, PNG, WebP, BMP, TIFF, the first frame of a GIF, and the other formats Debian's
// OpenCV 4.6 reads. Alpha is composited onto white, since catalogue photos are shot on white.
// A JPEG's EXIF orientation is applied. For JPEG, PNG, GIF, BMP, WebP and TIFF the size declared
// in the header is checked against `limits` before any pixel is allocated.
// Errors: empty input, a zero side or a side above 2^20 pixels -> kInvalidArgument; more bytes
// or pixels than `limits` allow -> kTooLarge; HEIC, AVIF, damaged or unknown bytes -> kUnsupported.
// `bytes` is only read during the call.
Result<DecodedImage> DecodeImage(std::string_view bytes, const ImageLimits& limits = {});

}  // namespace tessera
