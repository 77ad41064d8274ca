// Identifies an image's format from its magic bytes and reads its declared width and height from
// the header, without decoding any pixels, so oversized images can be rejected before allocation.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace tessera {

enum class ImageFormat {
  kUnknown,
  kJpeg,
  kPng,
  kGif,
  kBmp,
  kWebp,
  kTiff,
  kHeic,  // ISO base media file with a HEIC/HEIF brand (iPhone photos)
  kAvif,  // ISO base media file with an AVIF brand
};

// Returns a short upper-case name for messages, e.g. "JPEG".
const char* ImageFormatName(ImageFormat format);

// Returns the format named by the first bytes of `bytes`, or kUnknown. Reads at most 12 bytes.
ImageFormat DetectImageFormat(std::string_view bytes);

// Width and height in pixels as the header declares them, before any check against limits.
struct ImageSize {
  uint64_t width = 0;
  uint64_t height = 0;
};

// Reads the declared size of a JPEG, PNG, GIF, BMP, WebP or TIFF image from its header.
// Errors: the header is truncated or malformed -> kUnsupported; `format` has no header reader
// (kUnknown, kHeic, kAvif) -> kInvalidArgument. The size may be zero or huge: callers check it.
// Thread-safe; `bytes` is only read during the call.
Result<ImageSize> ReadImageSize(std::string_view bytes, ImageFormat format);

}  // namespace tessera
