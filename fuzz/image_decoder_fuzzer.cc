// Fuzzes photo decoding as POST /api/search/image and ingest run it: format detection, the header
// size readers, the GIF decoder and OpenCV's decoders behind DecodeImage. Beyond crashes and
// sanitizer reports, it checks that a decoded image has the size and pixel count it reports
// and stays within the limits.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "encode/image_decoder.h"
#include "encode/image_header.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // The server's limit is 50 megapixels. A smaller one runs the same checks, and keeps a
  // few-byte JPEG that declares 7000x7000 pixels from taking a second per run.
  ImageLimits limits;
  limits.max_pixels = 4'000'000;

  const ImageFormat format = DetectImageFormat(bytes);
  if (format != ImageFormat::kUnknown) {
    const Result<ImageSize> declared = ReadImageSize(bytes, format);
    if (!declared.ok()) fuzz::CheckErrorMessage(declared.status());
  }

  const Result<DecodedImage> image = DecodeImage(bytes, limits);
  if (!image.ok()) {
    fuzz::CheckErrorMessage(image.status());
    return 0;
  }
  TESSERA_FUZZ_CHECK(image->width > 0 && image->height > 0,
                     std::to_string(image->width) + "x" + std::to_string(image->height));
  const uint64_t pixels = static_cast<uint64_t>(image->width) * static_cast<uint64_t>(image->height);
  TESSERA_FUZZ_CHECK(pixels <= limits.max_pixels, std::to_string(pixels));
  TESSERA_FUZZ_CHECK(image->bgr.size() == pixels * 3, std::to_string(image->bgr.size()));
  return 0;
}
