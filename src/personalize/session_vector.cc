#include "personalize/session_vector.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

double SessionDecay(int64_t elapsed_ms, const SessionOptions& options) {
  if (elapsed_ms <= 0) return 1.0;
  return std::exp2(-static_cast<double>(elapsed_ms) / (options.half_life_minutes * 60.0 * 1000.0));
}

}  // namespace

int64_t SessionOptions::ExpireAfterMs() const {
  return static_cast<int64_t>(expire_half_lives * half_life_minutes * 60.0 * 1000.0);
}

Status SessionVector::Add(std::span<const float> vector, double weight, int64_t timestamp_ms,
                          const SessionOptions& options) {
  if (!sum_.empty() && vector.size() != sum_.size()) {
    return Status::InvalidArgument("session vector has dimension " + std::to_string(sum_.size()) +
                                   ", the added vector has " + std::to_string(vector.size()));
  }
  double norm = 0;
  for (float x : vector) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (!(weight > 0) || !(norm > 0) || !std::isfinite(norm)) return Status::Ok();

  const int64_t at = std::max(timestamp_ms, updated_ms_);
  if (sum_.empty()) {
    sum_.assign(vector.size(), 0.0);
  } else {
    const double decay = SessionDecay(at - updated_ms_, options);
    for (double& x : sum_) x *= decay;
    weight_ *= decay;
  }
  const double scale = weight / norm;
  for (size_t i = 0; i < vector.size(); ++i) sum_[i] += scale * vector[i];
  weight_ += weight;
  updated_ms_ = at;
  return Status::Ok();
}

std::vector<float> SessionVector::Direction() const {
  double norm = 0;
  for (double x : sum_) norm += x * x;
  norm = std::sqrt(norm);
  if (!(norm > 0)) return {};
  std::vector<float> direction(sum_.size());
  for (size_t i = 0; i < sum_.size(); ++i) direction[i] = static_cast<float>(sum_[i] / norm);
  return direction;
}

double SessionVector::Cosine(std::span<const float> vector) const {
  if (sum_.empty() || vector.size() != sum_.size()) return 0;
  double dot = 0, a = 0, b = 0;
  for (size_t i = 0; i < sum_.size(); ++i) {
    dot += sum_[i] * vector[i];
    a += sum_[i] * sum_[i];
    b += static_cast<double>(vector[i]) * vector[i];
  }
  if (!(a > 0) || !(b > 0)) return 0;
  return dot / std::sqrt(a * b);
}

double SessionVector::Weight(int64_t now_ms, const SessionOptions& options) const {
  return weight_ * SessionDecay(now_ms - updated_ms_, options);
}

nlohmann::json SessionVector::ToJson() const {
  return {{"updated_ms", updated_ms_}, {"weight", weight_}, {"sum", sum_}};
}

Result<SessionVector> SessionVector::FromJson(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("updated_ms") || !object.contains("weight") ||
      !object.contains("sum") || !object["updated_ms"].is_number_integer() || !object["weight"].is_number() ||
      !object["sum"].is_array()) {
    return Status::Corruption("session vector: expected {\"updated_ms\", \"weight\", \"sum\"}");
  }
  SessionVector session;
  session.updated_ms_ = object["updated_ms"].get<int64_t>();
  session.weight_ = object["weight"].get<double>();
  session.sum_.reserve(object["sum"].size());
  for (const nlohmann::json& x : object["sum"]) {
    if (!x.is_number()) return Status::Corruption("session vector: 'sum' holds a non-number");
    session.sum_.push_back(x.get<double>());
  }
  return session;
}

}  // namespace tessera
