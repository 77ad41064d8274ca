// VectorSpace: one kind of product vector (a photo encoder's output, or the fused joint-space
// vector), its nearest-neighbour index, and the generation count that decides whether a saved
// index may be reloaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "index/hnsw_vector_index.h"
#include "index/vector_index.h"
#include "store/kv_store.h"
#include "store/product_store.h"

namespace tessera {

struct VectorSpaceOptions {
  std::string name;        // the vectors' name in the store, e.g. "colour-shape-v1"
  size_t dimension = 0;
  std::string index_kind = "hnsw";  // "hnsw" (saved in index_dir) or "exact" (rebuilt at start)
  HnswOptions hnsw;
  std::string index_dir;   // where the HNSW index of this space is saved
};

// Thread safety: the caller serializes changes with its index lock, as for VectorIndex. Save
// may run under a shared lock: it takes its own mutex, so concurrent saves do not collide.
class VectorSpace {
 public:
  explicit VectorSpace(const VectorSpaceOptions& options);

  const std::string& name() const { return options_.name; }
  size_t dimension() const { return options_.dimension; }
  VectorIndex& index() { return *index_; }
  const VectorIndex& index() const { return *index_; }

  // Reads the space's generation from the store's meta family.
  Status ReadGeneration(const KvStore& kv);
  // Adds the next generation to `batch`, which must also carry the vector changes; call
  // GenerationCommitted once the batch is written.
  void AddGenerationBump(WriteBatch* batch) const;
  void GenerationCommitted() { ++generation_; }

  // Reloads the saved index when it contains exactly the stored vectors (same generation, every
  // check passed). Otherwise indexes the stored vectors of every product `doc_of` maps.
  Status Load(const ProductStore& products, const std::function<std::optional<DocId>(const std::string&)>& doc_of);

  // Saves an HNSW index changed since it was loaded or saved. Failures are logged: they cost
  // only a rebuild at the next start.
  void Save(const std::function<std::string(DocId)>& key_of) const;

 private:
  std::string GenerationKey() const { return "vector_generation/" + options_.name; }
  std::string IndexPath() const;

  VectorSpaceOptions options_;
  std::unique_ptr<VectorIndex> index_;
  // Bumped in the same store write as every change to the space's vectors.
  uint64_t generation_ = 0;
  // The generation the saved files hold, so a shutdown after no change writes nothing.
  mutable std::optional<uint64_t> saved_generation_;
  mutable std::mutex save_mutex_;
};

}  // namespace tessera
