// PhotoTextReader: the text printed on a product photo (brand marks, labels, slogans), read with
// Tesseract's LSTM engine in English and simplified Chinese.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "encode/image_decoder.h"

namespace tessera {

struct PhotoTextOptions {
  // Folder holding eng.traineddata and chi_sim.traineddata (Debian's tesseract-ocr-eng and
  // tesseract-ocr-chi-sim packages install them here).
  std::string tessdata_dir = "/usr/share/tesseract-ocr/5/tessdata";
  std::string languages = "eng+chi_sim";
  // Photos whose shorter side is below this are thumbnails: their print is a few pixels high,
  // and Tesseract returns noise for them, so they are not read.
  int min_short_side = 400;
  // Larger photos are scaled down to this longer side first. Print that matters on a product
  // photo stays legible at this size, and reading time grows with the pixel count.
  int max_long_side = 1600;
  // Words Tesseract is less sure of than this (0-100) are dropped: product photos are mostly
  // fabric and shadows, which it otherwise reads as stray letters.
  float min_word_confidence = 75;
};

// The words read from one photo.
struct PhotoText {
  bool read = false;        // false when the photo was skipped as too small
  std::string text;         // words joined by spaces; Chinese characters joined without spaces
  std::vector<float> word_confidences;
};

// Thread safety: Read may be called concurrently. Tesseract's engine object is not thread-safe,
// so each call takes an idle engine from a pool (creating one when none is idle).
class PhotoTextReader {
 public:
  // Loads the language data once to check it; fails with kUnavailable naming the folder and the
  // packages to install when Tesseract cannot load it.
  static Result<std::unique_ptr<PhotoTextReader>> Create(const PhotoTextOptions& options = {});
  ~PhotoTextReader();

  // Returns the words on `image`, or a PhotoText with read = false for a thumbnail.
  Result<PhotoText> Read(const DecodedImage& image) const;
  // False for photos Read skips as too small to read.
  bool IsReadable(const DecodedImage& image) const {
    return std::min(image.width, image.height) >= options_.min_short_side;
  }

  // Identifies the reader's output in stored data, so a change of engine or settings re-reads.
  std::string name() const;

 private:
  struct Engine;
  explicit PhotoTextReader(const PhotoTextOptions& options);
  Result<std::unique_ptr<Engine>> TakeEngine() const;
  void ReturnEngine(std::unique_ptr<Engine> engine) const;

  PhotoTextOptions options_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Engine>> idle_;
};

}  // namespace tessera
