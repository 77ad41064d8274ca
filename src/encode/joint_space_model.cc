#include "encode/joint_space_model.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/model_file.h"
#include "encode/joint_space_net.h"
#include "encode/module_weights.h"

namespace tessera {
namespace {

// The model file: header JSON and a torch archive of the weights, in Tessera's model file
// container (common/model_file.h).
constexpr ModelFileKind kJointSpaceFile{"TSJSPACE", kJointSpaceFormatVersion, "joint-space model",
                                        "tessera train-encoders"};

Status ValidateConfig(const JointSpaceConfig& c) {
  if (c.dimension == 0 || c.text_embedding_dim == 0 || c.photo_hidden_dim == 0 || c.hashing.buckets == 0) {
    return Status::InvalidArgument("joint-space dimension, text embedding dim, photo hidden dim and hash buckets must all be > 0");
  }
  if (c.photo.encoder.empty() || c.photo.dimension == 0) {
    return Status::InvalidArgument("joint-space photo features need an encoder name and a dimension > 0, got '" +
                                   c.photo.encoder + "' of " + std::to_string(c.photo.dimension) + " floats");
  }
  return Status::Ok();
}

nlohmann::json HeaderJson(const JointSpaceConfig& c, const JointSpaceProvenance& p) {
  nlohmann::json header = {
      {"model", "tessera-joint-space"},
      {"dimension", c.dimension},
      {"text",
       {{"embedding_dim", c.text_embedding_dim},
        {"analyzer", {{"stem_english", true}}},
        {"hashing",
         {{"function", "fnv1a64"},
          {"buckets", c.hashing.buckets},
          {"word_bigrams", c.hashing.word_bigrams},
          {"char_trigrams", c.hashing.char_trigrams},
          {"cjk_char_ngrams", c.hashing.cjk_char_ngrams},
          {"max_text_bytes", kMaxFeaturizedTextBytes}}}}},
      {"photo", {{"encoder", c.photo.encoder}, {"dimension", c.photo.dimension}, {"hidden_dim", c.photo_hidden_dim}}},
      {"training", {{"data_hash", p.data_hash}, {"pairs", p.training_pairs}, {"seed", p.seed}}},
  };
  if (!p.report_json.empty()) header["training"]["report"] = nlohmann::json::parse(p.report_json);
  return header;
}

// Reads the header fields back; nlohmann's type_error and out_of_range become kCorruption.
Result<std::pair<JointSpaceConfig, JointSpaceProvenance>> ParseHeader(const std::string& text, const std::string& path) {
  try {
    const nlohmann::json h = nlohmann::json::parse(text);
    JointSpaceConfig c;
    c.dimension = h.at("dimension").get<size_t>();
    c.text_embedding_dim = h.at("text").at("embedding_dim").get<size_t>();
    const nlohmann::json& hashing = h.at("text").at("hashing");
    if (hashing.at("function").get<std::string>() != "fnv1a64") {
      return Status::Corruption("model file " + path + " uses text hash '" + hashing.at("function").get<std::string>() +
                                "', this build has only fnv1a64: retrain with tessera train-encoders");
    }
    c.hashing.buckets = hashing.at("buckets").get<uint32_t>();
    c.hashing.word_bigrams = hashing.at("word_bigrams").get<bool>();
    c.hashing.char_trigrams = hashing.at("char_trigrams").get<bool>();
    c.hashing.cjk_char_ngrams = hashing.at("cjk_char_ngrams").get<bool>();
    c.photo.encoder = h.at("photo").at("encoder").get<std::string>();
    c.photo.dimension = h.at("photo").at("dimension").get<size_t>();
    c.photo_hidden_dim = h.at("photo").at("hidden_dim").get<size_t>();

    JointSpaceProvenance p;
    const nlohmann::json& training = h.at("training");
    p.data_hash = training.at("data_hash").get<std::string>();
    p.training_pairs = training.at("pairs").get<size_t>();
    p.seed = training.at("seed").get<uint64_t>();
    if (training.contains("report")) p.report_json = training.at("report").dump();
    return std::make_pair(c, p);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption("model file " + path + " has an invalid JSON header: " + e.what());
  }
}

}  // namespace

TextTowerImpl::TextTowerImpl(int64_t buckets, int64_t embedding_dim, int64_t dimension) {
  bag = register_module("bag", torch::nn::EmbeddingBag(
                                   torch::nn::EmbeddingBagOptions(buckets, embedding_dim).mode(torch::kMean)));
  projection = register_module("projection", torch::nn::Linear(embedding_dim, dimension));
  // fastText starts its input vectors near zero, uniform in +-1/embedding_dim. Torch's default of
  // N(0, 1) makes early training slower, because Adam moves each weight by about the learning rate
  // per step.
  torch::NoGradGuard no_grad;
  bag->weight.uniform_(-1.0 / static_cast<double>(embedding_dim), 1.0 / static_cast<double>(embedding_dim));
}

torch::Tensor TextTowerImpl::forward(const torch::Tensor& ids, const torch::Tensor& offsets) {
  namespace F = torch::nn::functional;
  return F::normalize(projection(bag(ids, offsets)), F::NormalizeFuncOptions().dim(1).eps(kNormEpsilon));
}

PhotoTowerImpl::PhotoTowerImpl(int64_t feature_dim, int64_t hidden_dim, int64_t dimension) {
  mean = register_buffer("mean", torch::zeros({feature_dim}));
  inverse_std = register_buffer("inverse_std", torch::ones({feature_dim}));
  hidden = register_module("hidden", torch::nn::Linear(feature_dim, hidden_dim));
  output = register_module("output", torch::nn::Linear(hidden_dim, dimension));
}

torch::Tensor PhotoTowerImpl::forward(const torch::Tensor& features) {
  namespace F = torch::nn::functional;
  torch::Tensor x = (features - mean) * inverse_std;
  x = F::dropout(x, F::DropoutFuncOptions().p(dropout).training(is_training()));
  x = F::dropout(torch::relu(hidden(x)), F::DropoutFuncOptions().p(dropout).training(is_training()));
  x = output(x);
  return F::normalize(x, F::NormalizeFuncOptions().dim(1).eps(kNormEpsilon));
}

JointSpaceNetImpl::JointSpaceNetImpl(const JointSpaceConfig& c) {
  text = register_module("text", TextTower(c.hashing.buckets, static_cast<int64_t>(c.text_embedding_dim),
                                           static_cast<int64_t>(c.dimension)));
  photo = register_module("photo", PhotoTower(static_cast<int64_t>(c.photo.dimension),
                                              static_cast<int64_t>(c.photo_hidden_dim),
                                              static_cast<int64_t>(c.dimension)));
  // CLIP's starting temperature, 0.07.
  logit_scale = register_parameter("logit_scale", torch::full({1}, std::log(1.0 / 0.07)));
}

TextBatch MakeTextBatch(const std::vector<const std::vector<int64_t>*>& features) {
  std::vector<int64_t> ids, offsets;
  offsets.reserve(features.size());
  for (const std::vector<int64_t>* f : features) {
    offsets.push_back(static_cast<int64_t>(ids.size()));
    ids.insert(ids.end(), f->begin(), f->end());
  }
  const auto count = static_cast<int64_t>(offsets.size());
  return {torch::tensor(ids, torch::kInt64).reshape({static_cast<int64_t>(ids.size())}),
          torch::tensor(offsets, torch::kInt64).reshape({count})};
}

struct JointSpaceModel::Rep {
  JointSpaceConfig config;
  JointSpaceProvenance provenance;
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<TextFeaturizer> featurizer;
  JointSpaceNet net{nullptr};
};

JointSpaceNet& JointSpaceModelAccess::Net(JointSpaceModel& model) { return model.rep_->net; }
const TextFeaturizer& JointSpaceModelAccess::Featurizer(const JointSpaceModel& model) { return *model.rep_->featurizer; }
JointSpaceProvenance& JointSpaceModelAccess::Provenance(JointSpaceModel& model) { return model.rep_->provenance; }

JointSpaceModel::JointSpaceModel(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
JointSpaceModel::~JointSpaceModel() = default;

Result<std::unique_ptr<JointSpaceModel>> JointSpaceModel::Build(const JointSpaceConfig& config) {
  Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
  if (!analyzer.ok()) return analyzer.status();
  auto rep = std::make_unique<Rep>();
  rep->config = config;
  rep->analyzer = std::move(analyzer).value();
  rep->featurizer = std::make_unique<TextFeaturizer>(rep->analyzer.get(), config.hashing);
  rep->net = JointSpaceNet(config);
  rep->net->eval();
  return std::unique_ptr<JointSpaceModel>(new JointSpaceModel(std::move(rep)));
}

Result<std::unique_ptr<JointSpaceModel>> JointSpaceModel::Create(const JointSpaceConfig& config, uint64_t seed) {
  TESSERA_RETURN_IF_ERROR(ValidateConfig(config));
  torch::manual_seed(seed);
  Result<std::unique_ptr<JointSpaceModel>> model = Build(config);
  if (model.ok()) (*model)->rep_->provenance.seed = seed;
  return model;
}

Result<std::unique_ptr<JointSpaceModel>> JointSpaceModel::Load(const std::string& path, const PhotoFeatureSpec& photo) {
  Result<ModelFileParts> parts = ReadModelFile(kJointSpaceFile, path);
  if (!parts.ok()) return parts.status();

  // Header, and the caller's photo features against the ones the model was trained on.
  Result<std::pair<JointSpaceConfig, JointSpaceProvenance>> header =
      ParseHeader(parts->header, path);
  if (!header.ok()) return header.status();
  const auto& [config, provenance] = *header;
  if (!(config.photo == photo)) {
    return Status::InvalidArgument("model file " + path + " was trained on photo features '" + config.photo.encoder +
                                   "' of " + std::to_string(config.photo.dimension) + " floats, but the caller has '" +
                                   photo.encoder + "' of " + std::to_string(photo.dimension) +
                                   " floats: retrain with `tessera train-encoders --photo-encoder " + photo.encoder + "`");
  }
  if (Status valid = ValidateConfig(config); !valid.ok()) return Status::Corruption("model file " + path + ": " + valid.message());

  // Weights.
  Result<std::unique_ptr<JointSpaceModel>> model = Build(config);
  if (!model.ok()) return model.status();
  TESSERA_RETURN_IF_ERROR(LoadWeights(*(*model)->rep_->net, parts->payload, "model file " + path));
  (*model)->rep_->net->eval();
  (*model)->rep_->provenance = provenance;
  (*model)->rep_->provenance.fingerprint = HexDigits(parts->checksum);
  return model;
}

Status JointSpaceModel::Save(const std::string& path) const {
  Result<std::string> weights = SerializeWeights(*rep_->net, "joint-space");
  if (!weights.ok()) return weights.status();
  const std::string header = HeaderJson(rep_->config, rep_->provenance).dump(2);
  return WriteFileAtomically(path, PackModelFile(kJointSpaceFile, header, *weights));
}

std::vector<float> JointSpaceModel::EncodeText(std::string_view text) const {
  const std::string copy(text);
  return EncodeTexts(std::span<const std::string>(&copy, 1));
}

std::vector<float> JointSpaceModel::EncodeTexts(std::span<const std::string> texts) const {
  std::vector<std::vector<int64_t>> features;
  features.reserve(texts.size());
  for (const std::string& text : texts) features.push_back(rep_->featurizer->Features(text));
  std::vector<const std::vector<int64_t>*> pointers;
  for (const std::vector<int64_t>& f : features) pointers.push_back(&f);

  c10::InferenceMode inference;
  const TextBatch batch = MakeTextBatch(pointers);
  const torch::Tensor vectors = rep_->net->text->forward(batch.ids, batch.offsets).contiguous();
  std::vector<float> out(vectors.data_ptr<float>(), vectors.data_ptr<float>() + vectors.numel());

  // A text without features gets the vector of the empty bag, which is the normalized bias of the
  // text layer. If that bias is zero, the first basis vector replaces it, so the result stays unit-length.
  const size_t d = rep_->config.dimension;
  for (size_t i = 0; i < features.size(); ++i) {
    if (!features[i].empty()) continue;
    float norm = 0;
    for (size_t k = 0; k < d; ++k) norm += out[i * d + k] * out[i * d + k];
    if (norm < 0.5f) {
      std::fill(out.begin() + static_cast<std::ptrdiff_t>(i * d), out.begin() + static_cast<std::ptrdiff_t>((i + 1) * d), 0.0f);
      out[i * d] = 1.0f;
    }
  }
  return out;
}

Result<std::vector<float>> JointSpaceModel::ProjectPhoto(std::span<const float> feature) const {
  return ProjectPhotos(feature, 1);
}

Result<std::vector<float>> JointSpaceModel::ProjectPhotos(std::span<const float> features, size_t count) const {
  const size_t p = rep_->config.photo.dimension;
  if (features.size() != count * p) {
    return Status::InvalidArgument("photo features have " + std::to_string(features.size()) + " floats, expected " +
                                   std::to_string(count) + " x " + std::to_string(p) + " from encoder '" +
                                   rep_->config.photo.encoder + "'");
  }
  for (size_t i = 0; i < features.size(); ++i) {
    if (!std::isfinite(features[i])) {
      return Status::InvalidArgument("photo feature " + std::to_string(i / p) + " has a non-finite value at index " +
                                     std::to_string(i % p));
    }
  }
  if (count == 0) return std::vector<float>{};

  c10::InferenceMode inference;
  // from_blob does not copy; the features outlive the forward call.
  const torch::Tensor input = torch::from_blob(const_cast<float*>(features.data()),
                                               {static_cast<int64_t>(count), static_cast<int64_t>(p)}, torch::kFloat32);
  const torch::Tensor vectors = rep_->net->photo->forward(input).contiguous();
  return std::vector<float>(vectors.data_ptr<float>(), vectors.data_ptr<float>() + vectors.numel());
}

size_t JointSpaceModel::dimension() const { return rep_->config.dimension; }
const JointSpaceConfig& JointSpaceModel::config() const { return rep_->config; }
const JointSpaceProvenance& JointSpaceModel::provenance() const { return rep_->provenance; }

}  // namespace tessera
