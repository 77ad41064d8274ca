#include "index/inverted_index.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <unordered_set>

namespace tessera {

InvertedIndex::InvertedIndex(std::vector<FieldSpec> fields) {
  for (FieldSpec& spec : fields) fields_.push_back(Field{std::move(spec), {}, {}, 0});
}

size_t InvertedIndex::term_count() const {
  size_t count = 0;
  for (const Field& field : fields_) count += field.postings.size();
  return count;
}

void InvertedIndex::Add(DocId doc, const std::vector<std::vector<std::string>>& field_terms) {
  assert(field_terms.size() == fields_.size() && "one term list per field");
  assert(!docs_.count(doc) && !removed_.contains(doc) && "a DocId is added once");
  const size_t field_count = fields_.size();
  if (length_by_doc_field_.size() < (size_t(doc) + 1) * field_count) {
    length_by_doc_field_.resize((size_t(doc) + 1) * field_count * 3 / 2 + field_count, 0);
  }

  DocTerms record;
  for (size_t f = 0; f < field_count; ++f) {
    std::unordered_map<std::string, uint32_t> frequencies;
    for (const std::string& term : field_terms[f]) ++frequencies[term];
    std::vector<std::string> distinct;
    distinct.reserve(frequencies.size());
    for (auto& [term, frequency] : frequencies) {
      fields_[f].postings[term].push_back({doc, frequency});
      ++fields_[f].document_frequency[term];
      distinct.push_back(term);
    }
    const auto length = static_cast<uint32_t>(field_terms[f].size());
    fields_[f].total_length += length;
    length_by_doc_field_[size_t(doc) * field_count + f] = length;
    record.distinct_terms.push_back(std::move(distinct));
    record.lengths.push_back(length);
  }
  docs_.emplace(doc, std::move(record));
  ++live_docs_;
}

void InvertedIndex::Remove(DocId doc) {
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;
  // Postings stay in place and are skipped through `removed_`; only the statistics change now.
  for (size_t f = 0; f < fields_.size(); ++f) {
    for (const std::string& term : it->second.distinct_terms[f]) {
      auto df = fields_[f].document_frequency.find(term);
      if (df != fields_[f].document_frequency.end() && --df->second == 0) fields_[f].document_frequency.erase(df);
    }
    fields_[f].total_length -= it->second.lengths[f];
  }
  docs_.erase(it);
  removed_.add(doc);
  --live_docs_;
}

TermQueryResult InvertedIndex::Search(const std::vector<std::string>& terms, const Roaring* allowed,
                                      size_t top_k) const {
  TermQueryResult result;
  if (live_docs_ == 0) return result;
  const std::vector<std::string> distinct = [&] {
    std::vector<std::string> unique;
    std::unordered_set<std::string> seen;
    for (const std::string& t : terms) {
      if (seen.insert(t).second) unique.push_back(t);
    }
    return unique;
  }();

  // Accumulate per-document scores and the number of distinct terms matched.
  std::unordered_map<DocId, ScoredDoc> accumulators;
  const double n = static_cast<double>(live_docs_);
  for (size_t t = 0; t < distinct.size(); ++t) {
    std::unordered_set<DocId> matched_this_term;
    for (size_t f = 0; f < fields_.size(); ++f) {
      const Field& field = fields_[f];
      auto postings = field.postings.find(distinct[t]);
      if (postings == field.postings.end()) continue;
      auto df_it = field.document_frequency.find(distinct[t]);
      if (df_it == field.document_frequency.end()) continue;  // every document with it was removed
      const double df = df_it->second;
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      const double average_length = std::max(1.0, double(field.total_length) / n);
      const double k1 = field.spec.k1, b = field.spec.b;
      for (const Posting& posting : postings->second) {
        if (removed_.contains(posting.doc)) continue;
        if (allowed != nullptr && !allowed->contains(posting.doc)) continue;
        const double length = length_by_doc_field_[size_t(posting.doc) * fields_.size() + f];
        const double tf = posting.term_frequency;
        const double bm25 = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average_length));
        ScoredDoc& scored = accumulators[posting.doc];
        scored.doc = posting.doc;
        scored.score += static_cast<float>(field.spec.weight * bm25);
        if (matched_this_term.insert(posting.doc).second) ++scored.matched_terms;
      }
    }
  }

  // Coordination: a document matching fewer of the query's terms is scaled down, so that rare
  // terms matched twice (e.g. a colour in both title and attributes) do not outrank documents
  // matching every term. Squared coverage measured best on the fashion judgments
  // (docs/evaluation.md).
  result.top.reserve(accumulators.size());
  for (auto& [doc, scored] : accumulators) {
    const float coverage = static_cast<float>(scored.matched_terms) / static_cast<float>(distinct.size());
    scored.score *= coverage * coverage;
    result.top.push_back(scored);
    result.matched.add(doc);
  }
  auto better = [](const ScoredDoc& a, const ScoredDoc& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.matched_terms != b.matched_terms) return a.matched_terms > b.matched_terms;
    return a.doc < b.doc;
  };
  const size_t keep = std::min(top_k, result.top.size());
  std::partial_sort(result.top.begin(), result.top.begin() + keep, result.top.end(), better);
  result.top.resize(keep);
  return result;
}

}  // namespace tessera
