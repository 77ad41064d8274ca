#include "encode/photo_text_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <leptonica/allheaders.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "common/text.h"

namespace tessera {
namespace {

// True for CJK ideographs, which Tesseract's chi_sim model returns separated by spaces, though
// Chinese is written without them.
bool IsCjk(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

bool StartsWithCjk(const std::string& text) {
  if (text.empty()) return false;
  int32_t offset = 0;
  UChar32 c = 0;
  U8_NEXT(text.data(), offset, static_cast<int32_t>(text.size()), c);
  return IsCjk(c);
}

// True for a word worth indexing: a CJK ideograph, or at least two letters or digits. Single
// letters and punctuation are what Tesseract makes of seams, shadows and logos.
bool IsWord(const std::string& text) {
  int alphanumeric = 0;
  for (int32_t offset = 0; offset < static_cast<int32_t>(text.size());) {
    UChar32 c = 0;
    U8_NEXT(text.data(), offset, static_cast<int32_t>(text.size()), c);
    if (IsCjk(c)) return true;
    alphanumeric += u_isalnum(c) ? 1 : 0;
  }
  return alphanumeric >= 2;
}

bool EndsWithCjk(const std::string& text) {
  if (text.empty()) return false;
  auto offset = static_cast<int32_t>(text.size());
  UChar32 c = 0;
  U8_PREV(text.data(), 0, offset, c);
  return IsCjk(c);
}

}  // namespace

struct PhotoTextReader::Engine {
  tesseract::TessBaseAPI api;
};

PhotoTextReader::PhotoTextReader(const PhotoTextOptions& options) : options_(options) {}
PhotoTextReader::~PhotoTextReader() {
  for (auto& engine : idle_) engine->api.End();
}

Result<std::unique_ptr<PhotoTextReader>> PhotoTextReader::Create(const PhotoTextOptions& options) {
  std::unique_ptr<PhotoTextReader> reader(new PhotoTextReader(options));
  Result<std::unique_ptr<Engine>> engine = reader->TakeEngine();
  if (!engine.ok()) return engine.status();
  reader->ReturnEngine(std::move(engine).value());
  return reader;
}

std::string PhotoTextReader::name() const {
  return "tesseract-" + std::string(tesseract::TessBaseAPI::Version()) + "-" + options_.languages + "-" +
         std::to_string(options_.min_short_side) + "-" + std::to_string(options_.max_long_side) + "-" +
         std::to_string(static_cast<int>(options_.min_word_confidence));
}

Result<std::unique_ptr<PhotoTextReader::Engine>> PhotoTextReader::TakeEngine() const {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Engine> engine = std::move(idle_.back());
      idle_.pop_back();
      return engine;
    }
  }
  auto engine = std::make_unique<Engine>();
  if (engine->api.Init(options_.tessdata_dir.c_str(), options_.languages.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    return Status::Unavailable("Tesseract cannot load languages '" + options_.languages + "' from " +
                               options_.tessdata_dir +
                               ": install tesseract-ocr-eng and tesseract-ocr-chi-sim (scripts/setup.sh)");
  }
  // Sparse text: product photos carry a few scattered words, not a page of lines.
  engine->api.SetPageSegMode(tesseract::PSM_SPARSE_TEXT);
  // Photos carry no resolution Tesseract trusts, so it would print "Estimating resolution" to
  // stderr for each one. Its other diagnostics also go to /dev/null rather than into our logs.
  engine->api.SetVariable("user_defined_dpi", "300");
  engine->api.SetVariable("debug_file", "/dev/null");
  return engine;
}

void PhotoTextReader::ReturnEngine(std::unique_ptr<Engine> engine) const {
  engine->api.Clear();
  std::lock_guard lock(pool_mutex_);
  idle_.push_back(std::move(engine));
}

Result<PhotoText> PhotoTextReader::Read(const DecodedImage& image) const {
  PhotoText result;
  if (!IsReadable(image)) return result;
  result.read = true;

  // Grey, and no larger than max_long_side: Tesseract binarizes grey input itself.
  const cv::Mat bgr(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.bgr.data()));
  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  const int long_side = std::max(image.width, image.height);
  if (long_side > options_.max_long_side) {
    const double scale = double(options_.max_long_side) / long_side;
    cv::resize(grey, grey, cv::Size(), scale, scale, cv::INTER_AREA);
  }

  Result<std::unique_ptr<Engine>> engine = TakeEngine();
  if (!engine.ok()) return engine.status();
  tesseract::TessBaseAPI& api = (*engine)->api;
  api.SetImage(grey.data, grey.cols, grey.rows, 1, static_cast<int>(grey.step));
  if (api.Recognize(nullptr) != 0) {
    ReturnEngine(std::move(engine).value());
    return Status::Internal("Tesseract failed to recognize a " + std::to_string(image.width) + "x" +
                            std::to_string(image.height) + " photo");
  }

  // Words above the confidence threshold, in reading order.
  std::unique_ptr<tesseract::ResultIterator> words(api.GetIterator());
  if (words) {
    do {
      std::unique_ptr<char[]> word(words->GetUTF8Text(tesseract::RIL_WORD));
      if (!word) continue;
      const float confidence = words->Confidence(tesseract::RIL_WORD);
      std::string text(TrimAscii(word.get()));
      if (confidence < options_.min_word_confidence || !IsWord(text)) continue;
      if (!result.text.empty() && !(EndsWithCjk(result.text) && StartsWithCjk(text))) result.text += ' ';
      result.text += text;
      result.word_confidences.push_back(confidence);
    } while (words->Next(tesseract::RIL_WORD));
  }
  ReturnEngine(std::move(engine).value());
  return result;
}

}  // namespace tessera
