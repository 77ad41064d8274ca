// ImageEncoder: a photo -> a fixed-length, L2-normalized vector; nearer vectors look more alike.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "encode/image_decoder.h"

namespace tessera {

// The interface every photo encoder implements, so a learned encoder can replace the
// hand-made one without touching the index or the engine.
// Thread safety: Encode must be safe to call concurrently.
class ImageEncoder {
 public:
  virtual ~ImageEncoder() = default;
  // A stable name that versions the vectors stored with it, e.g. "colour-shape-v1".
  virtual std::string name() const = 0;
  virtual size_t dimension() const = 0;
  // Returns a unit-length vector of dimension() floats.
  virtual std::vector<float> Encode(const DecodedImage& image) const = 0;
};

// A hand-made encoder: colour histogram + silhouette + gradient orientations.
//
// Catalogue photos show one product on a white background, so pixels brighter than a threshold
// in every channel are background and ignored. The vector concatenates three L2-normalized
// parts, each scaled by its weight:
//  - colour: hue x saturation x value histogram of foreground pixels (12 x 3 x 3 bins), plus 4
//    brightness bins for grey pixels, square-rooted (Hellinger) so one dominant colour does not
//    swamp the rest;
//  - silhouette: fraction of foreground in an 8 x 8 grid, which separates shoes from shirts;
//  - gradients: an 8-bin orientation histogram in each cell of a 4 x 4 grid (a coarse HOG).
// It sees colour and outline, not texture or kind; a pretrained CNN replaces it later.
class ColourShapeEncoder final : public ImageEncoder {
 public:
  std::string name() const override { return "colour-shape-v1"; }
  size_t dimension() const override;
  std::vector<float> Encode(const DecodedImage& image) const override;
};

// Several encoders side by side: each part's unit vector times its weight, concatenated and
// normalized. The cosine of two outputs is then the mean of the parts' cosines weighted by the
// squared weights. Joins a CNN's features, which know kinds of products but little of colour,
// with colour histograms.
class ConcatenatedImageEncoder final : public ImageEncoder {
 public:
  // Precondition: parts and weights have the same, non-zero size; weights are positive.
  ConcatenatedImageEncoder(std::vector<std::unique_ptr<ImageEncoder>> parts, std::vector<float> weights);
  // The parts' names joined by '+', e.g. "mobilenet-v2-nsfwjs-pooled-v1+colour-shape-v1".
  std::string name() const override;
  size_t dimension() const override;
  std::vector<float> Encode(const DecodedImage& image) const override;

 private:
  std::vector<std::unique_ptr<ImageEncoder>> parts_;
  std::vector<float> weights_;
};

}  // namespace tessera
