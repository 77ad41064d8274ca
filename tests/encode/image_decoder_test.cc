// Decoder robustness: every format, EXIF orientation, transparency, unsupported and damaged files,
// and decompression bombs. Fixtures are made at test time with ImageMagick's convert in a
// temporary folder, or written byte by byte where convert cannot make them (EXIF orientation,
// HEIC headers, forged sizes). The solid colour is rgb(200,30,40), so a decoded pixel is BGR
// (40,30,200).

#include "encode/image_decoder.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/image_test_support.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::CommandInFolder;
using testing_support::HasProgram;
using testing_support::ReadFile;
using testing_support::RunShell;
using testing_support::NearColour;
using testing_support::PixelAt;
using testing_support::TempDir;

constexpr const char* kSolid = "'xc:rgb(200,30,40)'";
const std::vector<int> kSolidBgr = {40, 30, 200};
const std::vector<int> kWhite = {255, 255, 255};
const std::vector<int> kBlueBgr = {255, 0, 0};

std::string Describe(const std::vector<int>& pixel) {
  return "BGR(" + std::to_string(pixel[0]) + "," + std::to_string(pixel[1]) + "," + std::to_string(pixel[2]) + ")";
}

void PutBe32(std::string& bytes, size_t offset, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>(value >> (24 - 8 * i));
}

void PutBe16(std::string& bytes, size_t offset, uint32_t value) {
  bytes[offset] = static_cast<char>(value >> 8);
  bytes[offset + 1] = static_cast<char>(value);
}

// CRC-32 as PNG computes it (reflected polynomial 0xEDB88320).
uint32_t Crc32(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char byte : bytes) {
    crc ^= static_cast<unsigned char>(byte);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// Rewrites the IHDR width and height of a PNG and its CRC, so only the size check can reject it.
std::string WithPngSize(std::string png, uint32_t width, uint32_t height) {
  PutBe32(png, 16, width);
  PutBe32(png, 20, height);
  PutBe32(png, 29, Crc32(std::string_view(png).substr(12, 17)));  // covers "IHDR" and its 13 bytes
  return png;
}

// Inserts an APP1 EXIF segment with one IFD entry, Orientation (tag 0x0112, SHORT) = `orientation`,
// right after the JPEG's SOI marker. The TIFF block is big-endian ("MM").
std::string WithExifOrientation(const std::string& jpeg, uint16_t orientation) {
  std::string tiff("MM\0\x2a\0\0\0\x08", 8);                  // byte order, 42, first IFD at offset 8
  tiff += std::string("\0\x01", 2);                             // one entry
  tiff += std::string("\x01\x12\0\x03\0\0\0\x01", 8);           // tag 0x0112, type SHORT, count 1
  tiff += std::string(1, '\0') + static_cast<char>(orientation) + std::string(2, '\0');  // value
  tiff += std::string(4, '\0');                                 // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::string segment = "\xff\xe1";
  segment += "  ";
  PutBe16(segment, 2, static_cast<uint32_t>(payload.size() + 2));
  return jpeg.substr(0, 2) + segment + payload + jpeg.substr(2);
}

class ImageDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasProgram("convert")) {
      GTEST_SKIP() << "ImageMagick's convert is needed to make the test images: apt-get install imagemagick";
    }
    temp_dir_.emplace("tessera-decoder-");
    ASSERT_FALSE(temp_dir_->path().empty()) << temp_dir_->error();
  }

  // Runs `convert <arguments> <file>` in the temporary folder and returns the file's bytes, or
  // an empty string when convert failed.
  std::string Convert(const std::string& arguments, const std::string& file) {
    const int status = RunShell(CommandInFolder(temp_dir_->path(), "convert " + arguments + " " + file));
    if (status != 0) return "";
    return ReadFile(temp_dir_->path() / file);
  }

  std::optional<TempDir> temp_dir_;
};

TEST_F(ImageDecoderTest, EachFormatDecodesAtItsSize) {
  struct Case {
    std::string file;
    std::string arguments;
    int tolerance;
  };
  const std::vector<Case> cases = {
      {"solid.jpg", "-size 64x48 " + std::string(kSolid), 8},
      {"solid.png", "-size 64x48 " + std::string(kSolid), 0},
      {"solid.webp", "-size 64x48 " + std::string(kSolid) + " -quality 95", 12},
      {"lossless.webp", "-size 64x48 " + std::string(kSolid) + " -define webp:lossless=true", 0},
      {"solid.bmp", "-size 64x48 " + std::string(kSolid), 0},
      {"solid.tiff", "-size 64x48 " + std::string(kSolid), 0},
      {"solid.gif", "-size 64x48 " + std::string(kSolid), 0},
      {"palette.png", "-size 64x48 " + std::string(kSolid) + " -type Palette", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string bytes = Convert(c.arguments, c.file);
    ASSERT_FALSE(bytes.empty()) << "convert could not write " << c.file;

    Result<DecodedImage> image = DecodeImage(bytes);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(image->width, 64);
    EXPECT_EQ(image->height, 48);
    EXPECT_TRUE(NearColour(PixelAt(*image, 10, 10), kSolidBgr, c.tolerance)) << Describe(PixelAt(*image, 10, 10));
  }
}

TEST_F(ImageDecoderTest, GreyPngBecomesGreyBgr) {
  const std::string bytes = Convert("-size 30x20 'xc:rgb(90,90,90)' -colorspace Gray -type Grayscale", "grey.png");
  ASSERT_FALSE(bytes.empty());

  Result<DecodedImage> image = DecodeImage(bytes);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 30);
  EXPECT_EQ(image->height, 20);
  EXPECT_TRUE(NearColour(PixelAt(*image, 5, 5), {90, 90, 90}, 2)) << Describe(PixelAt(*image, 5, 5));
}

TEST_F(ImageDecoderTest, CmykJpegDecodes) {
  const std::string bytes = Convert("-size 64x48 " + std::string(kSolid) + " -colorspace CMYK", "cmyk.jpg");
  ASSERT_FALSE(bytes.empty());

  Result<DecodedImage> image = DecodeImage(bytes);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 64);
  EXPECT_EQ(image->height, 48);
  EXPECT_TRUE(NearColour(PixelAt(*image, 10, 10), kSolidBgr, 16)) << Describe(PixelAt(*image, 10, 10));
}

TEST_F(ImageDecoderTest, ProgressiveJpegDecodes) {
  const std::string bytes = Convert("-size 64x48 " + std::string(kSolid) + " -interlace Plane", "progressive.jpg");
  ASSERT_FALSE(bytes.empty());
  // A progressive JPEG has an SOF2 marker (FF C2) in place of the baseline SOF0.
  ASSERT_NE(bytes.find("\xff\xc2"), std::string::npos) << "convert did not write a progressive JPEG";

  Result<DecodedImage> image = DecodeImage(bytes);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 64);
  EXPECT_EQ(image->height, 48);
  EXPECT_TRUE(NearColour(PixelAt(*image, 10, 10), kSolidBgr, 8)) << Describe(PixelAt(*image, 10, 10));
}

TEST_F(ImageDecoderTest, TransparentRegionBecomesWhite) {
  // The left 20x20 square is the solid colour and the right half is fully transparent.
  const std::string draw = "-size 40x20 xc:none -fill 'rgb(200,30,40)' -draw 'rectangle 0,0 19,19'";
  for (const std::string file : {"alpha.png", "alpha.webp", "alpha.gif"}) {
    SCOPED_TRACE(file);
    const std::string bytes = Convert(draw, file);
    ASSERT_FALSE(bytes.empty());

    Result<DecodedImage> image = DecodeImage(bytes);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_EQ(image->width, 40);
    ASSERT_EQ(image->height, 20);
    EXPECT_TRUE(NearColour(PixelAt(*image, 5, 10), kSolidBgr, 6)) << Describe(PixelAt(*image, 5, 10));
    EXPECT_TRUE(NearColour(PixelAt(*image, 35, 10), kWhite, 0)) << Describe(PixelAt(*image, 35, 10));
  }
}

TEST_F(ImageDecoderTest, SixteenBitPngScalesToEightBit) {
  const std::string bytes =
      Convert("-size 30x20 " + std::string(kSolid) + " -depth 16 -define png:bit-depth=16", "deep.png");
  ASSERT_FALSE(bytes.empty());
  ASSERT_EQ(static_cast<unsigned char>(bytes[24]), 16) << "the IHDR bit depth is not 16";

  Result<DecodedImage> image = DecodeImage(bytes);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 30);
  EXPECT_EQ(image->height, 20);
  EXPECT_TRUE(NearColour(PixelAt(*image, 5, 5), kSolidBgr, 1)) << Describe(PixelAt(*image, 5, 5));
}

TEST_F(ImageDecoderTest, ExifOrientationRotatesJpeg) {
  // Stored 40x20: the left half is the solid colour and the right half blue. Orientation 6 means
  // "rotate 90 degrees clockwise to display", so the left half ends up on top of a 20x40 image.
  const std::string stored =
      Convert("-size 20x20 " + std::string(kSolid) + " -size 20x20 xc:blue +append -quality 95", "stored.jpg");
  ASSERT_FALSE(stored.empty());

  Result<DecodedImage> image = DecodeImage(WithExifOrientation(stored, 6));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 20);
  EXPECT_EQ(image->height, 40);
  EXPECT_TRUE(NearColour(PixelAt(*image, 10, 5), kSolidBgr, 12)) << Describe(PixelAt(*image, 10, 5));
  EXPECT_TRUE(NearColour(PixelAt(*image, 10, 35), kBlueBgr, 12)) << Describe(PixelAt(*image, 10, 35));
}

TEST_F(ImageDecoderTest, GifDecodesFirstFrameOnly) {
  const std::string bytes =
      Convert("-size 30x20 " + std::string(kSolid) + " -size 30x20 xc:blue -size 30x20 xc:lime", "animated.gif");
  ASSERT_FALSE(bytes.empty());

  Result<DecodedImage> image = DecodeImage(bytes);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->width, 30);
  EXPECT_EQ(image->height, 20);
  EXPECT_TRUE(NearColour(PixelAt(*image, 15, 10), kSolidBgr, 0)) << Describe(PixelAt(*image, 15, 10));
}

TEST_F(ImageDecoderTest, InterlacedGifDecodes) {
  // Rows repeat solid, blue, white, white. An interlaced GIF stores them in four passes, so a
  // wrong row order puts a colour on the wrong row.
  std::string rows;
  for (int repeat = 0; repeat < 3; ++repeat) {
    rows += " -size 16x1 " + std::string(kSolid) + " -size 16x1 xc:blue -size 16x2 xc:white";
  }
  const std::string bytes = Convert(rows + " -append -interlace GIF", "interlaced.gif");
  ASSERT_FALSE(bytes.empty());

  Result<DecodedImage> image = DecodeImage(bytes);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ASSERT_EQ(image->width, 16);
  ASSERT_EQ(image->height, 12);
  for (int y = 0; y < 12; y += 4) {
    EXPECT_TRUE(NearColour(PixelAt(*image, 3, y), kSolidBgr, 0)) << "row " << y << " " << Describe(PixelAt(*image, 3, y));
    EXPECT_TRUE(NearColour(PixelAt(*image, 3, y + 1), kBlueBgr, 0)) << "row " << y + 1;
    EXPECT_TRUE(NearColour(PixelAt(*image, 3, y + 2), kWhite, 0)) << "row " << y + 2;
  }
}

TEST_F(ImageDecoderTest, HeicRejectedAsUnsupported) {
  // An ISO base media file: a 24-byte ftyp box with major brand "heic" and brands mif1 and heic.
  std::string heic("\0\0\0\x18" "ftyp" "heic" "\0\0\0\0" "mif1" "heic", 24);
  heic += std::string(200, '\x55');

  Result<DecodedImage> image = DecodeImage(heic);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(image.status().message().find("HEIC"), std::string::npos) << image.status().message();
}

TEST_F(ImageDecoderTest, AvifRejectedAsUnsupported) {
  std::string avif("\0\0\0\x1c" "ftyp" "avif" "\0\0\0\0" "avif" "mif1" "miaf", 28);
  avif += std::string(200, '\x55');

  Result<DecodedImage> image = DecodeImage(avif);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(image.status().message().find("AVIF"), std::string::npos) << image.status().message();
}

TEST_F(ImageDecoderTest, TruncatedJpegNeverCrashes) {
  // Noise makes the entropy-coded data long enough to cut in the middle.
  const std::string full = Convert("-size 64x48 xc: +noise Random -quality 90", "noise.jpg");
  ASSERT_GT(full.size(), 2000u);

  for (const size_t length : {full.size() / 2, size_t{400}, size_t{20}, size_t{3}}) {
    SCOPED_TRACE("first " + std::to_string(length) + " bytes");
    Result<DecodedImage> image = DecodeImage(std::string_view(full).substr(0, length));
    if (image.ok()) {
      EXPECT_EQ(image->width, 64);
      EXPECT_EQ(image->height, 48);
    } else {
      EXPECT_EQ(image.status().code(), StatusCode::kUnsupported) << image.status().ToString();
    }
  }

  // Cut before the frame header, the size cannot be read, so the file must be rejected.
  Result<DecodedImage> header_only = DecodeImage(std::string_view(full).substr(0, 20));
  ASSERT_FALSE(header_only.ok());
  EXPECT_EQ(header_only.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(header_only.status().message().find("JPEG header could not be read"), std::string::npos)
      << header_only.status().message();
}

TEST_F(ImageDecoderTest, PngBombRejectedBeforeDecoding) {
  const std::string tiny = Convert("-size 1x1 " + std::string(kSolid), "tiny.png");
  ASSERT_GE(tiny.size(), 33u);
  const std::string bomb = WithPngSize(tiny, 100000, 100000);

  const auto start = std::chrono::steady_clock::now();
  Result<DecodedImage> image = DecodeImage(bomb);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kTooLarge) << image.status().ToString();
  EXPECT_NE(image.status().message().find("100000x100000"), std::string::npos) << image.status().message();
  EXPECT_NE(image.status().message().find("50000000"), std::string::npos) << image.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST_F(ImageDecoderTest, JpegBombRejectedBeforeDecoding) {
  std::string jpeg = Convert("-size 8x8 " + std::string(kSolid), "small.jpg");
  const size_t frame = jpeg.find("\xff\xc0");
  ASSERT_NE(frame, std::string::npos) << "no baseline frame header in the JPEG";
  PutBe16(jpeg, frame + 5, 60000);  // height
  PutBe16(jpeg, frame + 7, 60000);  // width

  Result<DecodedImage> image = DecodeImage(jpeg);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kTooLarge) << image.status().ToString();
  EXPECT_NE(image.status().message().find("60000x60000"), std::string::npos) << image.status().message();
}

TEST_F(ImageDecoderTest, EachFormatHeaderCheckedAgainstLimit) {
  ImageLimits limits;
  limits.max_pixels = 1000;  // a 64x48 image has 3072 pixels
  for (const std::string file : {"limit.jpg", "limit.png", "limit.gif", "limit.bmp", "limit.webp", "limit.tiff"}) {
    SCOPED_TRACE(file);
    const std::string bytes = Convert("-size 64x48 " + std::string(kSolid), file);
    ASSERT_FALSE(bytes.empty());

    Result<DecodedImage> image = DecodeImage(bytes, limits);
    ASSERT_FALSE(image.ok());
    EXPECT_EQ(image.status().code(), StatusCode::kTooLarge) << image.status().ToString();
    EXPECT_NE(image.status().message().find("64x48"), std::string::npos) << image.status().message();
  }
}

TEST_F(ImageDecoderTest, ZeroOrAbsurdSizeRejectedAsInvalid) {
  const std::string tiny = Convert("-size 1x1 " + std::string(kSolid), "tiny.png");
  ASSERT_GE(tiny.size(), 33u);

  for (const auto& [width, height] : {std::pair<uint32_t, uint32_t>{0, 10}, {10, 0}, {2000000, 1}}) {
    SCOPED_TRACE(std::to_string(width) + "x" + std::to_string(height));
    Result<DecodedImage> image = DecodeImage(WithPngSize(tiny, width, height));
    ASSERT_FALSE(image.ok());
    EXPECT_EQ(image.status().code(), StatusCode::kInvalidArgument) << image.status().ToString();
  }
}

TEST_F(ImageDecoderTest, RandomBytesRejectedAsUnsupported) {
  std::mt19937 random(20240601);
  std::string noise(4096, '\0');
  for (char& byte : noise) byte = static_cast<char>(random() & 0xFF);

  Result<DecodedImage> image = DecodeImage(noise);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported) << image.status().ToString();
  EXPECT_NE(image.status().message().find("not in a format this server decodes"), std::string::npos)
      << image.status().message();
}

}  // namespace
}  // namespace tessera
