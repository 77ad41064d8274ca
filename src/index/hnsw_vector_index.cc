#include "index/hnsw_vector_index.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

// hnswlib 0.6.2 reads the entry after a full neighbour list to compute a prefetch address
// (searchBaseLayer, only with USE_SSE). The value only feeds _mm_prefetch, but AddressSanitizer
// reports the read as a heap-buffer-overflow, so sanitized builds use hnswlib's plain loops.
// This file is the only one that includes hnswlib, so the setting is the same for all its code.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>
#include <zlib.h>

namespace tessera {
namespace {

// The header file beside hnswlib's graph file. hnswlib's own format has no magic number,
// version or checksum, so this file supplies them. Fields are little-endian (the only byte
// order Tessera builds for), in this order:
//   magic "TSVH" | u32 format version | u64 dimension | u64 generation | u64 graph bytes |
//   u32 CRC-32 of the graph file | u64 key bytes | u32 CRC-32 of the keys |
//   u32 CRC-32 of the preceding header bytes
// then the keys: for each live document, u64 label, u32 key length, key bytes.
constexpr std::array<char, 4> kMagic = {'T', 'S', 'V', 'H'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 8 + 8 + 4 + 8 + 4 + 4;
// Deleted graph nodes are relabelled at load into this range. DocIds are 32-bit, so a label here
// never collides with a live document.
constexpr hnswlib::labeltype kFirstDeadLabel = hnswlib::labeltype{1} << 40;

template <typename T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
T Get(const std::string& in, size_t* offset) {
  T value;
  std::memcpy(&value, in.data() + *offset, sizeof(value));
  *offset += sizeof(value);
  return value;
}

uint32_t Crc32(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const auto chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// CRC-32 and size of a whole file, read in blocks.
Result<std::pair<uint32_t, uint64_t>> FileCrc32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t bytes = 0;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<size_t>(in.gcount());
    crc = crc32(crc, reinterpret_cast<const Bytef*>(block.data()), static_cast<uInt>(got));
    bytes += got;
  }
  if (in.bad()) return Status::IoError("cannot read " + path);
  return std::make_pair(static_cast<uint32_t>(crc), bytes);
}

Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Status::IoError("cannot write " + temp);
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  if (error) return Status::IoError("cannot rename " + temp + " to " + path + ": " + error.message());
  return Status::Ok();
}

}  // namespace

struct HnswVectorIndex::Rep {
  Rep(size_t dimension, const HnswOptions& options, size_t capacity)
      : space(dimension),
        graph(&space, capacity, options.m, options.ef_construction, options.seed) {
    graph.setEf(options.ef_search);
  }
  // Loads a saved graph; `space` must be constructed before `graph` reads into it.
  Rep(size_t dimension, const HnswOptions& options, const std::string& path)
      : space(dimension), graph(&space, path) {
    graph.setEf(options.ef_search);
  }

  hnswlib::InnerProductSpace space;  // distance = 1 - inner product
  hnswlib::HierarchicalNSW<float> graph;

  const float* Data(DocId doc) const {
    return reinterpret_cast<const float*>(graph.getDataByInternalId(graph.label_lookup_.at(doc)));
  }
};

HnswVectorIndex::HnswVectorIndex(size_t dimension, const HnswOptions& options)
    : VectorIndex(dimension), options_(options), rep_(std::make_unique<Rep>(dimension, options, 1024)) {}

HnswVectorIndex::~HnswVectorIndex() = default;

size_t HnswVectorIndex::deleted_count() const { return rep_->graph.num_deleted_; }

Status HnswVectorIndex::Upsert(DocId doc, std::span<const float> vector) {
  TESSERA_RETURN_IF_ERROR(CheckVector(doc, vector));
  hnswlib::HierarchicalNSW<float>& graph = rep_->graph;
  // hnswlib updates a present or deleted label in place; only a new label takes a slot.
  if (!graph.label_lookup_.contains(doc) && graph.cur_element_count >= graph.max_elements_) {
    graph.resizeIndex(std::max<size_t>(1024, graph.max_elements_ * 2));
  }
  graph.addPoint(vector.data(), doc);
  docs_.add(doc);
  return Status::Ok();
}

void HnswVectorIndex::Remove(DocId doc) {
  if (!docs_.contains(doc)) return;
  rep_->graph.markDelete(doc);
  docs_.remove(doc);
  CompactIfMostlyDeleted();
}

void HnswVectorIndex::CompactIfMostlyDeleted() {
  const size_t deleted = deleted_count();
  if (deleted < 1024 || deleted < size()) return;
  auto fresh = std::make_unique<Rep>(dimension_, options_, std::max<size_t>(1024, size() * 2));
  for (DocId doc : docs_) fresh->graph.addPoint(rep_->Data(doc), doc);
  rep_ = std::move(fresh);
}

std::vector<VectorHit> HnswVectorIndex::ExactSearch(std::span<const float> query, size_t k,
                                                    const Roaring& candidates) const {
  std::vector<VectorHit> hits;
  hits.reserve(candidates.cardinality());
  for (DocId doc : candidates) {
    hits.push_back({doc, InnerProduct(query, {rep_->Data(doc), dimension_})});
  }
  KeepTopK(&hits, k);
  return hits;
}

std::vector<VectorHit> HnswVectorIndex::Search(std::span<const float> query, size_t k, const Roaring* allowed) const {
  const size_t total = size();
  if (k == 0 || query.size() != dimension_ || total == 0) return {};

  // A selective filter is searched exactly. Otherwise the graph is asked for enough neighbours
  // that about k of them pass the filter, and asked again for more when too few do.
  size_t passing = total;
  if (allowed != nullptr) {
    passing = static_cast<size_t>(allowed->and_cardinality(docs_));
    if (passing == 0) return {};
    if (passing <= options_.exact_below || passing <= k) return ExactSearch(query, k, *allowed & docs_);
  }
  size_t fetch = std::min(total, k * total / passing + k / 2 + 8);
  while (true) {
    // hnswlib searches with a candidate list of max(ef_search, fetch).
    auto found = rep_->graph.searchKnn(query.data(), fetch);
    std::vector<VectorHit> hits;
    hits.reserve(found.size());
    for (; !found.empty(); found.pop()) {
      const auto doc = static_cast<DocId>(found.top().second);
      if (allowed != nullptr && !allowed->contains(doc)) continue;
      hits.push_back({doc, 1.0f - found.top().first});
    }
    if (hits.size() >= k || fetch >= total) {
      KeepTopK(&hits, k);
      return hits;
    }
    if (fetch * 4 >= total) return ExactSearch(query, k, allowed != nullptr ? (*allowed & docs_) : docs_);
    fetch *= 4;
  }
}

float HnswVectorIndex::Similarity(std::span<const float> query, DocId doc) const {
  if (!docs_.contains(doc) || query.size() != dimension_) return 0;
  return InnerProduct(query, {rep_->Data(doc), dimension_});
}

std::vector<float> HnswVectorIndex::Vector(DocId doc) const {
  if (!docs_.contains(doc)) return {};
  const float* data = rep_->Data(doc);
  return {data, data + dimension_};
}

Status HnswVectorIndex::Save(const std::string& path, uint64_t generation,
                             const std::function<std::string(DocId)>& key_of) const {
  const std::string graph_temp = path + ".tmp";
  try {
    rep_->graph.saveIndex(graph_temp);
  } catch (const std::exception& e) {
    return Status::IoError("cannot write vector index " + graph_temp + ": " + e.what());
  }
  auto graph_crc = FileCrc32(graph_temp);
  if (!graph_crc.ok()) return graph_crc.status();

  std::string keys;
  for (DocId doc : docs_) {
    const std::string key = key_of(doc);
    Put<uint64_t>(&keys, doc);
    Put<uint32_t>(&keys, static_cast<uint32_t>(key.size()));
    keys += key;
  }
  std::string meta(kMagic.begin(), kMagic.end());
  Put<uint32_t>(&meta, kFormatVersion);
  Put<uint64_t>(&meta, dimension_);
  Put<uint64_t>(&meta, generation);
  Put<uint64_t>(&meta, graph_crc->second);
  Put<uint32_t>(&meta, graph_crc->first);
  Put<uint64_t>(&meta, keys.size());
  Put<uint32_t>(&meta, Crc32(keys.data(), keys.size()));
  Put<uint32_t>(&meta, Crc32(meta.data(), meta.size()));
  meta += keys;

  // Graph first, then header: a crash between the two renames leaves a header whose checksum
  // does not match the graph, and the next start rebuilds.
  std::error_code error;
  std::filesystem::rename(graph_temp, path, error);
  if (error) return Status::IoError("cannot rename " + graph_temp + " to " + path + ": " + error.message());
  return WriteFileAtomically(path + ".meta", meta);
}

Result<std::unique_ptr<HnswVectorIndex>> HnswVectorIndex::Load(
    const std::string& path, size_t dimension, uint64_t generation,
    const std::function<std::optional<DocId>(const std::string&)>& doc_of, const HnswOptions& options) {
  const std::string meta_path = path + ".meta";
  std::string meta;
  {
    std::ifstream in(meta_path, std::ios::binary);
    if (!in || !std::filesystem::exists(path)) return Status::NotFound("no saved vector index at " + path);
    meta.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto corrupt = [&](const std::string& what) {
    return Status::Corruption("vector index " + path + ": " + what);
  };

  // The header, then the keys, then the graph, each against its checksum.
  if (meta.size() < kHeaderBytes || !std::equal(kMagic.begin(), kMagic.end(), meta.begin())) {
    return corrupt("header is not a Tessera vector index header");
  }
  size_t offset = kMagic.size();
  const auto version = Get<uint32_t>(meta, &offset);
  const auto saved_dimension = Get<uint64_t>(meta, &offset);
  const auto saved_generation = Get<uint64_t>(meta, &offset);
  const auto graph_bytes = Get<uint64_t>(meta, &offset);
  const auto graph_crc = Get<uint32_t>(meta, &offset);
  const auto key_bytes = Get<uint64_t>(meta, &offset);
  const auto key_crc = Get<uint32_t>(meta, &offset);
  const auto header_crc = Get<uint32_t>(meta, &offset);
  if (header_crc != Crc32(meta.data(), kHeaderBytes - 4)) return corrupt("header checksum mismatch");
  if (version != kFormatVersion) return corrupt("format version " + std::to_string(version) + " is not supported");
  if (saved_dimension != dimension) {
    return corrupt("dimension " + std::to_string(saved_dimension) + " differs from the encoder's " +
                   std::to_string(dimension));
  }
  if (saved_generation != generation) {
    return corrupt("saved at vector generation " + std::to_string(saved_generation) + ", the store is at " +
                   std::to_string(generation));
  }
  if (meta.size() != kHeaderBytes + key_bytes || Crc32(meta.data() + kHeaderBytes, key_bytes) != key_crc) {
    return corrupt("key checksum or size mismatch");
  }
  auto crc = FileCrc32(path);
  if (!crc.ok()) return crc.status();
  if (crc->second != graph_bytes || crc->first != graph_crc) return corrupt("graph checksum or size mismatch");

  std::unordered_map<hnswlib::labeltype, std::string> key_by_label;
  while (offset + 12 <= meta.size()) {
    const auto label = Get<uint64_t>(meta, &offset);
    const auto length = Get<uint32_t>(meta, &offset);
    if (offset + length > meta.size()) return corrupt("key list is truncated");
    key_by_label.emplace(label, meta.substr(offset, length));
    offset += length;
  }

  auto index = std::make_unique<HnswVectorIndex>(dimension, options);
  try {
    index->rep_ = std::make_unique<Rep>(dimension, options, path);
  } catch (const std::exception& e) {
    return corrupt(std::string("hnswlib cannot read the graph: ") + e.what());
  }

  // Relabel: live nodes get the caller's current DocId, everything else a dead label.
  hnswlib::HierarchicalNSW<float>& graph = index->rep_->graph;
  graph.label_lookup_.clear();
  hnswlib::labeltype next_dead = kFirstDeadLabel;
  for (hnswlib::tableint internal = 0; internal < graph.cur_element_count; ++internal) {
    std::optional<DocId> doc;
    if (!graph.isMarkedDeleted(internal)) {
      auto key = key_by_label.find(graph.getExternalLabel(internal));
      if (key != key_by_label.end()) doc = doc_of(key->second);
    }
    if (doc && !index->docs_.contains(*doc)) {
      graph.setExternalLabel(internal, *doc);
      graph.label_lookup_[*doc] = internal;
      index->docs_.add(*doc);
    } else {
      graph.setExternalLabel(internal, next_dead);
      graph.label_lookup_[next_dead++] = internal;
      if (!graph.isMarkedDeleted(internal)) graph.markDeletedInternal(internal);
    }
  }
  return index;
}

}  // namespace tessera
