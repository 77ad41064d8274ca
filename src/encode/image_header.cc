#include "encode/image_header.h"

#include <cstdlib>
#include <string>

namespace tessera {
namespace {

// Byte readers over `bytes`. Callers check that `offset` plus the field width is in range.
uint32_t U8(std::string_view bytes, size_t offset) { return static_cast<unsigned char>(bytes[offset]); }
uint32_t Be16(std::string_view b, size_t o) { return U8(b, o) << 8 | U8(b, o + 1); }
uint32_t Le16(std::string_view b, size_t o) { return U8(b, o) | U8(b, o + 1) << 8; }
uint32_t Le24(std::string_view b, size_t o) { return Le16(b, o) | U8(b, o + 2) << 16; }
uint32_t Be32(std::string_view b, size_t o) { return Be16(b, o) << 16 | Be16(b, o + 2); }
uint32_t Le32(std::string_view b, size_t o) { return Le16(b, o) | Le16(b, o + 2) << 16; }

bool HasBytesAt(std::string_view bytes, size_t offset, std::string_view expected) {
  return bytes.size() >= offset + expected.size() && bytes.substr(offset, expected.size()) == expected;
}

Status TruncatedHeader(ImageFormat format) {
  return Status::Unsupported(std::string("the ") + ImageFormatName(format) +
                             " header could not be read because the file is truncated or damaged: "
                             "send the photo again or convert it to JPEG or PNG");
}

// JPEG (ITU-T T.81): after the SOI marker FF D8 come marker segments FF xx with a 16-bit
// big-endian length that counts itself. The first start-of-frame segment (SOF0-SOF15 except
// DHT C4, JPG C8 and DAC CC) contains precision (1 byte), height (2 bytes) and width (2 bytes).
// Like libjpeg, bytes that are not 0xFF before a marker are skipped.
Result<ImageSize> ReadJpegSize(std::string_view bytes) {
  size_t pos = 2;
  // Every iteration consumes at least the marker byte, so the loop ends within bytes.size() steps.
  while (pos < bytes.size()) {
    while (pos < bytes.size() && U8(bytes, pos) != 0xFF) ++pos;
    while (pos < bytes.size() && U8(bytes, pos) == 0xFF) ++pos;  // fill bytes before the code
    if (pos >= bytes.size()) break;
    const uint32_t marker = U8(bytes, pos++);

    const bool standalone = marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7);
    if (standalone) continue;
    // The image data (SOS) or the end (EOI) before any frame header means there is no frame.
    if (marker == 0xDA || marker == 0xD9) break;
    if (pos + 2 > bytes.size()) break;
    const uint32_t length = Be16(bytes, pos);
    if (length < 2) break;

    const bool start_of_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                                marker != 0xCC;
    if (start_of_frame) {
      if (pos + 7 > bytes.size()) break;
      return ImageSize{Be16(bytes, pos + 5), Be16(bytes, pos + 3)};
    }
    pos += length;
  }
  return TruncatedHeader(ImageFormat::kJpeg);
}

// PNG: the 8-byte signature is followed by the IHDR chunk, whose
// length (4 bytes) and type "IHDR" come first, then width and height as 4-byte big-endian values.
Result<ImageSize> ReadPngSize(std::string_view bytes) {
  if (bytes.size() < 24 || !HasBytesAt(bytes, 12, "IHDR")) return TruncatedHeader(ImageFormat::kPng);
  return ImageSize{Be32(bytes, 16), Be32(bytes, 20)};
}

// GIF (GIF87a and GIF89a): the logical screen width and height follow the
// 6-byte signature as 2-byte little-endian values. Every frame is drawn on that screen.
Result<ImageSize> ReadGifSize(std::string_view bytes) {
  if (bytes.size() < 10) return TruncatedHeader(ImageFormat::kGif);
  return ImageSize{Le16(bytes, 6), Le16(bytes, 8)};
}

// BMP: the 14-byte file header is followed by the DIB header, whose first 4 bytes are its size.
// BITMAPCOREHEADER (size 12) stores width and height as 2-byte values at offsets 18 and 20. Every
// later header stores them as signed 4-byte values at 18 and 22, where a negative height means
// the rows are stored top-down. All fields are little-endian.
Result<ImageSize> ReadBmpSize(std::string_view bytes) {
  if (bytes.size() < 22) return TruncatedHeader(ImageFormat::kBmp);
  if (Le32(bytes, 14) == 12) return ImageSize{Le16(bytes, 18), Le16(bytes, 20)};

  if (bytes.size() < 26) return TruncatedHeader(ImageFormat::kBmp);
  const int64_t width = static_cast<int32_t>(Le32(bytes, 18));
  const int64_t height = static_cast<int32_t>(Le32(bytes, 22));
  if (width < 0) {
    return Status::Unsupported("the BMP header declares a negative width of " + std::to_string(width) +
                               ": the file is damaged, convert it to JPEG or PNG");
  }
  return ImageSize{static_cast<uint64_t>(width), static_cast<uint64_t>(std::llabs(height))};
}

// WebP: "RIFF", a 4-byte size and "WEBP", then the first chunk's type at byte 12 and
// its payload at byte 20.
//   "VP8 " (lossy): a 3-byte frame tag, the start code 9D 01 2A, then width and height as 2-byte
//          little-endian values whose low 14 bits are the size.
//   "VP8L" (lossless): the signature byte 0x2F, then width - 1 and height - 1 as 14-bit fields.
//   "VP8X" (extended): 4 bytes of flags, then canvas width - 1 and height - 1 as 3-byte values.
Result<ImageSize> ReadWebpSize(std::string_view bytes) {
  if (bytes.size() < 30) return TruncatedHeader(ImageFormat::kWebp);
  if (HasBytesAt(bytes, 12, "VP8 ") && HasBytesAt(bytes, 23, "\x9d\x01\x2a")) {
    return ImageSize{Le16(bytes, 26) & 0x3FFF, Le16(bytes, 28) & 0x3FFF};
  }
  if (HasBytesAt(bytes, 12, "VP8L") && U8(bytes, 20) == 0x2F) {
    const uint32_t bits = Le32(bytes, 21);
    return ImageSize{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (HasBytesAt(bytes, 12, "VP8X")) return ImageSize{Le24(bytes, 24) + 1ull, Le24(bytes, 27) + 1ull};
  return TruncatedHeader(ImageFormat::kWebp);
}

// TIFF 6.0: the byte order "II" or "MM", the number 42 and the offset of the first
// IFD. An IFD is a 2-byte entry count and 12-byte entries: tag, type, count, value. The tags
// ImageWidth (256) and ImageLength (257) are SHORT (type 3) or LONG (type 4).
Result<ImageSize> ReadTiffSize(std::string_view bytes) {
  if (bytes.size() < 8) return TruncatedHeader(ImageFormat::kTiff);
  const bool little_endian = bytes[0] == 'I';
  auto u16 = [&](size_t o) { return little_endian ? Le16(bytes, o) : Be16(bytes, o); };
  auto u32 = [&](size_t o) { return little_endian ? Le32(bytes, o) : Be32(bytes, o); };

  const uint64_t ifd = u32(4);
  if (ifd + 2 > bytes.size()) return TruncatedHeader(ImageFormat::kTiff);
  const uint32_t entries = u16(ifd);

  ImageSize size;
  bool has_width = false;
  bool has_height = false;
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t entry = ifd + 2 + 12ull * i;
    if (entry + 12 > bytes.size()) break;
    const uint32_t tag = u16(entry);
    const uint32_t type = u16(entry + 2);
    if ((tag != 256 && tag != 257) || (type != 3 && type != 4)) continue;
    const uint64_t value = type == 3 ? u16(entry + 8) : u32(entry + 8);
    if (tag == 256) {
      size.width = value;
      has_width = true;
    } else {
      size.height = value;
      has_height = true;
    }
  }
  if (!has_width || !has_height) return TruncatedHeader(ImageFormat::kTiff);
  return size;
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kTiff: return "TIFF";
    case ImageFormat::kHeic: return "HEIC";
    case ImageFormat::kAvif: return "AVIF";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

ImageFormat DetectImageFormat(std::string_view bytes) {
  if (HasBytesAt(bytes, 0, "\xff\xd8\xff")) return ImageFormat::kJpeg;
  if (HasBytesAt(bytes, 0, "\x89PNG\r\n\x1a\n")) return ImageFormat::kPng;
  if (HasBytesAt(bytes, 0, "GIF87a") || HasBytesAt(bytes, 0, "GIF89a")) return ImageFormat::kGif;
  if (HasBytesAt(bytes, 0, "BM")) return ImageFormat::kBmp;
  if (HasBytesAt(bytes, 0, "RIFF") && HasBytesAt(bytes, 8, "WEBP")) return ImageFormat::kWebp;
  if (HasBytesAt(bytes, 0, std::string_view("II*\0", 4)) || HasBytesAt(bytes, 0, std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }

  // ISO base media files start with a box of type "ftyp" whose major brand,
  // at bytes 8-11, names the format.
  if (HasBytesAt(bytes, 4, "ftyp") && bytes.size() >= 12) {
    const std::string_view brand = bytes.substr(8, 4);
    for (std::string_view heic : {"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"}) {
      if (brand == heic) return ImageFormat::kHeic;
    }
    if (brand == "avif" || brand == "avis") return ImageFormat::kAvif;
  }
  return ImageFormat::kUnknown;
}

Result<ImageSize> ReadImageSize(std::string_view bytes, ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return ReadJpegSize(bytes);
    case ImageFormat::kPng: return ReadPngSize(bytes);
    case ImageFormat::kGif: return ReadGifSize(bytes);
    case ImageFormat::kBmp: return ReadBmpSize(bytes);
    case ImageFormat::kWebp: return ReadWebpSize(bytes);
    case ImageFormat::kTiff: return ReadTiffSize(bytes);
    case ImageFormat::kHeic:
    case ImageFormat::kAvif:
    case ImageFormat::kUnknown: break;
  }
  return Status::InvalidArgument(std::string("no header reader for the ") + ImageFormatName(format) + " format");
}

}  // namespace tessera
