// ClickModel::Train: Adam on the binary cross-entropy of P(click) = sigmoid(f) x P(examine rank).
#include <chrono>
#include <cmath>
#include <random>

#include "rank/click_model.h"
#include "rank/click_model_net.h"

namespace tessera {

namespace {

using nlohmann::json;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Fisher-Yates on the raw engine output, so the order is the same under every standard library.
void Shuffle(std::vector<size_t>* items, std::mt19937_64* engine) {
  for (size_t i = items->size(); i > 1; --i) {
    const uint64_t bound = i;
    const uint64_t threshold = (0 - bound) % bound;
    uint64_t draw = (*engine)();
    while (draw < threshold) draw = (*engine)();
    std::swap((*items)[i - 1], (*items)[draw % bound]);
  }
}

Status Validate(const ClickDataset& data, const ClickModelConfig& config) {
  if (data.train.empty()) return Status::InvalidArgument("no training example: simulate or read a click log first");
  const size_t features = ClickModelFeatures().size();
  for (const auto* set : {&data.train, &data.validation}) {
    for (const ClickExample& e : *set) {
      if (e.query >= data.queries.size() || e.product >= data.products.size()) {
        return Status::InvalidArgument("click example refers to query " + std::to_string(e.query) + " or product " +
                                       std::to_string(e.product) + ", outside the data set");
      }
      if (!e.features.empty() && e.features.size() != features) {
        return Status::InvalidArgument("click example has " + std::to_string(e.features.size()) + " features, expected " +
                                       std::to_string(features));
      }
    }
  }
  for (const ClickProductInput& p : data.products) {
    if (!p.photo.empty() && p.photo.size() != config.photo_dimension) {
      return Status::InvalidArgument("a product photo vector has " + std::to_string(p.photo.size()) +
                                     " floats, but the model reads " + std::to_string(config.photo_dimension) +
                                     " (" + config.photo_encoder + ")");
    }
  }
  for (const ClickQueryInput& q : data.queries) {
    if (q.audio.frames > 0 && q.audio.coefficients != config.mfcc_coefficients) {
      return Status::InvalidArgument("a query has " + std::to_string(q.audio.coefficients) +
                                     " MFCC coefficients per frame, but the model reads " +
                                     std::to_string(config.mfcc_coefficients));
    }
  }
  return Status::Ok();
}

// Mean and 1 / standard deviation per column of `rows` (NaN skipped). A deviation below `floor`
// is raised to it, so a constant column does not blow up.
std::pair<torch::Tensor, torch::Tensor> ColumnStatistics(const std::vector<const float*>& rows, size_t columns,
                                                         double floor) {
  std::vector<double> sum(columns, 0), square(columns, 0), count(columns, 0);
  for (const float* row : rows) {
    for (size_t c = 0; c < columns; ++c) {
      if (std::isnan(row[c])) continue;
      sum[c] += row[c];
      square[c] += double(row[c]) * row[c];
      count[c] += 1;
    }
  }
  std::vector<float> mean(columns, 0), inverse_std(columns, 1);
  for (size_t c = 0; c < columns; ++c) {
    if (count[c] == 0) continue;
    const double m = sum[c] / count[c];
    const double variance = std::max(0.0, square[c] / count[c] - m * m);
    mean[c] = static_cast<float>(m);
    inverse_std[c] = static_cast<float>(1.0 / std::max(std::sqrt(variance), floor));
  }
  return {torch::tensor(mean), torch::tensor(inverse_std)};
}

std::vector<std::pair<std::string, torch::Tensor>> Snapshot(ClickModelNet& net) {
  std::vector<std::pair<std::string, torch::Tensor>> copy;
  for (const auto& item : net->named_parameters()) copy.emplace_back(item.key(), item.value().detach().clone());
  return copy;
}

void Restore(ClickModelNet& net, const std::vector<std::pair<std::string, torch::Tensor>>& copy) {
  torch::NoGradGuard no_grad;
  auto parameters = net->named_parameters();
  for (const auto& [name, value] : copy) parameters[name].copy_(value);
}

json MetricsJson(const ClickMetrics& m) {
  return {{"examples", m.examples}, {"click_rate", m.click_rate}, {"loss", m.loss}, {"accuracy", m.accuracy}, {"auc", m.auc}};
}

}  // namespace

Result<std::unique_ptr<ClickModel>> ClickModel::Train(const ClickDataset& data, const ClickModelConfig& config,
                                                      const ClickTrainingOptions& options,
                                                      const std::function<void(const ClickTrainingProgress&)>& on_progress) {
  TESSERA_RETURN_IF_ERROR(Validate(data, config));
  if (options.batch_size == 0 || options.epochs == 0) return Status::InvalidArgument("--batch-size and --epochs must be above 0");
  torch::set_num_threads(std::max(1, options.threads));
  torch::manual_seed(options.seed);
  Result<std::unique_ptr<ClickModel>> built = Build(config);
  if (!built.ok()) return built.status();
  std::unique_ptr<ClickModel> model = std::move(built).value();
  ClickModelNet& net = ClickModelAccess::Net(*model);
  const TextFeaturizer& featurizer = ClickModelAccess::Featurizer(*model);

  // Input statistics from the training examples: photo columns over distinct products, feature
  // columns over examples. The photo floor is 1% of the mean deviation, as in the joint space.
  const size_t feature_count = ClickModelFeatures().size();
  std::vector<const float*> feature_rows, photo_rows;
  std::vector<bool> photo_seen(data.products.size());
  for (const ClickExample& e : data.train) {
    if (!e.features.empty()) feature_rows.push_back(e.features.data());
    if (!photo_seen[e.product] && !data.products[e.product].photo.empty()) photo_rows.push_back(data.products[e.product].photo.data());
    photo_seen[e.product] = true;
  }
  {
    torch::NoGradGuard no_grad;
    auto [feature_mean, feature_inverse_std] = ColumnStatistics(feature_rows, feature_count, 1e-3);
    net->feature_mean.copy_(feature_mean);
    net->feature_inverse_std.copy_(feature_inverse_std);
    if (config.photo_dimension > 0 && !photo_rows.empty()) {
      auto [photo_mean, photo_inverse_std] = ColumnStatistics(photo_rows, config.photo_dimension, 0.0);
      const float mean_std = (1.0f / photo_inverse_std.clamp_max(1e12)).mean().item<float>();
      photo_inverse_std = 1.0f / (1.0f / photo_inverse_std).clamp_min(std::max(0.01f * mean_std, 1e-6f));
      net->photo_mean.copy_(photo_mean);
      net->photo_inverse_std.copy_(photo_inverse_std);
    }
  }

  // Text features once per query and product.
  std::vector<std::vector<int64_t>> query_features(data.queries.size()), title_features(data.products.size());
  for (size_t q = 0; q < data.queries.size(); ++q) query_features[q] = featurizer.Features(data.queries[q].text);
  for (size_t p = 0; p < data.products.size(); ++p) title_features[p] = featurizer.Features(data.products[p].title);
  auto row_of = [&](const ClickExample& e) {
    return ClickRowInput{&query_features[e.query], &title_features[e.product], &data.products[e.product].photo,
                         &data.queries[e.query].audio, e.features, e.rank, e.clicked};
  };

  // The examination terms get 10 times the learning rate. Adam moves a parameter by about the
  // learning rate per step, whatever its gradient. These few scalars start at P = 0.5 and may
  // need to move 2 or more in log-odds, which at 2e-3 takes more steps than a small log gives.
  std::vector<torch::Tensor> network_parameters;
  for (const auto& item : net->named_parameters()) {
    if (item.key() != "position") network_parameters.push_back(item.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(network_parameters, std::make_unique<torch::optim::AdamOptions>(options.learning_rate));
  groups.emplace_back(std::vector<torch::Tensor>{net->position},
                      std::make_unique<torch::optim::AdamOptions>(10 * options.learning_rate));
  torch::optim::Adam adam(std::move(groups), torch::optim::AdamOptions(options.learning_rate));
  std::mt19937_64 engine(options.seed);
  std::vector<size_t> order(data.train.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const size_t batches = (order.size() + options.batch_size - 1) / options.batch_size;
  json history = json::array();
  double best_loss = INFINITY;
  size_t best_epoch = 0;
  std::vector<std::pair<std::string, torch::Tensor>> best_weights;
  const auto start = std::chrono::steady_clock::now();

  for (size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    Shuffle(&order, &engine);
    net->train();
    double loss_sum = 0;
    ClickTrainingProgress progress{epoch, options.epochs, 0, batches, 0, 0};
    for (size_t b = 0; b < batches; ++b) {
      std::vector<ClickRowInput> rows;
      for (size_t i = b * options.batch_size; i < std::min(order.size(), (b + 1) * options.batch_size); ++i) {
        rows.push_back(row_of(data.train[order[i]]));
      }
      const ClickBatch batch = MakeClickBatch(config, rows);
      adam.zero_grad();
      const auto [log_click, log_no_click] = ClickLogProbabilities(net, batch);
      const torch::Tensor loss = -(batch.clicked * log_click + (1 - batch.clicked) * log_no_click).mean();
      loss.backward();
      adam.step();
      loss_sum += loss.item<double>();
      progress.batch = b + 1;
      progress.train_loss = loss_sum / static_cast<double>(b + 1);
      if (on_progress && b + 1 < batches) on_progress(progress);
    }

    // Validation loss of this epoch's weights; the best epoch's weights are kept.
    net->eval();
    const ClickMetrics validation = model->Evaluate(data, data.validation);
    progress.validation_loss = validation.loss;
    if (on_progress) on_progress(progress);
    history.push_back({{"epoch", epoch}, {"train_loss", progress.train_loss},
                       {"validation", MetricsJson(validation)}, {"seconds", SecondsSince(epoch_start)}});
    const double score = data.validation.empty() ? -static_cast<double>(epoch) : validation.loss;
    if (score < best_loss) {
      best_loss = score;
      best_epoch = epoch;
      best_weights = Snapshot(net);
    }
    if (options.patience > 0 && epoch - best_epoch >= options.patience) break;
  }
  Restore(net, best_weights);
  net->eval();

  model->report() = {
      {"options", {{"epochs", options.epochs}, {"patience", options.patience}, {"batch_size", options.batch_size},
                   {"learning_rate", options.learning_rate}, {"seed", options.seed}, {"threads", options.threads},
                   {"optimizer", "adam"}, {"loss", "binary_cross_entropy"}}},
      {"train_examples", data.train.size()},
      {"validation_examples", data.validation.size()},
      {"history", history},
      {"best_epoch", best_epoch},
      {"training_seconds", SecondsSince(start)},
      {"train", MetricsJson(model->Evaluate(data, data.train))},
      {"validation", MetricsJson(model->Evaluate(data, data.validation))},
      {"examination", model->Examination()}};
  return model;
}

}  // namespace tessera
