#include "retrieve/query_parser.h"

#include <algorithm>
#include <array>

namespace tessera {
namespace {

// The index terms one analyzed token must match: CJK words as character bigrams.
std::vector<std::string> TermsToMatch(const Token& token) {
  if (token.kind == TokenKind::kCjk) return CjkQueryTerms(token.term);
  return {token.term};
}

}  // namespace

bool QueryParser::IsStopWord(std::string_view surface) {
  static constexpr std::array<std::string_view, 14> kStopWords = {
      "a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"};
  return std::find(kStopWords.begin(), kStopWords.end(), surface) != kStopWords.end();
}

QueryAlternative QueryParser::AlternativeOf(const SynonymPhrase& phrase, float weight) const {
  QueryAlternative alternative;
  alternative.weight = weight;
  alternative.terms.reserve(phrase.size());
  for (const Token& token : phrase) {
    for (std::string& term : TermsToMatch(token)) alternative.terms.push_back(std::move(term));
  }
  return alternative;
}

void QueryParser::AddSynonyms(const std::vector<SynonymPhrase>& expansions, QueryGroup* group) const {
  group->alternatives.reserve(group->alternatives.size() + expansions.size());
  for (const SynonymPhrase& phrase : expansions) {
    group->alternatives.push_back(AlternativeOf(phrase, options_.synonym_weight));
    group->alternatives.back().synonym = true;
  }
}

void QueryParser::AddCorrections(const std::string& term, QueryGroup* group) const {
  // The nearest corrections come most frequent first, because that is the correction a shopper
  // most likely meant (as in SymSpell). Rare ones far below the most frequent are left out, so
  // "shrits" becomes "shirt" and not also "shit" or "shrt".
  std::vector<TermMatch> near = index_.dictionary().WithinEdits(term);
  // The English stemmer leaves the plural 's' on words without a vowel, which misspellings often
  // are ("shjrts", "krtas"), so a misspelled plural is also corrected without its 's'.
  if (near.empty() && term.size() > TermDictionary::kMinLengthOneEdit && term.back() == 's') {
    near = index_.dictionary().WithinEdits(std::string_view(term).substr(0, term.size() - 1));
  }
  if (near.empty()) return;
  const uint8_t nearest = near.front().edits;
  std::vector<std::pair<uint64_t, uint32_t>> by_frequency;
  for (const TermMatch& match : near) {
    if (match.edits != nearest) break;
    by_frequency.emplace_back(index_.DocumentsWith(index_.dictionary().term(match.term_id)).cardinality(), match.term_id);
  }
  std::sort(by_frequency.begin(), by_frequency.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  const uint64_t most_frequent = by_frequency.front().first;
  for (size_t i = 0; i < by_frequency.size() && i < options_.max_typo_expansions; ++i) {
    if (by_frequency[i].first == 0 || by_frequency[i].first * 10 < most_frequent) break;
    group->alternatives.push_back({{index_.dictionary().term(by_frequency[i].second)}, 1.0f, nearest});
  }
}

QueryGroup QueryParser::WordGroup(const Token& token, bool expand_prefix) const {
  QueryGroup group;
  group.surface = token.surface;
  group.alternatives.push_back({TermsToMatch(token), 1.0f, 0});

  switch (token.kind) {
    case TokenKind::kWord: {
      group.optional = IsStopWord(token.surface);
      // Corrections only for words the catalogue does not contain, so "shirt" never matches
      // "skirt" and an exact match always exists where the word does.
      if (options_.typo_tolerance && !group.optional && index_.DocumentsWith(token.term).isEmpty()) {
        AddCorrections(token.term, &group);
      }
      break;
    }
    case TokenKind::kCode:
      if (token.parts.size() > 1) group.alternatives.push_back({token.parts, options_.code_parts_weight, 0});
      break;
    case TokenKind::kNumber:
    case TokenKind::kCjk:
      break;
  }

  if (expand_prefix && token.kind != TokenKind::kNumber && !token.surface.empty()) {
    // The most frequent completions of what the shopper has typed so far.
    std::vector<uint32_t> completions = index_.dictionary().WithPrefix(token.surface, 2000);
    std::vector<std::pair<uint64_t, uint32_t>> by_frequency;
    for (uint32_t id : completions) {
      const std::string& term = index_.dictionary().term(id);
      by_frequency.emplace_back(index_.DocumentsWith(term).cardinality(), id);
    }
    std::sort(by_frequency.begin(), by_frequency.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t i = 0; i < by_frequency.size() && i < options_.max_prefix_expansions; ++i) {
      if (by_frequency[i].first == 0) break;
      const std::string& term = index_.dictionary().term(by_frequency[i].second);
      if (term != token.term) group.alternatives.push_back({{term}, options_.prefix_weight, 0});
    }
    group.optional = false;
  }
  return group;
}

size_t QueryParser::ParseCjkRun(const std::vector<Token>& tokens, size_t first,
                                const std::function<void(QueryGroup, const std::string&)>& emit) const {
  // The run: consecutive CJK tokens written together, as code points tagged with their token.
  std::vector<std::pair<std::string, size_t>> run;
  size_t end_token = first;
  do {
    for (std::string& point : Utf8CodePoints(tokens[end_token].term)) run.emplace_back(std::move(point), end_token);
    ++end_token;
  } while (end_token < tokens.size() && tokens[end_token].kind == TokenKind::kCjk &&
           tokens[end_token].joins_previous_cjk);

  // Text no synonym key covers stays split where the dictionary split it, so a brand and a
  // product word written together ("耐克夹克") need not be adjacent in the product.
  std::vector<std::pair<std::string, size_t>> pending;
  auto flush_pending = [&] {
    for (size_t k = 0; k < pending.size();) {
      std::string word;
      const size_t token = pending[k].second;
      for (; k < pending.size() && pending[k].second == token; ++k) word += pending[k].first;
      Token piece = tokens[token];
      piece.term = piece.surface = word;
      emit(WordGroup(piece, false), word);
    }
    pending.clear();
  };

  // Greedy longest match of synonym keys, which may span the dictionary's words ("橄榄绿" comes
  // as 橄榄 / 绿) or lie inside one ("藏青色衬衫" may come as one word).
  const size_t longest = synonyms_->max_cjk_key_length();
  for (size_t start = 0; start < run.size();) {
    const std::vector<SynonymPhrase>* found = nullptr;
    size_t end = std::min(run.size(), start + longest);
    std::string candidate;
    for (; end > start; --end) {
      candidate.clear();
      for (size_t k = start; k < end; ++k) candidate += run[k].first;
      if ((found = synonyms_->FindCjk(candidate)) != nullptr) break;
    }
    if (found == nullptr) {
      pending.push_back(run[start++]);
      continue;
    }
    flush_pending();
    QueryGroup group;
    group.surface = candidate;
    group.alternatives.push_back({CjkQueryTerms(candidate), 1.0f, 0});
    AddSynonyms(*found, &group);
    emit(std::move(group), candidate);
    start = end;
  }
  flush_pending();
  return end_token;
}

Result<LexicalQuery> QueryParser::Parse(std::string_view text, bool prefix_last_word) const {
  LexicalQuery query;
  if (options_.time_budget.count() > 0) query.deadline = std::chrono::steady_clock::now() + options_.time_budget;

  const std::vector<Token> tokens = analyzer_.Analyze(text);
  std::vector<std::string> terms;
  terms.reserve(tokens.size());
  for (const Token& token : tokens) terms.push_back(token.term);
  // Sorted views count the distinct words: a query has a few, and a hash set allocates per word.
  std::vector<std::string_view> distinct(terms.begin(), terms.end());
  std::sort(distinct.begin(), distinct.end());
  const size_t distinct_count = static_cast<size_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin());
  if (distinct_count > options_.max_words) {
    return Status::InvalidArgument("q has " + std::to_string(distinct_count) + " distinct words, above the limit of " +
                                   std::to_string(options_.max_words) + ": shorten the query");
  }

  // A word repeated in the query adds nothing, so each group is emitted once. A query has few
  // groups (its distinct words are limited above), so a linear search is cheaper than a set.
  std::vector<std::string> emitted;
  emitted.reserve(distinct_count);
  query.groups.reserve(distinct_count);
  const std::function<void(QueryGroup, const std::string&)> emit = [&](QueryGroup group, const std::string& key) {
    if (std::find(emitted.begin(), emitted.end(), key) != emitted.end()) return;
    emitted.push_back(key);
    query.groups.push_back(std::move(group));
  };

  for (size_t i = 0; i < tokens.size();) {
    if (tokens[i].kind == TokenKind::kCjk && synonyms_ != nullptr) {
      i = ParseCjkRun(tokens, i, emit);
      continue;
    }

    const std::vector<SynonymPhrase>* expansions = nullptr;
    const size_t matched = synonyms_ != nullptr ? synonyms_->MatchAt(terms, i, &expansions) : 0;
    if (matched > 0) {
      QueryGroup group;
      SynonymPhrase original(tokens.begin() + static_cast<std::ptrdiff_t>(i),
                             tokens.begin() + static_cast<std::ptrdiff_t>(i + matched));
      std::string key;
      for (const Token& token : original) {
        group.surface += (group.surface.empty() ? "" : " ") + token.surface;
        key += token.term + " ";
      }
      group.alternatives.push_back(AlternativeOf(original, 1.0f));
      AddSynonyms(*expansions, &group);
      group.optional = matched == 1 && tokens[i].kind == TokenKind::kWord && IsStopWord(tokens[i].surface);
      emit(std::move(group), key);
      i += matched;
      continue;
    }

    const Token& token = tokens[i];
    emit(WordGroup(token, prefix_last_word && i + 1 == tokens.size()), token.term);
    ++i;
  }
  return query;
}

}  // namespace tessera
