// ClickSimulator: position bias, shopper preferences and determinism of the simulated log.
#include "eval/click_simulator.h"

#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "common/text.h"
#include "eval/shopper_simulator.h"

namespace tessera {
namespace {

// One query whose 10 ranked products all have the same grade, half of them red and half blue.
struct FlatQuery {
  JudgedQuery query;
  std::vector<LoggedQuery> logged;
  std::unordered_map<std::string, std::string> colours;
};

FlatQuery MakeFlatQuery(int grade) {
  FlatQuery flat;
  flat.query.id = "q0001";
  flat.query.text = "shirts";
  flat.query.max_grade = 1;
  LoggedQuery logged{&flat.query, {}};
  for (int i = 0; i < 10; ++i) {
    const std::string id = "p" + std::to_string(i);
    if (grade > 0) flat.query.grades[id] = grade;
    flat.colours[id] = i % 2 == 0 ? "Red" : "Blue";
    logged.ranking.push_back(id);
  }
  flat.logged.push_back(std::move(logged));
  return flat;
}

std::vector<double> ClickThroughByRank(const ClickLog& log, size_t depth) {
  std::vector<double> clicks(depth, 0), shown(depth, 0);
  for (const Impression& impression : log.impressions) {
    shown[impression.rank - 1] += 1;
    clicks[impression.rank - 1] += impression.clicked ? 1 : 0;
  }
  for (size_t r = 0; r < depth; ++r) clicks[r] = shown[r] == 0 ? 0 : clicks[r] / shown[r];
  return clicks;
}

TEST(ClickSimulator, ClickThroughFallsWithRank) {
  FlatQuery flat = MakeFlatQuery(1);
  ClickSimulationOptions options;
  options.noise_sd = 0;
  options.preference_lift = 0;
  options.sessions = 20000;
  const ClickLog log = SimulateClicks(flat.logged, flat.colours, options);
  ASSERT_EQ(log.impressions.size(), 20000u * 10);

  const std::vector<double> ctr = ClickThroughByRank(log, 10);
  // Every product has attractiveness alpha_max, so CTR at rank r is alpha_max / r.
  for (size_t r = 0; r < 10; ++r) {
    EXPECT_NEAR(ctr[r], options.alpha_max / double(r + 1), 0.015) << "rank " << r + 1;
  }
  EXPECT_GT(ctr[0], ctr[1]);
  EXPECT_GT(ctr[1], ctr[4]);
  EXPECT_GT(ctr[4], ctr[9]);
}

TEST(ClickSimulator, EtaSteepensPositionBias) {
  FlatQuery flat = MakeFlatQuery(1);
  ClickSimulationOptions options;
  options.noise_sd = 0;
  options.preference_lift = 0;
  options.eta = 2.0;
  const std::vector<double> ctr = ClickThroughByRank(SimulateClicks(flat.logged, flat.colours, options), 10);
  EXPECT_NEAR(ctr[1], options.alpha_max / 4, 0.015);
  EXPECT_NEAR(ctr[4], options.alpha_max / 25, 0.01);
}

TEST(ClickSimulator, IrrelevantProductsClickedAtEpsilon) {
  FlatQuery flat = MakeFlatQuery(0);
  ClickSimulationOptions options;
  options.noise_sd = 0;
  const std::vector<double> ctr = ClickThroughByRank(SimulateClicks(flat.logged, flat.colours, options), 10);
  EXPECT_NEAR(ctr[0], options.epsilon, 0.01);
}

TEST(ClickSimulator, PreferredColourClickedMore) {
  FlatQuery flat = MakeFlatQuery(1);
  ClickSimulationOptions options;
  options.alpha_max = 0.4;  // room for the preference to lift
  options.noise_sd = 0;
  const ClickLog log = SimulateClicks(flat.logged, flat.colours, options);

  // Clicks at the top two ranks (one red, one blue product), split by the shopper's colour.
  double preferred_clicks = 0, preferred_shown = 0, other_clicks = 0, other_shown = 0;
  for (const Impression& impression : log.impressions) {
    if (impression.rank > 2) continue;
    const std::string& product = flat.logged[0].ranking[impression.rank - 1];
    const bool preferred = log.shoppers[impression.shopper].preferred_colour == LowerAscii(flat.colours[product]);
    (preferred ? preferred_clicks : other_clicks) += impression.clicked ? 1 : 0;
    (preferred ? preferred_shown : other_shown) += 1;
  }
  ASSERT_GT(preferred_shown, 1000);
  ASSERT_GT(other_shown, 1000);
  // Ranks 1 and 2 mixed: attractiveness 0.4 lifted to 0.7 when preferred.
  EXPECT_GT(preferred_clicks / preferred_shown, 1.5 * (other_clicks / other_shown));
}

TEST(ClickSimulator, ShopperColoursFollowTheCatalogue) {
  FlatQuery flat = MakeFlatQuery(1);
  ClickSimulationOptions options;
  const ClickLog log = SimulateClicks(flat.logged, flat.colours, options);
  ASSERT_EQ(log.shoppers.size(), options.shoppers);
  size_t red = 0;
  for (const ClickLogShopper& shopper : log.shoppers) {
    EXPECT_TRUE(shopper.preferred_colour == "red" || shopper.preferred_colour == "blue") << shopper.preferred_colour;
    red += shopper.preferred_colour == "red" ? 1 : 0;
  }
  EXPECT_GT(red, options.shoppers / 3);
  EXPECT_LT(red, 2 * options.shoppers / 3);
}

TEST(ClickSimulator, ShopperTypeDistinctFromDrawnShoppers) {
  // Both simulators' headers are included here, so two shopper structs of one name in namespace
  // tessera fail to compile. Across translation units such a clash compiled, and the linker kept
  // one layout's std::vector code for both, which overflowed the other's buffer under ASan.
  static_assert(!std::is_same_v<ClickLogShopper, SimulatedShopper>);
  std::vector<ClickLogShopper> click_shoppers(3, ClickLogShopper{"navy blue"});
  std::vector<SimulatedShopper> drawn_shoppers(3);
  drawn_shoppers.push_back(SimulatedShopper{"shopper-4", {"Men", "Navy Blue"}, {}, {}, {}});
  EXPECT_EQ(click_shoppers.back().preferred_colour, "navy blue");
  EXPECT_EQ(drawn_shoppers.back().preferences.colour, "Navy Blue");
}

TEST(ClickSimulator, SameSeedSameLog) {
  FlatQuery flat = MakeFlatQuery(1);
  ClickSimulationOptions options;
  options.sessions = 2000;
  const ClickLog first = SimulateClicks(flat.logged, flat.colours, options);
  const ClickLog second = SimulateClicks(flat.logged, flat.colours, options);
  EXPECT_EQ(first.impressions, second.impressions);
  ASSERT_EQ(first.shoppers.size(), second.shoppers.size());
  for (size_t i = 0; i < first.shoppers.size(); ++i) {
    EXPECT_EQ(first.shoppers[i].preferred_colour, second.shoppers[i].preferred_colour);
  }

  options.seed = 43;
  const ClickLog other = SimulateClicks(flat.logged, flat.colours, options);
  EXPECT_NE(first.impressions, other.impressions);
}

TEST(ClickSimulator, EmptyRankingsGiveEmptyLog) {
  JudgedQuery query;
  query.id = "q0001";
  query.max_grade = 1;
  const std::vector<LoggedQuery> logged = {{&query, {}}};
  EXPECT_TRUE(SimulateClicks(logged, {}, {}).impressions.empty());
  EXPECT_TRUE(SimulateClicks({}, {}, {}).impressions.empty());
}

TEST(ClickSimulator, GradeAttractivenessRange) {
  ClickSimulationOptions options;
  EXPECT_DOUBLE_EQ(GradeAttractiveness(0, 3, options), options.epsilon);
  EXPECT_DOUBLE_EQ(GradeAttractiveness(3, 3, options), options.alpha_max);
  EXPECT_DOUBLE_EQ(GradeAttractiveness(1, 1, options), options.alpha_max);
  EXPECT_LT(GradeAttractiveness(1, 3, options), GradeAttractiveness(2, 3, options));
  EXPECT_DOUBLE_EQ(GradeAttractiveness(2, 0, options), options.epsilon);
}

}  // namespace
}  // namespace tessera
