#include "rank/product_signals.h"

#include <algorithm>
#include <cmath>

namespace tessera {

namespace {

void AddClamped(uint64_t* count, int delta) {
  if (delta >= 0) {
    *count += static_cast<uint64_t>(delta);
  } else {
    *count -= std::min<uint64_t>(*count, static_cast<uint64_t>(-delta));
  }
}

// Views as the click-through estimate counts them: never fewer than the clicks.
uint64_t EffectiveViews(const SignalCounts& counts) { return std::max(counts.views, counts.clicks); }

}  // namespace

void ProductSignals::Add(const std::string& product_id, SignalKind kind, int delta) {
  std::lock_guard lock(mutex_);
  SignalCounts& counts = counts_[product_id];
  const uint64_t views_before = EffectiveViews(counts);
  const uint64_t clicks_before = counts.clicks;
  switch (kind) {
    case SignalKind::kView: AddClamped(&counts.views, delta); break;
    case SignalKind::kClick: AddClamped(&counts.clicks, delta); break;
    case SignalKind::kAddToCart: AddClamped(&counts.carts, delta); break;
    case SignalKind::kPurchase: AddClamped(&counts.purchases, delta); break;
  }
  total_views_ = total_views_ - views_before + EffectiveViews(counts);
  total_clicks_ = total_clicks_ - clicks_before + counts.clicks;
}

void ProductSignals::Set(const std::string& product_id, const SignalCounts& counts) {
  std::lock_guard lock(mutex_);
  SignalCounts& stored = counts_[product_id];
  total_views_ = total_views_ - EffectiveViews(stored) + EffectiveViews(counts);
  total_clicks_ = total_clicks_ - stored.clicks + counts.clicks;
  stored = counts;
}

SignalCounts ProductSignals::Counts(const std::string& product_id) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(product_id);
  return it == counts_.end() ? SignalCounts{} : it->second;
}

double ProductSignals::Popularity(const std::string& product_id) const {
  const SignalCounts c = Counts(product_id);
  const double weighted = options_.view_weight * double(c.views) + options_.click_weight * double(c.clicks) +
                          options_.cart_weight * double(c.carts) + options_.purchase_weight * double(c.purchases);
  return std::log1p(weighted);
}

double ProductSignals::ClickThrough(const std::string& product_id) const {
  std::lock_guard lock(mutex_);
  // With no view anywhere the prior is a neutral 0; a single global click sets it at once.
  const double prior = total_views_ == 0 ? 0.0 : double(total_clicks_) / double(total_views_);
  auto it = counts_.find(product_id);
  const SignalCounts c = it == counts_.end() ? SignalCounts{} : it->second;
  const double m = options_.prior_strength;
  return (double(c.clicks) + m * prior) / (double(EffectiveViews(c)) + m);
}

void ProductSignals::SetPriceBands(const std::vector<const Product*>& products) {
  std::map<std::string, std::vector<std::pair<double, const std::string*>>> groups;
  for (const Product* product : products) {
    if (!product->price) continue;
    std::string group = product->Attribute("article_type");
    if (group.empty() && !product->category_path.empty()) group = product->category_path.back();
    groups[group].push_back({*product->price, &product->id});
  }
  std::unordered_map<std::string, double> bands;
  for (auto& [group, prices] : groups) {
    std::sort(prices.begin(), prices.end());
    const size_t n = prices.size();
    // Equal prices share the mid-rank of their run, so the band depends on the price alone.
    for (size_t begin = 0; begin < n;) {
      size_t end = begin;
      while (end < n && prices[end].first == prices[begin].first) ++end;
      const double mid_rank = (double(begin) + double(end - 1)) / 2.0;
      const double band = n == 1 ? 0.5 : mid_rank / double(n - 1);
      for (size_t i = begin; i < end; ++i) bands[*prices[i].second] = band;
      begin = end;
    }
  }
  std::lock_guard lock(mutex_);
  price_bands_ = std::move(bands);
}

std::optional<double> ProductSignals::PriceBand(const std::string& product_id) const {
  std::lock_guard lock(mutex_);
  auto it = price_bands_.find(product_id);
  if (it == price_bands_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tessera
