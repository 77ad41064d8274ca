// PhotoTextReader: Tesseract on photos made at test time with ImageMagick.
#include "encode/photo_text_reader.h"

#include <filesystem>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

// The Chinese font of Debian's fonts-wqy-microhei, which scripts/setup.sh installs.
constexpr const char* kChineseFont = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

class PhotoTextReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << dir_.error();
    ASSERT_TRUE(testing_support::HasProgram("convert")) << "ImageMagick's convert is needed: run scripts/setup.sh";
    Result<std::unique_ptr<PhotoTextReader>> reader = PhotoTextReader::Create();
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    reader_ = std::move(reader).value();
  }

  // A photo of `width` x `height` with `text` printed in black on a light grey
  // background, as a label or a printed slogan appears.
  DecodedImage Photo(int width, int height, const std::string& text, const std::string& font = "DejaVu-Sans-Bold",
                     int point_size = 64) {
    const fs::path path = fs::path(dir_.path()) / ("photo" + std::to_string(++count_) + ".png");
    const std::string command = "convert -size " + std::to_string(width) + "x" + std::to_string(height) +
                                " xc:'#f4f4f4' -font '" + font + "' -pointsize " + std::to_string(point_size) +
                                " -fill black -gravity center -annotate +0+0 '" + text + "' '" + path.string() + "'";
    EXPECT_EQ(testing_support::RunShell(command), 0) << command;
    Result<DecodedImage> image = DecodeImage(testing_support::ReadFile(path));
    EXPECT_TRUE(image.ok()) << image.status().ToString();
    return image.ok() ? *image : DecodedImage{};
  }

  TempDir dir_{"tessera-ocr-"};
  int count_ = 0;
  std::unique_ptr<PhotoTextReader> reader_;
};

TEST_F(PhotoTextReaderTest, ReadsEnglishPrint) {
  Result<PhotoText> text = reader_->Read(Photo(900, 600, "RUNNING CLUB 2024"));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_TRUE(text->read);
  EXPECT_NE(text->text.find("RUNNING"), std::string::npos) << text->text;
  EXPECT_NE(text->text.find("CLUB"), std::string::npos) << text->text;
  EXPECT_NE(text->text.find("2024"), std::string::npos) << text->text;
  EXPECT_EQ(text->word_confidences.size(), 3u) << text->text;
}

TEST_F(PhotoTextReaderTest, ReadsChineseWithoutSpacesBetweenCharacters) {
  Result<PhotoText> text = reader_->Read(Photo(900, 600, "运动鞋", kChineseFont, 96));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->text.find("运动鞋"), std::string::npos) << text->text;
}

TEST_F(PhotoTextReaderTest, LargePhotoIsScaledDownAndStillRead) {
  Result<PhotoText> text = reader_->Read(Photo(2400, 3200, "MARATHON", "DejaVu-Sans-Bold", 200));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->text.find("MARATHON"), std::string::npos) << text->text;
}

TEST_F(PhotoTextReaderTest, ThumbnailIsSkipped) {
  Result<PhotoText> text = reader_->Read(Photo(60, 80, "AB", "DejaVu-Sans-Bold", 20));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_FALSE(text->read);
  EXPECT_TRUE(text->text.empty());
}

TEST_F(PhotoTextReaderTest, PhotoWithoutPrintGivesNoText) {
  Result<PhotoText> text = reader_->Read(Photo(800, 600, " "));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_TRUE(text->read);
  EXPECT_EQ(text->text, "");
}

TEST_F(PhotoTextReaderTest, StrayLettersAndPunctuationDropped) {
  Result<PhotoText> text = reader_->Read(Photo(1000, 600, "X | SPORT = 7"));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->text, "SPORT");
}

TEST_F(PhotoTextReaderTest, ConcurrentReadsAgree) {
  const DecodedImage first = Photo(900, 600, "NORTH FACE");
  const DecodedImage second = Photo(900, 600, "SUMMER SALE");
  auto read = [&](const DecodedImage& image) {
    Result<PhotoText> text = reader_->Read(image);
    return text.ok() ? text->text : text.status().ToString();
  };
  auto a = std::async(std::launch::async, read, std::cref(first));
  auto b = std::async(std::launch::async, read, std::cref(second));
  const std::string first_text = a.get();
  const std::string second_text = b.get();
  EXPECT_EQ(first_text, read(first));
  EXPECT_EQ(second_text, read(second));
  EXPECT_NE(first_text.find("NORTH"), std::string::npos) << first_text;
  EXPECT_NE(second_text.find("SUMMER"), std::string::npos) << second_text;
}

TEST(PhotoTextReader, MissingLanguageDataIsUnavailable) {
  PhotoTextOptions options;
  options.tessdata_dir = "/nonexistent/tessdata";
  Result<std::unique_ptr<PhotoTextReader>> reader = PhotoTextReader::Create(options);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(reader.status().message().find("tesseract-ocr-eng"), std::string::npos) << reader.status().message();
}

}  // namespace
}  // namespace tessera
