#include "cli/train_encoders.h"

#include <unistd.h>  // isatty

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "engine/joint_text.h"
#include "store/kv_store.h"
#include "store/product_store.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

struct StorePairs {
  std::vector<JointSpacePair> pairs;
  size_t photo_dimension = 0;
  size_t products = 0;
};

// Reads every product that has a vector of `encoder`.
Result<StorePairs> ReadPairs(const std::string& data_dir, const std::string& encoder) {
  const fs::path store_dir = fs::path(data_dir) / "store";
  if (!fs::exists(store_dir)) {
    return Status::NotFound("no store in " + store_dir.string() + ": run `tessera --data-dir " + data_dir +
                            " ingest ...` first");
  }
  Result<std::unique_ptr<KvStore>> kv = KvStore::Open(store_dir.string());
  if (!kv.ok()) return kv.status();
  ProductStore store(kv->get());

  std::unordered_map<std::string, std::vector<float>> photos;
  StorePairs out;
  Status read = store.ForEachVector(encoder, [&](const std::string& id, std::vector<float>&& vector) {
    photos.emplace(id, std::move(vector));
  });
  TESSERA_RETURN_IF_ERROR(read);
  if (photos.empty()) {
    return Status::NotFound("the store in " + store_dir.string() + " has no photo vectors of encoder '" + encoder +
                            "': ingest a catalogue with photos, or name the encoder with --photo-encoder");
  }
  out.photo_dimension = photos.begin()->second.size();

  TESSERA_RETURN_IF_ERROR(store.ForEach([&](Product&& product) {
    ++out.products;
    auto photo = photos.find(product.id);
    if (photo == photos.end()) return;
    JointSpacePair pair;
    pair.id = product.id;
    pair.text = product.title;
    pair.extra_text = JointSpaceExtraText(product);
    pair.photo = std::move(photo->second);
    pair.labels = {product.Attribute("article_type"), product.Attribute("colour")};
    out.pairs.push_back(std::move(pair));
  }));
  return out;
}

// Draws the progress line on stderr: redrawn in place on a terminal, one line per epoch otherwise.
class ProgressLine {
 public:
  ProgressLine() : terminal_(isatty(fileno(stderr)) != 0) {}

  void Show(const JointSpaceProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool epoch_end = p.batch == p.batches;
    // At most 10 redraws a second, so drawing costs nothing next to training.
    if (!epoch_end && (!terminal_ || now - last_draw_ < std::chrono::milliseconds(100))) return;
    last_draw_ = now;
    std::string line = fmt::format("epoch {}/{}  batch {}/{}  loss {:.4f}  {:.0f} pairs/s", p.epoch, p.epochs,
                                   p.batch, p.batches, p.loss, p.pairs_per_second);
    if (p.validation_loss) line += fmt::format("  validation loss {:.4f}", *p.validation_loss);
    if (terminal_) {
      fmt::print(stderr, "\r\033[K{}{}", line, epoch_end ? "\n" : "");
    } else if (epoch_end) {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }

 private:
  bool terminal_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Measures encoding speed on up to 2,000 of the pairs, one call per item and in batches of 256, on
// the torch threads the training used. The figures vary with the machine's load.
nlohmann::json MeasureSpeed(const JointSpaceModel& model, const std::vector<JointSpacePair>& pairs) {
  constexpr size_t kMaxItems = 2000, kBatch = 256;
  const size_t n = std::min(kMaxItems, pairs.size());
  std::vector<std::string> texts;
  std::vector<float> photos;
  for (size_t i = 0; i < n; ++i) {
    texts.push_back(pairs[i].text);
    photos.insert(photos.end(), pairs[i].photo.begin(), pairs[i].photo.end());
  }
  const size_t photo_dim = model.config().photo.dimension;
  auto per_second = [n](const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return static_cast<double>(n) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  nlohmann::json speed = {{"items", n}, {"batch_size", kBatch}};
  speed["texts_per_second_single"] = per_second([&] {
    for (const std::string& text : texts) (void)model.EncodeText(text);
  });
  speed["texts_per_second_batched"] = per_second([&] {
    for (size_t i = 0; i < n; i += kBatch) {
      (void)model.EncodeTexts(std::span<const std::string>(texts).subspan(i, std::min(kBatch, n - i)));
    }
  });
  speed["photos_per_second_single"] = per_second([&] {
    for (size_t i = 0; i < n; ++i) (void)model.ProjectPhoto(std::span<const float>(photos).subspan(i * photo_dim, photo_dim));
  });
  speed["photos_per_second_batched"] = per_second([&] {
    for (size_t i = 0; i < n; i += kBatch) {
      const size_t count = std::min(kBatch, n - i);
      (void)model.ProjectPhotos(std::span<const float>(photos).subspan(i * photo_dim, count * photo_dim), count);
    }
  });
  return speed;
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  if (!file.flush()) return Status::IoError("cannot write " + path.string());
  return Status::Ok();
}

}  // namespace

Status RunTrainEncoders(const TrainEncodersOptions& options, std::ostream& out) {
  Result<StorePairs> read = ReadPairs(options.data_dir, options.photo_encoder);
  if (!read.ok()) return read.status();
  spdlog::info("train-encoders: {} products, {} with '{}' photo vectors of {} floats", read->products,
               read->pairs.size(), options.photo_encoder, read->photo_dimension);

  JointSpaceTrainingOptions training = options.training;
  training.config.photo = {options.photo_encoder, read->photo_dimension};
  ProgressLine progress;
  training.on_progress = [&](const JointSpaceProgress& p) { progress.Show(p); };
  Result<JointSpaceTrainingResult> trained = TrainJointSpace(read->pairs, training);
  if (!trained.ok()) return trained.status();

  const fs::path model_path = options.out_path.empty() ? fs::path(options.data_dir) / "models" / "joint-space.model"
                                                       : fs::path(options.out_path);
  TESSERA_RETURN_IF_ERROR(trained->model->Save(model_path.string()));
  fs::path report_path = model_path;
  report_path.replace_extension(".report.json");
  nlohmann::json report = nlohmann::json::parse(trained->report_json);
  report["model_path"] = model_path.string();
  report["products_in_store"] = read->products;
  report["encode_speed"] = MeasureSpeed(*trained->model, read->pairs);
  TESSERA_RETURN_IF_ERROR(WriteText(report_path, report.dump(2) + "\n"));
  spdlog::info("train-encoders: model written to {}, report to {}", model_path.string(), report_path.string());
  out << report.dump(2) << "\n";
  return Status::Ok();
}

}  // namespace tessera
