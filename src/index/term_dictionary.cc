#include "index/term_dictionary.h"

#include <algorithm>
#include <set>

namespace tessera {
namespace {

bool IsAsciiLetters(std::string_view s) {
  for (char c : s) {
    if (c < 'a' || c > 'z') return false;
  }
  return !s.empty();
}

// Every string made by deleting up to `edits` characters of `word`, `word` included.
std::set<std::string> Deletions(std::string_view word, uint8_t edits) {
  std::set<std::string> out = {std::string(word)};
  std::vector<std::string> frontier = {std::string(word)};
  for (uint8_t round = 0; round < edits; ++round) {
    std::vector<std::string> next;
    for (const std::string& s : frontier) {
      for (size_t i = 0; i < s.size(); ++i) {
        std::string shorter = s.substr(0, i) + s.substr(i + 1);
        if (out.insert(shorter).second) next.push_back(std::move(shorter));
      }
    }
    frontier = std::move(next);
  }
  return out;
}

}  // namespace

uint8_t TermDictionary::MaxEdits(std::string_view word) {
  if (!IsAsciiLetters(word) || word.size() > kMaxLengthWithEdits) return 0;
  if (word.size() >= kMinLengthTwoEdits) return 2;
  if (word.size() >= kMinLengthOneEdit) return 1;
  return 0;
}

void TermDictionary::Add(const std::string& term, uint32_t term_id) {
  if (terms_.size() <= term_id) terms_.resize(size_t(term_id) + 1);
  terms_[term_id] = term;
  auto at = std::lower_bound(sorted_.begin(), sorted_.end(), term,
                             [this](uint32_t id, const std::string& t) { return terms_[id] < t; });
  sorted_.insert(at, term_id);
  const uint8_t edits = MaxEdits(term);
  if (edits == 0) return;
  for (const std::string& deletion : Deletions(term, edits)) deletions_[deletion].push_back(term_id);
}

uint32_t TermDictionary::EditDistance(std::string_view a, std::string_view b, uint32_t max_distance) {
  const size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > max_distance) return max_distance + 1;
  // Three rows of the optimal string alignment table (insert, delete, substitute, transpose).
  std::vector<uint32_t> before(m + 1), previous(m + 1), current(m + 1);
  for (size_t j = 0; j <= m; ++j) previous[j] = static_cast<uint32_t>(j);
  for (size_t i = 1; i <= n; ++i) {
    current[0] = static_cast<uint32_t>(i);
    uint32_t row_min = current[0];
    for (size_t j = 1; j <= m; ++j) {
      const uint32_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
      row_min = std::min(row_min, current[j]);
    }
    if (row_min > max_distance) return max_distance + 1;
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return std::min(previous[m], max_distance + 1);
}

std::vector<TermMatch> TermDictionary::WithinEdits(std::string_view word) const {
  std::vector<TermMatch> matches;
  const uint8_t edits = MaxEdits(word);
  if (edits == 0) return matches;
  std::set<uint32_t> seen;
  for (const std::string& deletion : Deletions(word, edits)) {
    auto it = deletions_.find(deletion);
    if (it == deletions_.end()) continue;
    for (uint32_t id : it->second) {
      if (!seen.insert(id).second || terms_[id] == word) continue;
      // The term's own tolerance bounds the match too, so a short term is not reached by a long
      // misspelling of something else.
      const uint8_t allowed = std::min(edits, MaxEdits(terms_[id]));
      const uint32_t distance = EditDistance(word, terms_[id], allowed);
      if (distance >= 1 && distance <= allowed) matches.push_back({id, static_cast<uint8_t>(distance)});
    }
  }
  std::sort(matches.begin(), matches.end(), [this](const TermMatch& a, const TermMatch& b) {
    if (a.edits != b.edits) return a.edits < b.edits;
    return terms_[a.term_id] < terms_[b.term_id];
  });
  return matches;
}

std::vector<uint32_t> TermDictionary::WithPrefix(std::string_view prefix, size_t limit) const {
  std::vector<uint32_t> ids;
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), prefix,
                             [this](uint32_t id, std::string_view p) { return terms_[id] < p; });
  for (; it != sorted_.end() && ids.size() < limit; ++it) {
    const std::string& term = terms_[*it];
    if (term.compare(0, prefix.size(), prefix) != 0) break;
    if (term.size() > prefix.size()) ids.push_back(*it);
  }
  return ids;
}

}  // namespace tessera
