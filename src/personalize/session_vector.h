// SessionVector: a shopper's short-term interest as the decayed, weighted mean of the vectors of
// the products they interacted with in the current session.
//
// Each added vector is normalized to unit length and weighted by its event weight times
// 2^(-age / half_life). Exponential decay scales every past term alike, so the sum is kept as of
// the last added event and decayed lazily: adding at time t multiplies the sum by
// 2^(-(t - updated) / half_life) first. Direction() is the sum normalized to unit length, so the
// mean's denominator only matters for Weight().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace tessera {

struct SessionOptions {
  // A vector's weight halves every `half_life_minutes` of session time.
  double half_life_minutes = 30.0;
  // A session not updated for this many half-lives (2 hours with the defaults, when its weight
  // has fallen to 1/16) is dropped, and events older than that are not replayed at start.
  double expire_half_lives = 4.0;
  // Sessions kept in memory at most; the least recently updated is dropped first. A session in
  // the default 256-dimensional joint space takes 2 KiB of sums plus its keys, so the default
  // bounds them near 120 MiB.
  size_t max_sessions = 50'000;

  // Milliseconds after its last update at which a session expires.
  int64_t ExpireAfterMs() const;
};

// Not thread-safe; the owner serializes access.
class SessionVector {
 public:
  SessionVector() = default;

  // Decays the sum to `timestamp_ms` and adds the unit-length `vector` times `weight`. Events
  // older than the last added one are decayed to it instead. A zero vector or a weight <= 0 adds
  // nothing. Fails with kInvalidArgument when the dimension differs from earlier vectors.
  Status Add(std::span<const float> vector, double weight, int64_t timestamp_ms, const SessionOptions& options);

  // The decayed sum normalized to unit length; empty when nothing was added.
  std::vector<float> Direction() const;

  // Cosine between the session direction and `vector`; 0 when either is empty or zero.
  double Cosine(std::span<const float> vector) const;

  // Sum of the added weights, decayed to `now_ms`.
  double Weight(int64_t now_ms, const SessionOptions& options) const;

  bool empty() const { return sum_.empty(); }
  size_t dimension() const { return sum_.size(); }
  int64_t updated_ms() const { return updated_ms_; }

  // {"updated_ms", "weight", "sum": [..]}.
  nlohmann::json ToJson() const;
  static Result<SessionVector> FromJson(const nlohmann::json& object);

 private:
  std::vector<double> sum_;  // weighted unit vectors, as of updated_ms_
  double weight_ = 0;        // weights, as of updated_ms_
  int64_t updated_ms_ = 0;
};

}  // namespace tessera
