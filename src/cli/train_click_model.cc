#include "cli/train_click_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/hash.h"
#include "common/model_file.h"
#include "common/text.h"
#include "encode/audio_decoder.h"
#include "ingest/csv_reader.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string DefaultPath(const std::string& data_dir, const std::string& out_path, const char* file) {
  return out_path.empty() ? (fs::path(data_dir) / "models" / file).string() : out_path;
}

Status WriteModelAndReport(const ClickModel& model, const std::string& path, json* report, std::ostream& out) {
  TESSERA_RETURN_IF_ERROR(model.Save(path));
  (*report)["model"] = {{"path", path}};
  const std::string report_path = (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".report.json")).string();
  TESSERA_RETURN_IF_ERROR(WriteFileAtomically(report_path, report->dump(2) + "\n"));
  spdlog::info("click model written to {}; report {}", path, report_path);
  out << report->dump(2) << "\n";
  return Status::Ok();
}

json MetricsJson(const ClickMetrics& m) {
  return {{"examples", m.examples}, {"click_rate", m.click_rate}, {"loss", m.loss}, {"accuracy", m.accuracy}, {"auc", m.auc}};
}

std::function<void(const ClickTrainingProgress&)> ShowTraining(Progress* progress) {
  return [progress](const ClickTrainingProgress& p) {
    char detail[128];
    if (p.batch == p.batches) {
      std::snprintf(detail, sizeof(detail), "epoch %zu/%zu loss %.4f valid loss %.4f", p.epoch, p.epochs, p.train_loss,
                    p.validation_loss);
    } else {
      std::snprintf(detail, sizeof(detail), "epoch %zu/%zu loss %.4f", p.epoch, p.epochs, p.train_loss);
    }
    progress->Show((p.epoch - 1) * p.batches + p.batch, detail);
  };
}

// Row indexes of `features` in the order RetrievalScoreRanker gives them: by retrieval score,
// best first, ties in retrieval order. This is the ranking the simulated shoppers see.
std::vector<size_t> RetrievalOrder(const FeatureMatrix& features) {
  std::vector<size_t> order(features.rows());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto score = [&](size_t row) {
    const float s = features.At(row, Feature::kRetrievalScore);
    return std::isnan(s) ? -INFINITY : s;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score(a) > score(b); });
  return order;
}

std::vector<float> ModelFeatureRow(const FeatureMatrix& features, size_t row) {
  std::vector<float> values;
  for (Feature f : ClickModelFeatures()) values.push_back(features.At(row, f));
  return values;
}

// The MFCC frames of <dir>/<query id>.wav, or no frames when the file is missing. A file that
// does not decode fails the command, naming the file.
Result<MfccFrames> ReadVoiceQuery(const std::string& dir, const std::string& query_id) {
  if (dir.empty()) return MfccFrames{};
  const std::string path = (fs::path(dir) / (query_id + ".wav")).string();
  if (!fs::exists(path)) return MfccFrames{};
  std::optional<std::string> bytes = ReadFileBytes(path);
  if (!bytes) return Status::IoError("failed to read the voice query " + path + ": check its permissions");
  Result<AudioClip> clip = DecodeAudio(*bytes);
  if (!clip.ok()) return Status(clip.status().code(), "voice query " + path + ": " + clip.status().message());
  return ComputeMfcc(*clip);
}

}  // namespace

Status RunTrainClickModel(const Engine& engine, const TrainClickModelOptions& options, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  if (options.test_fraction <= 0 || options.validation_fraction <= 0 ||
      options.test_fraction + options.validation_fraction >= 1) {
    return Status::InvalidArgument("--test-fraction and --validation-fraction must be > 0, with a sum below 1");
  }
  Result<std::vector<JudgedQuery>> queries = LoadJudgedQueries(engine, options.judged);
  if (!queries.ok()) return queries.status();

  // Titles and colours of the catalogue, for the model's inputs and the shoppers' preferences.
  std::unordered_map<std::string, std::string> colours, titles;
  for (const Product& p : engine.AllProducts()) {
    colours[p.id] = p.Attribute("colour");
    titles[p.id] = p.title;
  }

  // Feature rows of every judged query's candidates, and its logged ranking.
  Result<std::vector<QueryRows>> extracted = ExtractAll(engine, *queries);
  if (!extracted.ok()) return extracted.status();
  const std::vector<QueryRows> all = std::move(extracted).value();
  std::vector<std::vector<size_t>> orders;
  std::vector<LoggedQuery> logged;
  for (const QueryRows& q : all) {
    orders.push_back(RetrievalOrder(q.rows.features));
    LoggedQuery entry{q.query, {}};
    for (size_t row : orders.back()) entry.ranking.push_back(q.rows.product_ids[row]);
    logged.push_back(std::move(entry));
  }
  const double extract_seconds = SecondsSince(start);

  // The simulated log, over every judged query; the split decides which impressions train.
  const ClickLog log = SimulateClicks(logged, colours, options.simulation);
  if (log.impressions.empty()) return Status::InvalidArgument("the simulated click log is empty: no judged query has results");

  // The data set: one input per judged query, one per shown product.
  ClickDataset data;
  std::vector<ClickExample> test;
  size_t spoken = 0;
  for (const QueryRows& q : all) {
    Result<MfccFrames> audio = ReadVoiceQuery(options.voice_dir, q.query->id);
    if (!audio.ok()) return audio.status();
    spoken += audio->frames > 0 ? 1 : 0;
    data.queries.push_back({q.query->text, std::move(audio).value()});
  }
  std::unordered_map<std::string, uint32_t> product_index;
  std::vector<double> clicks_by_rank(options.simulation.depth, 0), shown_by_rank(options.simulation.depth, 0);
  for (const Impression& impression : log.impressions) {
    const QueryRows& q = all[impression.query];
    const size_t row = orders[impression.query][impression.rank - 1];
    const std::string& id = q.rows.product_ids[row];
    auto [it, added] = product_index.try_emplace(id, static_cast<uint32_t>(data.products.size()));
    if (added) {
      Result<std::vector<float>> photo = engine.PhotoVector(id);
      data.products.push_back({titles[id], photo.ok() ? std::move(photo).value() : std::vector<float>{}});
    }
    ClickExample example{impression.query, it->second, ModelFeatureRow(q.rows.features, row), impression.rank,
                         impression.clicked ? 1.0f : 0.0f};
    clicks_by_rank[impression.rank - 1] += example.clicked;
    shown_by_rank[impression.rank - 1] += 1;
    switch (SplitOf(*q.query, options.test_fraction, options.validation_fraction)) {
      case Split::kTrain: data.train.push_back(std::move(example)); break;
      case Split::kValidation: data.validation.push_back(std::move(example)); break;
      case Split::kTest: test.push_back(std::move(example)); break;
    }
  }

  // Training.
  ClickModelConfig config = options.model;
  config.max_rank = std::max<size_t>(1, options.simulation.depth);  // one examination term per shown rank
  config.photo_encoder = engine.photo_encoder_name();
  config.photo_dimension = 0;
  for (const ClickProductInput& p : data.products) config.photo_dimension = std::max(config.photo_dimension, p.photo.size());
  const size_t batches = (data.train.size() + options.training.batch_size - 1) / std::max<size_t>(1, options.training.batch_size);
  Progress training("train click model", batches * options.training.epochs);
  Result<std::unique_ptr<ClickModel>> trained = ClickModel::Train(data, config, options.training, ShowTraining(&training));
  if (!trained.ok()) return trained.status();
  std::shared_ptr<ClickModel> model = std::move(trained).value();

  // Held-out clicks: the model's P(click), and the logged rank alone as a baseline.
  const ClickMetrics test_clicks = model->Evaluate(data, test);
  std::vector<float> by_position, labels;
  for (const ClickExample& e : test) {
    by_position.push_back(-static_cast<float>(e.rank));
    labels.push_back(e.clicked);
  }

  // Held-out ranking: every candidate of every test query, as train-ranker measures its models.
  std::map<std::string, MethodMetrics> methods;
  size_t test_queries = 0;
  const auto scoring_start = std::chrono::steady_clock::now();
  for (size_t qi = 0; qi < all.size(); ++qi) {
    const QueryRows& q = all[qi];
    if (q.labels.empty() || SplitOf(*q.query, options.test_fraction, options.validation_fraction) != Split::kTest) continue;
    ++test_queries;
    const size_t n = q.labels.size();
    std::vector<ClickProductInput> products(n);
    std::vector<const ClickProductInput*> pointers(n);
    for (size_t r = 0; r < n; ++r) {
      const std::string& id = q.rows.product_ids[r];
      Result<std::vector<float>> photo = engine.PhotoVector(id);
      products[r] = {titles[id], photo.ok() ? std::move(photo).value() : std::vector<float>{}};
      pointers[r] = &products[r];
    }
    AddBaselines(q, &methods);
    const std::vector<float> scores = model->Score(data.queries[qi], pointers, q.rows.features);
    methods["neural_click"].Add(*q.query, RankedIds(q, scores));

    // The model re-ranking only the results a session shows (the simulation's depth), the rest
    // kept in retrieval order: the window the clicks were observed in.
    std::vector<float> windowed(n);
    const std::vector<size_t>& order = orders[qi];
    const size_t shown = std::min(n, options.simulation.depth);
    float lowest_shown = INFINITY;
    for (size_t position = 0; position < shown; ++position) lowest_shown = std::min(lowest_shown, scores[order[position]]);
    for (size_t position = 0; position < n; ++position) {
      const size_t row = order[position];
      windowed[row] = position < shown ? scores[row] : lowest_shown - 1.0f - static_cast<float>(position);
    }
    methods["neural_click_shown"].Add(*q.query, RankedIds(q, windowed));
  }
  const double scoring_seconds = SecondsSince(scoring_start);

  // The report.
  std::vector<double> simulated_ctr, simulated_examination;
  for (size_t r = 0; r < shown_by_rank.size(); ++r) {
    simulated_ctr.push_back(shown_by_rank[r] == 0 ? 0 : clicks_by_rank[r] / shown_by_rank[r]);
    simulated_examination.push_back(1.0 / std::pow(double(r + 1), options.simulation.eta));
  }
  const ClickSimulationOptions& s = options.simulation;
  json report = {
      {"queries", queries->size()},
      {"spoken_queries", spoken},
      {"simulation", {{"model", "position-based"}, {"sessions", s.sessions}, {"depth", s.depth}, {"eta", s.eta},
                      {"epsilon", s.epsilon}, {"alpha_max", s.alpha_max}, {"noise_sd", s.noise_sd},
                      {"shoppers", s.shoppers}, {"preference", "colour"}, {"preference_lift", s.preference_lift},
                      {"seed", s.seed}, {"impressions", log.impressions.size()},
                      {"click_through_by_rank", simulated_ctr}, {"examination_by_rank", simulated_examination}}},
      {"split", {{"function", "train-ranker's, by base query id"}, {"test_fraction", options.test_fraction},
                 {"validation_fraction", options.validation_fraction}, {"test_queries", test_queries},
                 {"train_impressions", data.train.size()}, {"validation_impressions", data.validation.size()},
                 {"test_impressions", test.size()}, {"products", data.products.size()}}},
      {"feature_extraction_seconds", extract_seconds},
      {"training", model->report()},
      {"test_clicks", MetricsJson(test_clicks)},
      {"test_clicks_rank_only_auc", RocAuc(by_position, labels)},
      {"test_scoring_seconds", scoring_seconds}};
  report["training"].erase("history");  // per epoch; kept in the model file
  for (const auto& [name, metrics] : methods) report["test"][name] = metrics.ToJson();
  model->report()["test_clicks"] = MetricsJson(test_clicks);
  model->report()["test"] = methods["neural_click"].ToJson();
  model->report()["simulation"] = report["simulation"];
  report["total_seconds"] = SecondsSince(start);
  return WriteModelAndReport(*model, DefaultPath(options.data_dir, options.out_path, "click.model"), &report, out);
}

namespace {

struct BestBuyClick {
  std::string sku;
  std::string category;
  std::string query;
};

// Reads train.csv of the Best Buy sample. Each line is one CSV record wrapped in double quotes
// with its inner quotes doubled, so the line is unwrapped before it is parsed.
Result<std::vector<BestBuyClick>> ReadBestBuyClicks(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("Best Buy click file " + path + " not found: pass the folder holding train.csv");
  std::vector<BestBuyClick> clicks;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() < 2 || line.front() != '"' || line.back() != '"') {
      return Status::InvalidArgument(path + " line " + std::to_string(number) + " is not wrapped in double quotes");
    }
    std::string record;
    const std::string inner = line.substr(1, line.size() - 2);
    for (size_t i = 0; i < inner.size(); ++i) {
      record += inner[i];
      if (inner[i] == '"' && i + 1 < inner.size() && inner[i + 1] == '"') ++i;
    }
    std::istringstream record_stream(record);
    CsvReader reader(record_stream);
    std::vector<std::string> parsed;
    Status error;
    if (!reader.Next(&parsed, &error) || !error.ok()) {
      return Status::InvalidArgument(path + " line " + std::to_string(number) + " is not a CSV record: " + error.message());
    }
    const std::vector<std::string>* fields = &parsed;
    if (number == 1) {
      if (fields->size() < 4 || (*fields)[1] != "sku" || (*fields)[3] != "query") {
        return Status::InvalidArgument(path + " has no user,sku,category,query header: only train.csv has the clicked sku");
      }
      continue;
    }
    if (fields->size() < 4) return Status::InvalidArgument(path + " line " + std::to_string(number) + " has fewer than 4 fields");
    const std::string query(TrimAscii((*fields)[3]));
    if (query.empty()) continue;
    clicks.push_back({(*fields)[1], (*fields)[2], query});
  }
  return clicks;
}

}  // namespace

Status RunTrainClickModelBestBuy(const BestBuyClickOptions& options, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  if (options.test_fraction <= 0 || options.validation_fraction <= 0 ||
      options.test_fraction + options.validation_fraction >= 1) {
    return Status::InvalidArgument("--test-fraction and --validation-fraction must be > 0, with a sum below 1");
  }
  Result<std::vector<BestBuyClick>> clicks = ReadBestBuyClicks((fs::path(options.dir) / "train.csv").string());
  if (!clicks.ok()) return clicks.status();

  // Skus clicked per category: the sample lists no other candidates.
  std::map<std::string, std::vector<std::string>> skus_by_category;
  for (const BestBuyClick& c : *clicks) {
    std::vector<std::string>& skus = skus_by_category[c.category];
    if (std::find(skus.begin(), skus.end(), c.sku) == skus.end()) skus.push_back(c.sku);
  }

  // Examples: the click, and sampled other skus of its category. The product's only input is its
  // sku as a word; a query's split follows its lower-cased text.
  ClickDataset data;
  std::vector<ClickExample> test;
  std::unordered_map<std::string, uint32_t> product_index;
  auto product_of = [&](const std::string& sku) {
    auto [it, added] = product_index.try_emplace(sku, static_cast<uint32_t>(data.products.size()));
    if (added) data.products.push_back({"sku" + sku, {}});
    return it->second;
  };
  std::mt19937_64 engine(options.training.seed);
  std::map<std::string, double> train_clicks_by_sku;
  size_t single_sku_categories = 0;
  for (const BestBuyClick& c : *clicks) {
    const auto q = static_cast<uint32_t>(data.queries.size());
    data.queries.push_back({c.query, {}});
    const double u = double(Fnv1a64("bestbuy-split:" + LowerAscii(c.query)) % 1000000) / 1e6;
    std::vector<ClickExample>& set =
        u < options.test_fraction ? test : (u < options.test_fraction + options.validation_fraction ? data.validation : data.train);
    set.push_back({q, product_of(c.sku), {}, 0, 1.0f});
    if (&set == &data.train) train_clicks_by_sku[c.sku] += 1;
    std::vector<std::string> others;
    for (const std::string& sku : skus_by_category[c.category]) {
      if (sku != c.sku) others.push_back(sku);
    }
    if (others.empty()) ++single_sku_categories;
    for (size_t k = 0; k < options.negatives && !others.empty(); ++k) {
      const size_t pick = engine() % others.size();  // the modulo bias is below 2^-50 for lists this short
      set.push_back({q, product_of(others[pick]), {}, 0, 0.0f});
      others.erase(others.begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }

  ClickModelConfig config = options.model;
  config.photo_encoder.clear();
  config.photo_dimension = 0;
  const size_t batches = (data.train.size() + options.training.batch_size - 1) / std::max<size_t>(1, options.training.batch_size);
  Progress training("train click model", batches * options.training.epochs);
  Result<std::unique_ptr<ClickModel>> trained = ClickModel::Train(data, config, options.training, ShowTraining(&training));
  if (!trained.ok()) return trained.status();
  std::unique_ptr<ClickModel> model = std::move(trained).value();

  // Held-out: the model, and how often each sku was clicked in training as a baseline.
  const ClickMetrics held_out = model->Evaluate(data, test);
  std::vector<float> popularity, labels;
  size_t positives = 0, positives_seen = 0;
  for (const ClickExample& e : test) {
    const std::string sku = data.products[e.product].title.substr(3);
    auto it = train_clicks_by_sku.find(sku);
    popularity.push_back(it == train_clicks_by_sku.end() ? 0.0f : static_cast<float>(it->second));
    labels.push_back(e.clicked);
    if (e.clicked > 0.5f) {
      ++positives;
      positives_seen += it != train_clicks_by_sku.end() ? 1 : 0;
    }
  }
  json report = {{"source", (fs::path(options.dir) / "train.csv").string()},
                 {"clicks", clicks->size()},
                 {"categories", skus_by_category.size()},
                 {"skus", product_index.size()},
                 {"clicks_without_negatives", single_sku_categories},
                 {"negatives_per_click", options.negatives},
                 {"split", {{"by", "lower-cased query text"}, {"test_fraction", options.test_fraction},
                            {"validation_fraction", options.validation_fraction},
                            {"train_examples", data.train.size()}, {"validation_examples", data.validation.size()},
                            {"test_examples", test.size()}}},
                 {"training", model->report()},
                 {"test", MetricsJson(held_out)},
                 {"test_sku_popularity_auc", RocAuc(popularity, labels)},
                 {"test_clicked_skus_seen_in_training", positives == 0 ? 0.0 : double(positives_seen) / double(positives)},
                 {"total_seconds", SecondsSince(start)}};
  report["training"].erase("history");
  report["training"].erase("examination");  // no ranks in this sample
  model->report()["test"] = MetricsJson(held_out);
  return WriteModelAndReport(*model, DefaultPath(options.data_dir, options.out_path, "click-bestbuy.model"), &report, out);
}

}  // namespace tessera
