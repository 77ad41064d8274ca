// Pixel helpers shared by the photo decoding and encoding tests.
#pragma once

#include <cstdlib>
#include <vector>

#include "encode/image_decoder.h"

namespace tessera::testing_support {

// Returns the BGR bytes of pixel (x, y).
inline std::vector<int> PixelAt(const DecodedImage& image, int x, int y) {
  const size_t offset = (static_cast<size_t>(y) * image.width + x) * 3;
  return {image.bgr[offset], image.bgr[offset + 1], image.bgr[offset + 2]};
}

// True when every channel of `pixel` is within `tolerance` of `expected`.
inline bool NearColour(const std::vector<int>& pixel, const std::vector<int>& expected, int tolerance) {
  for (size_t c = 0; c < 3; ++c) {
    if (std::abs(pixel[c] - expected[c]) > tolerance) return false;
  }
  return true;
}

}  // namespace tessera::testing_support
