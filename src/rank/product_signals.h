// ProductSignals: the events on each product (views, clicks, carts, purchases) and the rank of
// its price among similar products, for the ranking features.
//
// Click-through is smoothed towards the catalogue's mean with a Beta prior (the "empirical Bayes"
// estimate used for ads click-through): ctr = (clicks + m * prior_ctr) / (views + m), so a product
// with one view and one click is not ranked as a certain hit. A click implies a view, but senders
// do not always send the view event, so the estimate counts at least as many views as clicks.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ingest/product.h"

namespace tessera {

enum class SignalKind { kView, kClick, kAddToCart, kPurchase };

struct SignalCounts {
  uint64_t views = 0;
  uint64_t clicks = 0;
  uint64_t carts = 0;
  uint64_t purchases = 0;
};

struct SignalOptions {
  double prior_strength = 20;  // m: pseudo-views of the prior
  // Weights of the popularity sum, the same order of intent as the profile's event weights.
  double view_weight = 1;
  double click_weight = 2;
  double cart_weight = 4;
  double purchase_weight = 8;
};

// Thread safety: every method may be called concurrently. A mutex guards the counts, so events
// recorded during a search do not tear a reading.
class ProductSignals {
 public:
  explicit ProductSignals(SignalOptions options = {}) : options_(options) {}

  // Adds (delta = +1) or removes (delta = -1, when a shopper's data is erased) one event.
  void Add(const std::string& product_id, SignalKind kind, int delta = 1);
  SignalCounts Counts(const std::string& product_id) const;
  // Replaces the product's counts, e.g. with counts saved in the data dir.
  void Set(const std::string& product_id, const SignalCounts& counts);

  // log(1 + weighted event count).
  double Popularity(const std::string& product_id) const;
  // Smoothed click-through (see the top of this file).
  double ClickThrough(const std::string& product_id) const;

  // Recomputes the price bands from the catalogue: each priced product's percentile among the
  // priced products of its article type (or of the last category level when it has no
  // article type), in [0, 1]. A product alone in its group gets 0.5.
  void SetPriceBands(const std::vector<const Product*>& products);
  // The product's price band; std::nullopt when it has no price.
  std::optional<double> PriceBand(const std::string& product_id) const;

 private:
  SignalOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, SignalCounts> counts_;
  uint64_t total_views_ = 0;
  uint64_t total_clicks_ = 0;
  std::unordered_map<std::string, double> price_bands_;
};

}  // namespace tessera
