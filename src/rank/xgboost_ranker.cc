#include "rank/xgboost_ranker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>

#include <spdlog/spdlog.h>
#include <xgboost/c_api.h>

#include "common/model_file.h"

namespace tessera {

namespace {

// The model file: the header JSON (kind, feature names, schema version, personal scale,
// consensus depth, training report) and XGBoost's own model bytes (UBJSON), in Tessera's model file container.
constexpr ModelFileKind kRankerFile{"TSRANKER", kRankerFormatVersion, "ranker model", "tessera train-ranker"};

Status XgboostError(const std::string& what) {
  return Status::Internal(what + " failed in XGBoost: " + XGBGetLastError());
}

// Owns a DMatrix handle.
class Matrix {
 public:
  Matrix() = default;
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  ~Matrix() {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
  }
  DMatrixHandle* out() { return &handle_; }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

// The columns of `features` picked from rows of kFeatureCount floats.
std::vector<float> SelectColumns(const std::vector<float>& values, size_t rows, const std::vector<Feature>& features) {
  std::vector<float> selected(rows * features.size());
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < features.size(); ++c) {
      selected[r * features.size() + c] = values[r * kFeatureCount + static_cast<size_t>(features[c])];
    }
  }
  return selected;
}

Status MakeMatrix(const std::vector<float>& columns, size_t rows, size_t cols, Matrix* matrix) {
  if (XGDMatrixCreateFromMat(columns.data(), rows, cols, std::nanf(""), matrix->out()) != 0) {
    return XgboostError("creating a feature matrix");
  }
  return Status::Ok();
}

Status MakeTrainingMatrix(const RankingDataset& data, const std::vector<Feature>& features, Matrix* matrix) {
  TESSERA_RETURN_IF_ERROR(MakeMatrix(SelectColumns(data.values, data.rows(), features), data.rows(), features.size(), matrix));
  if (XGDMatrixSetFloatInfo(matrix->get(), "label", data.labels.data(), data.labels.size()) != 0) {
    return XgboostError("setting labels");
  }
  if (XGDMatrixSetUIntInfo(matrix->get(), "group", data.group_sizes.data(), data.group_sizes.size()) != 0) {
    return XgboostError("setting query groups");
  }
  return Status::Ok();
}

// Parses "valid-ndcg@10:0.8123" out of XGBoost's evaluation line.
double MetricFromEvalLine(const std::string& line, const std::string& name) {
  const size_t at = line.find(name + ":");
  if (at == std::string::npos) return 0;
  return std::atof(line.c_str() + at + name.size() + 1);
}

std::vector<std::string> FeatureNames(const std::vector<Feature>& features) {
  std::vector<std::string> names;
  for (Feature f : features) names.push_back(FeatureName(f));
  return names;
}

// Returns true when a row of `data` sets a personal feature that `features` reads to a value
// other than 0 or missing, which means the training queries included shoppers with profiles.
bool HasPersonalValues(const RankingDataset& data, const std::vector<Feature>& features) {
  for (Feature f : {Feature::kPersonalArticleType, Feature::kPersonalColour, Feature::kPersonalGender,
                    Feature::kPersonalBrand, Feature::kPersonalStrength}) {
    if (std::find(features.begin(), features.end(), f) == features.end()) continue;
    for (size_t r = 0; r < data.rows(); ++r) {
      const float value = data.values[r * kFeatureCount + static_cast<size_t>(f)];
      if (value != 0 && !std::isnan(value)) return true;
    }
  }
  return false;
}

}  // namespace

struct XgboostRanker::Booster {
  BoosterHandle handle = nullptr;
  // XGBoost's DMatrix prediction (contributions, and scores of the linear booster) shares
  // per-booster buffers, so it runs one at a time. In-place prediction needs no lock.
  std::mutex dmatrix_mutex;

  ~Booster() {
    if (handle != nullptr) XGBoosterFree(handle);
  }
};

const char* RankerKindName(RankerKind kind) { return kind == RankerKind::kLinear ? "linear" : "lambdamart"; }

Result<RankerKind> RankerKindFromName(const std::string& name) {
  if (name == "linear") return RankerKind::kLinear;
  if (name == "lambdamart") return RankerKind::kLambdaMart;
  return Status::InvalidArgument("unknown ranker kind '" + name + "': use linear or lambdamart");
}

std::vector<Feature> RankerFeatures(RankerKind kind) {
  if (kind == RankerKind::kLinear) {
    return {Feature::kBm25f,       Feature::kBm25PhotoText, Feature::kCosinePhoto,     Feature::kCosineFused,
            Feature::kCosineText, Feature::kCosineJointPhoto, Feature::kCosinePhotoText};
  }
  std::vector<Feature> all;
  for (size_t i = 0; i < kFeatureCount; ++i) all.push_back(static_cast<Feature>(i));
  return all;
}

void RankingDataset::AddQuery(const std::string& query_id, const FeatureMatrix& features,
                              const std::vector<float>& row_labels) {
  values.insert(values.end(), features.values().begin(), features.values().end());
  labels.insert(labels.end(), row_labels.begin(), row_labels.end());
  group_sizes.push_back(static_cast<uint32_t>(features.rows()));
  query_ids.push_back(query_id);
}

XgboostRanker::XgboostRanker(RankerKind kind, std::vector<Feature> features, std::unique_ptr<Booster> booster)
    : kind_(kind), features_(std::move(features)), booster_(std::move(booster)) {}

XgboostRanker::~XgboostRanker() = default;

std::string XgboostRanker::name() const { return RankerKindName(kind_); }

Result<std::unique_ptr<XgboostRanker>> XgboostRanker::Train(
    const RankingDataset& train, const RankingDataset& validation, const RankerTrainingOptions& options,
    const std::function<void(const RankerTrainingProgress&)>& on_progress) {
  if (train.group_sizes.empty() || validation.group_sizes.empty()) {
    return Status::InvalidArgument("training needs at least one training and one validation query, got " +
                                   std::to_string(train.group_sizes.size()) + " and " +
                                   std::to_string(validation.group_sizes.size()));
  }
  if (options.tree_objective != "rank:ndcg" && options.tree_objective != "rank:pairwise") {
    return Status::InvalidArgument("ranker objective '" + options.tree_objective +
                                   "' is not supported: use rank:ndcg or rank:pairwise");
  }
  const std::vector<Feature> features = RankerFeatures(options.kind);
  Matrix train_matrix, validation_matrix;
  TESSERA_RETURN_IF_ERROR(MakeTrainingMatrix(train, features, &train_matrix));
  TESSERA_RETURN_IF_ERROR(MakeTrainingMatrix(validation, features, &validation_matrix));

  auto booster = std::make_unique<Booster>();
  DMatrixHandle cache[] = {train_matrix.get(), validation_matrix.get()};
  if (XGBoosterCreate(cache, 2, &booster->handle) != 0) return XgboostError("creating a booster");
  const bool linear = options.kind == RankerKind::kLinear;
  const std::vector<std::pair<std::string, std::string>> params = {
      {"booster", linear ? "gblinear" : "gbtree"},
      {"objective", linear ? "rank:pairwise" : options.tree_objective},
      {"eval_metric", "ndcg@10"},
      {"eta", std::to_string(options.learning_rate)},
      {"max_depth", std::to_string(options.max_depth)},
      {"min_child_weight", std::to_string(options.min_child_weight)},
      {"subsample", std::to_string(options.subsample)},
      {"tree_method", "hist"},
      {"seed", std::to_string(options.seed)},
      {"nthread", std::to_string(std::max(1, options.threads))},
      // The linear booster's coordinate descent is deterministic with the cyclic order.
      {"updater", "coord_descent"},
      {"feature_selector", "cyclic"},
  };
  const auto tree_only = [](const std::string& key) {
    return key == "max_depth" || key == "min_child_weight" || key == "subsample" || key == "tree_method";
  };
  for (const auto& [key, value] : params) {
    if (linear ? tree_only(key) : key == "updater" || key == "feature_selector") continue;
    if (XGBoosterSetParam(booster->handle, key.c_str(), value.c_str()) != 0) return XgboostError("setting " + key);
  }

  // Rounds, stopping when validation nDCG@10 has not improved for `patience` rounds; the model
  // is then cut back to its best round.
  DMatrixHandle eval_sets[] = {train_matrix.get(), validation_matrix.get()};
  const char* eval_names[] = {"train", "valid"};
  RankerTrainingProgress progress;
  progress.max_rounds = options.max_rounds;
  double best = -1;
  nlohmann::json history = nlohmann::json::array();
  for (size_t round = 0; round < options.max_rounds; ++round) {
    if (XGBoosterUpdateOneIter(booster->handle, static_cast<int>(round), train_matrix.get()) != 0) {
      return XgboostError("boosting round " + std::to_string(round + 1));
    }
    const char* line = nullptr;
    if (XGBoosterEvalOneIter(booster->handle, static_cast<int>(round), eval_sets, eval_names, 2, &line) != 0) {
      return XgboostError("evaluating round " + std::to_string(round + 1));
    }
    progress.round = round + 1;
    progress.train_ndcg = MetricFromEvalLine(line, "train-ndcg@10");
    progress.validation_ndcg = MetricFromEvalLine(line, "valid-ndcg@10");
    if (progress.validation_ndcg > best) {
      best = progress.validation_ndcg;
      progress.best_round = round + 1;
    }
    history.push_back({{"round", progress.round}, {"train_ndcg@10", progress.train_ndcg},
                       {"validation_ndcg@10", progress.validation_ndcg}});
    if (on_progress) on_progress(progress);
    if (round + 1 - progress.best_round >= options.patience) break;
  }
  if (linear && progress.best_round < progress.round) {
    // The linear booster cannot be cut back, but its cyclic coordinate descent is deterministic:
    // the same rounds from scratch give the best round's weights.
    RankerTrainingOptions best_only = options;
    best_only.max_rounds = progress.best_round;
    best_only.patience = progress.best_round;
    Result<std::unique_ptr<XgboostRanker>> retrained = Train(train, validation, best_only);
    if (!retrained.ok()) return retrained.status();
    (*retrained)->report_["rounds_run"] = progress.round;
    (*retrained)->report_["history"] = history;
    return retrained;
  }
  if (!linear && progress.best_round < progress.round) {
    BoosterHandle sliced = nullptr;
    if (XGBoosterSlice(booster->handle, 0, static_cast<int>(progress.best_round), 1, &sliced) != 0) {
      return XgboostError("cutting the model back to round " + std::to_string(progress.best_round));
    }
    XGBoosterFree(booster->handle);
    booster->handle = sliced;
  }
  // Serving predicts on one thread: a query's few hundred rows are too few to share.
  if (XGBoosterSetParam(booster->handle, "nthread", "1") != 0) return XgboostError("setting nthread");

  std::unique_ptr<XgboostRanker> ranker(new XgboostRanker(options.kind, features, std::move(booster)));
  ranker->consensus_depth_ = options.consensus_depth;
  ranker->learned_personal_ = HasPersonalValues(train, features);

  // The personal scale: the median spread of scores within a training query, so that a personal
  // boost moves a result as far in a learned ranking as in the baseline's [0, 1].
  const std::vector<float> scores = ranker->Predict(train.values, train.rows());
  std::vector<float> spreads;
  size_t begin = 0;
  for (uint32_t size : train.group_sizes) {
    if (size > 1) {
      auto [low, high] = std::minmax_element(scores.begin() + begin, scores.begin() + begin + size);
      spreads.push_back(*high - *low);
    }
    begin += size;
  }
  if (!spreads.empty()) {
    std::nth_element(spreads.begin(), spreads.begin() + spreads.size() / 2, spreads.end());
    ranker->personal_scale_ = std::max(1e-3f, spreads[spreads.size() / 2]);
  }

  ranker->report_ = {
      {"kind", RankerKindName(options.kind)},
      {"max_rounds", options.max_rounds},
      {"rounds_run", progress.round},
      {"best_round", progress.best_round},
      {"validation_ndcg@10", best},
      {"learning_rate", options.learning_rate},
      {"seed", options.seed},
      {"train_queries", train.group_sizes.size()},
      {"train_rows", train.rows()},
      {"validation_queries", validation.group_sizes.size()},
      {"validation_rows", validation.rows()},
      {"history", history},
  };
  if (!linear) {
    ranker->report_["objective"] = options.tree_objective;
    ranker->report_["max_depth"] = options.max_depth;
    ranker->report_["min_child_weight"] = options.min_child_weight;
    ranker->report_["subsample"] = options.subsample;
  }
  return ranker;
}

std::vector<float> XgboostRanker::Predict(const std::vector<float>& values, size_t rows) const {
  std::vector<float> scores(rows, 0.0f);
  if (rows == 0) return scores;
  const std::vector<float> columns = SelectColumns(values, rows, features_);
  const bst_ulong* shape = nullptr;
  bst_ulong dimension = 0;
  const float* result = nullptr;
  int failed = 0;
  if (kind_ == RankerKind::kLambdaMart) {
    // In-place prediction: no DMatrix, and safe to run concurrently.
    char array[256];
    std::snprintf(array, sizeof(array),
                  R"({"data": [%llu, true], "shape": [%zu, %zu], "typestr": "<f4", "version": 3})",
                  static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(columns.data())), rows, features_.size());
    static constexpr char kConfig[] =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";
    failed = XGBoosterPredictFromDense(booster_->handle, array, kConfig, nullptr, &shape, &dimension, &result);
    if (failed == 0) std::copy(result, result + rows, scores.begin());
  } else {
    // XGBoost 1.7's linear booster has no in-place prediction, so it goes through a DMatrix,
    // whose prediction buffers the booster shares.
    Matrix matrix;
    if (!MakeMatrix(columns, rows, features_.size(), &matrix).ok()) return scores;
    static constexpr char kConfig[] =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
    std::lock_guard lock(booster_->dmatrix_mutex);
    failed = XGBoosterPredictFromDMatrix(booster_->handle, matrix.get(), kConfig, &shape, &dimension, &result);
    if (failed == 0) std::copy(result, result + rows, scores.begin());
  }
  // Only a broken build or model gets here: the input's shape is ours.
  if (failed != 0) spdlog::error("ranker prediction failed in XGBoost: {}", XGBGetLastError());
  return scores;
}

void XgboostRanker::Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const {
  const std::vector<float> scores = Predict(features.values(), features.rows());
  for (RankedItem& item : *items) {
    item.relevance = scores[item.row];
    item.score = item.relevance + item.personal_boost;
  }
  SortByScore(items);
}

ScoreExplanation XgboostRanker::Explain(const FeatureMatrix& features, size_t row) const {
  ScoreExplanation explanation;
  const std::span<const float> values = features.Row(row);
  std::vector<float> columns;
  for (Feature f : features_) columns.push_back(values[static_cast<size_t>(f)]);

  Matrix matrix;
  if (!MakeMatrix(columns, 1, columns.size(), &matrix).ok()) return explanation;
  static constexpr char kConfig[] =
      R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dimension = 0;
  const float* result = nullptr;
  std::lock_guard lock(booster_->dmatrix_mutex);
  if (XGBoosterPredictFromDMatrix(booster_->handle, matrix.get(), kConfig, &shape, &dimension, &result) != 0) {
    return explanation;
  }
  // One value per feature, then the bias.
  for (size_t c = 0; c < features_.size(); ++c) explanation.contributions.push_back({features_[c], columns[c], result[c]});
  explanation.bias = result[features_.size()];
  return explanation;
}

Status XgboostRanker::Save(const std::string& path) const {
  bst_ulong length = 0;
  const char* bytes = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_->handle, R"({"format": "ubj"})", &length, &bytes) != 0) {
    return XgboostError("serializing the ranker");
  }
  const nlohmann::json header = {
      {"kind", RankerKindName(kind_)},
      {"feature_schema_version", kFeatureSchemaVersion},
      {"features", FeatureNames(features_)},
      {"personal_scale", personal_scale_},
      {"consensus_depth", consensus_depth_},
      {"learned_personal", learned_personal_},
      {"training", report_},
  };
  return WriteFileAtomically(path, PackModelFile(kRankerFile, header.dump(2), std::string_view(bytes, length)));
}

Result<std::unique_ptr<XgboostRanker>> XgboostRanker::Load(const std::string& path) {
  Result<ModelFileParts> parts = ReadModelFile(kRankerFile, path);
  if (!parts.ok()) return parts.status();

  // Header: kind, and the features against the ones this build extracts.
  nlohmann::json header;
  RankerKind kind;
  std::vector<Feature> features;
  float personal_scale = 1;
  size_t consensus_depth = 0;
  bool learned_personal = false;
  try {
    header = nlohmann::json::parse(parts->header);
    Result<RankerKind> parsed_kind = RankerKindFromName(header.at("kind").get<std::string>());
    if (!parsed_kind.ok()) return Status::Corruption("ranker model file " + path + ": " + parsed_kind.status().message());
    kind = *parsed_kind;
    const auto schema = header.at("feature_schema_version").get<uint32_t>();
    if (schema != kFeatureSchemaVersion) {
      return Status::InvalidArgument("ranker model file " + path + " was trained on feature schema version " +
                                     std::to_string(schema) + ", but this build extracts version " +
                                     std::to_string(kFeatureSchemaVersion) + ": retrain it with `tessera train-ranker`");
    }
    std::string unknown;
    for (const auto& name : header.at("features")) {
      const Feature feature = FeatureByName(name.get<std::string>());
      if (feature == Feature::kCount) {
        unknown += (unknown.empty() ? "" : ", ") + name.get<std::string>();
      } else {
        features.push_back(feature);
      }
    }
    if (!unknown.empty()) {
      return Status::InvalidArgument("ranker model file " + path + " reads features this build does not extract (" +
                                     unknown + "): retrain it with `tessera train-ranker`");
    }
    personal_scale = header.at("personal_scale").get<float>();
    consensus_depth = header.at("consensus_depth").get<size_t>();
    // Files written before the key existed were trained without shoppers.
    learned_personal = header.value("learned_personal", false);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption("ranker model file " + path + " has an unreadable header: " + e.what());
  }

  // The booster, whose feature count must match the header's list.
  auto booster = std::make_unique<Booster>();
  if (XGBoosterCreate(nullptr, 0, &booster->handle) != 0) return XgboostError("creating a booster");
  if (XGBoosterLoadModelFromBuffer(booster->handle, parts->payload.data(), parts->payload.size()) != 0) {
    return Status::Corruption("ranker model file " + path + " has an unreadable model: " + XGBGetLastError());
  }
  bst_ulong booster_features = 0;
  if (XGBoosterGetNumFeature(booster->handle, &booster_features) != 0) return XgboostError("reading the feature count");
  if (booster_features != features.size()) {
    return Status::Corruption("ranker model file " + path + " lists " + std::to_string(features.size()) +
                              " features, but its model reads " + std::to_string(booster_features));
  }
  if (XGBoosterSetParam(booster->handle, "nthread", "1") != 0) return XgboostError("setting nthread");

  std::unique_ptr<XgboostRanker> ranker(new XgboostRanker(kind, std::move(features), std::move(booster)));
  ranker->personal_scale_ = personal_scale;
  ranker->consensus_depth_ = consensus_depth;
  ranker->learned_personal_ = learned_personal;
  ranker->report_ = header.value("training", nlohmann::json::object());
  return ranker;
}

}  // namespace tessera
