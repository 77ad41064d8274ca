#include "encode/gif_decoder.h"

#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace tessera {
namespace {

// The unread rest of the input, handed to giflib through GifFileType::UserData.
struct GifSource {
  std::string_view remaining;
};

int ReadFromSource(GifFileType* gif, GifByteType* out, int length) {
  auto* source = static_cast<GifSource*>(gif->UserData);
  const size_t count = std::min(source->remaining.size(), static_cast<size_t>(std::max(length, 0)));
  std::memcpy(out, source->remaining.data(), count);
  source->remaining.remove_prefix(count);
  return static_cast<int>(count);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int ignored = 0;
    DGifCloseFile(gif, &ignored);
  }
};
using GifHandle = std::unique_ptr<GifFileType, GifCloser>;

Status GifError(const char* step, int code) {
  const char* reason = GifErrorString(code);
  return Status::Unsupported(std::string("the GIF could not be decoded (") + step + ": " +
                             (reason != nullptr ? reason : "unknown error") +
                             "): the file is damaged, convert it to JPEG or PNG");
}

// Reads one extension record with all its sub-blocks. A graphics control extension stores its
// transparent palette index in `*transparent`, and other extensions leave it unchanged.
Status SkipExtension(GifFileType* gif, int* transparent) {
  int code = 0;
  GifByteType* block = nullptr;
  if (DGifGetExtension(gif, &code, &block) != GIF_OK) return GifError("reading an extension", gif->Error);
  if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr) {
    GraphicsControlBlock control;
    if (DGifExtensionToGCB(block[0], block + 1, &control) == GIF_OK) *transparent = control.TransparentColor;
  }
  // Each call consumes one sub-block of the input, so this ends at the input's end at the latest.
  while (block != nullptr) {
    if (DGifGetExtensionNext(gif, &block) != GIF_OK) return GifError("reading an extension", gif->Error);
  }
  return Status::Ok();
}

// Decodes the frame whose image descriptor was just read onto `image`, clipped to the screen.
Status DrawFrame(GifFileType* gif, int transparent, DecodedImage& image) {
  const GifImageDesc& frame = gif->Image;
  const ColorMapObject* palette = frame.ColorMap != nullptr ? frame.ColorMap : gif->SColorMap;
  if (palette == nullptr) {
    return Status::Unsupported("the GIF has no colour palette: the file is damaged, convert it to JPEG or PNG");
  }
  if (frame.Width <= 0 || frame.Height <= 0) {
    return Status::Unsupported("the GIF's first frame is " + std::to_string(frame.Width) + "x" +
                               std::to_string(frame.Height) + " pixels: the file is damaged");
  }

  // Interlaced frames store rows in four passes: every 8th row from row 0,
  // every 8th from row 4, every 4th from row 2, then every 2nd from row 1.
  std::vector<int> row_order;
  row_order.reserve(frame.Height);
  if (frame.Interlace) {
    const int starts[] = {0, 4, 2, 1};
    const int steps[] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int row = starts[pass]; row < frame.Height; row += steps[pass]) row_order.push_back(row);
    }
  } else {
    for (int row = 0; row < frame.Height; ++row) row_order.push_back(row);
  }

  std::vector<GifPixelType> line(frame.Width);
  for (const int row : row_order) {
    if (DGifGetLine(gif, line.data(), frame.Width) != GIF_OK) return GifError("reading the first frame", gif->Error);
    const int y = frame.Top + row;
    if (y < 0 || y >= image.height) continue;
    for (int column = 0; column < frame.Width; ++column) {
      const int x = frame.Left + column;
      const int index = line[column];
      if (x < 0 || x >= image.width || index == transparent || index >= palette->ColorCount) continue;
      const GifColorType& colour = palette->Colors[index];
      uint8_t* pixel = &image.bgr[(static_cast<size_t>(y) * image.width + x) * 3];
      pixel[0] = colour.Blue;
      pixel[1] = colour.Green;
      pixel[2] = colour.Red;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<DecodedImage> DecodeGifFirstFrame(std::string_view bytes) {
  GifSource source{bytes};
  int error = 0;
  GifHandle gif(DGifOpen(&source, ReadFromSource, &error));
  if (gif == nullptr) return GifError("reading the header", error);
  if (gif->SWidth <= 0 || gif->SHeight <= 0) {
    return Status::InvalidArgument("the GIF declares a " + std::to_string(gif->SWidth) + "x" +
                                   std::to_string(gif->SHeight) + " screen: the file is damaged");
  }

  // The screen starts white, so pixels the first frame leaves uncovered or transparent are white.
  DecodedImage image;
  image.width = gif->SWidth;
  image.height = gif->SHeight;
  image.bgr.assign(static_cast<size_t>(image.width) * image.height * 3, 255);

  // Walk the records up to the first image descriptor. Each record consumes input, so the loop
  // ends at the input's end at the latest.
  int transparent = NO_TRANSPARENT_COLOR;
  while (true) {
    GifRecordType record = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif.get(), &record) != GIF_OK) return GifError("reading a record", gif->Error);
    if (record == TERMINATE_RECORD_TYPE) {
      return Status::Unsupported("the GIF contains no frame: the file is damaged, convert it to JPEG or PNG");
    }
    if (record == EXTENSION_RECORD_TYPE) {
      Status skipped = SkipExtension(gif.get(), &transparent);
      if (!skipped.ok()) return skipped;
      continue;
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;

    if (DGifGetImageDesc(gif.get()) != GIF_OK) return GifError("reading the first frame", gif->Error);
    Status drawn = DrawFrame(gif.get(), transparent, image);
    if (!drawn.ok()) return drawn;
    return image;
  }
}

}  // namespace tessera
