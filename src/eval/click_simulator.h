// ClickSimulator: simulated click logs over judged queries, for training click models where no
// real click log exists.
//
// The model is the position-based click model (PBM; Chuklin, Markov and de Rijke, "Click Models
// for Web Search", 2015). A shopper clicks a result when they examine its rank and find the
// product attractive, and the two events are independent:
//
//   P(click at rank r) = P(examine r) x P(attractive | query, product, shopper)
//   P(examine r)       = 1 / r^eta
//   P(attractive)      = epsilon + (alpha_max - epsilon) x (2^grade - 1) / (2^max_grade - 1) + noise,
//                        raised by preference_lift x (1 - P) when the product has grade > 0 and the
//                        shopper's preferred colour, and clamped to [0, 1].
//
// The noise is drawn once per (query, product) and kept for every session, so it stands for what
// makes one product more appealing than another of the same grade. docs/click-model.md lists the
// default parameters and why they were chosen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "eval/judgments.h"

namespace tessera {

struct ClickSimulationOptions {
  size_t sessions = 20000;      // one query by one shopper each
  size_t depth = 10;            // results shown per session, from the top of the logged ranking
  double eta = 1.0;             // examination exponent: P(examine rank r) = 1 / r^eta
  double epsilon = 0.05;        // attractiveness of a product with grade 0
  double alpha_max = 0.9;       // attractiveness of a product at the query's max_grade, before noise
  double noise_sd = 0.1;        // standard deviation of the per (query, product) attractiveness noise
  size_t shoppers = 500;
  double preference_lift = 0.5;  // share of the missing attractiveness a preferred colour adds
  uint64_t seed = 42;           // of the std::mt19937_64 behind every draw
};

// A judged query and the ranking it was logged with, best first.
struct LoggedQuery {
  const JudgedQuery* query = nullptr;
  std::vector<std::string> ranking;  // product ids
};

struct ClickLogShopper {
  std::string preferred_colour;  // lower-cased, as in the catalogue's colour column
};

// One shown result of one session.
struct Impression {
  uint32_t session = 0;
  uint32_t query = 0;    // index into the simulated LoggedQuery list
  uint32_t shopper = 0;  // index into ClickLog::shoppers
  uint32_t rank = 0;     // 1-based position in the logged ranking
  bool clicked = false;

  bool operator==(const Impression&) const = default;
};

struct ClickLog {
  std::vector<ClickLogShopper> shoppers;
  std::vector<Impression> impressions;  // by session, then rank
};

// Returns the attractiveness of a product with `grade` for a query whose top grade is
// `max_grade`, before noise and preferences, in [epsilon, alpha_max]. A grade at or below 0, or a
// max_grade below 1, gives epsilon.
double GradeAttractiveness(int grade, int max_grade, const ClickSimulationOptions& options);

// Simulates options.sessions sessions. Each draws a query uniformly from `queries` and a shopper
// uniformly from options.shoppers, shows the first options.depth products of the query's ranking
// and clicks each by the model above. Shoppers' preferred colours are drawn in proportion to how
// often each colour occurs among the ranked products. `colour_of` maps a product id to its
// lower-cased colour ("" or missing for none). The log is the same for the same inputs and seed on
// every platform, because every draw uses the raw output of std::mt19937_64. Queries with an
// empty ranking are never drawn; an empty `queries` or no ranked product gives an empty log.
ClickLog SimulateClicks(std::span<const LoggedQuery> queries,
                        const std::unordered_map<std::string, std::string>& colour_of,
                        const ClickSimulationOptions& options);

}  // namespace tessera
