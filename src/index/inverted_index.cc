#include "index/inverted_index.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_set>

namespace tessera {
namespace {

const Roaring& EmptyBitmap() {
  static const Roaring kEmpty;
  return kEmpty;
}

bool PastDeadline(const LexicalQuery& query) {
  return query.deadline != std::chrono::steady_clock::time_point::max() &&
         std::chrono::steady_clock::now() > query.deadline;
}

// Calls `on_match(candidate_index, posting_index)` for every DocId in both ascending lists.
// Gallops through the longer list when the other is much shorter.
template <typename OnMatch>
void Intersect(const std::vector<DocId>& candidates, const std::vector<DocId>& postings, OnMatch on_match) {
  if (candidates.size() * 16 < postings.size()) {
    auto from = postings.begin();
    for (size_t c = 0; c < candidates.size(); ++c) {
      from = std::lower_bound(from, postings.end(), candidates[c]);
      if (from == postings.end()) return;
      if (*from == candidates[c]) on_match(c, static_cast<size_t>(from - postings.begin()));
    }
    return;
  }
  size_t c = 0, p = 0;
  while (c < candidates.size() && p < postings.size()) {
    if (candidates[c] < postings[p]) {
      ++c;
    } else if (postings[p] < candidates[c]) {
      ++p;
    } else {
      on_match(c++, p++);
    }
  }
}

// Buffers of InvertedIndex::Search, reused by the queries of one thread.
struct ScoringScratch {
  std::vector<DocId> candidates;
  std::vector<float> score, best_score, alternative_sum;
  std::vector<uint32_t> typos, synonyms, matched, best_typos, best_synonym, alternative_terms;
  std::vector<uint32_t> group_touched, alternative_touched;
  std::vector<ScoredDoc> scored;
};

}  // namespace

InvertedIndex::InvertedIndex(std::vector<FieldSpec> fields, float k1)
    : fields_(std::move(fields)), k1_(k1), total_length_(fields_.size(), 0) {}

void InvertedIndex::Add(DocId doc, const std::vector<std::vector<std::string>>& field_terms) {
  assert(field_terms.size() == fields_.size() && "one term list per field");
  assert(!live_docs_.contains(doc) && "a DocId is added once");
  const size_t field_count = fields_.size();
  if (terms_by_doc_.size() <= doc) terms_by_doc_.resize(size_t(doc) + 1);
  if (lengths_.size() < (size_t(doc) + 1) * field_count) lengths_.resize((size_t(doc) + 1) * field_count, 0);

  // Field frequencies per distinct term, in first-seen order so the result is deterministic.
  std::vector<uint32_t> ids;
  std::unordered_map<uint32_t, std::vector<uint32_t>> frequencies;
  for (size_t f = 0; f < field_count; ++f) {
    for (const std::string& term : field_terms[f]) {
      auto [it, inserted] = term_ids_.try_emplace(term, static_cast<uint32_t>(postings_.size()));
      if (inserted) {
        postings_.emplace_back();
        dictionary_.Add(term, it->second);
      }
      std::vector<uint32_t>& counts = frequencies[it->second];
      if (counts.empty()) {
        counts.assign(field_count, 0);
        ids.push_back(it->second);
      }
      ++counts[f];
    }
    const auto length = static_cast<uint32_t>(field_terms[f].size());
    lengths_[size_t(doc) * field_count + f] = static_cast<uint16_t>(std::min<uint32_t>(length, 65535));
    total_length_[f] += std::min<uint32_t>(length, 65535);
  }

  for (uint32_t id : ids) {
    Postings& postings = postings_[id];
    postings.docs.add(doc);
    // DocIds usually arrive in increasing order (an append); keep the lists sorted otherwise.
    auto at = std::lower_bound(postings.doc_ids.begin(), postings.doc_ids.end(), doc);
    const auto offset = static_cast<std::ptrdiff_t>(at - postings.doc_ids.begin()) * static_cast<std::ptrdiff_t>(field_count);
    postings.doc_ids.insert(at, doc);
    std::vector<uint8_t> counts;
    for (uint32_t count : frequencies[id]) counts.push_back(static_cast<uint8_t>(std::min<uint32_t>(count, 255)));
    postings.frequencies.insert(postings.frequencies.begin() + offset, counts.begin(), counts.end());
  }
  terms_by_doc_[doc] = std::move(ids);
  live_docs_.add(doc);
}

void InvertedIndex::Remove(DocId doc) {
  if (!live_docs_.contains(doc)) return;
  const size_t field_count = fields_.size();
  for (uint32_t id : terms_by_doc_[doc]) {
    Postings& postings = postings_[id];
    postings.docs.remove(doc);
    auto at = std::lower_bound(postings.doc_ids.begin(), postings.doc_ids.end(), doc);
    const size_t i = static_cast<size_t>(at - postings.doc_ids.begin());
    postings.doc_ids.erase(at);
    postings.frequencies.erase(postings.frequencies.begin() + static_cast<std::ptrdiff_t>(i * field_count),
                               postings.frequencies.begin() + static_cast<std::ptrdiff_t>((i + 1) * field_count));
  }
  for (size_t f = 0; f < field_count; ++f) total_length_[f] -= lengths_[size_t(doc) * field_count + f];
  terms_by_doc_[doc].clear();
  terms_by_doc_[doc].shrink_to_fit();
  live_docs_.remove(doc);
}

Status InvertedIndex::SetFieldWeight(const std::string& field, float weight) {
  if (!std::isfinite(weight) || weight < 0) {
    return Status::InvalidArgument("weight of field '" + field + "' is " + std::to_string(weight) +
                                   ": use a finite number >= 0");
  }
  for (FieldSpec& spec : fields_) {
    if (spec.name == field) {
      spec.weight = weight;
      return Status::Ok();
    }
  }
  std::string known;
  for (const FieldSpec& spec : fields_) known += (known.empty() ? "" : ", ") + spec.name;
  return Status::InvalidArgument("unknown text field '" + field + "': the fields are " + known);
}

const InvertedIndex::Postings* InvertedIndex::Find(std::string_view term) const {
  auto it = term_ids_.find(std::string(term));
  return it == term_ids_.end() ? nullptr : &postings_[it->second];
}

const Roaring& InvertedIndex::DocumentsWith(std::string_view term) const {
  const Postings* postings = Find(term);
  return postings == nullptr ? EmptyBitmap() : postings->docs;
}

float InvertedIndex::Idf(const Postings& postings) const {
  const double n = static_cast<double>(live_docs_.cardinality());
  const double df = static_cast<double>(postings.doc_ids.size());
  return static_cast<float>(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
}

float InvertedIndex::PseudoFrequency(const Postings& postings, size_t i, const std::vector<float>& inverse_average) const {
  const size_t field_count = fields_.size();
  const DocId doc = postings.doc_ids[i];
  float pseudo = 0;
  for (size_t f = 0; f < field_count; ++f) {
    const uint8_t tf = postings.frequencies[i * field_count + f];
    if (tf == 0) continue;
    const float length = lengths_[size_t(doc) * field_count + f];
    const float norm = 1.0f - fields_[f].b + fields_[f].b * length * inverse_average[f];
    pseudo += fields_[f].weight * tf / norm;
  }
  return pseudo;
}

Roaring InvertedIndex::AlternativeDocs(const QueryAlternative& alternative) const {
  if (alternative.terms.empty()) return Roaring();
  std::vector<const Roaring*> bitmaps;
  for (const std::string& term : alternative.terms) {
    const Postings* postings = Find(term);
    if (postings == nullptr || postings->doc_ids.empty()) return Roaring();
    bitmaps.push_back(&postings->docs);
  }
  std::sort(bitmaps.begin(), bitmaps.end(),
            [](const Roaring* a, const Roaring* b) { return a->cardinality() < b->cardinality(); });
  Roaring docs = *bitmaps[0];
  for (size_t i = 1; i < bitmaps.size() && !docs.isEmpty(); ++i) docs &= *bitmaps[i];
  return docs;
}

TermQueryResult InvertedIndex::Search(const LexicalQuery& query, const Roaring* allowed, size_t top_k) const {
  TextSearchOptions options;
  options.allowed = allowed;
  options.top_k = top_k;
  return Search(query, options);
}

TermQueryResult InvertedIndex::Search(const LexicalQuery& query, const TextSearchOptions& options) const {
  const Roaring* allowed = options.allowed;
  const size_t top_k = options.top_k;
  const size_t relax_until = options.relax_until == 0 ? top_k : options.relax_until;
  TermQueryResult result;
  const size_t live = live_docs_.cardinality();
  if (live == 0 || query.groups.empty()) return result;

  // Documents of each group. A query of stop words only treats them as required.
  std::vector<Roaring> group_docs;
  std::vector<size_t> required;
  bool any_required = false;
  for (const QueryGroup& group : query.groups) any_required |= !group.optional;
  for (size_t g = 0; g < query.groups.size(); ++g) {
    Roaring docs;
    for (const QueryAlternative& alternative : query.groups[g].alternatives) docs |= AlternativeDocs(alternative);
    if (allowed != nullptr) docs &= *allowed;
    group_docs.push_back(std::move(docs));
    if (!query.groups[g].optional || !any_required) required.push_back(g);
  }

  // Levels: all required groups; then, while short of top_k, without the most common groups.
  // The rarest group is never dropped, because a document containing only "casual" of "casual
  // sunscreen" is not relevant, and scoring the many such documents would be the slowest level.
  // Between equally common groups the later query word is dropped first: shoppers tend to lead
  // with the word that matters most, such as a brand.
  std::vector<size_t> by_size(required);
  std::sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    const uint64_t ca = group_docs[a].cardinality(), cb = group_docs[b].cardinality();
    return ca != cb ? ca > cb : a > b;
  });
  auto intersect_without = [&](size_t dropped) {
    std::vector<size_t> kept(by_size.begin() + static_cast<std::ptrdiff_t>(dropped), by_size.end());
    std::reverse(kept.begin(), kept.end());  // smallest first
    Roaring docs = group_docs[kept[0]];
    for (size_t i = 1; i < kept.size() && !docs.isEmpty(); ++i) docs &= group_docs[kept[i]];
    return docs;
  };
  std::vector<Roaring> levels;
  levels.push_back(intersect_without(0));
  result.matched = levels.back();
  for (size_t dropped = 1; dropped < by_size.size() && result.matched.cardinality() < relax_until; ++dropped) {
    if (PastDeadline(query)) {
      result.partial = true;
      break;
    }
    Roaring level = intersect_without(dropped);
    level -= result.matched;
    result.matched |= level;
    levels.push_back(std::move(level));
  }

  // Per-query constants of BM25F.
  std::vector<float> inverse_average(fields_.size());
  for (size_t f = 0; f < fields_.size(); ++f) {
    const double average = std::max(1.0, double(total_length_[f]) / double(live));
    inverse_average[f] = static_cast<float>(1.0 / average);
  }
  std::vector<char> is_required(query.groups.size(), 0);
  for (size_t g : required) is_required[g] = 1;

  // Score level by level until top_k documents are ranked.
  constexpr uint32_t kNoMatch = std::numeric_limits<uint32_t>::max();
  for (size_t level = 0; level < levels.size() && result.top.size() < top_k; ++level) {
    if (PastDeadline(query)) {
      result.partial = true;
      break;
    }
    // Per-candidate arrays live in per-thread scratch whose capacity is kept between queries, so
    // a query allocates nothing here once the thread has served one of its size.
    thread_local ScoringScratch scratch;
    std::vector<DocId>& candidates = scratch.candidates;
    candidates.resize(levels[level].cardinality());
    levels[level].toUint32Array(candidates.data());
    const size_t count = candidates.size();
    std::vector<float>& score = scratch.score;
    std::vector<uint32_t>& typos = scratch.typos;
    std::vector<uint32_t>& synonyms = scratch.synonyms;
    std::vector<uint32_t>& matched = scratch.matched;
    score.assign(count, 0.0f);
    typos.assign(count, 0);
    synonyms.assign(count, 0);
    matched.assign(count, 0);

    // Only the entries in the `touched` lists are non-default, so each alternative costs time in
    // proportion to its matches, not to the level's size.
    std::vector<float>& best_score = scratch.best_score;
    std::vector<float>& alternative_sum = scratch.alternative_sum;
    std::vector<uint32_t>& best_typos = scratch.best_typos;
    std::vector<uint32_t>& best_synonym = scratch.best_synonym;
    std::vector<uint32_t>& alternative_terms = scratch.alternative_terms;
    std::vector<uint32_t>& group_touched = scratch.group_touched;
    std::vector<uint32_t>& alternative_touched = scratch.alternative_touched;
    best_score.assign(count, 0.0f);
    alternative_sum.assign(count, 0.0f);
    best_typos.assign(count, kNoMatch);
    best_synonym.assign(count, 0);
    alternative_terms.assign(count, 0);
    group_touched.clear();
    alternative_touched.clear();
    for (size_t g = 0; g < query.groups.size(); ++g) {
      // Optional groups (stop words) neither exclude nor score: "shirt for men" ranks as
      // "shirt men" does.
      if (!is_required[g]) continue;
      for (const QueryAlternative& alternative : query.groups[g].alternatives) {
        std::vector<std::string_view> distinct;
        for (const std::string& term : alternative.terms) {
          if (std::find(distinct.begin(), distinct.end(), term) != distinct.end()) continue;
          distinct.push_back(term);
          const Postings* postings = Find(term);
          if (postings == nullptr) break;
          const float idf = Idf(*postings);
          Intersect(candidates, postings->doc_ids, [&](size_t c, size_t p) {
            const float pseudo = PseudoFrequency(*postings, p, inverse_average);
            if (alternative_terms[c] == 0) alternative_touched.push_back(static_cast<uint32_t>(c));
            alternative_sum[c] += idf * pseudo * (k1_ + 1) / (pseudo + k1_);
            ++alternative_terms[c];
          });
        }
        const uint32_t synonym = alternative.synonym ? 1 : 0;
        for (uint32_t c : alternative_touched) {
          if (alternative_terms[c] == distinct.size()) {
            const float s = alternative.weight * alternative_sum[c];
            // Fewer typos win, then the word itself over a synonym, then the higher score.
            const bool better = alternative.typos != best_typos[c] ? alternative.typos < best_typos[c]
                                : synonym != best_synonym[c]     ? synonym < best_synonym[c]
                                                                 : s > best_score[c];
            if (best_typos[c] == kNoMatch) group_touched.push_back(c);
            if (better) {
              best_typos[c] = alternative.typos;
              best_synonym[c] = synonym;
              best_score[c] = s;
            }
          }
          alternative_sum[c] = 0.0f;
          alternative_terms[c] = 0;
        }
        alternative_touched.clear();
      }
      for (uint32_t c : group_touched) {
        score[c] += best_score[c];
        typos[c] += best_typos[c];
        synonyms[c] += best_synonym[c];
        matched[c] += is_required[g];
        best_score[c] = 0.0f;
        best_typos[c] = kNoMatch;
        best_synonym[c] = 0;
      }
      group_touched.clear();
    }

    std::vector<ScoredDoc>& scored = scratch.scored;
    scored.resize(count);
    for (size_t c = 0; c < count; ++c) {
      scored[c] = {candidates[c], score[c], matched[c], static_cast<uint32_t>(level), typos[c], synonyms[c]};
    }
    const Roaring* preferred = options.preferred;
    auto better = [preferred](const ScoredDoc& a, const ScoredDoc& b) {
      if (a.typos != b.typos) return a.typos < b.typos;
      if (a.synonyms != b.synonyms) return a.synonyms < b.synonyms;
      if (a.score != b.score) return a.score > b.score;
      if (preferred != nullptr) {
        const bool a_preferred = preferred->contains(a.doc), b_preferred = preferred->contains(b.doc);
        if (a_preferred != b_preferred) return a_preferred;
      }
      return a.doc < b.doc;
    };
    const size_t keep = std::min(top_k - result.top.size(), scored.size());
    // Select the best `keep` in linear time, then order only those.
    const auto keep_end = scored.begin() + static_cast<std::ptrdiff_t>(keep);
    if (keep < scored.size()) std::nth_element(scored.begin(), keep_end, scored.end(), better);
    std::sort(scored.begin(), keep_end, better);
    result.top.insert(result.top.end(), scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  return result;
}

TermQueryResult InvertedIndex::Search(const std::vector<std::string>& terms, const Roaring* allowed,
                                      size_t top_k) const {
  LexicalQuery query;
  std::unordered_set<std::string> seen;
  for (const std::string& term : terms) {
    if (!seen.insert(term).second) continue;
    QueryGroup group;
    group.surface = term;
    group.alternatives.push_back({{term}, 1.0f, 0});
    query.groups.push_back(std::move(group));
  }
  return Search(query, allowed, top_k);
}

size_t InvertedIndex::MemoryBytes() const {
  size_t bytes = lengths_.capacity() * sizeof(uint16_t) + terms_by_doc_.capacity() * sizeof(std::vector<uint32_t>);
  for (const auto& ids : terms_by_doc_) bytes += ids.capacity() * sizeof(uint32_t);
  for (const Postings& postings : postings_) {
    bytes += sizeof(Postings) + postings.doc_ids.capacity() * sizeof(DocId) + postings.frequencies.capacity() +
             postings.docs.getSizeInBytes();
  }
  for (const auto& [term, id] : term_ids_) bytes += term.capacity() + sizeof(uint32_t) + 32;
  return bytes;
}

}  // namespace tessera
