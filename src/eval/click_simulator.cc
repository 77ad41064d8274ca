#include "eval/click_simulator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "common/text.h"

namespace tessera {

namespace {

// Draws come from the raw engine output only: std::uniform_*_distribution and
// std::normal_distribution are implementation-defined, so they would give other logs under
// another standard library.

// A uniform value in [0, bound), without modulo bias.
uint64_t UniformBelow(std::mt19937_64& engine, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const uint64_t draw = engine();
    if (draw >= threshold) return draw % bound;
  }
}

// A uniform double in [0, 1) from the top 53 bits of one draw.
double UniformUnit(std::mt19937_64& engine) { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }

// A standard normal value by the Box-Muller transform.
double StandardNormal(std::mt19937_64& engine) {
  const double u1 = 1.0 - UniformUnit(engine);  // in (0, 1], so the log is finite
  const double u2 = UniformUnit(engine);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::string ColourOf(const std::unordered_map<std::string, std::string>& colour_of, const std::string& id) {
  auto it = colour_of.find(id);
  return it == colour_of.end() ? std::string() : LowerAscii(TrimAscii(it->second));
}

// Preferred colours in proportion to their count among the ranked products. The colours are
// walked in sorted order, so the draw does not depend on hash-map order.
std::vector<ClickLogShopper> DrawShoppers(std::span<const LoggedQuery> queries,
                                           const std::unordered_map<std::string, std::string>& colour_of,
                                           const ClickSimulationOptions& options, std::mt19937_64& engine) {
  std::map<std::string, uint64_t> counts;
  uint64_t total = 0;
  for (const LoggedQuery& logged : queries) {
    for (const std::string& id : logged.ranking) {
      const std::string colour = ColourOf(colour_of, id);
      if (colour.empty() || colour == "na") continue;
      ++counts[colour];
      ++total;
    }
  }
  std::vector<ClickLogShopper> shoppers(options.shoppers);
  if (total == 0) return shoppers;
  for (ClickLogShopper& shopper : shoppers) {
    uint64_t pick = UniformBelow(engine, total);
    for (const auto& [colour, count] : counts) {
      if (pick < count) {
        shopper.preferred_colour = colour;
        break;
      }
      pick -= count;
    }
  }
  return shoppers;
}

}  // namespace

double GradeAttractiveness(int grade, int max_grade, const ClickSimulationOptions& options) {
  if (grade <= 0 || max_grade < 1) return options.epsilon;
  const int g = std::min(grade, max_grade);
  const double share = (std::exp2(g) - 1.0) / (std::exp2(max_grade) - 1.0);
  return options.epsilon + (options.alpha_max - options.epsilon) * share;
}

ClickLog SimulateClicks(std::span<const LoggedQuery> queries,
                        const std::unordered_map<std::string, std::string>& colour_of,
                        const ClickSimulationOptions& options) {
  ClickLog log;
  std::vector<uint32_t> drawable;
  for (size_t q = 0; q < queries.size(); ++q) {
    if (!queries[q].ranking.empty()) drawable.push_back(static_cast<uint32_t>(q));
  }
  if (drawable.empty() || options.shoppers == 0) return log;
  std::mt19937_64 engine(options.seed);
  log.shoppers = DrawShoppers(queries, colour_of, options, engine);

  // Attractiveness before preferences, with its noise, per shown (query, rank), drawn once.
  std::vector<std::vector<double>> base(queries.size());
  for (uint32_t q : drawable) {
    const LoggedQuery& logged = queries[q];
    const size_t shown = std::min(options.depth, logged.ranking.size());
    for (size_t r = 0; r < shown; ++r) {
      auto grade = logged.query->grades.find(logged.ranking[r]);
      const int g = grade == logged.query->grades.end() ? 0 : grade->second;
      base[q].push_back(GradeAttractiveness(g, logged.query->max_grade, options) +
                        options.noise_sd * StandardNormal(engine));
    }
  }

  for (size_t session = 0; session < options.sessions; ++session) {
    const uint32_t q = drawable[UniformBelow(engine, drawable.size())];
    const auto shopper = static_cast<uint32_t>(UniformBelow(engine, log.shoppers.size()));
    const LoggedQuery& logged = queries[q];
    const std::string& preferred = log.shoppers[shopper].preferred_colour;
    for (size_t r = 0; r < base[q].size(); ++r) {
      double attractive = base[q][r];
      const bool relevant = logged.query->grades.contains(logged.ranking[r]);
      if (relevant && !preferred.empty() && ColourOf(colour_of, logged.ranking[r]) == preferred) {
        attractive += options.preference_lift * (1.0 - attractive);
      }
      attractive = std::clamp(attractive, 0.0, 1.0);
      const double examine = 1.0 / std::pow(static_cast<double>(r + 1), options.eta);
      // One draw per shown result, clicked or not, so the log of a session does not shift the
      // draws of the next.
      const bool clicked = UniformUnit(engine) < examine * attractive;
      log.impressions.push_back({static_cast<uint32_t>(session), q, shopper, static_cast<uint32_t>(r + 1), clicked});
    }
  }
  return log;
}

}  // namespace tessera
