#include "cli/ranking_evaluation.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/hash.h"
#include "encode/joint_space_trainer.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"

namespace tessera {

namespace {

// Returns a test of whether the joint space never trained on a product, that is, whether the
// product is in its held-out or validation split. The fractions are the loaded model's or, without
// a model, the trainer's defaults, so a default model and no model see one judged set.
std::function<bool(const Product&)> JointSpaceUnseen(const Engine& engine) {
  JointSpaceTrainingOptions defaults;
  double holdout = defaults.holdout_fraction;
  double validation = defaults.validation_fraction;
  if (const JointSpaceModel* model = engine.joint_model(); model != nullptr) {
    const nlohmann::json report = nlohmann::json::parse(model->provenance().report_json, nullptr, false);
    if (report.is_object() && report.contains("options") && report["options"].is_object()) {
      holdout = report["options"].value("holdout_fraction", holdout);
      validation = report["options"].value("validation_fraction", validation);
    }
  }
  return [holdout, validation](const Product& product) {
    return IsHeldOut(product.id, holdout) || IsValidation(product.id, validation);
  };
}

}  // namespace

Result<std::vector<JudgedQuery>> LoadJudgedQueries(const Engine& engine, const JudgedSetOptions& options) {
  std::vector<JudgedQuery> queries;
  if (!options.judgments_path.empty()) {
    Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(options.judgments_path);
    if (!read.ok()) return read.status();
    queries = std::move(read).value();
  } else {
    const std::vector<Product> products = engine.AllProducts();
    queries = DeriveJudgedQuerySet(products, options.derive);
    PhotoJudgmentOptions photo = options.photo;
    if (!photo.eligible) photo.eligible = JointSpaceUnseen(engine);
    for (JudgedQuery& query : DerivePhotoJudgedQueries(products, photo)) {
      // A product whose photo file is listed but failed to decode has no vector to query with.
      Result<std::vector<float>> vector = engine.PhotoVector(query.photo_product_id);
      if (vector.ok() && !vector->empty()) queries.push_back(std::move(query));
    }
  }
  if (queries.empty()) return Status::InvalidArgument("no judged queries: ingest a catalogue first");
  return queries;
}

std::string BaseQueryId(const std::string& id) { return id.substr(0, id.find('-')); }

Split SplitOf(const JudgedQuery& query, double test_fraction, double validation_fraction) {
  const double u = double(Fnv1a64("ranker-split:" + BaseQueryId(query.id)) % 1000000) / 1e6;
  if (u < test_fraction) return Split::kTest;
  if (u < test_fraction + validation_fraction) return Split::kValidation;
  return Split::kTrain;
}

// Returns `rows` without the row of `product_id` (unchanged when it has none).
FeatureRows WithoutProduct(FeatureRows rows, const std::string& product_id) {
  const auto it = std::find(rows.product_ids.begin(), rows.product_ids.end(), product_id);
  if (it == rows.product_ids.end()) return rows;
  const size_t dropped = static_cast<size_t>(it - rows.product_ids.begin());
  FeatureRows remaining;
  remaining.consensus_depth = rows.consensus_depth;
  remaining.features = FeatureMatrix(rows.product_ids.size() - 1);
  for (size_t row = 0, out = 0; row < rows.product_ids.size(); ++row) {
    if (row == dropped) continue;
    remaining.product_ids.push_back(std::move(rows.product_ids[row]));
    std::copy_n(rows.features.Row(row).begin(), kFeatureCount, remaining.features.Row(out).begin());
    ++out;
  }
  return remaining;
}

Result<QueryRows> ExtractQuery(const Engine& engine, const JudgedQuery& query) {
  SearchRequest request;
  request.text = query.text;
  request.facets = false;
  if (query.kind == kPhotoQueryKind) {
    Result<std::vector<float>> photo = engine.PhotoVector(query.photo_product_id);
    if (!photo.ok()) return photo.status();
    if (photo->empty()) {
      return Status::NotFound("product '" + query.photo_product_id +
                              "' has no photo vector: drop the photo query or re-ingest its photo");
    }
    request.image_vector = std::move(photo).value();
    // As Engine::SearchByImage does: the photo's projection is the query's joint-space vector.
    Result<std::vector<float>> joint = engine.JointQueryVector("", request.image_vector);
    if (joint.ok()) request.joint_vector = std::move(joint).value();
  }
  Result<FeatureRows> rows = engine.ExtractFeatures(request);
  if (!rows.ok()) return rows.status();
  if (query.kind == kPhotoQueryKind) rows = WithoutProduct(std::move(rows).value(), query.photo_product_id);
  QueryRows out{&query, std::move(rows).value(), {}};
  for (const std::string& id : out.rows.product_ids) {
    auto grade = query.grades.find(id);
    out.labels.push_back(grade == query.grades.end() ? 0.0f : static_cast<float>(grade->second));
  }
  return out;
}

std::vector<std::string> RankedIds(const QueryRows& q, const std::vector<float>& scores) {
  std::vector<size_t> order(q.rows.product_ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<std::string> ids;
  for (size_t i : order) ids.push_back(q.rows.product_ids[i]);
  return ids;
}

Result<std::vector<QueryRows>> ExtractAll(const Engine& engine, const std::vector<JudgedQuery>& queries) {
  std::vector<QueryRows> all;
  all.reserve(queries.size());
  Progress extracting("features", queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const JudgedQuery& query = queries[i];
    Result<QueryRows> q = ExtractQuery(engine, query);
    if (!q.ok()) {
      const std::string description = query.kind == kPhotoQueryKind ? "photo of product '" + query.photo_product_id + "'"
                                                             : "'" + query.text + "'";
      return Status(q.status().code(), "query " + query.id + " " + description + ": " + q.status().message());
    }
    all.push_back(std::move(q).value());
    extracting.Show(i + 1);
  }
  return all;
}

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)), total_(total), terminal_(isatty(fileno(stderr)) != 0) {}

void Progress::Show(size_t done, const std::string& detail) {
  const size_t percent = total_ == 0 ? 100 : done * 100 / total_;
  if (!terminal_ && percent / 10 == last_decile_ && done != total_) return;
  last_decile_ = percent / 10;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(percent * kWidth / 100);
  std::fprintf(stderr, "%s%s [%.*s%*s] %zu/%zu %s%s", terminal_ ? "\r" : "", label_.c_str(), filled,
               "##############################", kWidth - filled, "", done, total_, detail.c_str(),
               terminal_ && done != total_ ? "" : "\n");
  std::fflush(stderr);
}

void MethodMetrics::Add(const JudgedQuery& query, const std::vector<std::string>& ranked) {
  const std::vector<std::string> top10(ranked.begin(), ranked.begin() + std::min<size_t>(10, ranked.size()));
  const double n = NdcgAtK(ranked, query, 10);
  const double r = ReciprocalRank(top10, query, query.max_grade);
  for (const std::string& key : {std::string("all"), query.kind}) {
    ndcg[key].push_back(n);
    mrr[key].push_back(r);
  }
}

nlohmann::json MethodMetrics::ToJson() const {
  nlohmann::json out;
  for (const auto& [key, values] : ndcg) {
    out[key] = {{"queries", values.size()}, {"ndcg_at_10", Summarize(values).mean},
                {"mrr_at_10", Summarize(mrr.at(key)).mean}};
  }
  return out;
}

void AddBaselines(const QueryRows& q, std::map<std::string, MethodMetrics>* methods) {
  const size_t n = q.labels.size();
  std::vector<float> bm25(n), retrieval(n);
  for (size_t r = 0; r < n; ++r) {
    const float b = q.rows.features.At(r, Feature::kBm25f);
    bm25[r] = std::isnan(b) ? -1.0f : b;
    retrieval[r] = -static_cast<float>(r);
  }
  (*methods)["bm25f"].Add(*q.query, RankedIds(q, bm25));
  (*methods)["retrieval"].Add(*q.query, RankedIds(q, retrieval));
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace tessera
