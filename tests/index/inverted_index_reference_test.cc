// Compares InvertedIndex::Search with an exhaustive reference on random small indexes. The
// reference scores every live document with the BM25F formula of inverted_index.h, one document
// and one term at a time, and sorts them all, so it shares no evaluation order, cursor or
// selection code with the index. Scores are compared for exact equality, because ties decide
// the order: the reference performs the same float operations in the same order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/inverted_index.h"

namespace tessera {
namespace {

using FieldTerms = std::vector<std::vector<std::string>>;

constexpr float kK1 = 1.2f;

std::vector<FieldSpec> Fields() {
  return {FieldSpec{"title", 0.6f, 0.75f}, FieldSpec{"brand", 0.7f, 0.75f}, FieldSpec{"category", 1.5f, 0.5f}};
}

// The documents of one random index, as added (removed ones are absent).
struct Corpus {
  std::vector<FieldSpec> fields = Fields();
  std::vector<std::pair<DocId, FieldTerms>> docs;
};

// Returns the result of the documented evaluation, computed by brute force.
TermQueryResult ReferenceSearch(const Corpus& corpus, const LexicalQuery& query, const TextSearchOptions& options) {
  TermQueryResult result;
  const size_t relax_until = options.relax_until == 0 ? options.top_k : options.relax_until;
  if (corpus.docs.empty() || query.groups.empty()) return result;

  // Collection statistics.
  const size_t field_count = corpus.fields.size();
  std::vector<uint64_t> total_length(field_count, 0);
  for (const auto& [doc, fields] : corpus.docs) {
    for (size_t f = 0; f < field_count; ++f) total_length[f] += fields[f].size();
  }
  const double live = static_cast<double>(corpus.docs.size());
  std::vector<float> inverse_average(field_count);
  for (size_t f = 0; f < field_count; ++f) {
    inverse_average[f] = static_cast<float>(1.0 / std::max(1.0, double(total_length[f]) / live));
  }
  auto contains = [](const FieldTerms& fields, const std::string& term) {
    for (const auto& field : fields) {
      if (std::find(field.begin(), field.end(), term) != field.end()) return true;
    }
    return false;
  };
  auto term_score = [&](const FieldTerms& fields, const std::string& term) {
    double df = 0;
    for (const auto& [other, other_fields] : corpus.docs) df += contains(other_fields, term) ? 1 : 0;
    const float idf = static_cast<float>(std::log(1.0 + (live - df + 0.5) / (df + 0.5)));
    float pseudo = 0;
    for (size_t f = 0; f < field_count; ++f) {
      const auto tf = static_cast<uint8_t>(std::count(fields[f].begin(), fields[f].end(), term));
      if (tf == 0) continue;
      const float length = static_cast<float>(fields[f].size());
      const float norm = 1.0f - corpus.fields[f].b + corpus.fields[f].b * length * inverse_average[f];
      pseudo += corpus.fields[f].weight * tf / norm;
    }
    return idf * pseudo * (kK1 + 1) / (pseudo + kK1);
  };
  auto allowed = [&](DocId doc) { return options.allowed == nullptr || options.allowed->contains(doc); };
  auto alternative_matches = [&](const FieldTerms& fields, const QueryAlternative& alternative) {
    if (alternative.terms.empty()) return false;
    for (const std::string& term : alternative.terms) {
      if (!contains(fields, term)) return false;
    }
    return true;
  };

  // Required groups and the documents of each.
  bool any_required = false;
  for (const QueryGroup& group : query.groups) any_required |= !group.optional;
  std::vector<size_t> required;
  std::vector<std::set<DocId>> group_docs(query.groups.size());
  for (size_t g = 0; g < query.groups.size(); ++g) {
    if (query.groups[g].optional && any_required) continue;
    required.push_back(g);
    for (const auto& [doc, fields] : corpus.docs) {
      for (const QueryAlternative& alternative : query.groups[g].alternatives) {
        if (allowed(doc) && alternative_matches(fields, alternative)) group_docs[g].insert(doc);
      }
    }
  }

  // Levels: the most common group is dropped first, the later word among equals, never the last.
  std::vector<size_t> by_size(required);
  std::sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    return group_docs[a].size() != group_docs[b].size() ? group_docs[a].size() > group_docs[b].size() : a > b;
  });
  std::set<DocId> matched;
  std::vector<std::vector<DocId>> levels;
  for (size_t dropped = 0; dropped < by_size.size(); ++dropped) {
    if (dropped > 0 && matched.size() >= relax_until) break;
    std::vector<DocId> level;
    for (const auto& [doc, fields] : corpus.docs) {
      bool all = true;
      for (size_t i = dropped; i < by_size.size(); ++i) all = all && group_docs[by_size[i]].count(doc) > 0;
      if (all && matched.insert(doc).second) level.push_back(doc);
    }
    std::sort(level.begin(), level.end());
    levels.push_back(level);
  }
  for (DocId doc : matched) result.matched.add(doc);

  // Score and sort every document of a level, then take what is still needed.
  for (size_t level = 0; level < levels.size() && result.top.size() < options.top_k; ++level) {
    std::vector<ScoredDoc> scored;
    for (DocId doc : levels[level]) {
      const FieldTerms& fields =
          std::find_if(corpus.docs.begin(), corpus.docs.end(), [&](const auto& entry) { return entry.first == doc; })
              ->second;
      ScoredDoc entry{doc, 0.0f, 0, static_cast<uint32_t>(level), 0, 0};
      for (size_t g : required) {
        bool found = false;
        uint32_t best_typos = 0, best_synonym = 0;
        float best_score = 0;
        for (const QueryAlternative& alternative : query.groups[g].alternatives) {
          if (!alternative_matches(fields, alternative)) continue;
          std::vector<std::string> distinct;
          float sum = 0;
          for (const std::string& term : alternative.terms) {
            if (std::find(distinct.begin(), distinct.end(), term) != distinct.end()) continue;
            distinct.push_back(term);
            sum += term_score(fields, term);
          }
          const float score = alternative.weight * sum;
          const uint32_t synonym = alternative.synonym ? 1 : 0;
          const bool better = !found                            ? true
                              : alternative.typos != best_typos ? alternative.typos < best_typos
                              : synonym != best_synonym         ? synonym < best_synonym
                                                                : score > best_score;
          if (better) {
            found = true;
            best_typos = alternative.typos;
            best_synonym = synonym;
            best_score = score;
          }
        }
        if (!found) continue;
        entry.score += best_score;
        entry.typos += best_typos;
        entry.synonyms += best_synonym;
        ++entry.matched_terms;
      }
      scored.push_back(entry);
    }
    const Roaring* preferred = options.preferred;
    std::sort(scored.begin(), scored.end(), [&](const ScoredDoc& a, const ScoredDoc& b) {
      if (a.typos != b.typos) return a.typos < b.typos;
      if (a.synonyms != b.synonyms) return a.synonyms < b.synonyms;
      if (a.score != b.score) return a.score > b.score;
      const bool a_preferred = preferred != nullptr && preferred->contains(a.doc);
      const bool b_preferred = preferred != nullptr && preferred->contains(b.doc);
      if (a_preferred != b_preferred) return a_preferred;
      return a.doc < b.doc;
    });
    for (const ScoredDoc& entry : scored) {
      if (result.top.size() == options.top_k) break;
      result.top.push_back(entry);
    }
  }
  return result;
}

// Random index and query generation over a small vocabulary, so that documents often share
// terms, field lengths and therefore scores.
class RandomCase {
 public:
  explicit RandomCase(uint32_t seed) : random_(seed) {}

  std::string Term() { return kVocabulary[Below(kVocabulary.size())]; }
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(random_); }

  Corpus MakeCorpus(InvertedIndex* index) {
    Corpus corpus;
    const size_t count = 5 + Below(60);
    for (DocId doc = 0; doc < count; ++doc) {
      FieldTerms fields(corpus.fields.size());
      for (auto& field : fields) {
        // A few fields are longer than the 254 terms a posting can hold as a field length, so
        // that the index reads those lengths from its per-document table.
        const size_t length = Chance(0.03) ? 250 + Below(10) : Below(5);
        for (size_t i = 0; i < length; ++i) field.push_back(Term());
      }
      index->Add(doc, fields);
      corpus.docs.emplace_back(doc, fields);
    }
    // Remove a few, which changes the statistics and leaves holes in the DocIds.
    const size_t removals = Below(4);
    for (size_t i = 0; i < removals && !corpus.docs.empty(); ++i) {
      const size_t at = Below(corpus.docs.size());
      index->Remove(corpus.docs[at].first);
      corpus.docs.erase(corpus.docs.begin() + static_cast<std::ptrdiff_t>(at));
    }
    return corpus;
  }

  LexicalQuery MakeQuery() {
    LexicalQuery query;
    const size_t groups = 1 + Below(4);
    for (size_t g = 0; g < groups; ++g) {
      QueryGroup group;
      group.optional = Chance(0.15);
      const size_t alternatives = 1 + Below(3);
      for (size_t a = 0; a < alternatives; ++a) {
        QueryAlternative alternative;
        const size_t terms = a == 0 ? 1 : 1 + Below(3);
        for (size_t t = 0; t < terms; ++t) alternative.terms.push_back(Chance(0.05) ? "absent" : Term());
        alternative.weight = a == 0 ? 1.0f : (Chance(0.5) ? 0.8f : 0.9f);
        alternative.typos = a == 0 ? 0 : static_cast<uint8_t>(Below(3));
        alternative.synonym = a > 0 && Chance(0.4);
        group.alternatives.push_back(alternative);
      }
      query.groups.push_back(group);
    }
    return query;
  }

  Roaring SomeOf(const Corpus& corpus, double p) {
    Roaring docs;
    for (const auto& [doc, fields] : corpus.docs) {
      if (Chance(p)) docs.add(doc);
    }
    return docs;
  }

 private:
  static inline const std::vector<std::string> kVocabulary = {"shirt", "blue", "men",   "navy",
                                                              "slim",  "cotton", "casual", "shoes"};
  std::mt19937 random_;
};

TEST(InvertedIndexReference, SearchMatchesExhaustiveScoring) {
  size_t compared_docs = 0;
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomCase random(seed);
    InvertedIndex index(Fields(), kK1);
    const Corpus corpus = random.MakeCorpus(&index);
    const LexicalQuery query = random.MakeQuery();
    const Roaring allowed = random.SomeOf(corpus, 0.7);
    const Roaring preferred = random.SomeOf(corpus, 0.5);
    TextSearchOptions options;
    options.top_k = 1 + random.Below(25);
    options.relax_until = random.Chance(0.5) ? 0 : 1 + random.Below(30);
    options.allowed = random.Chance(0.3) ? &allowed : nullptr;
    options.preferred = random.Chance(0.7) ? &preferred : nullptr;

    const TermQueryResult expected = ReferenceSearch(corpus, query, options);
    const TermQueryResult actual = index.Search(query, options);
    EXPECT_EQ(actual.matched, expected.matched);
    ASSERT_EQ(actual.top.size(), expected.top.size());
    for (size_t i = 0; i < expected.top.size(); ++i) {
      SCOPED_TRACE("rank " + std::to_string(i));
      EXPECT_EQ(actual.top[i].doc, expected.top[i].doc);
      EXPECT_EQ(actual.top[i].score, expected.top[i].score);
      EXPECT_EQ(actual.top[i].matched_terms, expected.top[i].matched_terms);
      EXPECT_EQ(actual.top[i].level, expected.top[i].level);
      EXPECT_EQ(actual.top[i].typos, expected.top[i].typos);
      EXPECT_EQ(actual.top[i].synonyms, expected.top[i].synonyms);
    }
    compared_docs += expected.top.size();
  }
  // The cases must rank documents, not only return nothing.
  EXPECT_GT(compared_docs, 2000u);
}

}  // namespace
}  // namespace tessera
