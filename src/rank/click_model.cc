#include "rank/click_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/model_file.h"
#include "encode/module_weights.h"
#include "rank/click_model_net.h"

namespace tessera {

namespace {

using nlohmann::json;

constexpr ModelFileKind kClickModelFile{"TSCLICKM", kClickModelFormatVersion, "click model",
                                        "tessera train-click-model"};

// Rows per forward pass in Evaluate.
constexpr size_t kEvaluationBatch = 4096;

int64_t InputWidth(const ClickModelConfig& c) {
  const auto features = static_cast<int64_t>(ClickModelFeatures().size());
  return 3 * static_cast<int64_t>(c.text_embedding_dim) + static_cast<int64_t>(c.photo_hidden_dim) + 1 +
         static_cast<int64_t>(c.audio_hidden_dim) + 1 + 2 * features;
}

json ConfigJson(const ClickModelConfig& c) {
  return {{"photo", {{"encoder", c.photo_encoder}, {"dimension", c.photo_dimension}, {"hidden_dim", c.photo_hidden_dim}}},
          {"text", {{"embedding_dim", c.text_embedding_dim},
                    {"hashing", {{"function", "fnv1a64"}, {"buckets", c.hashing.buckets},
                                 {"word_bigrams", c.hashing.word_bigrams}, {"char_trigrams", c.hashing.char_trigrams},
                                 {"cjk_char_ngrams", c.hashing.cjk_char_ngrams}}}}},
          {"audio", {{"mfcc_coefficients", c.mfcc_coefficients}, {"gru_hidden_dim", c.audio_hidden_dim}}},
          {"hidden_dim", c.hidden_dim},
          {"max_rank", c.max_rank}};
}

ClickModelConfig ConfigFromJson(const json& j) {
  ClickModelConfig c;
  c.photo_encoder = j.at("photo").at("encoder").get<std::string>();
  c.photo_dimension = j.at("photo").at("dimension").get<size_t>();
  c.photo_hidden_dim = j.at("photo").at("hidden_dim").get<size_t>();
  c.text_embedding_dim = j.at("text").at("embedding_dim").get<size_t>();
  const json& hashing = j.at("text").at("hashing");
  c.hashing.buckets = hashing.at("buckets").get<uint32_t>();
  c.hashing.word_bigrams = hashing.at("word_bigrams").get<bool>();
  c.hashing.char_trigrams = hashing.at("char_trigrams").get<bool>();
  c.hashing.cjk_char_ngrams = hashing.at("cjk_char_ngrams").get<bool>();
  c.mfcc_coefficients = j.at("audio").at("mfcc_coefficients").get<size_t>();
  c.audio_hidden_dim = j.at("audio").at("gru_hidden_dim").get<size_t>();
  c.hidden_dim = j.at("hidden_dim").get<size_t>();
  c.max_rank = j.at("max_rank").get<size_t>();
  return c;
}

}  // namespace

std::vector<Feature> ClickModelFeatures() {
  return {Feature::kRetrievalScore, Feature::kBm25f,    Feature::kBm25Title,   Feature::kBm25Category,
          Feature::kBm25Attributes, Feature::kCoverage, Feature::kExactMatch, Feature::kCosineFused};
}

double RocAuc(std::span<const float> scores, std::span<const float> labels) {
  // Mann-Whitney U over the ranks of the scores, ties sharing their mean rank.
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] > 0.5f) {
        positive_rank_sum += mean_rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

// The torch modules.

ClickModelNetImpl::ClickModelNetImpl(const ClickModelConfig& c) : config(c) {
  const auto features = static_cast<int64_t>(ClickModelFeatures().size());
  const auto photo_dim = static_cast<int64_t>(std::max<size_t>(c.photo_dimension, 1));
  text = register_module("text", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(
                                                             static_cast<int64_t>(c.hashing.buckets),
                                                             static_cast<int64_t>(c.text_embedding_dim))
                                                             .mode(torch::kMean)));
  photo_mean = register_buffer("photo_mean", torch::zeros({photo_dim}));
  photo_inverse_std = register_buffer("photo_inverse_std", torch::ones({photo_dim}));
  feature_mean = register_buffer("feature_mean", torch::zeros({features}));
  feature_inverse_std = register_buffer("feature_inverse_std", torch::ones({features}));
  photo = register_module("photo", torch::nn::Linear(photo_dim, static_cast<int64_t>(c.photo_hidden_dim)));
  audio = register_module("audio", torch::nn::GRU(torch::nn::GRUOptions(static_cast<int64_t>(c.mfcc_coefficients),
                                                                        static_cast<int64_t>(c.audio_hidden_dim))
                                                      .batch_first(true)));
  hidden = register_module("hidden", torch::nn::Linear(InputWidth(c), static_cast<int64_t>(c.hidden_dim)));
  output = register_module("output", torch::nn::Linear(static_cast<int64_t>(c.hidden_dim), 1));
  position = register_parameter("position", torch::zeros({static_cast<int64_t>(c.max_rank) + 1}));
}

torch::Tensor ClickModelNetImpl::Relevance(const ClickBatch& batch) {
  const int64_t rows = batch.features.size(0);

  // Text: query and title share the embedding table, so the same word means the same on both sides.
  const torch::Tensor query = text(batch.query_ids, batch.query_offsets);
  const torch::Tensor title = text(batch.title_ids, batch.title_offsets);

  // Photo: zero for a product without one, whatever the layer's bias.
  const torch::Tensor photo_part =
      torch::relu(photo((batch.photo - photo_mean) * photo_inverse_std)) * batch.has_photo;

  // Audio: the GRU's last hidden state of each spoken query; zeros for typed ones.
  torch::Tensor audio_part = torch::zeros({rows, static_cast<int64_t>(config.audio_hidden_dim)});
  torch::Tensor has_audio = torch::zeros({rows, 1});
  if (!batch.audio.empty()) {
    std::vector<torch::Tensor> states;
    for (const torch::Tensor& frames : batch.audio) {
      states.push_back(std::get<1>(audio->forward(frames.unsqueeze(0))).reshape({-1}));
    }
    const torch::Tensor index = torch::tensor(batch.audio_rows, torch::kInt64);
    audio_part = audio_part.index_copy(0, index, torch::stack(states));
    has_audio = has_audio.index_fill(0, index, 1.0);
  }

  // Ranking features: standardized, a missing value at the mean with its flag set.
  const torch::Tensor missing = torch::isnan(batch.features);
  const torch::Tensor standardized =
      torch::where(missing, torch::zeros_like(batch.features), (batch.features - feature_mean) * feature_inverse_std);

  const torch::Tensor x = torch::cat({query, title, query * title, photo_part, batch.has_photo, audio_part, has_audio,
                                      standardized, missing.to(torch::kFloat)},
                                     1);
  return output(torch::relu(hidden(x))).reshape({rows});
}

torch::Tensor ClickModelNetImpl::LogExamination(const torch::Tensor& rank) {
  const torch::Tensor r = rank.clamp(0, static_cast<int64_t>(config.max_rank));
  const torch::Tensor log_examine = -torch::nn::functional::softplus(position.index_select(0, r));
  return torch::where(r >= 2, log_examine, torch::zeros_like(log_examine));
}

ClickBatch MakeClickBatch(const ClickModelConfig& config, std::span<const ClickRowInput> rows) {
  const auto count = static_cast<int64_t>(rows.size());
  const auto features = static_cast<int64_t>(ClickModelFeatures().size());
  const auto photo_dim = static_cast<int64_t>(std::max<size_t>(config.photo_dimension, 1));
  std::vector<int64_t> query_ids, query_offsets, title_ids, title_offsets, ranks;
  std::vector<float> photo(static_cast<size_t>(count * photo_dim), 0.0f), has_photo(rows.size(), 0.0f);
  std::vector<float> feature_values(static_cast<size_t>(count * features), std::nanf(""));
  std::vector<float> clicked;
  ClickBatch batch;

  // Flat buffers, one row at a time.
  for (size_t i = 0; i < rows.size(); ++i) {
    const ClickRowInput& row = rows[i];
    query_offsets.push_back(static_cast<int64_t>(query_ids.size()));
    query_ids.insert(query_ids.end(), row.query_features->begin(), row.query_features->end());
    title_offsets.push_back(static_cast<int64_t>(title_ids.size()));
    title_ids.insert(title_ids.end(), row.title_features->begin(), row.title_features->end());
    if (row.photo != nullptr && !row.photo->empty() && row.photo->size() == config.photo_dimension) {
      std::copy(row.photo->begin(), row.photo->end(), photo.begin() + static_cast<int64_t>(i) * photo_dim);
      has_photo[i] = 1.0f;
    }
    if (row.audio != nullptr && row.audio->frames > 0) {
      batch.audio.push_back(torch::tensor(row.audio->values)
                                .reshape({static_cast<int64_t>(row.audio->frames),
                                          static_cast<int64_t>(row.audio->coefficients)}));
      batch.audio_rows.push_back(static_cast<int64_t>(i));
    }
    if (!row.features.empty()) {
      std::copy(row.features.begin(), row.features.end(), feature_values.begin() + static_cast<int64_t>(i) * features);
    }
    ranks.push_back(row.rank);
    clicked.push_back(row.clicked);
  }

  // The buffers as tensors.
  auto longs = [](const std::vector<int64_t>& v) {
    return torch::tensor(v, torch::kInt64).reshape({static_cast<int64_t>(v.size())});
  };
  batch.query_ids = longs(query_ids);
  batch.query_offsets = longs(query_offsets);
  batch.title_ids = longs(title_ids);
  batch.title_offsets = longs(title_offsets);
  batch.photo = torch::tensor(photo).reshape({count, photo_dim});
  batch.has_photo = torch::tensor(has_photo).reshape({count, 1});
  batch.features = torch::tensor(feature_values).reshape({count, features});
  batch.rank = longs(ranks);
  batch.clicked = torch::tensor(clicked).reshape({count});
  return batch;
}

std::pair<torch::Tensor, torch::Tensor> ClickLogProbabilities(ClickModelNet& net, const ClickBatch& batch) {
  // log P(click) <= log 0.9999999, so log(1 - P) = log(-expm1(log P)) stays finite.
  const torch::Tensor log_click =
      (torch::log_sigmoid(net->Relevance(batch)) + net->LogExamination(batch.rank)).clamp_max(-1e-7);
  return {log_click, torch::log(-torch::expm1(log_click))};
}

// The model.

struct ClickModel::Rep {
  ClickModelConfig config;
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<TextFeaturizer> featurizer;
  ClickModelNet net{nullptr};
  json report = json::object();
};

ClickModelNet& ClickModelAccess::Net(ClickModel& model) { return model.rep_->net; }
const TextFeaturizer& ClickModelAccess::Featurizer(const ClickModel& model) { return *model.rep_->featurizer; }

ClickModel::ClickModel(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
ClickModel::~ClickModel() = default;

Result<std::unique_ptr<ClickModel>> ClickModel::Build(const ClickModelConfig& config) {
  if (config.hashing.buckets == 0 || config.text_embedding_dim == 0 || config.photo_hidden_dim == 0 ||
      config.audio_hidden_dim == 0 || config.mfcc_coefficients == 0 || config.hidden_dim == 0 || config.max_rank == 0) {
    return Status::InvalidArgument("click model sizes must all be above 0");
  }
  Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
  if (!analyzer.ok()) return analyzer.status();
  auto rep = std::make_unique<Rep>();
  rep->config = config;
  rep->analyzer = std::move(analyzer).value();
  rep->featurizer = std::make_unique<TextFeaturizer>(rep->analyzer.get(), config.hashing);
  rep->net = ClickModelNet(config);
  rep->net->eval();
  return std::unique_ptr<ClickModel>(new ClickModel(std::move(rep)));
}

Result<std::unique_ptr<ClickModel>> ClickModel::Load(const std::string& path) {
  Result<ModelFileParts> parts = ReadModelFile(kClickModelFile, path);
  if (!parts.ok()) return parts.status();

  // Header: the feature schema and the features, before the weights.
  ClickModelConfig config;
  json report;
  try {
    const json header = json::parse(parts->header);
    const auto schema = header.at("feature_schema_version").get<uint32_t>();
    if (schema != kFeatureSchemaVersion) {
      return Status::InvalidArgument("click model " + path + " was trained on feature schema " + std::to_string(schema) +
                                     ", but this build extracts schema " + std::to_string(kFeatureSchemaVersion) +
                                     ": retrain it with `tessera train-click-model`");
    }
    std::vector<std::string> expected;
    for (Feature f : ClickModelFeatures()) expected.push_back(FeatureName(f));
    if (header.at("features").get<std::vector<std::string>>() != expected) {
      return Status::InvalidArgument("click model " + path + " reads the features " + header.at("features").dump() +
                                     ", but this build's click model reads " + json(expected).dump() +
                                     ": retrain it with `tessera train-click-model`");
    }
    config = ConfigFromJson(header.at("config"));
    report = header.value("training", json::object());
  } catch (const json::exception& e) {
    return Status::Corruption("click model " + path + " has an invalid header: " + e.what());
  }

  // Weights.
  Result<std::unique_ptr<ClickModel>> model = Build(config);
  if (!model.ok()) return Status::Corruption("click model " + path + ": " + model.status().message());
  TESSERA_RETURN_IF_ERROR(LoadWeights(*(*model)->rep_->net, parts->payload, "click model " + path));
  (*model)->rep_->net->eval();
  (*model)->rep_->report = std::move(report);
  return model;
}

Status ClickModel::Save(const std::string& path) const {
  Result<std::string> weights = SerializeWeights(*rep_->net, "click model");
  if (!weights.ok()) return weights.status();
  std::vector<std::string> features;
  for (Feature f : ClickModelFeatures()) features.push_back(FeatureName(f));
  const json header = {{"model", "tessera-click-model"},
                       {"feature_schema_version", kFeatureSchemaVersion},
                       {"features", features},
                       {"config", ConfigJson(rep_->config)},
                       {"training", rep_->report}};
  return WriteFileAtomically(path, PackModelFile(kClickModelFile, header.dump(2), *weights));
}

std::vector<float> ClickModel::Score(const ClickQueryInput& query, std::span<const ClickProductInput* const> products,
                                     const FeatureMatrix& features) const {
  if (products.empty()) return {};
  c10::InferenceMode inference;
  const std::vector<int64_t> query_features = rep_->featurizer->Features(query.text);
  std::vector<std::vector<int64_t>> title_features(products.size());
  std::vector<std::vector<float>> feature_rows(products.size());
  std::vector<ClickRowInput> rows(products.size());
  for (size_t i = 0; i < products.size(); ++i) {
    title_features[i] = rep_->featurizer->Features(products[i]->title);
    for (Feature f : ClickModelFeatures()) feature_rows[i].push_back(i < features.rows() ? features.At(i, f) : kMissingFeature);
    rows[i] = {&query_features, &title_features[i], &products[i]->photo, &query.audio, feature_rows[i], 0, 0};
  }
  const torch::Tensor relevance = rep_->net->Relevance(MakeClickBatch(rep_->config, rows)).contiguous();
  return {relevance.data_ptr<float>(), relevance.data_ptr<float>() + relevance.numel()};
}

std::vector<float> ClickModel::FeatureAttributions(const ClickQueryInput& query, const ClickProductInput& product,
                                                   std::span<const float> features) const {
  // Autograd with respect to the input only: torch::autograd::grad returns the gradient without
  // writing it into the parameters' .grad, so concurrent calls do not share state.
  torch::AutoGradMode with_gradients(true);
  const std::vector<int64_t> query_features = rep_->featurizer->Features(query.text);
  const std::vector<int64_t> title_features = rep_->featurizer->Features(product.title);
  const ClickRowInput row{&query_features, &title_features, &product.photo, &query.audio, features, 0, 0};
  ClickBatch batch = MakeClickBatch(rep_->config, std::span<const ClickRowInput>(&row, 1));
  batch.features = batch.features.clone().set_requires_grad(true);
  const torch::Tensor relevance = rep_->net->Relevance(batch).sum();
  const torch::Tensor gradient = torch::autograd::grad({relevance}, {batch.features})[0].reshape({-1}).contiguous();

  const torch::Tensor mean = rep_->net->feature_mean.contiguous();
  std::vector<float> attributions;
  for (size_t f = 0; f < ClickModelFeatures().size(); ++f) {
    const float value = f < features.size() ? features[f] : kMissingFeature;
    const auto i = static_cast<int64_t>(f);
    attributions.push_back(std::isnan(value) ? 0.0f : gradient[i].item<float>() * (value - mean[i].item<float>()));
  }
  return attributions;
}

ClickMetrics ClickModel::Evaluate(const ClickDataset& data, std::span<const ClickExample> examples) const {
  ClickMetrics metrics;
  metrics.examples = examples.size();
  if (examples.empty()) return metrics;
  c10::InferenceMode inference;

  // Text features once per query and product that the examples use.
  std::vector<std::vector<int64_t>> query_features(data.queries.size()), title_features(data.products.size());
  std::vector<bool> query_done(data.queries.size()), title_done(data.products.size());
  for (const ClickExample& e : examples) {
    if (!query_done[e.query]) query_features[e.query] = rep_->featurizer->Features(data.queries[e.query].text);
    if (!title_done[e.product]) title_features[e.product] = rep_->featurizer->Features(data.products[e.product].title);
    query_done[e.query] = title_done[e.product] = true;
  }

  std::vector<float> predictions, labels;
  double loss_sum = 0;
  for (size_t begin = 0; begin < examples.size(); begin += kEvaluationBatch) {
    const size_t end = std::min(examples.size(), begin + kEvaluationBatch);
    std::vector<ClickRowInput> rows;
    for (size_t i = begin; i < end; ++i) {
      const ClickExample& e = examples[i];
      rows.push_back({&query_features[e.query], &title_features[e.product], &data.products[e.product].photo,
                      &data.queries[e.query].audio, e.features, e.rank, e.clicked});
    }
    const ClickBatch batch = MakeClickBatch(rep_->config, rows);
    const auto [log_click, log_no_click] = ClickLogProbabilities(rep_->net, batch);
    loss_sum -= (batch.clicked * log_click + (1 - batch.clicked) * log_no_click).sum().item<double>();
    const torch::Tensor p = torch::exp(log_click).contiguous();
    predictions.insert(predictions.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    for (size_t i = begin; i < end; ++i) labels.push_back(examples[i].clicked);
  }
  double correct = 0, clicks = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    correct += (predictions[i] >= 0.5f) == (labels[i] > 0.5f) ? 1 : 0;
    clicks += labels[i];
  }
  const auto n = static_cast<double>(predictions.size());
  metrics.click_rate = clicks / n;
  metrics.loss = loss_sum / n;
  metrics.accuracy = correct / n;
  metrics.auc = RocAuc(predictions, labels);
  return metrics;
}

std::vector<double> ClickModel::Examination() const {
  c10::InferenceMode inference;
  const torch::Tensor ranks = torch::arange(1, static_cast<int64_t>(rep_->config.max_rank) + 1, torch::kInt64);
  const torch::Tensor p = torch::exp(rep_->net->LogExamination(ranks)).to(torch::kDouble).contiguous();
  return {p.data_ptr<double>(), p.data_ptr<double>() + p.numel()};
}

const ClickModelConfig& ClickModel::config() const { return rep_->config; }
json& ClickModel::report() { return rep_->report; }
const json& ClickModel::report() const { return rep_->report; }

}  // namespace tessera
