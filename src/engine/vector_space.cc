#include "engine/vector_space.h"

#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "index/exact_vector_index.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

VectorSpace::VectorSpace(const VectorSpaceOptions& options) : options_(options) {
  if (options_.index_kind == "exact") {
    index_ = std::make_unique<ExactVectorIndex>(options_.dimension);
  } else {
    index_ = std::make_unique<HnswVectorIndex>(options_.dimension, options_.hnsw);
  }
}

std::string VectorSpace::IndexPath() const { return (fs::path(options_.index_dir) / (options_.name + ".hnsw")).string(); }

Status VectorSpace::ReadGeneration(const KvStore& kv) {
  Result<std::optional<std::string>> generation = kv.Get(Family::kMeta, GenerationKey());
  if (!generation.ok()) return generation.status();
  generation_ = *generation ? std::stoull(**generation) : 0;
  return Status::Ok();
}

void VectorSpace::AddGenerationBump(WriteBatch* batch) const {
  batch->Put(Family::kMeta, GenerationKey(), std::to_string(generation_ + 1));
}

Status VectorSpace::Load(const ProductStore& products,
                         const std::function<std::optional<DocId>(const std::string&)>& doc_of) {
  const auto start = std::chrono::steady_clock::now();
  if (options_.index_kind != "exact") {
    Result<std::unique_ptr<HnswVectorIndex>> saved =
        HnswVectorIndex::Load(IndexPath(), options_.dimension, generation_, doc_of, options_.hnsw);
    if (saved.ok()) {
      index_ = std::move(saved).value();
      saved_generation_ = generation_;
      spdlog::info("vector index {}: {} vectors loaded in {:.0f} ms", IndexPath(), index_->size(),
                   MillisecondsSince(start));
      return Status::Ok();
    }
    if (saved.status().code() != StatusCode::kNotFound) {
      spdlog::warn("{}; rebuilding it from the store", saved.status().ToString());
    }
  }
  TESSERA_RETURN_IF_ERROR(products.ForEachVector(options_.name, [&](const std::string& id, std::vector<float>&& v) {
    const std::optional<DocId> doc = doc_of(id);
    if (!doc) return;
    Status added = index_->Upsert(*doc, v);
    if (!added.ok()) spdlog::error("product {}: {} vector not indexed: {}", id, options_.name, added.ToString());
  }));
  spdlog::info("vector index {} ({}): {} vectors indexed in {:.0f} ms", options_.name, options_.index_kind,
               index_->size(), MillisecondsSince(start));
  return Status::Ok();
}

void VectorSpace::Save(const std::function<std::string(DocId)>& key_of) const {
  auto* hnsw = dynamic_cast<const HnswVectorIndex*>(index_.get());
  if (hnsw == nullptr) return;
  const auto start = std::chrono::steady_clock::now();
  std::lock_guard lock(save_mutex_);
  if (saved_generation_ == generation_) return;
  std::error_code error;
  fs::create_directories(options_.index_dir, error);
  Status saved = hnsw->Save(IndexPath(), generation_, key_of);
  if (!saved.ok()) {
    spdlog::warn("vector index {} not saved: {}", IndexPath(), saved.ToString());
    return;
  }
  saved_generation_ = generation_;
  spdlog::info("vector index {}: {} vectors saved in {:.0f} ms", IndexPath(), hnsw->size(), MillisecondsSince(start));
}

}  // namespace tessera
