#include "index/inverted_index.h"

#include <algorithm>
#include <bit>
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

// Returns the first index at or after `from` whose DocId is not below `target`, or list.size().
// Exponential search: steps of doubling size from `from`, then a binary search within the last
// step, so skipping a gap of n postings costs O(log n) comparisons.
size_t GallopTo(const std::vector<DocId>& list, size_t from, DocId target) {
  // The next candidate is often this term's next posting, as in a query of one word.
  if (from < list.size() && list[from] >= target) return from;
  if (from + 1 < list.size() && list[from + 1] >= target) return from + 1;
  size_t step = 1;
  size_t low = from;
  while (low + step < list.size() && list[low + step] < target) {
    low += step;
    step *= 2;
  }
  const size_t high = std::min(list.size(), low + step + 1);
  return static_cast<size_t>(std::lower_bound(list.begin() + static_cast<std::ptrdiff_t>(low),
                                              list.begin() + static_cast<std::ptrdiff_t>(high), target) -
                             list.begin());
}

constexpr uint32_t kNoMatch = std::numeric_limits<uint32_t>::max();
constexpr size_t kNoGroup = std::numeric_limits<size_t>::max();

// A position in one term's postings, moved forward as the candidates of a level ascend.
struct TermCursor {
  const std::vector<DocId>* doc_ids;
  const uint8_t* field_stats;  // Postings::field_stats of the term
  uint64_t field_mask;         // Postings::field_mask of the term
  size_t stats_stride;         // bytes per posting in field_stats
  size_t position;
  float idf;
};

// One alternative of a required group: its distinct terms are cursors[first, first + count).
struct AlternativePlan {
  uint32_t first;
  uint32_t count;  // 0 when a term is absent from the index, so the alternative matches nothing
  float weight;
  uint32_t typos;
  uint32_t synonym;  // 1 for a synonym of the query word, else 0
};

// The ranking key of one candidate, with the photo test looked up once instead of in every
// comparison. `candidate` indexes the level's ascending DocIds, so it orders as the DocId does.
struct RankEntry {
  uint32_t typos;     // edits summed over the matched groups
  uint32_t synonyms;  // groups matched only through a synonym
  float score;
  uint32_t candidate;
  uint32_t matched;  // required groups matched
  bool preferred;
  // Typos, synonyms and score packed so that a smaller key ranks first (see PackRankKey).
  uint64_t key;
};

// The order of the top of inverted_index.h: fewer typos, fewer synonyms, higher score, preferred,
// lower DocId.
bool RanksBefore(const RankEntry& a, const RankEntry& b) {
  if (a.typos != b.typos) return a.typos < b.typos;
  if (a.synonyms != b.synonyms) return a.synonyms < b.synonyms;
  if (a.score != b.score) return a.score > b.score;
  if (a.preferred != b.preferred) return a.preferred;
  return a.candidate < b.candidate;
}

// Keys fit when typos and synonyms are below this; larger counts fall back to RanksBefore.
constexpr uint32_t kPackedCountLimit = 1u << 16;

// Sets `entry->key` to typos, synonyms and the score's bits inverted, from the most significant
// bits down. For finite scores of zero or more, a larger float has larger bits, so ordering the
// keys ascending orders as the first three tests of RanksBefore. A zero score maps to the bits
// of +0 so that -0 and +0 stay equal, as they compare in float.
void PackRankKey(RankEntry* entry) {
  const uint32_t bits = entry->score == 0.0f ? 0u : std::bit_cast<uint32_t>(entry->score);
  entry->key = (uint64_t{entry->typos} << 48) | (uint64_t{entry->synonyms} << 32) | uint64_t{~bits};
}

// RanksBefore as one integer: the packed key, then 0 for preferred and 1 for not, then the
// candidate, from the most significant bits down. Sorting these 16 bytes moves half the memory
// of sorting the entries, and compares in one step.
unsigned __int128 SortKey(const RankEntry& entry) {
  return (static_cast<unsigned __int128>(entry.key) << 64) | (uint64_t{entry.preferred ? 0u : 1u} << 32) |
         uint64_t{entry.candidate};
}

}  // namespace

// Buffers of InvertedIndex::Search, reused by the queries of one thread.
struct InvertedIndex::ScoringScratch {
  std::vector<DocId> candidates;
  std::vector<TermCursor> cursors;
  std::vector<AlternativePlan> alternatives;
  std::vector<uint32_t> group_ends;  // alternatives of required group i end at group_ends[i]
  std::vector<size_t> group_of;      // query group index of required group i
  std::vector<RankEntry> ranked;     // parallel to candidates
  std::vector<unsigned __int128> sort_keys;  // AppendBest's keys, see SortKey
};

InvertedIndex::InvertedIndex(std::vector<FieldSpec> fields, float k1)
    : fields_(std::move(fields)), k1_(k1), total_length_(fields_.size(), 0) {
  assert(fields_.size() <= kMaxFields);  // field masks have 64 bits
}

void InvertedIndex::WidenFieldStats(uint64_t field_mask, Postings* postings) {
  const size_t old_count = static_cast<size_t>(std::popcount(postings->field_mask));
  const size_t new_count = static_cast<size_t>(std::popcount(field_mask));
  std::vector<uint8_t> widened(postings->doc_ids.size() * 2 * new_count, 0);
  for (size_t i = 0; i < postings->doc_ids.size(); ++i) {
    const uint8_t* from = &postings->field_stats[i * 2 * old_count];
    uint8_t* to = &widened[i * 2 * new_count];
    // Copy each old field's frequency and length to its slot among the new fields.
    size_t old_slot = 0, new_slot = 0;
    for (uint64_t rest = field_mask; rest != 0; rest &= rest - 1, ++new_slot) {
      const uint64_t bit = rest & -rest;
      if ((postings->field_mask & bit) == 0) continue;
      to[new_slot] = from[old_slot];
      to[new_count + new_slot] = from[old_count + old_slot];
      ++old_slot;
    }
  }
  postings->field_stats = std::move(widened);
  postings->field_mask = field_mask;
}

void InvertedIndex::Add(DocId doc, const std::vector<std::vector<std::string>>& field_terms) {
  assert(field_terms.size() == fields_.size() && "one term list per field");
  assert(!live_docs_.contains(doc) && "a DocId is added once");
  const size_t field_count = fields_.size();
  if (terms_by_doc_.size() <= doc) terms_by_doc_.resize(size_t(doc) + 1);
  if (lengths_.size() < (size_t(doc) + 1) * field_count) lengths_.resize((size_t(doc) + 1) * field_count, 0);

  // Field frequencies per distinct term, in first-seen order so the result is deterministic.
  std::vector<uint32_t> ids;
  std::unordered_map<uint32_t, std::vector<uint32_t>> frequencies;
  std::vector<uint8_t> short_lengths(field_count);
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
    short_lengths[f] = static_cast<uint8_t>(std::min<uint32_t>(length, kLengthInTable));
    total_length_[f] += std::min<uint32_t>(length, 65535);
  }

  for (uint32_t id : ids) {
    Postings& postings = postings_[id];
    const std::vector<uint32_t>& counts = frequencies[id];
    uint64_t doc_mask = 0;
    for (size_t f = 0; f < field_count; ++f) {
      if (counts[f] > 0) doc_mask |= uint64_t{1} << f;
    }
    if ((postings.field_mask | doc_mask) != postings.field_mask) WidenFieldStats(postings.field_mask | doc_mask, &postings);
    postings.docs.add(doc);
    // DocIds usually arrive in increasing order (an append); keep the lists sorted otherwise.
    auto at = std::lower_bound(postings.doc_ids.begin(), postings.doc_ids.end(), doc);
    const size_t stride = 2 * static_cast<size_t>(std::popcount(postings.field_mask));
    const auto offset = static_cast<std::ptrdiff_t>(at - postings.doc_ids.begin()) * static_cast<std::ptrdiff_t>(stride);
    postings.doc_ids.insert(at, doc);
    std::vector<uint8_t> stats(stride, 0);
    size_t slot = 0;
    for (uint64_t rest = postings.field_mask; rest != 0; rest &= rest - 1, ++slot) {
      const auto f = static_cast<size_t>(std::countr_zero(rest));
      stats[slot] = static_cast<uint8_t>(std::min<uint32_t>(counts[f], 255));
      stats[stride / 2 + slot] = short_lengths[f];
    }
    postings.field_stats.insert(postings.field_stats.begin() + offset, stats.begin(), stats.end());
  }
  terms_by_doc_[doc] = std::move(ids);
  live_docs_.add(doc);
  DropGroupUnions();
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
    const size_t stride = 2 * static_cast<size_t>(std::popcount(postings.field_mask));
    postings.field_stats.erase(postings.field_stats.begin() + static_cast<std::ptrdiff_t>(i * stride),
                               postings.field_stats.begin() + static_cast<std::ptrdiff_t>((i + 1) * stride));
  }
  for (size_t f = 0; f < field_count; ++f) total_length_[f] -= lengths_[size_t(doc) * field_count + f];
  terms_by_doc_[doc].clear();
  terms_by_doc_[doc].shrink_to_fit();
  live_docs_.remove(doc);
  DropGroupUnions();
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

std::vector<InvertedIndex::FieldNorm> InvertedIndex::FieldNorms() const {
  const double live = static_cast<double>(live_docs_.cardinality());
  std::vector<FieldNorm> norms(fields_.size());
  for (size_t f = 0; f < fields_.size(); ++f) {
    const double average = std::max(1.0, double(total_length_[f]) / live);
    norms[f] = {fields_[f].weight, fields_[f].b, 1.0f - fields_[f].b, static_cast<float>(1.0 / average)};
  }
  return norms;
}

// Inlined into the scoring loop, where it runs once per term and candidate. Without the
// attribute, GCC 12 at -O3 compiled it as a call (a separate symbol in perf profiles).
[[gnu::always_inline]] inline float InvertedIndex::PseudoFrequency(const uint8_t* field_stats, uint64_t field_mask,
                                                                   size_t slots, DocId doc,
                                                                   const FieldNorm* norms) const {
  const size_t field_count = fields_.size();
  const uint8_t* tf = field_stats;
  const uint8_t* short_length = field_stats + slots;
  float pseudo = 0;
  // Fields outside the mask have frequency 0 and add nothing, so the sum runs over the same
  // fields in the same ascending order as the formula.
  size_t slot = 0;
  for (uint64_t rest = field_mask; rest != 0; rest &= rest - 1, ++slot) {
    if (tf[slot] == 0) continue;
    const auto f = static_cast<size_t>(std::countr_zero(rest));
    const uint16_t length =
        short_length[slot] == kLengthInTable ? lengths_[size_t(doc) * field_count + f] : short_length[slot];
    // The same operations in the same order as the formula at the top of inverted_index.h, so
    // scores do not depend on what is precomputed.
    const float norm = norms[f].one_minus_b + norms[f].b * float(length) * norms[f].inverse_average;
    pseudo += norms[f].weight * tf[slot] / norm;
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
  if (bitmaps.size() == 1) return *bitmaps[0];
  std::sort(bitmaps.begin(), bitmaps.end(),
            [](const Roaring* a, const Roaring* b) { return a->cardinality() < b->cardinality(); });
  Roaring docs = *bitmaps[0] & *bitmaps[1];
  for (size_t i = 2; i < bitmaps.size() && !docs.isEmpty(); ++i) docs &= *bitmaps[i];
  return docs;
}

Roaring InvertedIndex::GroupUnion(const QueryGroup& group) const {
  // One union of all alternatives: CRoaring's fastunion merges them in one pass instead of
  // rewriting the result once per alternative.
  std::vector<Roaring> intersections;
  intersections.reserve(group.alternatives.size());
  std::vector<const Roaring*> inputs;
  inputs.reserve(group.alternatives.size());
  for (const QueryAlternative& alternative : group.alternatives) {
    if (alternative.terms.size() == 1) {
      const Postings* postings = Find(alternative.terms[0]);
      if (postings != nullptr) inputs.push_back(&postings->docs);
    } else {
      intersections.push_back(AlternativeDocs(alternative));
      inputs.push_back(&intersections.back());
    }
  }
  return Roaring::fastunion(inputs.size(), inputs.data());
}

const Roaring* InvertedIndex::GroupDocs(const QueryGroup& group, const Roaring* allowed,
                                        std::vector<Roaring>* storage,
                                        std::vector<std::shared_ptr<const Roaring>>* held) const {
  // A group of one term is its posting bitmap, used in place when there is no filter.
  if (group.alternatives.size() == 1 && group.alternatives[0].terms.size() == 1) {
    const Postings* postings = Find(group.alternatives[0].terms[0]);
    if (postings == nullptr) return &EmptyBitmap();
    if (allowed == nullptr) return &postings->docs;
    storage->push_back(postings->docs & *allowed);
    return &storage->back();
  }
  if (group_union_limit_bytes_ == 0) {
    storage->push_back(GroupUnion(group));
    if (allowed != nullptr) storage->back() &= *allowed;
    return &storage->back();
  }

  // The key lists every alternative's terms. Weights, typos and synonym flags do not change
  // which documents match.
  std::string key;
  for (const QueryAlternative& alternative : group.alternatives) {
    for (const std::string& term : alternative.terms) {
      key += term;
      key += '\x1f';
    }
    key += '\x1e';
  }
  std::shared_ptr<const Roaring> docs;
  {
    std::lock_guard lock(group_unions_mutex_);
    if (auto it = group_unions_.find(key); it != group_unions_.end()) docs = it->second;
  }
  if (docs != nullptr) {
    group_union_hits_.fetch_add(1, std::memory_order_relaxed);
  } else {
    group_union_misses_.fetch_add(1, std::memory_order_relaxed);
    docs = std::make_shared<const Roaring>(GroupUnion(group));
    const size_t bytes = docs->getSizeInBytes() + key.size();
    std::lock_guard lock(group_unions_mutex_);
    if (group_union_bytes_ + bytes > group_union_limit_bytes_) {
      // Emptying at once is simpler than evicting the least used, and searches under way keep
      // the unions they hold.
      group_unions_.clear();
      group_union_bytes_ = 0;
    }
    if (bytes <= group_union_limit_bytes_ && group_unions_.emplace(std::move(key), docs).second) {
      group_union_bytes_ += bytes;
    }
  }
  if (allowed != nullptr) {
    storage->push_back(*docs & *allowed);
    return &storage->back();
  }
  held->push_back(docs);
  return docs.get();
}

void InvertedIndex::DropGroupUnions() {
  std::lock_guard lock(group_unions_mutex_);
  group_unions_.clear();
  group_union_bytes_ = 0;
}

void InvertedIndex::SetGroupUnionCacheBytes(size_t bytes) {
  DropGroupUnions();
  group_union_limit_bytes_ = bytes;
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

  // Documents of each required group. A query of stop words only treats them as required.
  // `group_storage` never reallocates, because each group adds at most one bitmap to it.
  std::vector<Roaring> group_storage;
  group_storage.reserve(query.groups.size());
  std::vector<std::shared_ptr<const Roaring>> held_unions;
  std::vector<const Roaring*> group_docs(query.groups.size(), nullptr);
  std::vector<uint64_t> group_size(query.groups.size(), 0);
  std::vector<size_t> required;
  bool any_required = false;
  for (const QueryGroup& group : query.groups) any_required |= !group.optional;
  for (size_t g = 0; g < query.groups.size(); ++g) {
    if (query.groups[g].optional && any_required) continue;
    required.push_back(g);
    group_docs[g] = GroupDocs(query.groups[g], allowed, &group_storage, &held_unions);
    group_size[g] = group_docs[g]->cardinality();
  }

  // Levels: all required groups; then, while short of top_k, without the most common groups.
  // The rarest group is never dropped, because a document containing only "casual" of "casual
  // sunscreen" is not relevant, and scoring the many such documents would be the slowest level.
  // Between equally common groups the later query word is dropped first: shoppers tend to lead
  // with the word that matters most, such as a brand.
  std::vector<size_t> by_size(required);
  std::sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    return group_size[a] != group_size[b] ? group_size[a] > group_size[b] : a > b;
  });
  auto intersect_without = [&](size_t dropped) {
    std::vector<size_t> kept(by_size.begin() + static_cast<std::ptrdiff_t>(dropped), by_size.end());
    std::reverse(kept.begin(), kept.end());  // smallest first
    if (kept.size() == 1) return *group_docs[kept[0]];
    Roaring docs = *group_docs[kept[0]] & *group_docs[kept[1]];
    for (size_t i = 2; i < kept.size() && !docs.isEmpty(); ++i) docs &= *group_docs[kept[i]];
    return docs;
  };
  // Level 0 of a one-group query is that group's bitmap, used in place.
  std::vector<Roaring> level_storage;
  level_storage.reserve(by_size.size());
  std::vector<const Roaring*> levels;
  if (by_size.size() == 1) {
    levels.push_back(group_docs[by_size[0]]);
  } else {
    level_storage.push_back(intersect_without(0));
    levels.push_back(&level_storage.back());
  }
  // Without relaxation the matches are level 0, which is moved into the result after scoring
  // instead of copied here.
  const bool relaxes = by_size.size() > 1 && levels[0]->cardinality() < relax_until;
  if (relaxes) result.matched = *levels[0];
  for (size_t dropped = 1; relaxes && dropped < by_size.size() && result.matched.cardinality() < relax_until;
       ++dropped) {
    if (PastDeadline(query)) {
      result.partial = true;
      break;
    }
    Roaring level = intersect_without(dropped);
    level -= result.matched;
    result.matched |= level;
    level_storage.push_back(std::move(level));
    levels.push_back(&level_storage.back());
  }

  // Score level by level until top_k documents are ranked.
  result.top.reserve(std::min<uint64_t>(top_k, result.matched.isEmpty() ? levels[0]->cardinality()
                                                                          : result.matched.cardinality()));
  const std::vector<FieldNorm> norms = FieldNorms();
  std::vector<char> is_required(query.groups.size(), 0);
  for (size_t g : required) is_required[g] = 1;
  // Per-candidate arrays live in per-thread scratch whose capacity is kept between queries, so
  // a query allocates nothing here once the thread has served one of its size.
  thread_local ScoringScratch scratch;
  PlanQuery(query, is_required, &scratch);
  for (size_t level = 0; level < levels.size() && result.top.size() < top_k; ++level) {
    if (PastDeadline(query)) {
      result.partial = true;
      break;
    }
    scratch.candidates.resize(levels[level]->cardinality());
    levels[level]->toUint32Array(scratch.candidates.data());
    // A document of level d contains every group but the d most common, and lacks the d-th most
    // common (with it, it would be in level d - 1), so that group's postings are not searched.
    ScoreLevel(norms.data(), level == 0 ? kNoGroup : by_size[level - 1], &scratch);
    AppendBest(static_cast<uint32_t>(level), top_k - result.top.size(), options.preferred, &scratch,
               &result.top);
  }
  if (!relaxes) result.matched = level_storage.empty() ? *levels[0] : std::move(level_storage[0]);
  return result;
}

void InvertedIndex::PlanQuery(const LexicalQuery& query, const std::vector<char>& is_required,
                              ScoringScratch* scratch) const {
  std::vector<TermCursor>& cursors = scratch->cursors;
  std::vector<AlternativePlan>& alternatives = scratch->alternatives;
  cursors.clear();
  alternatives.clear();
  scratch->group_ends.clear();
  scratch->group_of.clear();
  for (size_t g = 0; g < query.groups.size(); ++g) {
    // Optional groups (stop words) neither exclude nor score: "shirt for men" ranks as
    // "shirt men" does.
    if (!is_required[g]) continue;
    for (const QueryAlternative& alternative : query.groups[g].alternatives) {
      AlternativePlan plan{static_cast<uint32_t>(cursors.size()), 0, alternative.weight, alternative.typos,
                           alternative.synonym ? 1u : 0u};
      std::vector<std::string_view> distinct;
      for (const std::string& term : alternative.terms) {
        if (std::find(distinct.begin(), distinct.end(), term) != distinct.end()) continue;
        distinct.push_back(term);
        auto id = term_ids_.find(term);
        if (id == term_ids_.end()) {
          distinct.clear();
          break;
        }
        const Postings& postings = postings_[id->second];
        const size_t stride = 2 * static_cast<size_t>(std::popcount(postings.field_mask));
        cursors.push_back(
            {&postings.doc_ids, postings.field_stats.data(), postings.field_mask, stride, 0, Idf(postings)});
      }
      plan.count = static_cast<uint32_t>(distinct.size());
      cursors.resize(plan.first + plan.count);
      alternatives.push_back(plan);
    }
    scratch->group_ends.push_back(static_cast<uint32_t>(alternatives.size()));
    scratch->group_of.push_back(g);
  }
}

void InvertedIndex::ScoreLevel(const FieldNorm* norms, size_t absent_group, ScoringScratch* scratch) const {
  const std::vector<DocId>& candidates = scratch->candidates;
  std::vector<TermCursor>& cursors = scratch->cursors;
  for (TermCursor& cursor : cursors) cursor.position = 0;
  const std::vector<AlternativePlan>& alternatives = scratch->alternatives;
  const std::vector<uint32_t>& group_ends = scratch->group_ends;
  const std::vector<size_t>& group_of = scratch->group_of;
  std::vector<RankEntry>& ranked = scratch->ranked;
  ranked.resize(candidates.size());

  // Document at a time: each candidate is scored whole, and the cursors only move forward. The
  // sums run in the order of the groups, alternatives and terms of the query, so the scores do
  // not depend on the evaluation order.
  for (size_t c = 0; c < candidates.size(); ++c) {
    const DocId doc = candidates[c];
    RankEntry entry{0, 0, 0.0f, static_cast<uint32_t>(c), 0, false, 0};
    uint32_t first_alternative = 0;
    for (size_t i = 0; i < group_ends.size(); ++i) {
      const uint32_t group_end = group_ends[i];
      if (group_of[i] == absent_group) {
        first_alternative = group_end;
        continue;
      }
      uint32_t best_typos = kNoMatch, best_synonym = 0;
      float best_score = 0;
      for (uint32_t a = first_alternative; a < group_end; ++a) {
        const AlternativePlan& plan = alternatives[a];
        if (plan.count == 0) continue;
        // An alternative with more typos, or a synonym where the word itself matched, cannot be
        // better than the best match so far, so its postings are not read. Its cursors stay
        // behind and catch up by galloping at the next candidate that needs them.
        if (best_typos != kNoMatch &&
            (plan.typos > best_typos || (plan.typos == best_typos && plan.synonym > best_synonym))) {
          continue;
        }
        float sum = 0;
        bool all_terms = true;
        for (uint32_t k = plan.first; k < plan.first + plan.count; ++k) {
          TermCursor& cursor = cursors[k];
          cursor.position = GallopTo(*cursor.doc_ids, cursor.position, doc);
          if (cursor.position == cursor.doc_ids->size() || (*cursor.doc_ids)[cursor.position] != doc) {
            all_terms = false;
            break;
          }
          const float pseudo = PseudoFrequency(cursor.field_stats + cursor.position * cursor.stats_stride,
                                               cursor.field_mask, cursor.stats_stride / 2, doc, norms);
          sum += cursor.idf * pseudo * (k1_ + 1) / (pseudo + k1_);
        }
        if (!all_terms) continue;
        const float score = plan.weight * sum;
        // Fewer typos win, then the word itself over a synonym, then the higher score.
        const bool better = plan.typos != best_typos     ? plan.typos < best_typos
                            : plan.synonym != best_synonym ? plan.synonym < best_synonym
                                                           : score > best_score;
        if (better) {
          best_typos = plan.typos;
          best_synonym = plan.synonym;
          best_score = score;
        }
      }
      first_alternative = group_end;
      if (best_typos == kNoMatch) continue;
      entry.score += best_score;
      entry.typos += best_typos;
      entry.synonyms += best_synonym;
      ++entry.matched;
    }
    ranked[c] = entry;
  }
}

void InvertedIndex::AppendBest(uint32_t level, size_t keep, const Roaring* preferred,
                               ScoringScratch* scratch, std::vector<ScoredDoc>* top) {
  const std::vector<DocId>& candidates = scratch->candidates;
  std::vector<RankEntry>& ranked = scratch->ranked;

  // Whether each candidate is preferred, looked up once here instead of in every comparison.
  if (preferred != nullptr) {
    for (size_t c = 0; c < candidates.size(); ++c) ranked[c].preferred = preferred->contains(candidates[c]);
  }

  // Select the best `keep` in linear time, then order only those.
  keep = std::min(keep, ranked.size());
  const auto keep_end = ranked.begin() + static_cast<std::ptrdiff_t>(keep);
  // Packed keys (SortKey) compare in one step instead of five, when every entry fits them. Scores
  // are never negative or NaN (idf, weights and frequencies are not), which packing requires.
  bool packed = true;
  for (RankEntry& entry : ranked) {
    assert(std::isfinite(entry.score));
    assert(entry.score >= 0.0f);
    packed = packed && entry.typos < kPackedCountLimit && entry.synonyms < kPackedCountLimit;
    PackRankKey(&entry);
  }
  auto append = [&](const RankEntry& entry) {
    top->push_back({candidates[entry.candidate], entry.score, entry.matched, level, entry.typos, entry.synonyms});
  };
  if (packed) {
    std::vector<unsigned __int128>& keys = scratch->sort_keys;
    keys.resize(ranked.size());
    for (size_t c = 0; c < ranked.size(); ++c) keys[c] = SortKey(ranked[c]);
    const auto keys_end = keys.begin() + static_cast<std::ptrdiff_t>(keep);
    if (keep < keys.size()) std::nth_element(keys.begin(), keys_end, keys.end());
    std::sort(keys.begin(), keys_end);
    // The low 32 bits are the candidate, which indexes `ranked` as it indexes `candidates`.
    for (auto it = keys.begin(); it != keys_end; ++it) append(ranked[static_cast<uint32_t>(*it)]);
    return;
  }
  if (keep < ranked.size()) std::nth_element(ranked.begin(), keep_end, ranked.end(), RanksBefore);
  std::sort(ranked.begin(), keep_end, RanksBefore);
  for (auto it = ranked.begin(); it != keep_end; ++it) append(*it);
}

std::vector<float> InvertedIndex::FieldScores(const LexicalQuery& query, DocId doc) const {
  const size_t field_count = fields_.size();
  std::vector<float> scores(field_count, 0.0f);
  if (!live_docs_.contains(doc)) return scores;
  const std::vector<FieldNorm> norms = FieldNorms();
  const bool all_optional =
      std::all_of(query.groups.begin(), query.groups.end(), [](const QueryGroup& g) { return g.optional; });
  // Position of `doc` in a term's postings, or npos when the term is not in it.
  auto position_of = [&](const Postings& postings) -> size_t {
    auto it = std::lower_bound(postings.doc_ids.begin(), postings.doc_ids.end(), doc);
    if (it == postings.doc_ids.end() || *it != doc) return std::string::npos;
    return static_cast<size_t>(it - postings.doc_ids.begin());
  };
  for (const QueryGroup& group : query.groups) {
    if (group.optional && !all_optional) continue;
    // The alternative Search would credit this group with, by the same order of preference.
    const QueryAlternative* best = nullptr;
    uint32_t best_typos = kNoMatch, best_synonym = 0;
    float best_score = 0;
    for (const QueryAlternative& alternative : group.alternatives) {
      if (alternative.terms.empty()) continue;
      float sum = 0;
      bool all_terms = true;
      for (const std::string& term : alternative.terms) {
        const Postings* postings = Find(term);
        const size_t i = postings == nullptr ? std::string::npos : position_of(*postings);
        if (i == std::string::npos) {
          all_terms = false;
          break;
        }
        const size_t stride = 2 * static_cast<size_t>(std::popcount(postings->field_mask));
        const float pseudo =
            PseudoFrequency(&postings->field_stats[i * stride], postings->field_mask, stride / 2, doc, norms.data());
        sum += Idf(*postings) * pseudo * (k1_ + 1) / (pseudo + k1_);
      }
      if (!all_terms) continue;
      const float score = alternative.weight * sum;
      const bool better = alternative.typos != best_typos       ? alternative.typos < best_typos
                          : alternative.synonym != best_synonym ? alternative.synonym < best_synonym
                                                                : score > best_score;
      if (better) {
        best = &alternative;
        best_typos = alternative.typos;
        best_synonym = alternative.synonym;
        best_score = score;
      }
    }
    if (best == nullptr) continue;
    for (const std::string& term : best->terms) {
      const Postings& postings = *Find(term);
      const size_t i = position_of(postings);
      const float idf = Idf(postings);
      const size_t slots = static_cast<size_t>(std::popcount(postings.field_mask));
      const uint8_t* tf = &postings.field_stats[i * 2 * slots];  // frequencies first
      const uint16_t* length = &lengths_[size_t(doc) * field_count];
      size_t slot = 0;
      for (uint64_t rest = postings.field_mask; rest != 0; rest &= rest - 1, ++slot) {
        if (tf[slot] == 0) continue;
        const auto f = static_cast<size_t>(std::countr_zero(rest));
        const float norm = norms[f].one_minus_b + norms[f].b * float(length[f]) * norms[f].inverse_average;
        const float x = tf[slot] / norm;
        scores[f] += best->weight * idf * x * (k1_ + 1) / (x + k1_);
      }
    }
  }
  return scores;
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
    bytes += sizeof(Postings) + postings.doc_ids.capacity() * sizeof(DocId) + postings.field_stats.capacity() +
             postings.docs.getSizeInBytes();
  }
  for (const auto& [term, id] : term_ids_) bytes += term.capacity() + sizeof(uint32_t) + 32;
  return bytes;
}

}  // namespace tessera
