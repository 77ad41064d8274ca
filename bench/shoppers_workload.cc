#include "shoppers_workload.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/train_ranker.h"
#include "common/clock.h"
#include "eval/judgments.h"
#include "eval/metrics.h"
#include "eval/preference_posterior.h"

namespace tessera {
namespace {

using nlohmann::json;

// Event counts after which the next queries are measured.
constexpr std::array<size_t, 4> kCheckpoints = {0, 1, 3, 10};
constexpr size_t kPageSize = 10;
// Results of the lexical ranking that the count-based baseline re-ranks.
constexpr size_t kBaselineDepth = 100;
// Simulated time: a search takes 30 s of the shopper's time, a click 10 s, and shoppers start
// a day apart, so no session or decay carries over from one to the next.
constexpr int64_t kSearchMs = 30'000;
constexpr int64_t kClickMs = 10'000;
constexpr int64_t kShopperGapMs = 24 * 3600 * 1000;
constexpr int64_t kStartMs = 1'800'000'000'000;  // 2027-01-15, after any real event in a copied store

// The two splits: seed of the shopper draw, and which half of the judged queries (by a hash of
// the text) they use.
struct ShopperSplit {
  const char* name;
  uint64_t seed;
  int query_half;
};
constexpr ShopperSplit kSplits[] = {{"tuning", 7, 0}, {"reporting", 42, 1}};

// FNV-1a 64 of the text: a split of the queries that is the same on every platform.
int QueryHalf(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int>(hash & 1);
}

double Millis(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string> IdsOf(const std::vector<const Product*>& products, size_t k) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < std::min(k, products.size()); ++i) ids.push_back(products[i]->id);
  return ids;
}

// nDCG@10 of each arm over (shopper, query) pairs at one checkpoint: the engine without and with
// the shopper, and the lexical top 100 without and with the count-based re-ranking.
struct CheckpointValues {
  // `oracle` re-orders the unpersonalized first 100 by the shopper's true grades: the ceiling of
  // re-ranking that list with perfect knowledge of the preferences.
  std::vector<double> unpersonalized, engine, lexical, baseline, oracle;
  // `bayes` re-orders the unpersonalized first 100 by the expected gain under the exact
  // posterior over the shopper's preferences (PreferencePosterior), `bayes_grade` by the
  // expected grade: the bound of any learner that observes the same events.
  std::vector<double> bayes, bayes_grade;
  // `judged` re-orders the same list by the query's own grades, without the preferences: the
  // part of the bayes arm's lift that comes from knowing the judged relevance.
  std::vector<double> judged;
  // Posterior probability of the shopper's true (gender, colour), and of each alone.
  std::vector<double> true_preferences, true_gender, true_colour;
  // The same on the conflict queries, by the queries' own grades.
  std::vector<double> conflict_unpersonalized, conflict_engine, conflict_lexical, conflict_baseline, conflict_bayes;
};

// nDCG@10 of one query by each arm, and whether the engine's first page differs from the
// unpersonalized one.
struct QueryScores {
  double unpersonalized = 0, engine = 0, lexical = 0, baseline = 0, oracle = 0, bayes = 0, bayes_grade = 0, judged = 0;
  bool changed = false;
};

double Lift(double personalized, double unpersonalized) {
  return unpersonalized > 0 ? personalized / unpersonalized - 1 : 0;
}

class SplitRun {
 public:
  // `rows`, when not null, receives the feature rows of the measured queries (WriteRows).
  SplitRun(Engine& engine, ManualClock& clock, const ShoppersWorkloadOptions& options,
           const std::map<std::string, const Product*>& by_id, std::vector<WeightedPreferences> prior,
           std::string split_name, std::ostream* rows)
      : engine_(engine),
        clock_(clock),
        options_(options),
        by_id_(by_id),
        prior_(std::move(prior)),
        split_name_(std::move(split_name)),
        rows_(rows) {}

  Status RunShopper(const SimulatedShopper& shopper, size_t index) {
    clock_.Set(kStartMs + static_cast<int64_t>(index) * kShopperGapMs);
    shopper_index_ = index;
    // A run stopped part-way leaves its shopper's events behind: start from none.
    Result<size_t> leftover = engine_.EraseUser(shopper.user_id);
    if (!leftover.ok()) return leftover.status();
    std::mt19937_64 random(1000 + index);
    AttributeCountReranker baseline(options_.baseline);
    PreferencePosterior posterior(prior_, options_.clicks);
    std::vector<JudgedQuery> judged;
    for (const JudgedQuery* query : shopper.evaluation) {
      judged.push_back(ShopperJudgedQuery(*query, shopper.preferences, by_id_));
    }

    size_t events = 0, next_checkpoint = 0;
    auto measure_due = [&]() -> Status {
      while (next_checkpoint < kCheckpoints.size() && kCheckpoints[next_checkpoint] == events) {
        TESSERA_RETURN_IF_ERROR(Measure(shopper, judged, baseline, posterior, next_checkpoint));
        ++next_checkpoint;
      }
      return Status::Ok();
    };
    TESSERA_RETURN_IF_ERROR(measure_due());

    for (const JudgedQuery* query : shopper.browsing) {
      if (events >= kCheckpoints.back()) break;
      clock_.Advance(kSearchMs);
      Result<std::vector<SearchHit>> page = Search(query->text, "", kPageSize, nullptr);
      if (!page.ok()) return page.status();
      std::vector<const Product*> page_products;
      for (const SearchHit& hit : *page) page_products.push_back(hit.product.get());
      // The posterior reads the page in rank order, up to each click before its checkpoint, as a
      // storefront would report it.
      size_t observed = 0;
      auto observe_through = [&](size_t end, const std::vector<size_t>& clicks) {
        for (; observed < end; ++observed) {
          const bool clicked = std::find(clicks.begin(), clicks.end(), observed) != clicks.end();
          posterior.Observe(*page_products[observed], *query, observed + 1, clicked);
        }
      };
      const std::vector<size_t> clicks =
          SimulateClicks(page_products, *query, shopper.preferences, options_.clicks, &random);
      bool stopped = false;
      for (size_t position : clicks) {
        if (events >= kCheckpoints.back()) {
          stopped = true;
          break;
        }
        observe_through(position + 1, clicks);
        clock_.Advance(kClickMs);
        Event click;
        click.user_id = shopper.user_id;
        click.type = EventType::kClick;
        click.product_id = page_products[position]->id;
        click.timestamp_ms = clock_.NowMillis();
        click.session_id = "session-1";
        click.query = query->text;
        click.position = static_cast<uint32_t>(position + 1);
        TESSERA_RETURN_IF_ERROR(engine_.RecordEvent(click));
        baseline.AddClick(*page_products[position], click.timestamp_ms);
        ++events;
        ++events_recorded_;
        TESSERA_RETURN_IF_ERROR(measure_due());
      }
      if (!stopped) observe_through(page_products.size(), clicks);
    }
    // Each shopper leaves the store as they found it, so the product counts that later shoppers
    // see do not depend on the order of the run.
    Result<size_t> erased = engine_.EraseUser(shopper.user_id);
    return erased.ok() ? Status::Ok() : erased.status();
  }

  json ToJson(size_t shoppers) const {
    json checkpoints = json::array();
    for (size_t c = 0; c < kCheckpoints.size(); ++c) {
      const CheckpointValues& values = values_[c];
      const double unpersonalized = Summarize(values.unpersonalized).mean;
      const double engine = Summarize(values.engine).mean;
      const double lexical = Summarize(values.lexical).mean;
      const double baseline = Summarize(values.baseline).mean;
      // Each arm's lift is over its own ranking without personalization.
      const double engine_lift = Lift(engine, unpersonalized);
      const double baseline_lift = Lift(baseline, lexical);
      checkpoints.push_back({{"events", kCheckpoints[c]},
                             {"pairs", values.engine.size()},
                             {"ndcg_at_10",
                              {{"unpersonalized", unpersonalized},
                               {"engine", engine},
                               {"lexical", lexical},
                               {"baseline", baseline},
                               {"oracle", Summarize(values.oracle).mean},
                               {"bayes_posterior", Summarize(values.bayes).mean},
                               {"bayes_posterior_by_grade", Summarize(values.bayes_grade).mean},
                               {"judged_grades_only", Summarize(values.judged).mean}}},
                             {"posterior_of_true_preferences",
                              {{"joint", Summarize(values.true_preferences).mean},
                               {"gender", Summarize(values.true_gender).mean},
                               {"colour", Summarize(values.true_colour).mean}}},
                             {"lift",
                              {{"engine", engine_lift},
                               {"bayes_posterior", Lift(Summarize(values.bayes).mean, unpersonalized)},
                               {"bayes_posterior_by_grade", Lift(Summarize(values.bayes_grade).mean, unpersonalized)},
                               {"oracle", Lift(Summarize(values.oracle).mean, unpersonalized)},
                               {"judged_grades_only", Lift(Summarize(values.judged).mean, unpersonalized)},
                               {"baseline", baseline_lift},
                               {"baseline_over_unpersonalized", Lift(baseline, unpersonalized)}}},
                             {"engine_lift_over_baseline_lift", baseline_lift > 0 ? engine_lift / baseline_lift : 0},
                             {"conflict_ndcg_at_10",
                              {{"unpersonalized", Summarize(values.conflict_unpersonalized).mean},
                               {"engine", Summarize(values.conflict_engine).mean},
                               {"lexical", Summarize(values.conflict_lexical).mean},
                               {"baseline", Summarize(values.conflict_baseline).mean},
                               {"bayes_posterior", Summarize(values.conflict_bayes).mean}}}});
    }
    const MetricSummary personalized = Summarize(personalized_latency_ms_);
    const MetricSummary unpersonalized = Summarize(unpersonalized_latency_ms_);
    return {{"shoppers", shoppers},
            {"events_recorded", events_recorded_},
            {"checkpoints", checkpoints},
            {"next_query_changed_after_first_click",
             first_click_shoppers_ == 0 ? 0.0 : double(changed_after_first_click_) / double(first_click_shoppers_)},
            {"shoppers_with_a_first_click", first_click_shoppers_},
            {"latency_ms",
             {{"personalized_p50", personalized.median},
              {"unpersonalized_p50", unpersonalized.median},
              {"personalized_over_unpersonalized_p50",
               unpersonalized.median > 0 ? personalized.median / unpersonalized.median : 0}}}};
  }

 private:
  // The hits of `text` for `user_id` ("" for none), `count` of them; the time goes to `latency_ms`.
  Result<std::vector<SearchHit>> Search(const std::string& text, const std::string& user_id, size_t count,
                                        std::vector<double>* latency_ms) {
    SearchRequest request;
    request.text = text;
    request.user_id = user_id;
    request.session_id = user_id.empty() ? "" : "session-1";
    request.per_page = count;
    request.facets = false;
    const auto start = std::chrono::steady_clock::now();
    Result<SearchResponse> response = engine_.Search(request);
    if (latency_ms != nullptr) latency_ms->push_back(Millis(start));
    if (!response.ok()) return response.status();
    return std::move(response->hits);
  }

  // The baseline's input: the engine's candidates of `text` ordered by BM25F alone, the first
  // kBaselineDepth of them, with their BM25F scores.
  Result<std::vector<AttributeCountReranker::Result>> LexicalTop(const std::string& text) const {
    SearchRequest request;
    request.text = text;
    Result<FeatureRows> rows = engine_.ExtractFeatures(request);
    if (!rows.ok()) return rows.status();
    std::vector<AttributeCountReranker::Result> results;
    for (size_t r = 0; r < rows->product_ids.size(); ++r) {
      // Candidates found only in the joint space have no BM25F (NaN): they come last.
      const float bm25f = rows->features.At(r, Feature::kBm25f);
      results.push_back({by_id_.at(rows->product_ids[r]), std::isnan(bm25f) ? 0.0 : bm25f});
    }
    std::stable_sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
    if (results.size() > kBaselineDepth) results.resize(kBaselineDepth);
    return results;
  }

  // nDCG@10 of `query` (graded for the shopper) by each arm. `source` is the query with its own
  // grades, which the posterior arm combines with the preferences it infers.
  Result<QueryScores> MeasureQuery(const SimulatedShopper& shopper, const JudgedQuery& query, const JudgedQuery& source,
                                   const AttributeCountReranker& baseline, PreferencePosterior& posterior,
                                   std::vector<double>* latency_ms) {
    Result<std::vector<SearchHit>> unpersonalized = Search(query.text, "", kBaselineDepth, nullptr);
    if (!unpersonalized.ok()) return unpersonalized.status();
    // The latency peer: the same query and page size without the shopper, just before.
    if (latency_ms != nullptr) {
      Result<std::vector<SearchHit>> peer = Search(query.text, "", kPageSize, &unpersonalized_latency_ms_);
      if (!peer.ok()) return peer.status();
    }
    Result<std::vector<SearchHit>> personalized = Search(query.text, shopper.user_id, kPageSize, latency_ms);
    if (!personalized.ok()) return personalized.status();
    Result<std::vector<AttributeCountReranker::Result>> lexical = LexicalTop(query.text);
    if (!lexical.ok()) return lexical.status();

    std::vector<const Product*> plain, engine, lexical_order;
    for (const SearchHit& hit : *unpersonalized) plain.push_back(hit.product.get());
    for (const SearchHit& hit : *personalized) engine.push_back(hit.product.get());
    for (const AttributeCountReranker::Result& result : *lexical) lexical_order.push_back(result.product);
    const std::vector<const Product*> counted = baseline.Rerank(*lexical);

    // `query` carries the shopper's grades already (ShopperJudgedQuery).
    auto grade_of = [&](const Product* product) {
      const auto it = query.grades.find(product->id);
      return it == query.grades.end() ? 0 : it->second;
    };
    QueryScores scores;
    scores.oracle = NdcgAtK(IdsOf(SortedBy(plain, grade_of), kPageSize), query, kPageSize);
    auto expected_gain = [&](const Product* product) { return posterior.ExpectedGain(*product, source); };
    scores.bayes = NdcgAtK(IdsOf(SortedBy(plain, expected_gain), kPageSize), query, kPageSize);
    auto expected_grade = [&](const Product* product) { return posterior.ExpectedGrade(*product, source); };
    scores.bayes_grade = NdcgAtK(IdsOf(SortedBy(plain, expected_grade), kPageSize), query, kPageSize);
    auto judged_grade = [&](const Product* product) {
      const auto it = source.grades.find(product->id);
      return it == source.grades.end() ? 0 : it->second;
    };
    scores.judged = NdcgAtK(IdsOf(SortedBy(plain, judged_grade), kPageSize), query, kPageSize);
    scores.unpersonalized = NdcgAtK(IdsOf(plain, kPageSize), query, kPageSize);
    scores.engine = NdcgAtK(IdsOf(engine, kPageSize), query, kPageSize);
    scores.lexical = NdcgAtK(IdsOf(lexical_order, kPageSize), query, kPageSize);
    scores.baseline = NdcgAtK(IdsOf(counted, kPageSize), query, kPageSize);
    scores.changed = IdsOf(engine, kPageSize) != IdsOf(plain, kPageSize);
    return scores;
  }

  // `products` sorted by `key`, highest first, ties in their order.
  template <typename Key>
  static std::vector<const Product*> SortedBy(std::vector<const Product*> products, Key key) {
    std::vector<std::pair<double, const Product*>> keyed;
    for (const Product* product : products) keyed.emplace_back(static_cast<double>(key(product)), product);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < keyed.size(); ++i) products[i] = keyed[i].second;
    return products;
  }

  // Writes the feature rows of `graded` searched by the shopper, with their profile, labelled
  // with the grades of `graded`. The query id starts with the split and shopper, so that
  // `tessera train-ranker` keeps each shopper's queries on one side of its split.
  Status WriteRows(const SimulatedShopper& shopper, const JudgedQuery& graded, const char* kind, size_t events) {
    SearchRequest request;
    request.text = graded.text;
    request.user_id = shopper.user_id;
    request.session_id = "session-1";
    Result<FeatureRows> rows = engine_.ExtractFeatures(request);
    if (!rows.ok()) return rows.status();
    JudgedQuery logged;
    logged.id = split_name_ + "_s" + std::to_string(shopper_index_) + "-" + graded.id + "-e" + std::to_string(events);
    logged.text = graded.text;
    logged.kind = kind;
    for (size_t r = 0; r < rows->product_ids.size(); ++r) {
      const auto it = graded.grades.find(rows->product_ids[r]);
      const float grade = it == graded.grades.end() ? 0.0f : static_cast<float>(it->second);
      *rows_ << FeatureRowJson(logged, r + 1, rows->product_ids[r], grade, rows->features.Row(r)).dump() << "\n";
    }
    return Status::Ok();
  }

  // Measures every evaluation and conflict query of the shopper at checkpoint `c`.
  Status Measure(const SimulatedShopper& shopper, const std::vector<JudgedQuery>& judged,
                 const AttributeCountReranker& baseline, PreferencePosterior& posterior, size_t c) {
    CheckpointValues& values = values_[c];
    std::vector<double>* latency_ms = kCheckpoints[c] > 0 ? &personalized_latency_ms_ : nullptr;
    for (size_t q = 0; q < judged.size(); ++q) {
      Result<QueryScores> scores = MeasureQuery(shopper, judged[q], *shopper.evaluation[q], baseline, posterior, latency_ms);
      if (!scores.ok()) return scores.status();
      values.unpersonalized.push_back(scores->unpersonalized);
      values.engine.push_back(scores->engine);
      values.lexical.push_back(scores->lexical);
      values.baseline.push_back(scores->baseline);
      values.oracle.push_back(scores->oracle);
      values.bayes.push_back(scores->bayes);
      values.bayes_grade.push_back(scores->bayes_grade);
      values.judged.push_back(scores->judged);
      if (rows_ != nullptr && kCheckpoints[c] > 0) {
        TESSERA_RETURN_IF_ERROR(WriteRows(shopper, judged[q], "personal", kCheckpoints[c]));
      }
      // The next query after the first click: does its first page differ from the unpersonalized one?
      if (kCheckpoints[c] == 1 && q == 0) {
        ++first_click_shoppers_;
        changed_after_first_click_ += scores->changed;
      }
    }
    double joint = 0, gender = 0, colour = 0;
    for (const WeightedPreferences& hypothesis : posterior.Posterior()) {
      const bool same_gender = hypothesis.preferences.gender == shopper.preferences.gender;
      const bool same_colour = hypothesis.preferences.colour == shopper.preferences.colour;
      if (same_gender && same_colour) joint += hypothesis.probability;
      if (same_gender) gender += hypothesis.probability;
      if (same_colour) colour += hypothesis.probability;
    }
    values.true_preferences.push_back(joint);
    values.true_gender.push_back(gender);
    values.true_colour.push_back(colour);
    for (const JudgedQuery* query : shopper.conflict) {
      Result<QueryScores> scores = MeasureQuery(shopper, *query, *query, baseline, posterior, latency_ms);
      if (!scores.ok()) return scores.status();
      values.conflict_unpersonalized.push_back(scores->unpersonalized);
      values.conflict_engine.push_back(scores->engine);
      values.conflict_lexical.push_back(scores->lexical);
      values.conflict_baseline.push_back(scores->baseline);
      values.conflict_bayes.push_back(scores->bayes);
      if (rows_ != nullptr && kCheckpoints[c] > 0) {
        TESSERA_RETURN_IF_ERROR(WriteRows(shopper, *query, "personal-conflict", kCheckpoints[c]));
      }
    }
    return Status::Ok();
  }

  Engine& engine_;
  ManualClock& clock_;
  const ShoppersWorkloadOptions& options_;
  const std::map<std::string, const Product*>& by_id_;
  const std::vector<WeightedPreferences> prior_;
  const std::string split_name_;
  std::ostream* rows_;
  size_t shopper_index_ = 0;
  std::array<CheckpointValues, kCheckpoints.size()> values_;
  size_t events_recorded_ = 0;
  size_t first_click_shoppers_ = 0, changed_after_first_click_ = 0;
  // Search latency of each measured query after the first event, with and without the shopper.
  std::vector<double> personalized_latency_ms_, unpersonalized_latency_ms_;
};

json OptionsJson(const ShoppersWorkloadOptions& options) {
  const PersonalizationOptions& p = options.personalization;
  return {{"personalization",
           {{"facet_weights", p.facet_weights},
            {"max_boost", p.max_boost},
            {"confidence_weight", p.confidence_weight},
            {"session_weight", p.session_weight},
            {"session_confidence_weight", p.session_confidence_weight},
            {"facet_scoring",
             p.facet_scoring == PersonalizationOptions::FacetScoring::kPosterior ? "posterior" : "share"},
            {"evidence_per_weight", p.evidence_per_weight},
            {"unseen_values", p.unseen_values}}},
          {"baseline", {{"weight", options.baseline.weight}, {"half_life_minutes", options.baseline.half_life_minutes}}},
          {"clicks",
           {{"examination_power", options.clicks.examination_power},
            {"not_relevant", options.clicks.not_relevant},
            {"relevant_base", options.clicks.relevant_base},
            {"per_preference", options.clicks.per_preference}}}};
}

}  // namespace

int RunShoppersWorkload(const ShoppersWorkloadOptions& options) {
  ManualClock clock(kStartMs);
  EngineOptions engine_options;
  engine_options.data_dir = options.data_dir;
  engine_options.synonyms_path = options.synonyms_path;
  engine_options.personalization = options.personalization;
  Result<std::unique_ptr<Engine>> opened = Engine::Open(engine_options, &clock);
  if (!opened.ok()) {
    std::cerr << opened.status().ToString() << "\n";
    return 1;
  }
  Engine& engine = **opened;
  if (engine.joint_model() == nullptr) {
    std::cerr << "no joint model in " << options.data_dir
              << ": session vectors need one; run `tessera train-encoders` first\n";
    return 1;
  }

  const std::vector<Product> products = engine.AllProducts();
  std::map<std::string, const Product*> by_id;
  for (const Product& product : products) by_id[product.id] = &product;
  JudgmentOptions judgment;
  judgment.max_queries = 100'000;  // every query that qualifies
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(products, judgment);

  json out = {{"workload", "shoppers"}, {"products", products.size()}, {"judged_queries", queries.size()},
              {"ranker", engine.ranker_info().name}, {"options", OptionsJson(options)}};
  std::ofstream rows_file;
  if (!options.rows_path.empty()) {
    rows_file.open(options.rows_path, std::ios::binary | std::ios::trunc);
    if (!rows_file) {
      std::cerr << "cannot write " << options.rows_path << ": check the folder exists and is writable\n";
      return 1;
    }
  }
  for (const ShopperSplit& split : kSplits) {
    if (options.split != "both" && options.split != split.name) continue;
    std::vector<JudgedQuery> half;
    for (const JudgedQuery& query : queries) {
      if (QueryHalf(query.text) == split.query_half) half.push_back(query);
    }
    ShopperPopulationOptions population;
    population.shoppers = options.shoppers;
    population.seed = split.seed;
    const std::vector<SimulatedShopper> shoppers = DrawShoppers(products, half, population);
    SplitRun run(engine, clock, options, by_id, PreferencePrior(products, population), split.name,
                 rows_file.is_open() ? &rows_file : nullptr);
    for (size_t i = 0; i < shoppers.size(); ++i) {
      Status status = run.RunShopper(shoppers[i], i);
      if (!status.ok()) {
        std::cerr << shoppers[i].user_id << ": " << status.ToString() << "\n";
        return 1;
      }
    }
    out["splits"][split.name] = run.ToJson(shoppers.size());
    out["splits"][split.name]["queries_in_split"] = half.size();
  }
  if (rows_file.is_open() && !rows_file.flush()) {
    std::cerr << "cannot write " << options.rows_path << "\n";
    return 1;
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
