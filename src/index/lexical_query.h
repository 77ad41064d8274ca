// LexicalQuery: a parsed text query as the inverted index evaluates it.
//
// A query is a list of groups, one per query word or phrase. A group matches a document when any
// of its alternatives does, and an alternative matches when the document contains all of its
// terms. Alternatives are the word itself, a synonym phrase, a typo correction, a prefix
// completion, or the character bigrams of a Chinese word.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct QueryAlternative {
  std::vector<std::string> terms;  // all must be in the document (index terms, as analyzed)
  float weight = 1.0f;             // multiplies the BM25F score of a match (synonyms < 1)
  uint8_t typos = 0;               // edits between the query word and this alternative
  bool synonym = false;            // a synonym of the query word rather than the word itself
};

struct QueryGroup {
  std::string surface;  // the query text this group came from, for explanations
  std::vector<QueryAlternative> alternatives;
  // Optional groups (stop words) neither exclude a document nor add to its score. They are
  // required and scored only when every group of the query is optional.
  bool optional = false;
};

struct LexicalQuery {
  std::vector<QueryGroup> groups;
  // Stop evaluating at this time and return what was found, marked partial.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

}  // namespace tessera
