#include "encode/image_encoder.h"

#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace tessera {
namespace {

constexpr int kHueBins = 12, kSatBins = 3, kValBins = 3, kGreyBins = 4;
constexpr int kColourDims = kHueBins * kSatBins * kValBins + kGreyBins;
constexpr int kGrid = 8;
constexpr int kSilhouetteDims = kGrid * kGrid;
constexpr int kCells = 4, kOrientations = 8;
constexpr int kGradientDims = kCells * kCells * kOrientations;

// Working size: the catalogue's photos are 60x80 (3:4), so 48x64 loses little.
constexpr int kWidth = 48, kHeight = 64;
// A pixel is background when all three channels exceed this (studio white with JPEG noise).
constexpr int kBackgroundLevel = 235;
// Grey pixels: saturation under this (of 255) carry no reliable hue.
constexpr int kGreySaturation = 40;

constexpr float kColourWeight = 0.65f, kSilhouetteWeight = 0.45f, kGradientWeight = 0.6f;

void NormalizeInto(std::vector<float>& part, float weight, std::vector<float>* out) {
  double norm = 0;
  for (float v : part) norm += double(v) * v;
  norm = std::sqrt(norm);
  for (float v : part) out->push_back(norm > 0 ? static_cast<float>(v / norm * weight) : 0.0f);
}

}  // namespace

size_t ColourShapeEncoder::dimension() const { return kColourDims + kSilhouetteDims + kGradientDims; }

std::vector<float> ColourShapeEncoder::Encode(const DecodedImage& image) const {
  const cv::Mat source(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.bgr.data()));
  cv::Mat bgr;
  cv::resize(source, bgr, cv::Size(kWidth, kHeight), 0, 0, cv::INTER_AREA);
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);  // H in [0,180), S and V in [0,255]

  // Foreground mask and colour histogram.
  std::vector<float> colour(kColourDims, 0.0f);
  std::vector<float> silhouette(kSilhouetteDims, 0.0f);
  cv::Mat foreground(kHeight, kWidth, CV_8U);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      const bool background = p[0] > kBackgroundLevel && p[1] > kBackgroundLevel && p[2] > kBackgroundLevel;
      foreground.at<uint8_t>(y, x) = background ? 0 : 1;
      if (background) continue;
      silhouette[(y * kGrid / kHeight) * kGrid + x * kGrid / kWidth] += 1.0f;
      const cv::Vec3b h = hsv.at<cv::Vec3b>(y, x);
      if (h[1] < kGreySaturation) {
        colour[kHueBins * kSatBins * kValBins + std::min(kGreyBins - 1, h[2] * kGreyBins / 256)] += 1.0f;
      } else {
        const int hue = std::min(kHueBins - 1, h[0] * kHueBins / 180);
        const int sat = std::min(kSatBins - 1, (h[1] - kGreySaturation) * kSatBins / (256 - kGreySaturation));
        const int val = std::min(kValBins - 1, h[2] * kValBins / 256);
        colour[(hue * kSatBins + sat) * kValBins + val] += 1.0f;
      }
    }
  }
  for (float& v : colour) v = std::sqrt(v);

  // Gradient orientations per cell, weighted by magnitude, unsigned (0..180 degrees).
  cv::Mat grey, dx, dy;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::Sobel(grey, dx, CV_32F, 1, 0);
  cv::Sobel(grey, dy, CV_32F, 0, 1);
  std::vector<float> gradients(kGradientDims, 0.0f);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const float gx = dx.at<float>(y, x), gy = dy.at<float>(y, x);
      const float magnitude = std::sqrt(gx * gx + gy * gy);
      if (magnitude < 1e-3f) continue;
      float angle = std::atan2(gy, gx);
      if (angle < 0) angle += static_cast<float>(M_PI);
      const int bin = std::min(kOrientations - 1, static_cast<int>(angle / M_PI * kOrientations));
      const int cell = (y * kCells / kHeight) * kCells + x * kCells / kWidth;
      gradients[cell * kOrientations + bin] += magnitude;
    }
  }
  for (float& v : gradients) v = std::sqrt(v);

  std::vector<float> vector;
  vector.reserve(dimension());
  NormalizeInto(colour, kColourWeight, &vector);
  NormalizeInto(silhouette, kSilhouetteWeight, &vector);
  NormalizeInto(gradients, kGradientWeight, &vector);

  // Unit length, so inner product is cosine similarity.
  double norm = 0;
  for (float v : vector) norm += double(v) * v;
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& v : vector) v = static_cast<float>(v / norm);
  }
  return vector;
}

ConcatenatedImageEncoder::ConcatenatedImageEncoder(std::vector<std::unique_ptr<ImageEncoder>> parts,
                                                   std::vector<float> weights)
    : parts_(std::move(parts)), weights_(std::move(weights)) {}

std::string ConcatenatedImageEncoder::name() const {
  std::string name;
  for (const auto& part : parts_) name += (name.empty() ? "" : "+") + part->name();
  return name;
}

size_t ConcatenatedImageEncoder::dimension() const {
  size_t dimension = 0;
  for (const auto& part : parts_) dimension += part->dimension();
  return dimension;
}

std::vector<float> ConcatenatedImageEncoder::Encode(const DecodedImage& image) const {
  std::vector<float> vector;
  vector.reserve(dimension());
  double norm = 0;
  for (size_t i = 0; i < parts_.size(); ++i) {
    for (float x : parts_[i]->Encode(image)) {
      vector.push_back(weights_[i] * x);
      norm += double(vector.back()) * vector.back();
    }
  }
  if (norm > 0) {
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : vector) x *= scale;
  }
  return vector;
}

}  // namespace tessera
