#include "encode/joint_space_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "encode/joint_space_net.h"

namespace tessera {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The largest logit scale, 100 (temperature 0.01), as CLIP clips it so training stays stable.
const double kMaxLogitScale = std::log(100.0);

Status ValidateInput(const std::vector<JointSpacePair>& pairs, const JointSpaceTrainingOptions& o) {
  if (o.epochs == 0 || o.batch_size < 2) return Status::InvalidArgument("epochs must be >= 1 and batch size >= 2");
  if (!(o.holdout_fraction >= 0 && o.holdout_fraction < 1)) {
    return Status::InvalidArgument("held-out fraction " + std::to_string(o.holdout_fraction) + " is outside [0, 1)");
  }
  if (!(o.validation_fraction >= 0 && o.validation_fraction < 1)) {
    return Status::InvalidArgument("validation fraction " + std::to_string(o.validation_fraction) + " is outside [0, 1)");
  }
  if (!(o.type_loss_weight >= 0) || !(o.type_colour_loss_weight >= 0)) {
    return Status::InvalidArgument("supervised loss weights must be >= 0, got " + std::to_string(o.type_loss_weight) +
                                   " (type) and " + std::to_string(o.type_colour_loss_weight) + " (type and colour)");
  }
  if (!(o.photo_dropout >= 0 && o.photo_dropout < 1)) {
    return Status::InvalidArgument("photo dropout " + std::to_string(o.photo_dropout) + " is outside [0, 1)");
  }
  if (o.threads < 1) return Status::InvalidArgument("threads must be >= 1, got " + std::to_string(o.threads));
  if (!(o.learning_rate > 0)) return Status::InvalidArgument("learning rate must be > 0");
  if (!(o.extra_text_rate >= 0 && o.extra_text_rate <= 1)) {
    return Status::InvalidArgument("extra text rate " + std::to_string(o.extra_text_rate) + " is outside [0, 1]");
  }
  for (const JointSpacePair& pair : pairs) {
    if (pair.photo.size() != o.config.photo.dimension) {
      return Status::InvalidArgument("product " + pair.id + " has a photo feature of " + std::to_string(pair.photo.size()) +
                                     " floats, expected " + std::to_string(o.config.photo.dimension) + " from '" +
                                     o.config.photo.encoder + "'");
    }
    if (!std::all_of(pair.photo.begin(), pair.photo.end(), [](float v) { return std::isfinite(v); })) {
      return Status::InvalidArgument("product " + pair.id + " has a non-finite value in its photo feature");
    }
  }
  return Status::Ok();
}

// Sets the photo tower's standardization from the training photos. Dimensions that barely vary
// get a floor of 1% of the mean standard deviation, so a value unseen in training cannot blow up.
void SetPhotoStandardization(PhotoTowerImpl& tower, const torch::Tensor& photos) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mean = photos.mean(0);
  const torch::Tensor std = photos.std(0, /*unbiased=*/false);
  const double floor = std::max(0.01 * std.mean().item<double>(), 1e-8);
  tower.mean.copy_(mean);
  tower.inverse_std.copy_(1.0 / std.clamp_min(floor));
}

// The training data as tensors and feature lists, indexed like `pairs`.
struct Dataset {
  std::vector<std::vector<int64_t>> features;       // of `text`
  std::vector<std::vector<int64_t>> extra_features;  // of `text` + " " + `extra_text`
  torch::Tensor photos;  // pairs x photo dimension
  // Class ids of the supervised loss terms, by article type and by (article type, colour). A pair
  // whose label is empty gets -1.
  std::vector<int64_t> type_class, type_colour_class;
  std::vector<size_t> train, validation, heldout;
};

// `with_extra[i]` selects the extended text of rows[i]; empty selects no extended text.
TextBatch TextsOf(const Dataset& data, const std::vector<size_t>& rows, const std::vector<bool>& with_extra = {}) {
  std::vector<const std::vector<int64_t>*> features;
  features.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const bool extra = !with_extra.empty() && with_extra[i];
    features.push_back(extra ? &data.extra_features[rows[i]] : &data.features[rows[i]]);
  }
  return MakeTextBatch(features);
}

torch::Tensor PhotosOf(const Dataset& data, const std::vector<size_t>& rows) {
  std::vector<int64_t> index(rows.begin(), rows.end());
  return data.photos.index_select(0, torch::tensor(index, torch::kInt64));
}

// Returns a rows x rows matrix with 1 where two rows share a known class, and on the diagonal.
torch::Tensor SameClassMask(const std::vector<int64_t>& classes, const std::vector<size_t>& rows) {
  std::vector<int64_t> of_rows;
  for (size_t row : rows) of_rows.push_back(classes[row]);
  const auto n = static_cast<int64_t>(rows.size());
  const torch::Tensor c = torch::tensor(of_rows, torch::kInt64);
  const torch::Tensor same = c.unsqueeze(1).eq(c.unsqueeze(0)).logical_and(c.ge(0).unsqueeze(1));
  return same.logical_or(torch::eye(n, torch::kBool)).to(torch::kFloat32);
}

// Computes the cross-entropy of each row of `logits` against the uniform distribution over its
// positives, in both directions. With the identity as `positives` this is symmetric InfoNCE as in
// CLIP (Radford et al. 2021). With every same-class pair as a positive it is the supervised
// contrastive loss of Khosla et al. 2020 (their L_out), taken across the two modalities.
torch::Tensor MultiPositiveLoss(const torch::Tensor& logits, const torch::Tensor& positives) {
  const torch::Tensor targets = positives / positives.sum(1, /*keepdim=*/true);
  const torch::Tensor rows = -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
  const torch::Tensor columns = -(targets.t() * torch::log_softmax(logits.t(), 1)).sum(1).mean();
  return (rows + columns) / 2;
}

// Computes symmetric InfoNCE over the batch `rows`, where pair i's match is index i and every
// other pair is a negative, plus the weighted supervised terms.
torch::Tensor TrainingLoss(JointSpaceNetImpl& net, const Dataset& data, const std::vector<size_t>& rows,
                           const TextBatch& texts, const JointSpaceTrainingOptions& options) {
  const torch::Tensor t = net.text->forward(texts.ids, texts.offsets);
  const torch::Tensor p = net.photo->forward(PhotosOf(data, rows));
  const torch::Tensor logits = net.logit_scale.exp() * torch::matmul(t, p.t());
  const torch::Tensor targets = torch::arange(logits.size(0), torch::kInt64);
  namespace F = torch::nn::functional;
  torch::Tensor loss = (F::cross_entropy(logits, targets) + F::cross_entropy(logits.t(), targets)) / 2;
  if (options.type_loss_weight > 0) {
    loss = loss + options.type_loss_weight * MultiPositiveLoss(logits, SameClassMask(data.type_class, rows));
  }
  if (options.type_colour_loss_weight > 0) {
    loss = loss + options.type_colour_loss_weight * MultiPositiveLoss(logits, SameClassMask(data.type_colour_class, rows));
  }
  return loss;
}

// Splits `rows` into consecutive batches of `size`; a last batch of one pair is dropped, because it
// has no negative.
std::vector<std::vector<size_t>> Batches(const std::vector<size_t>& rows, size_t size) {
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < rows.size(); start += size) {
    const size_t end = std::min(rows.size(), start + size);
    if (end - start < 2) break;
    batches.emplace_back(rows.begin() + static_cast<std::ptrdiff_t>(start), rows.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

// Computes the training loss on the validation split, with title-only text, in id order.
double ValidationLoss(JointSpaceNetImpl& net, const Dataset& data, const JointSpaceTrainingOptions& options) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  size_t count = 0;
  for (const std::vector<size_t>& batch : Batches(data.validation, options.batch_size)) {
    sum += TrainingLoss(net, data, batch, TextsOf(data, batch), options).item<double>();
    ++count;
  }
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(count);
}

// Fisher-Yates with our own index draw, because std::shuffle and std::uniform_int_distribution
// differ between standard libraries and the order must be reproducible from the seed.
void Shuffle(std::vector<size_t>* rows, std::mt19937_64* rng) {
  for (size_t i = rows->size(); i > 1; --i) std::swap((*rows)[i - 1], (*rows)[(*rng)() % i]);
}

// A uniform draw in [0, 1) from the top 53 bits, the same under every standard library.
double Draw(std::mt19937_64* rng) { return static_cast<double>((*rng)() >> 11) * 0x1.0p-53; }

std::vector<torch::Tensor> Snapshot(JointSpaceNetImpl& net) {
  std::vector<torch::Tensor> copies;
  for (const torch::Tensor& p : net.parameters()) copies.push_back(p.detach().clone());
  return copies;
}

void Restore(JointSpaceNetImpl& net, const std::vector<torch::Tensor>& copies) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parameters = net.parameters();
  for (size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(copies[i]);
}

// Returns the class id of `label` in `ids`, adding it when new, or -1 for an empty label.
int64_t ClassId(const std::string& label, std::map<std::string, int64_t>* ids) {
  if (label.empty()) return -1;
  return ids->emplace(label, static_cast<int64_t>(ids->size())).first->second;
}

Dataset MakeDataset(const std::vector<JointSpacePair>& pairs, const TextFeaturizer& featurizer,
                    const JointSpaceTrainingOptions& options) {
  Dataset data;
  std::map<std::string, int64_t> types, type_colours;
  const auto photo_dim = static_cast<int64_t>(pairs.empty() ? 0 : pairs[0].photo.size());
  data.photos = torch::empty({static_cast<int64_t>(pairs.size()), photo_dim});
  float* out = data.photos.data_ptr<float>();
  for (size_t i = 0; i < pairs.size(); ++i) {
    data.features.push_back(featurizer.Features(pairs[i].text));
    data.extra_features.push_back(featurizer.Features(pairs[i].text + " " + pairs[i].extra_text));
    std::copy(pairs[i].photo.begin(), pairs[i].photo.end(), out + i * static_cast<size_t>(photo_dim));
    const PairLabels& labels = pairs[i].labels;
    data.type_class.push_back(ClassId(labels.article_type, &types));
    // A '\n' cannot occur in a catalogue field, so it keeps ("a b", "c") and ("a", "b c") apart.
    const bool both = !labels.article_type.empty() && !labels.colour.empty();
    data.type_colour_class.push_back(both ? ClassId(labels.article_type + "\n" + labels.colour, &type_colours) : -1);
    if (IsHeldOut(pairs[i].id, options.holdout_fraction)) {
      data.heldout.push_back(i);
    } else if (IsValidation(pairs[i].id, options.validation_fraction)) {
      data.validation.push_back(i);
    } else {
      data.train.push_back(i);
    }
  }
  return data;
}

nlohmann::json OptionsJson(const JointSpaceTrainingOptions& o) {
  return {{"dimension", o.config.dimension},
          {"text_embedding_dim", o.config.text_embedding_dim},
          {"photo_hidden_dim", o.config.photo_hidden_dim},
          {"hash_buckets", o.config.hashing.buckets},
          {"photo_encoder", o.config.photo.encoder},
          {"photo_dimension", o.config.photo.dimension},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"learning_rate", o.learning_rate},
          {"holdout_fraction", o.holdout_fraction},
          {"validation_fraction", o.validation_fraction},
          {"patience", o.patience},
          {"seed", o.seed},
          {"threads", o.threads},
          {"learn_temperature", o.learn_temperature},
          {"extra_text_rate", o.extra_text_rate},
          {"type_loss_weight", o.type_loss_weight},
          {"type_colour_loss_weight", o.type_colour_loss_weight},
          {"photo_dropout", o.photo_dropout}};
}

// Measures `model` on the pairs `rows`, through the serving API, with title-only text.
Result<JointSpaceMetrics> EvaluateRows(const JointSpaceModel& model, const std::vector<JointSpacePair>& pairs,
                                       const std::vector<size_t>& rows) {
  std::vector<std::string> texts;
  std::vector<float> photos;
  std::vector<PairLabels> labels;
  for (size_t row : rows) {
    texts.push_back(pairs[row].text);
    photos.insert(photos.end(), pairs[row].photo.begin(), pairs[row].photo.end());
    labels.push_back(pairs[row].labels);
  }
  // ValidateInput checked the length and values of every photo, which are all ProjectPhotos checks.
  Result<std::vector<float>> projected = model.ProjectPhotos(photos, rows.size());
  if (!projected.ok()) return projected.status();
  JointSpaceMetrics metrics = EvaluateJointSpace(model.EncodeTexts(texts), *projected, model.dimension(), labels);

  std::vector<std::string> query_texts;
  std::vector<PairLabels> query_labels;
  for (auto& [text, query_label] : AttributeQueries(labels)) {
    query_texts.push_back(text);
    query_labels.push_back(query_label);
  }
  EvaluateAttributeQueries(model.EncodeTexts(query_texts), query_labels, *projected, model.dimension(), labels,
                           &metrics);
  return metrics;
}

// True when FNV-1a of `salt` + `id`, modulo 1,000,000, is below `fraction` x 1,000,000.
bool InHashSplit(std::string_view salt, std::string_view id, double fraction) {
  constexpr uint64_t kBuckets = 1'000'000;
  const uint64_t bucket = Fnv1a64(id, Fnv1a64(salt)) % kBuckets;
  return static_cast<double>(bucket) < fraction * static_cast<double>(kBuckets);
}

}  // namespace

bool IsHeldOut(std::string_view id, double fraction) { return InHashSplit("joint-space-holdout:", id, fraction); }

bool IsValidation(std::string_view id, double fraction) {
  return InHashSplit("joint-space-validation:", id, fraction);
}

std::string JointSpaceDataHash(const std::vector<JointSpacePair>& pairs) {
  std::vector<const JointSpacePair*> sorted;
  for (const JointSpacePair& pair : pairs) sorted.push_back(&pair);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->id < b->id; });
  uint64_t hash = Fnv1a64("");
  for (const JointSpacePair* pair : sorted) {
    // Lengths first, so ("ab", "c") and ("a", "bc") hash apart.
    const uint64_t lengths[4] = {pair->id.size(), pair->text.size(), pair->extra_text.size(), pair->photo.size()};
    hash = Fnv1a64(std::string_view(reinterpret_cast<const char*>(lengths), sizeof(lengths)), hash);
    hash = Fnv1a64(pair->id, hash);
    hash = Fnv1a64(pair->text, hash);
    hash = Fnv1a64(pair->extra_text, hash);
    hash = Fnv1a64(std::string_view(reinterpret_cast<const char*>(pair->photo.data()), pair->photo.size() * sizeof(float)), hash);
  }
  return HexDigits(hash);
}

Result<JointSpaceTrainingResult> TrainJointSpace(const std::vector<JointSpacePair>& input,
                                                 const JointSpaceTrainingOptions& options) {
  TESSERA_RETURN_IF_ERROR(ValidateInput(input, options));
  torch::set_num_threads(options.threads);
  const Clock::time_point start = Clock::now();

  // Pairs in id order, so the result does not depend on the order the caller read them in.
  std::vector<JointSpacePair> pairs(input);
  std::sort(pairs.begin(), pairs.end(), [](const JointSpacePair& a, const JointSpacePair& b) { return a.id < b.id; });

  Result<std::unique_ptr<JointSpaceModel>> created = JointSpaceModel::Create(options.config, options.seed);
  if (!created.ok()) return created.status();
  std::unique_ptr<JointSpaceModel> model = std::move(created).value();
  JointSpaceNetImpl& net = *JointSpaceModelAccess::Net(*model);
  Dataset data = MakeDataset(pairs, JointSpaceModelAccess::Featurizer(*model), options);
  if (data.train.size() < 2) {
    return Status::InvalidArgument("only " + std::to_string(data.train.size()) +
                                   " pairs left for training: ingest products with photos, or lower the held-out and "
                                   "validation fractions");
  }
  SetPhotoStandardization(*net.photo, PhotosOf(data, data.train));
  net.photo->dropout = options.photo_dropout;

  // Optimizer; a fixed temperature is left out of it.
  net.logit_scale.set_requires_grad(options.learn_temperature);
  std::vector<torch::Tensor> trained;
  for (const torch::Tensor& p : net.parameters()) {
    if (p.requires_grad()) trained.push_back(p);
  }
  torch::optim::Adam adam(trained, torch::optim::AdamOptions(options.learning_rate));

  // Epochs, with early stopping on the validation loss.
  std::mt19937_64 rng(options.seed);
  nlohmann::json epochs = nlohmann::json::array();
  double best_loss = std::numeric_limits<double>::infinity();
  size_t best_epoch = 0, epochs_run = 0;
  std::vector<torch::Tensor> best_weights;
  for (size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const Clock::time_point epoch_start = Clock::now();
    net.train();
    std::vector<size_t> order = data.train;
    Shuffle(&order, &rng);
    const std::vector<std::vector<size_t>> batches = Batches(order, options.batch_size);
    double loss_sum = 0;
    size_t pairs_seen = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      std::vector<bool> with_extra(batches[b].size());
      for (size_t i = 0; i < with_extra.size(); ++i) with_extra[i] = Draw(&rng) < options.extra_text_rate;
      adam.zero_grad();
      torch::Tensor loss = TrainingLoss(net, data, batches[b], TextsOf(data, batches[b], with_extra), options);
      loss.backward();
      adam.step();
      {
        torch::NoGradGuard no_grad;
        net.logit_scale.clamp_(0, kMaxLogitScale);
      }
      loss_sum += loss.item<double>();
      pairs_seen += batches[b].size();

      JointSpaceProgress progress{epoch, options.epochs, b + 1, batches.size(), loss_sum / static_cast<double>(b + 1),
                                  static_cast<double>(pairs_seen) / std::max(SecondsSince(epoch_start), 1e-9), {}};
      net.eval();
      const bool last = b + 1 == batches.size();
      const double validation_loss = last ? ValidationLoss(net, data, options) : 0;
      if (last && !data.validation.empty()) progress.validation_loss = validation_loss;
      net.train();
      if (options.on_progress) options.on_progress(progress);
      if (!last) continue;

      epochs.push_back({{"epoch", epoch},
                        {"train_loss", progress.loss},
                        {"validation_loss", data.validation.empty() ? nlohmann::json(nullptr) : nlohmann::json(validation_loss)},
                        {"seconds", SecondsSince(epoch_start)}});
      if (!data.validation.empty() && validation_loss < best_loss) {
        best_loss = validation_loss;
        best_epoch = epoch;
        best_weights = Snapshot(net);
      }
    }
    epochs_run = epoch;
    if (options.patience > 0 && best_epoch > 0 && epoch - best_epoch >= options.patience) break;
  }
  if (options.patience > 0 && !best_weights.empty()) Restore(net, best_weights);
  net.eval();

  // Metrics of the kept weights on the validation and held-out pairs, through the serving API.
  JointSpaceTrainingResult result;
  if (!data.validation.empty()) {
    Result<JointSpaceMetrics> metrics = EvaluateRows(*model, pairs, data.validation);
    if (!metrics.ok()) return metrics.status();
    result.validation = *metrics;
  }
  if (!data.heldout.empty()) {
    Result<JointSpaceMetrics> metrics = EvaluateRows(*model, pairs, data.heldout);
    if (!metrics.ok()) return metrics.status();
    result.heldout = *metrics;
  }
  const nlohmann::json report = {
      {"data_hash", JointSpaceDataHash(pairs)},
      {"pairs", {{"train", data.train.size()}, {"validation", data.validation.size()}, {"heldout", data.heldout.size()}}},
      {"epochs_run", epochs_run},
      {"best_epoch", best_epoch},
      {"kept_epoch", options.patience > 0 && best_epoch > 0 ? best_epoch : epochs_run},
      {"epochs", epochs},
      {"temperature", std::exp(-net.logit_scale.item<double>())},
      {"training_seconds", SecondsSince(start)},
      {"deterministic", options.threads == 1},
      {"options", OptionsJson(options)},
      {"validation", ToJson(result.validation)},
      {"heldout", ToJson(result.heldout)},
  };
  result.report_json = report.dump();

  JointSpaceProvenance& provenance = JointSpaceModelAccess::Provenance(*model);
  provenance.data_hash = report["data_hash"];
  provenance.training_pairs = data.train.size();
  provenance.seed = options.seed;
  provenance.report_json = result.report_json;
  result.model = std::move(model);
  return result;
}

}  // namespace tessera
