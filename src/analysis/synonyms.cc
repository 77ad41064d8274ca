#include "analysis/synonyms.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "common/text.h"

namespace tessera {
namespace {

// Terms are joined with the ASCII unit separator, which analysis never produces.
constexpr char kTermSeparator = '\x1f';

std::vector<std::string> SplitPhrases(std::string_view side) {
  std::vector<std::string> phrases;
  for (const std::string& piece : Split(side, ',')) {
    const std::string_view trimmed = TrimAscii(piece);
    if (!trimmed.empty()) phrases.emplace_back(trimmed);
  }
  return phrases;
}

std::vector<std::string> TermsOf(const SynonymPhrase& phrase) {
  std::vector<std::string> terms;
  for (const Token& token : phrase) terms.push_back(token.term);
  return terms;
}

}  // namespace

std::string SynonymSet::KeyOf(const std::vector<std::string>& terms, size_t start, size_t count) {
  std::string key;
  for (size_t i = start; i < start + count; ++i) {
    if (i > start) key += kTermSeparator;
    key += terms[i];
  }
  return key;
}

Result<SynonymSet> SynonymSet::Parse(std::string_view text, const Analyzer& analyzer, const std::string& source) {
  SynonymSet set;
  std::istringstream lines{std::string(text)};
  std::string line;
  size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const std::string_view rule = TrimAscii(line);
    if (rule.empty()) continue;
    const std::string where = source + ":" + std::to_string(line_number);
    if (!IsValidUtf8(rule)) return Status::InvalidArgument(where + ": the line is not valid UTF-8");

    const size_t arrow = rule.find("=>");
    if (arrow != std::string_view::npos && rule.find("=>", arrow + 2) != std::string_view::npos) {
      return Status::InvalidArgument(where + ": more than one '=>': write one rule per line");
    }
    const std::vector<std::string> left = SplitPhrases(arrow == std::string_view::npos ? rule : rule.substr(0, arrow));
    const std::vector<std::string> right =
        arrow == std::string_view::npos ? std::vector<std::string>() : SplitPhrases(rule.substr(arrow + 2));
    if (left.empty() || (arrow != std::string_view::npos && right.empty())) {
      return Status::InvalidArgument(where + ": a side of the rule is empty: write 'a, b => c' or 'a, b, c'");
    }
    // A single phrase without "=>" is a valid rule with nothing to expand (Solr accepts it too).

    auto analyze = [&](const std::vector<std::string>& phrases) {
      std::vector<SynonymPhrase> analyzed;
      for (const std::string& phrase : phrases) {
        SynonymPhrase tokens = analyzer.Analyze(phrase);
        if (!tokens.empty()) analyzed.push_back(std::move(tokens));
      }
      return analyzed;
    };
    const std::vector<SynonymPhrase> from = analyze(left);
    const std::vector<SynonymPhrase> to = arrow == std::string_view::npos ? from : analyze(right);
    for (const SynonymPhrase& key_phrase : from) {
      const std::vector<std::string> key_terms = TermsOf(key_phrase);
      const std::string key = KeyOf(key_terms, 0, key_terms.size());
      std::vector<SynonymPhrase>& expansions = set.expansions_[key];
      std::set<std::string> present;
      for (const SynonymPhrase& existing : expansions) {
        const std::vector<std::string> terms = TermsOf(existing);
        present.insert(KeyOf(terms, 0, terms.size()));
      }
      for (const SynonymPhrase& target : to) {
        const std::vector<std::string> target_terms = TermsOf(target);
        const std::string target_key = KeyOf(target_terms, 0, target_terms.size());
        if (target_key == key || !present.insert(target_key).second) continue;
        expansions.push_back(target);
      }
      size_t& longest_from_first = set.max_terms_by_first_[key_terms.front()];
      longest_from_first = std::max(longest_from_first, key_terms.size());
      const bool all_cjk = std::all_of(key_phrase.begin(), key_phrase.end(),
                                       [](const Token& token) { return token.kind == TokenKind::kCjk; });
      if (all_cjk) {
        std::string together;
        for (const std::string& term : key_terms) together += term;
        set.cjk_keys_[together] = key;
        set.max_cjk_key_length_ = std::max(set.max_cjk_key_length_, Utf8CodePoints(together).size());
      }
    }
    ++set.rule_count_;
  }
  return set;
}

Result<SynonymSet> SynonymSet::LoadFile(const std::string& path, const Analyzer& analyzer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("synonym file " + path + " not found or unreadable: check the path");
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), analyzer, path);
}

size_t SynonymSet::MatchAt(const std::vector<std::string>& terms, size_t start,
                           const std::vector<SynonymPhrase>** expansions) const {
  const auto first = max_terms_by_first_.find(terms[start]);
  if (first == max_terms_by_first_.end()) return 0;
  const size_t longest = std::min(first->second, terms.size() - start);
  for (size_t count = longest; count >= 1; --count) {
    auto it = expansions_.find(KeyOf(terms, start, count));
    if (it != expansions_.end()) {
      *expansions = &it->second;
      return count;
    }
  }
  return 0;
}

}  // namespace tessera
