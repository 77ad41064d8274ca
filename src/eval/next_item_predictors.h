// Next-click predictors for the offline replay: given the clicks of a session so far, rank the
// items the shopper may click next. Items are dense indices into the vocabulary of the
// training clicks, so an item never clicked in training cannot be ranked by any predictor.
//
// Predictors are immutable after construction and safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "eval/item_embedding.h"
#include "personalize/session_vector.h"

namespace tessera {

// Index of an item that the training clicks never contain.
inline constexpr uint32_t kUnknownItem = UINT32_MAX;

// Item ids of the training clicks, numbered in order of first appearance.
class ItemVocabulary {
 public:
  // Returns the index of `item_id`, adding it when new.
  uint32_t Add(const std::string& item_id);
  // Returns the index of `item_id`, or kUnknownItem.
  uint32_t Find(const std::string& item_id) const;
  // Precondition: index < size().
  const std::string& Id(uint32_t index) const { return ids_[index]; }
  size_t size() const { return ids_.size(); }

 private:
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<std::string> ids_;
};

// A session with its item ids replaced by vocabulary indices (kUnknownItem for unseen items).
struct EncodedSession {
  std::vector<uint32_t> items;
  std::vector<int64_t> times_ms;  // Unix milliseconds, non-decreasing, same length as items
};

// The training clicks as the predictors read them.
struct TrainingLog {
  ItemVocabulary vocabulary;
  std::vector<EncodedSession> sessions;
  std::vector<uint64_t> click_counts;  // clicks per item index
};

// The first clicks of a session: the input of a prediction. Both spans have the same length.
struct SessionPrefix {
  std::span<const uint32_t> items;
  std::span<const int64_t> times_ms;
};

class NextItemPredictor {
 public:
  virtual ~NextItemPredictor() = default;
  // Short name used in reports, e.g. "popularity".
  virtual std::string name() const = 0;
  // Replaces `ranked` with at most `k` distinct item indices, most likely first. The list may be
  // shorter, or empty, when the predictor has nothing to say about `prefix`.
  virtual void Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const = 0;
};

// Items by training click count, ignoring the session. Ties go to the lower index.
class PopularityPredictor final : public NextItemPredictor {
 public:
  explicit PopularityPredictor(const TrainingLog& log);
  std::string name() const override { return "popularity"; }
  void Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const override;

 private:
  std::vector<uint32_t> by_count_;
};

// Item-to-item co-occurrence: the items that directly followed the last clicked item in the
// training sessions, by how often they did. Ties go to the more clicked item, then the lower
// index. The list is empty when the last click is an unknown item or was never followed.
class CooccurrencePredictor final : public NextItemPredictor {
 public:
  explicit CooccurrencePredictor(const TrainingLog& log);
  std::string name() const override { return "cooccurrence"; }
  void Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const override;

 private:
  std::vector<std::vector<uint32_t>> followers_;  // per item index, best first
};

// The session model: a SessionVector over the item vectors of the prefix (unknown items and
// items with a zero vector add nothing), then every item ranked by the cosine between its vector
// and the session direction. Items with a zero vector rank after all others. Ties go to the
// more clicked item, then the lower index. The list is empty when the session vector is.
class SessionVectorPredictor final : public NextItemPredictor {
 public:
  // Keeps references to `log` and `embedding`, which must outlive the predictor.
  // Precondition: embedding.item_count == log.vocabulary.size().
  SessionVectorPredictor(const TrainingLog& log, const ItemEmbedding& embedding, SessionOptions options);
  std::string name() const override { return "session_vector"; }
  void Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const override;

 private:
  const TrainingLog& log_;
  const ItemEmbedding& embedding_;
  SessionOptions options_;
  std::vector<float> unit_vectors_;  // row-major, each row normalized, zero rows kept zero
  std::vector<bool> has_vector_;
};

// The `primary` list, filled up to k with the `fallback` list (skipping items already listed).
class FallbackPredictor final : public NextItemPredictor {
 public:
  // Keeps references to both predictors, which must outlive this one.
  FallbackPredictor(const NextItemPredictor& primary, const NextItemPredictor& fallback)
      : primary_(primary), fallback_(fallback) {}
  std::string name() const override { return primary_.name() + "+" + fallback_.name(); }
  void Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const override;

 private:
  const NextItemPredictor& primary_;
  const NextItemPredictor& fallback_;
};

}  // namespace tessera
