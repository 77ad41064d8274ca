// Image fixtures are made at test time with ImageMagick's convert, in a temporary folder. The
// solid test colour is rgb(200,30,40), so a decoded pixel is BGR (40,30,200).

#include "encode/image_decoder.h"
#include "encode/image_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/image_test_support.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandInFolder;
using testing_support::HasProgram;
using testing_support::ReadFile;
using testing_support::RunShell;
using testing_support::NearColour;
using testing_support::PixelAt;
using testing_support::TempDir;

constexpr const char* kSolidColour = "'xc:rgb(200,30,40)'";

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) sum += double(a[i]) * b[i];
  return sum;
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasProgram("convert")) {
      GTEST_SKIP() << "ImageMagick's convert is needed to make the test images: apt-get install imagemagick";
    }
    temp_dir_.emplace("tessera-image-");
    ASSERT_FALSE(temp_dir_->path().empty()) << temp_dir_->error();
    dir_ = temp_dir_->path();
  }

  // Runs `convert <arguments>` in the temporary folder and asserts that it succeeded.
  void Convert(const std::string& arguments) {
    const std::string line = CommandInFolder(dir_, "convert " + arguments);
    ASSERT_EQ(RunShell(line), 0) << line;
  }

  // Decodes the file `name` of the temporary folder, expecting success.
  DecodedImage DecodeFile(const std::string& name, const ImageLimits& limits = {}) {
    Result<DecodedImage> image = DecodeImage(ReadFile(dir_ / name), limits);
    EXPECT_TRUE(image.ok()) << name << ": " << image.status().ToString();
    return image.ok() ? std::move(image).value() : DecodedImage{};
  }

  // Decodes `name` and checks its size and that its centre has the solid test colour.
  void ExpectSolidColour(const std::string& name, int tolerance) {
    const DecodedImage image = DecodeFile(name);
    EXPECT_EQ(image.width, 60) << name;
    EXPECT_EQ(image.height, 80) << name;
    ASSERT_EQ(image.bgr.size(), 60u * 80u * 3u) << name;
    const std::vector<int> centre = PixelAt(image, 30, 40);
    EXPECT_TRUE(NearColour(centre, {40, 30, 200}, tolerance))
        << name << ": centre is BGR " << centre[0] << "," << centre[1] << "," << centre[2];
  }

  // Created in SetUp after the program check, so a skipped test makes no folder.
  std::optional<TempDir> temp_dir_;
  fs::path dir_;
};

TEST_F(ImageTest, JpegDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " solid.jpg");
  ExpectSolidColour("solid.jpg", 6);
}

TEST_F(ImageTest, PngDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " PNG24:solid.png");
  ExpectSolidColour("solid.png", 0);
}

TEST_F(ImageTest, SixteenBitPngDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " -depth 16 PNG48:deep.png");
  ExpectSolidColour("deep.png", 1);
}

TEST_F(ImageTest, PalettePngDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " PNG8:palette.png");
  ExpectSolidColour("palette.png", 0);
}

TEST_F(ImageTest, GreyscalePngDecodesToThreeChannels) {
  Convert("-size 60x80 'xc:rgb(90,90,90)' -colorspace Gray -type Grayscale PNG8:grey.png");
  const DecodedImage image = DecodeFile("grey.png");
  ASSERT_EQ(image.bgr.size(), 60u * 80u * 3u);
  EXPECT_TRUE(NearColour(PixelAt(image, 30, 40), {90, 90, 90}, 1));
}

TEST_F(ImageTest, BmpDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " BMP3:solid.bmp");
  ExpectSolidColour("solid.bmp", 0);
}

TEST_F(ImageTest, TiffDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " -depth 8 solid.tiff");
  ExpectSolidColour("solid.tiff", 0);
}

TEST_F(ImageTest, WebpDecodes) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " -quality 90 solid.webp");
  ExpectSolidColour("solid.webp", 8);
}

TEST_F(ImageTest, PngAlphaCompositedOnWhite) {
  // An opaque rectangle on a fully transparent background.
  Convert("-size 60x80 xc:none -fill 'rgb(200,30,40)' -draw 'rectangle 15,20 44,59' PNG32:alpha.png");
  const DecodedImage image = DecodeFile("alpha.png");
  ASSERT_EQ(image.bgr.size(), 60u * 80u * 3u);
  EXPECT_TRUE(NearColour(PixelAt(image, 30, 40), {40, 30, 200}, 0));
  EXPECT_TRUE(NearColour(PixelAt(image, 2, 2), {255, 255, 255}, 0));
}

TEST_F(ImageTest, HalfTransparentPixelBlendsWithWhite) {
  Convert("-size 60x80 'xc:rgba(0,0,0,0.5)' PNG32:half.png");
  const DecodedImage image = DecodeFile("half.png");
  ASSERT_EQ(image.bgr.size(), 60u * 80u * 3u);
  // Black at alpha 128/255 over white gives about 127 in every channel.
  EXPECT_TRUE(NearColour(PixelAt(image, 30, 40), {127, 127, 127}, 2));
}

TEST(DecodeImage, GarbageBytesUnsupported) {
  std::mt19937 random(42);
  std::string garbage(4096, '\0');
  for (char& byte : garbage) byte = static_cast<char>(random() & 0xFF);
  Result<DecodedImage> image = DecodeImage(garbage);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported);
}

TEST(DecodeImage, TextUnsupported) {
  Result<DecodedImage> image = DecodeImage("this is not a photo");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported);
}

TEST(DecodeImage, EmptyInputInvalid) {
  Result<DecodedImage> image = DecodeImage("");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ImageTest, TruncatedPngRejected) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " PNG24:solid.png");
  const std::string bytes = ReadFile(dir_ / "solid.png");
  Result<DecodedImage> image = DecodeImage(bytes.substr(0, 40));
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kUnsupported);
}

TEST_F(ImageTest, OverByteLimitTooLarge) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " BMP3:solid.bmp");
  const std::string bytes = ReadFile(dir_ / "solid.bmp");
  ImageLimits limits;
  limits.max_bytes = bytes.size() - 1;
  Result<DecodedImage> image = DecodeImage(bytes, limits);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kTooLarge);

  limits.max_bytes = bytes.size();
  EXPECT_TRUE(DecodeImage(bytes, limits).ok());
}

TEST_F(ImageTest, OverPixelLimitTooLarge) {
  Convert("-size 60x80 " + std::string(kSolidColour) + " PNG24:solid.png");
  const std::string bytes = ReadFile(dir_ / "solid.png");
  ImageLimits limits;
  limits.max_pixels = 60 * 80 - 1;
  Result<DecodedImage> image = DecodeImage(bytes, limits);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kTooLarge);

  limits.max_pixels = 60 * 80;
  EXPECT_TRUE(DecodeImage(bytes, limits).ok());
}

TEST_F(ImageTest, EncoderOutputUnitLengthOfDimension) {
  Convert("-size 60x80 xc:white -fill 'rgb(200,30,40)' -draw 'rectangle 15,20 44,59' PNG24:shape.png");
  const ColourShapeEncoder encoder;
  const std::vector<float> vector = encoder.Encode(DecodeFile("shape.png"));
  EXPECT_EQ(vector.size(), encoder.dimension());
  EXPECT_NEAR(Dot(vector, vector), 1.0, 1e-5);
  for (float v : vector) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(ImageTest, ConcatenatedEncoderWeighsItsParts) {
  Convert("-size 60x80 xc:white -fill 'rgb(200,30,20)' -draw 'rectangle 15,20 44,59' PNG24:red.png");
  Convert("-size 60x80 xc:white -fill 'rgb(20,30,200)' -draw 'rectangle 10,10 50,70' PNG24:blue.png");
  std::vector<std::unique_ptr<ImageEncoder>> parts;
  parts.push_back(std::make_unique<ColourShapeEncoder>());
  parts.push_back(std::make_unique<ColourShapeEncoder>());
  const ConcatenatedImageEncoder concatenated(std::move(parts), {1.0f, 2.0f});
  const ColourShapeEncoder single;
  EXPECT_EQ(concatenated.name(), "colour-shape-v1+colour-shape-v1");
  EXPECT_EQ(concatenated.dimension(), 2 * single.dimension());

  const std::vector<float> red = concatenated.Encode(DecodeFile("red.png"));
  const std::vector<float> blue = concatenated.Encode(DecodeFile("blue.png"));
  ASSERT_EQ(red.size(), concatenated.dimension());
  EXPECT_NEAR(Dot(red, red), 1.0, 1e-5);
  // Both parts are the same encoder, so the weighted mean of their cosines is that cosine.
  EXPECT_NEAR(Dot(red, blue), Dot(single.Encode(DecodeFile("red.png")), single.Encode(DecodeFile("blue.png"))), 1e-5);
  // The second part, weighted 2, carries 4/5 of the squared length.
  double second = 0;
  for (size_t i = single.dimension(); i < red.size(); ++i) second += double(red[i]) * red[i];
  EXPECT_NEAR(second, 0.8, 1e-5);
}

TEST_F(ImageTest, EncoderHandlesAllWhiteImage) {
  // Nothing but background: no foreground pixel, no gradient.
  Convert("-size 60x80 xc:white PNG24:white.png");
  const ColourShapeEncoder encoder;
  const std::vector<float> vector = encoder.Encode(DecodeFile("white.png"));
  EXPECT_EQ(vector.size(), encoder.dimension());
  for (float v : vector) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(ImageTest, EncoderHandlesLargeAndOddSizes) {
  Convert("-size 1800x2400 xc:white -fill 'rgb(20,40,200)' -draw 'rectangle 400,500 1400,1900' big.jpg");
  Convert("-size 7x3 xc:'rgb(20,40,200)' PNG24:tiny.png");
  const ColourShapeEncoder encoder;
  for (const char* name : {"big.jpg", "tiny.png"}) {
    const std::vector<float> vector = encoder.Encode(DecodeFile(name));
    EXPECT_EQ(vector.size(), encoder.dimension()) << name;
    EXPECT_NEAR(Dot(vector, vector), 1.0, 1e-5) << name;
  }
}

TEST_F(ImageTest, RedCloserToRedThanToBlue) {
  // The second red is darker and shifted by a few pixels. The blue rectangle has exactly the
  // first one's shape, so only colour separates them. Both reds fall in the same hue,
  // saturation and value bins. The bins have hard edges, so a red with a value below 171 of 255
  // would share no colour bin with the first.
  Convert("-size 60x80 xc:white -fill 'rgb(200,30,20)' -draw 'rectangle 15,20 44,59' PNG24:red.png");
  Convert("-size 60x80 xc:white -fill 'rgb(185,30,30)' -draw 'rectangle 17,23 46,62' PNG24:other_red.png");
  Convert("-size 60x80 xc:white -fill 'rgb(20,30,200)' -draw 'rectangle 15,20 44,59' PNG24:blue.png");
  const ColourShapeEncoder encoder;
  const std::vector<float> red = encoder.Encode(DecodeFile("red.png"));
  const std::vector<float> other_red = encoder.Encode(DecodeFile("other_red.png"));
  const std::vector<float> blue = encoder.Encode(DecodeFile("blue.png"));
  EXPECT_GT(Dot(red, other_red), Dot(red, blue));
}

TEST_F(ImageTest, CataloguePhotoAsPngIsOwnNearest) {
  const fs::path images = fs::path(TESSERA_DATA_DIR) / "fashion" / "images";
  const fs::path query_photo = images / "15970.jpg";
  if (!fs::exists(query_photo)) GTEST_SKIP() << "the catalogue photos are not at " << images;

  // The query photo and the first 199 other photos in file-name order.
  std::vector<fs::path> photos;
  for (const fs::directory_entry& entry : fs::directory_iterator(images)) {
    if (entry.path().extension() == ".jpg" && entry.path() != query_photo) photos.push_back(entry.path());
  }
  std::sort(photos.begin(), photos.end());
  photos.resize(std::min<size_t>(photos.size(), 199));
  photos.push_back(query_photo);
  ASSERT_EQ(photos.size(), 200u);

  const ColourShapeEncoder encoder;
  std::vector<std::vector<float>> vectors;
  for (const fs::path& photo : photos) {
    Result<DecodedImage> image = DecodeImage(ReadFile(photo));
    ASSERT_TRUE(image.ok()) << photo << ": " << image.status().ToString();
    vectors.push_back(encoder.Encode(*image));
  }

  Convert("'" + query_photo.string() + "' PNG24:query.png");
  const std::vector<float> query = encoder.Encode(DecodeFile("query.png"));
  size_t best = 0;
  for (size_t i = 1; i < vectors.size(); ++i) {
    if (Dot(query, vectors[i]) > Dot(query, vectors[best])) best = i;
  }
  EXPECT_EQ(photos[best].filename(), "15970.jpg");
  EXPECT_GT(Dot(query, vectors.back()), 0.99);
}

}  // namespace
}  // namespace tessera
