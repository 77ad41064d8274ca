// Measures how many catalogue photos per second BackboneEncoder encodes, or with --neighbours how
// well its vectors group products of the same kind.
//
//   encode_backbone_bench --images 200 --threads 1                      # Encode, one thread
//   encode_backbone_bench --images 200 --threads 2                      # Encode, 2 intra-op threads
//   encode_backbone_bench --images 200 --callers 2                      # Encode from 2 threads
//   encode_backbone_bench --images 200 --batch 8                        # EncodeBatch, 8 per pass
//   encode_backbone_bench --images 200 --batch 1 --batch-threads 2      # EncodeBatch on 2 threads
//
// The photos are the first --images files (by name) of <data>/fashion/images, decoded before the
// clock starts, so the figure covers preprocessing and the network only. Without --batch each
// photo goes through Encode; with it the photos go through EncodeBatch with max_batch = --batch.
// --callers runs that many threads at once, each encoding its share of the photos, as a
// server's request threads would.
//
//   encode_backbone_bench --images 1000 --neighbours
// prints, for each photo encoder, the share of each photo's 10 nearest neighbours (by cosine) that
// have the same articleType in styles.csv.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include "encode/backbone_encoder.h"
#include "encode/image_encoder.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using tessera::BackboneEncoder;
using tessera::DecodedImage;

// Returns the CPU time (user + system) this process has used, in seconds, over all its threads.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Decodes the first `count` photos (by file name) of `folder`. ids[i] is photo i's file stem.
std::vector<DecodedImage> DecodePhotos(const fs::path& folder, size_t count, std::vector<std::string>* ids) {
  std::vector<fs::path> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() == ".jpg") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<DecodedImage> photos;
  for (const fs::path& path : paths) {
    if (photos.size() == count) break;
    tessera::Result<DecodedImage> image = tessera::DecodeImage(tessera::testing_support::ReadFile(path));
    if (!image.ok()) continue;
    photos.push_back(std::move(*image));
    ids->push_back(path.stem().string());
  }
  return photos;
}

// Returns articleType (the fifth column of styles.csv) by product id.
std::map<std::string, std::string> ReadArticleTypes(const fs::path& styles_csv) {
  std::map<std::string, std::string> types;
  std::ifstream in(styles_csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream stream(line);
    for (std::string field; std::getline(stream, field, ',') && fields.size() < 5;) fields.push_back(field);
    if (fields.size() == 5) types[fields[0]] = fields[4];
  }
  return types;
}

// Returns the mean share of each vector's 10 nearest other vectors (by dot product of unit
// vectors) whose label equals its own.
double NeighbourPrecision(const std::vector<std::vector<float>>& vectors, const std::vector<std::string>& labels) {
  constexpr size_t kNeighbours = 10;
  double total = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    std::vector<std::pair<double, size_t>> scored;
    for (size_t j = 0; j < vectors.size(); ++j) {
      if (j == i) continue;
      double dot = 0;
      for (size_t k = 0; k < vectors[i].size(); ++k) dot += double(vectors[i][k]) * vectors[j][k];
      scored.emplace_back(-dot, j);
    }
    const size_t top = std::min(kNeighbours, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + top, scored.end());
    size_t same = 0;
    for (size_t k = 0; k < top; ++k) same += labels[scored[k].second] == labels[i];
    total += top == 0 ? 0.0 : double(same) / top;
  }
  return vectors.empty() ? 0.0 : total / vectors.size();
}

// Prints NeighbourPrecision by articleType for both BackboneEncoder layers and ColourShapeEncoder.
int PrintNeighbourPrecision(const std::vector<DecodedImage>& photos, const std::vector<std::string>& ids,
                            const fs::path& data_dir, const fs::path& model_dir) {
  const std::map<std::string, std::string> types = ReadArticleTypes(data_dir / "fashion" / "styles.csv");
  std::vector<const DecodedImage*> labelled;
  std::vector<std::string> labels;
  for (size_t i = 0; i < photos.size(); ++i) {
    const auto found = types.find(ids[i]);
    if (found == types.end()) continue;
    labelled.push_back(&photos[i]);
    labels.push_back(found->second);
  }

  std::vector<std::unique_ptr<tessera::ImageEncoder>> encoders;
  for (tessera::BackboneFeatures features : {tessera::BackboneFeatures::kPenultimate, tessera::BackboneFeatures::kPooled}) {
    tessera::Result<std::unique_ptr<BackboneEncoder>> encoder =
        BackboneEncoder::Load({.model_dir = model_dir, .features = features});
    if (!encoder.ok()) {
      std::fprintf(stderr, "loading the model failed: %s\n", encoder.status().ToString().c_str());
      return 1;
    }
    encoders.push_back(std::move(*encoder));
  }
  encoders.push_back(std::make_unique<tessera::ColourShapeEncoder>());

  std::map<std::string, size_t> counts;
  for (const std::string& label : labels) ++counts[label];
  // The expected share for neighbours drawn at random from the other photos.
  double random_share = 0;
  for (const std::string& label : labels) random_share += double(counts[label] - 1) / double(labels.size() - 1);
  std::printf("photos=%zu article_types=%zu random_share=%.3f\n", labels.size(), counts.size(),
              random_share / labels.size());
  for (const auto& encoder : encoders) {
    std::vector<std::vector<float>> vectors;
    for (const DecodedImage* photo : labelled) vectors.push_back(encoder->Encode(*photo));
    std::printf("%s dimension=%zu same_type_share_of_10_nearest=%.3f\n", encoder->name().c_str(),
                encoder->dimension(), NeighbourPrecision(vectors, labels));
  }
  return 0;
}

// Encodes photos [begin, end) with Encode (batch == 0) or EncodeBatch.
void EncodeRange(const BackboneEncoder& encoder, const std::vector<DecodedImage>& photos, size_t begin, size_t end,
                 size_t batch) {
  if (batch == 0) {
    for (size_t i = begin; i < end; ++i) encoder.Encode(photos[i]);
  } else {
    encoder.EncodeBatch(std::span<const DecodedImage>(photos.data() + begin, end - begin));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measures BackboneEncoder throughput in photos per second"};
  std::string data_dir = TESSERA_DATA_DIR;
  std::string model_dir = std::string(TESSERA_MODEL_DIR) + "/nsfwjs-mobilenet-v2";
  size_t image_count = 200, batch = 0, callers = 1;
  int threads = 1, batch_threads = 1;
  bool neighbours = false;
  app.add_option("--data-dir", data_dir, "folder holding fashion/images")->capture_default_str();
  app.add_option("--model-dir", model_dir, "folder holding model.json and weights.bin")->capture_default_str();
  app.add_option("--images", image_count, "number of catalogue photos to encode")->capture_default_str();
  app.add_option("--threads", threads, "libtorch intra-op threads")->capture_default_str();
  app.add_option("--batch", batch, "0: Encode per photo; 1 or more: EncodeBatch with this max_batch")->capture_default_str();
  app.add_option("--batch-threads", batch_threads, "threads EncodeBatch runs on")->capture_default_str();
  app.add_option("--callers", callers, "threads calling the encoder at once")->capture_default_str();
  app.add_flag("--neighbours", neighbours, "measure how often the 10 nearest photos share the article type");
  CLI11_PARSE(app, argc, argv);
  if (callers == 0) {
    std::fprintf(stderr, "--callers must be 1 or more\n");
    return 2;
  }

  tessera::Result<std::unique_ptr<BackboneEncoder>> encoder =
      BackboneEncoder::Load(
      {.model_dir = model_dir, .num_threads = threads, .batch_threads = batch_threads, .max_batch = std::max<size_t>(batch, 1)});
  if (!encoder.ok()) {
    std::fprintf(stderr, "loading the model failed: %s\n", encoder.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> ids;
  const std::vector<DecodedImage> photos = DecodePhotos(fs::path(data_dir) / "fashion" / "images", image_count, &ids);
  if (photos.empty()) {
    std::fprintf(stderr, "no photos found in %s/fashion/images\n", data_dir.c_str());
    return 1;
  }
  if (neighbours) return PrintNeighbourPrecision(photos, ids, data_dir, model_dir);
  EncodeRange(**encoder, photos, 0, std::min<size_t>(photos.size(), 2), 0);  // warm-up: first-call allocations

  const double cpu_start = ProcessCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (size_t c = 0; c < callers; ++c) {
    const size_t begin = photos.size() * c / callers, end = photos.size() * (c + 1) / callers;
    workers.emplace_back([&, begin, end] { EncodeRange(**encoder, photos, begin, end, batch); });
  }
  for (std::thread& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;

  // CPU seconds per photo does not depend on other load on the machine; photos per second does.
  std::printf(
      "photos=%zu threads=%d batch=%zu batch_threads=%d callers=%zu seconds=%.2f photos_per_second=%.1f "
      "cpu_ms_per_photo=%.1f\n",
      photos.size(), threads, batch, batch_threads, callers, seconds, photos.size() / seconds,
      1000.0 * cpu_seconds / photos.size());
  return 0;
}
