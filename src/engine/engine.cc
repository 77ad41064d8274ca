#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>
#include <zlib.h>

#include "analysis/analyzer.h"
#include "analysis/synonyms.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/text.h"
#include "encode/audio_decoder.h"
#include "encode/image_decoder.h"
#include "encode/backbone_encoder.h"
#include "encode/image_encoder.h"
#include "encode/photo_text_reader.h"
#include "encode/speech_model_builder.h"
#include "index/filter_index.h"
#include "index/inverted_index.h"
#include "encode/joint_space_model.h"
#include "engine/catalog_stream.h"
#include "engine/event_count_stream.h"
#include "engine/follow_loop.h"
#include "engine/joint_text.h"
#include "engine/purge_scheduler.h"
#include "engine/vector_space.h"
#include "index/vector_index.h"
#include "ingest/fashion_catalog_reader.h"
#include "ingest/jsonl_reader.h"
#include "personalize/profile_store.h"
#include "personalize/redis_profile_store.h"
#include "personalize/session_table.h"
#include "personalize/user_key.h"
#include "rank/features.h"
#include "rank/product_signals.h"
#include "rank/ranker.h"
#include "rank/xgboost_ranker.h"
#include "retrieve/candidate_fusion.h"
#include "retrieve/retriever.h"
#include "store/kv_store.h"
#include "store/product_store.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

// Text fields of the inverted index, in the order Engine::Rep::FieldTerms fills them. The
// weights were tuned with `tessera eval --field-weight ...` on the fashion catalogue's judged
// queries of seed 42 and checked on seed 7 (BENCHMARKS.md). Catalogues whose category path is
// less reliable than their titles should weigh the title more.
std::vector<FieldSpec> TextFields() {
  return {{"title", 0.6f},      {"brand", 0.7f},       {"category", 1.5f},
          {"attributes", 0.8f}, {"description", 0.2f}, {"photo_text", 0.3f}};
}

// Returns the checksum a model file stores in its last 8 bytes (common/model_file.h) as 16 hex
// digits, so that it names one training run's model. Returns "" when the file is unreadable or
// too short.
std::string ModelFileVersion(const std::string& path) {
  if (path.empty()) return "";
  const std::optional<std::string> bytes = ReadFileBytes(path);
  if (!bytes || bytes->size() < 8) return "";
  uint64_t checksum = 0;
  for (size_t i = 0; i < 8; ++i) checksum |= uint64_t(static_cast<unsigned char>((*bytes)[bytes->size() - 8 + i])) << (8 * i);
  return HexDigits(checksum);
}

// Products are ingested in batches of this many records: one store write and one index lock each.
constexpr size_t kIngestBatch = 512;

// Reads a product's first readable photo; std::nullopt when it has none.
std::optional<std::string> ReadFirstPhoto(const Product& product) {
  for (const std::string& path : product.image_paths) {
    if (std::optional<std::string> bytes = ReadFileBytes(path)) return bytes;
  }
  return std::nullopt;
}

// CRC-32 and size of `bytes`: a cheap identity of a photo, to tell whether it changed.
std::string Fingerprint(std::string_view bytes) {
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()),
                          static_cast<uInt>(bytes.size()));
  return "crc32:" + std::to_string(crc) + ":" + std::to_string(bytes.size());
}

// The product count an event adds to; none for a search. An impression counts as a view, the
// denominator of click-through.
std::optional<SignalKind> SignalOf(EventType type) {
  switch (type) {
    case EventType::kSearch: return std::nullopt;
    case EventType::kImpression: return SignalKind::kView;
    case EventType::kView: return SignalKind::kView;
    case EventType::kClick: return SignalKind::kClick;
    case EventType::kAddToCart: return SignalKind::kAddToCart;
    case EventType::kPurchase: return SignalKind::kPurchase;
  }
  return std::nullopt;
}

void AddSignal(ProductSignals* signals, const Event& event, int delta) {
  if (const std::optional<SignalKind> kind = SignalOf(event.type)) signals->Add(event.product_id, *kind, delta);
}

Result<std::unique_ptr<ImageEncoder>> CreatePhotoEncoder(const EngineOptions& options) {
  const std::string& choice = options.photo_encoder;
  if (choice == "colour-shape") return std::unique_ptr<ImageEncoder>(new ColourShapeEncoder());
  if (choice != "mobilenet" && choice != "mobilenet-pooled" && choice != "mobilenet-pooled+colour-shape") {
    return Status::InvalidArgument("photo encoder '" + choice +
                                   "' is unknown: use mobilenet-pooled+colour-shape, mobilenet-pooled, mobilenet "
                                   "or colour-shape");
  }
  BackboneEncoderOptions backbone;
  backbone.model_dir = fs::path(options.model_dir) / "nsfwjs-mobilenet-v2";
  backbone.features = choice == "mobilenet" ? BackboneFeatures::kPenultimate : BackboneFeatures::kPooled;
  Result<std::unique_ptr<BackboneEncoder>> encoder = BackboneEncoder::Load(backbone);
  if (!encoder.ok()) return encoder.status();
  if (choice != "mobilenet-pooled+colour-shape") return std::unique_ptr<ImageEncoder>(std::move(encoder).value());
  std::vector<std::unique_ptr<ImageEncoder>> parts;
  parts.push_back(std::move(encoder).value());
  parts.push_back(std::make_unique<ColourShapeEncoder>());
  return std::unique_ptr<ImageEncoder>(new ConcatenatedImageEncoder(std::move(parts), {1.0f, 1.0f}));
}

// "2024-05-01T12:00:00Z": a Unix millisecond time in UTC, for messages.
std::string UtcTimeText(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

constexpr int64_t kDayMs = 24 * 3600 * 1000;

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Compacts the families that hold shopper data (events, profiles, and event ids and opt-out
// flags in meta), so erased shoppers' bytes leave the store's files. The second pass starts a
// MANIFEST that lists only the files the first pass wrote (a new MANIFEST begins with the files
// live before its first change), so the erased key range leaves the MANIFEST too.
Status PurgeShopperData(KvStore* kv) {
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0; pass < 2; ++pass) {
    TESSERA_RETURN_IF_ERROR(kv->Compact({Family::kMeta, Family::kEvents, Family::kProfiles}));
  }
  spdlog::info("erased shopper data purged from the store's files in {:.0f} ms", MillisecondsSince(start));
  return Status::Ok();
}

// The parts of a product's joint-space vector, in the order of the fusion weights.
constexpr size_t kJointParts = 3;
constexpr const char* kJointPartNames[kJointParts] = {"text", "photo", "phototext"};

// A product's vectors in the joint space: each part (empty when the product lacks that
// modality) and their fusion.
struct JointVectors {
  std::array<std::vector<float>, kJointParts> parts;
  std::vector<float> fused;
};

}  // namespace

struct Engine::Rep {
  EngineOptions options;
  const Clock* clock = nullptr;

  std::unique_ptr<KvStore> kv;
  std::unique_ptr<ProductStore> products;
  std::unique_ptr<ProfileStore> profiles;
  // `profiles` as its implementation: exactly one of the two is set.
  EmbeddedProfileStore* embedded_profiles = nullptr;
  RedisProfileStore* redis_profiles = nullptr;
  // With Redis, reads the shared stream of other replicas' product-count changes into `signals`
  // until `stop_reading_shared_events`.
  std::thread shared_events_reader;
  std::atomic<bool> stop_reading_shared_events = false;
  std::string shared_events_position = "0-0";  // the last entry read; used by that thread only
  // Rate limit of the warning logged when a search cannot read a profile: the steady-clock time
  // (milliseconds) of the last one, and the warnings left out since.
  mutable std::atomic<int64_t> last_profile_warning_ms = INT64_MIN / 2;
  mutable std::atomic<uint64_t> unlogged_profile_warnings = 0;
  // The same for searches whose recent events could not be read from Redis.
  mutable std::atomic<int64_t> last_session_warning_ms = INT64_MIN / 2;
  mutable std::atomic<uint64_t> unlogged_session_warnings = 0;
  // The retention sweep's thread; it waits on sweep_wake until the next sweep or `stopping`.
  std::thread sweeper;
  std::mutex sweep_mutex;
  std::condition_variable sweep_wake;
  bool stopping = false;  // guarded by sweep_mutex
  // Compacts the families that hold shopper data after erasures. Declared after `kv`, so it is
  // destroyed (running a pending purge) while the store is still open.
  std::unique_ptr<PurgeScheduler> purger;
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<SynonymSet> synonyms;  // null without a synonym file
  std::unique_ptr<QueryParser> parser;
  std::unique_ptr<ImageEncoder> image_encoder;  // options.photo_encoder
  // Null until `tessera train-encoders` has written a model for the photo encoder.
  std::unique_ptr<JointSpaceModel> joint_model;
  std::unique_ptr<PhotoTextReader> text_reader;  // null when reading is off or Tesseract is missing
  std::unique_ptr<PersonalReranker> reranker;
  // Session vectors, keyed by the user key that stored events carry (UserKeyer::Key without its
  // '#'), so that sessions rebuilt from the store and those updated live share keys.
  std::optional<UserKeyer> user_keyer;
  std::unique_ptr<SessionTable> sessions;
  // Views, clicks, carts and purchases per product, and price bands, for the ranking features.
  ProductSignals signals;
  // With Redis and a replica name, builds `signals` from the shared stream through this
  // replica's consumer group and saves them in the data dir. Declared after `signals` and `kv`,
  // which its thread uses, so it is destroyed first.
  std::unique_ptr<EventCountStream> event_counts;

  // The ranker in use. A search copies the pointer once, so LoadRanker can swap in a new model
  // while searches finish with the old one.
  mutable std::mutex ranker_mutex;
  std::shared_ptr<const Ranker> ranker = std::make_shared<RetrievalScoreRanker>();
  std::string ranker_path;  // "" for the retrieval score
  std::string ranker_version;  // ModelFileVersion of ranker_path

  std::shared_ptr<const Ranker> CurrentRanker() const {
    std::lock_guard lock(ranker_mutex);
    return ranker;
  }

  // Orders catalogue writes from their generation bump to their index update, so that the
  // store and the index apply them in the same order and each bump follows the previous one.
  // Taken before index_mutex.
  std::mutex catalogue_write_mutex;

  // Guards everything below. Searches take it shared; catalogue changes take it exclusive.
  mutable std::shared_mutex index_mutex;
  InvertedIndex text_index{TextFields()};
  FilterIndex filters;
  std::unique_ptr<VectorSpace> photo_space;  // the photo encoder's vectors
  // Fused product vectors in the joint text-photo space; null when no joint model is loaded.
  std::unique_ptr<VectorSpace> joint_space;
  // The parts the fused vectors are made of (text, projected photo, photo text), each in the
  // joint space's dimension, for the per-modality ranking features. Exact indexes, kept in the
  // store beside the fused vectors; null when no joint model is loaded.
  std::array<std::unique_ptr<VectorSpace>, kJointParts> joint_parts;
  Roaring live_docs;
  std::vector<std::shared_ptr<const Product>> product_by_doc;
  std::unordered_map<std::string, DocId> doc_by_id;

  // With a replica name, the shared catalogue stream; catalogue changes go through it.
  std::unique_ptr<CatalogStream> catalog_stream;

  // The speech recognizer is swapped whole when the model is rebuilt.
  mutable std::mutex speech_mutex;
  std::shared_ptr<SpeechRecognizer> speech;

  std::vector<std::vector<std::string>> FieldTerms(const Product& p, const std::string& photo_text) const {
    std::string category;
    for (const std::string& level : p.category_path) category += level + " ";
    std::string attributes;
    for (const char* key : {"colour", "gender", "usage", "season"}) attributes += p.Attribute(key) + " ";
    return {analyzer->IndexTerms(p.title),      analyzer->IndexTerms(p.brand),
            analyzer->IndexTerms(category),     analyzer->IndexTerms(attributes),
            analyzer->IndexTerms(p.description), analyzer->IndexTerms(photo_text)};
  }

  // The contribution of a product's first photo: its vector (empty when it has no decodable
  // photo) and the words printed on it (std::nullopt when it is too small to read or no text
  // reader is loaded).
  struct PhotoAnalysis {
    std::vector<float> vector;
    std::optional<DerivedText> text;
  };

  // Decodes the product's first photo once, for both the encoder and the text reader.
  PhotoAnalysis AnalyzePhoto(const Product& p) const {
    PhotoAnalysis analysis;
    std::optional<std::string> bytes = ReadFirstPhoto(p);
    if (!bytes) return analysis;
    Result<DecodedImage> image = DecodeImage(*bytes);
    if (!image.ok()) {
      spdlog::warn("product {}: photo not indexed: {}", p.id, image.status().ToString());
      return analysis;
    }
    analysis.vector = image_encoder->Encode(*image);
    if (text_reader && text_reader->IsReadable(*image)) analysis.text = ReadPhotoText(p, *bytes, *image);
    return analysis;
  }

  // Reading takes about a second per large photo, so text stored for the same photo bytes is
  // reused.
  std::optional<DerivedText> ReadPhotoText(const Product& p, std::string_view bytes, const DecodedImage& image) const {
    const std::string fingerprint = Fingerprint(bytes);
    Result<std::optional<DerivedText>> stored = products->GetDerivedText(text_reader->name(), p.id);
    if (stored.ok() && stored->has_value() && (*stored)->input_fingerprint == fingerprint) return **stored;
    Result<PhotoText> read = text_reader->Read(image);
    if (!read.ok()) {
      spdlog::warn("product {}: text on photo not read: {}", p.id, read.status().ToString());
      return std::nullopt;
    }
    if (!read->read) return std::nullopt;
    return DerivedText{fingerprint, read->text};
  }

  // Runs AnalyzePhoto over `batch` on every core: encoders and the text reader are thread-safe,
  // and photo work dominates ingest time.
  std::vector<PhotoAnalysis> AnalyzePhotos(const std::vector<std::shared_ptr<const Product>>& batch) const {
    std::vector<PhotoAnalysis> analyses(batch.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < batch.size(); i = next++) {
        if (batch[i]) analyses[i] = AnalyzePhoto(*batch[i]);
      }
    };
    const size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
    std::vector<std::jthread> threads;
    for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
    work();
    return analyses;
  }

  // Precondition: index_mutex held exclusively.
  void RemoveLocked(const std::string& id) {
    auto it = doc_by_id.find(id);
    if (it == doc_by_id.end()) return;
    const DocId doc = it->second;
    text_index.Remove(doc);
    filters.Remove(doc);
    photo_space->index().Remove(doc);
    if (joint_space) joint_space->index().Remove(doc);
    for (const auto& part : joint_parts) {
      if (part) part->index().Remove(doc);
    }
    live_docs.remove(doc);
    product_by_doc[doc].reset();
    doc_by_id.erase(it);
  }

  // Precondition: index_mutex held exclusively. Replaces any earlier version of the product.
  void IndexLocked(std::shared_ptr<const Product> product, const std::vector<std::vector<std::string>>& terms,
                   const std::vector<float>& photo_vector, const JointVectors& joint) {
    RemoveLocked(product->id);
    const auto doc = static_cast<DocId>(product_by_doc.size());
    text_index.Add(doc, terms);
    for (const std::string& level : product->category_path) filters.Add(doc, "category", level);
    filters.Add(doc, "gender", product->Attribute("gender"));
    filters.Add(doc, "colour", product->Attribute("colour"));
    filters.Add(doc, "article_type", product->Attribute("article_type"));
    filters.SetPrice(doc, product->price);
    if (!photo_vector.empty()) {
      Status added = photo_space->index().Upsert(doc, photo_vector);
      if (!added.ok()) spdlog::error("product {}: photo vector not indexed: {}", product->id, added.ToString());
    }
    if (joint_space && !joint.fused.empty()) {
      Status added = joint_space->index().Upsert(doc, joint.fused);
      if (!added.ok()) spdlog::error("product {}: joint vector not indexed: {}", product->id, added.ToString());
    }
    for (size_t i = 0; i < kJointParts; ++i) {
      if (!joint_parts[i] || joint.parts[i].empty()) continue;
      Status added = joint_parts[i]->index().Upsert(doc, joint.parts[i]);
      if (!added.ok()) spdlog::error("product {}: joint vector part not indexed: {}", product->id, added.ToString());
    }
    live_docs.add(doc);
    doc_by_id[product->id] = doc;
    product_by_doc.push_back(std::move(product));
  }

  // Stores, encodes and indexes a batch of records in file order.
  Status ApplyBatch(std::vector<CatalogRecord>* batch) {
    // Encoding and analysis run outside the lock so searches continue meanwhile.
    struct Prepared {
      std::shared_ptr<const Product> product;
      std::vector<std::vector<std::string>> terms;
      std::vector<float> vector;
      JointVectors joint;
    };
    std::vector<std::shared_ptr<const Product>> upserts(batch->size());
    for (size_t i = 0; i < batch->size(); ++i) {
      if ((*batch)[i].op == CatalogRecord::Op::kUpsert) {
        upserts[i] = std::make_shared<const Product>(std::move((*batch)[i].product));
      }
    }
    std::vector<PhotoAnalysis> photos = AnalyzePhotos(upserts);

    std::vector<Prepared> prepared;
    WriteBatch writes;
    for (size_t i = 0; i < batch->size(); ++i) {
      CatalogRecord& record = (*batch)[i];
      if (record.op == CatalogRecord::Op::kDelete) {
        TESSERA_RETURN_IF_ERROR(products->AddDelete(&writes, record.product.id));
        prepared.push_back({std::make_shared<const Product>(std::move(record.product)), {}, {}, {}});
        continue;
      }
      const std::shared_ptr<const Product>& product = upserts[i];
      PhotoAnalysis& photo = photos[i];
      ProductStore::AddPut(&writes, *product);
      if (!photo.vector.empty()) {
        ProductStore::AddVectorPut(&writes, image_encoder->name(), product->id, photo.vector);
      } else {
        ProductStore::AddVectorDelete(&writes, image_encoder->name(), product->id);
      }
      if (text_reader && photo.text) {
        ProductStore::AddDerivedTextPut(&writes, text_reader->name(), product->id, *photo.text);
      } else if (text_reader) {
        ProductStore::AddDerivedTextDelete(&writes, text_reader->name(), product->id);
      }
      const std::string photo_text = photo.text ? photo.text->text : std::string();
      JointVectors joint;
      if (joint_space) {
        joint = ProductJointVectors(*product, photo.vector, photo_text);
        AddJointPuts(&writes, product->id, joint);
      }
      prepared.push_back({product, FieldTerms(*product, photo_text), std::move(photo.vector), std::move(joint)});
    }
    // Without this order, two concurrent batches (a PUT beside an import) stored the same next
    // generation, and an index saved between their commits lacked the second batch's vectors
    // yet matched the store, so a crash made the restart load it. Two upserts of one product
    // could also reach the store and the index in opposite orders, so a restart served the
    // other version. Encoding above stays outside the lock.
    std::lock_guard write_lock(catalogue_write_mutex);
    photo_space->AddGenerationBump(&writes);
    AddJointGenerationBumps(&writes);
    // Synced, so an acknowledged catalogue change survives a crash.
    TESSERA_RETURN_IF_ERROR(kv->Write(&writes, /*sync=*/true));

    std::unique_lock lock(index_mutex);
    photo_space->GenerationCommitted();
    JointGenerationsCommitted();
    for (size_t i = 0; i < prepared.size(); ++i) {
      if ((*batch)[i].op == CatalogRecord::Op::kDelete) {
        RemoveLocked(prepared[i].product->id);
      } else {
        IndexLocked(prepared[i].product, prepared[i].terms, prepared[i].vector, prepared[i].joint);
      }
    }
    RefreshPriceBandsLocked();
    batch->clear();
    return Status::Ok();
  }

  // Precondition: index_mutex held. NOTE: recomputed over the whole catalogue after every batch
  // (a sort per article type, about 10 ms for 44,000 products), which single upserts repeat.
  void RefreshPriceBandsLocked() {
    std::vector<const Product*> all;
    all.reserve(product_by_doc.size());
    for (const auto& product : product_by_doc) {
      if (product) all.push_back(product.get());
    }
    signals.SetPriceBands(all);
  }

  // The catalogue's product with `id`, shared, or null when it has none.
  std::shared_ptr<const Product> ProductOf(const std::string& id) const {
    std::shared_lock lock(index_mutex);
    auto it = doc_by_id.find(id);
    return it == doc_by_id.end() ? nullptr : product_by_doc[it->second];
  }
  ProductLookup CatalogueLookup() const {
    return [this](const std::string& id) { return ProductOf(id); };
  }

  // Events older than this Unix millisecond time are past retention; INT64_MIN keeps every event.
  int64_t RetentionCutoffMs() const {
    if (options.retention_days <= 0) return INT64_MIN;
    return clock->NowMillis() - options.retention_days * kDayMs;
  }

  // Checks an event against the user id rules, the retention cut-off and the catalogue, and
  // fills `record` with it and its product.
  Status CheckEvent(const Event& event, int64_t cutoff_ms, EventRecord* record) const {
    TESSERA_RETURN_IF_ERROR(ValidateUserId(event.user_id));
    if (event.timestamp_ms < cutoff_ms) {
      return Status::InvalidArgument("timestamp " + std::to_string(event.timestamp_ms) + " (" +
                                     UtcTimeText(event.timestamp_ms) + ") is older than the retention cut-off " +
                                     std::to_string(cutoff_ms) + " (" + UtcTimeText(cutoff_ms) + ", " +
                                     std::to_string(options.retention_days) + " days ago): such events are not stored");
    }
    // A search names no product; every other event must name one in the catalogue.
    static const auto kNoProduct = std::make_shared<const Product>();
    std::shared_ptr<const Product> product = kNoProduct;
    if (event.type != EventType::kSearch || !event.product_id.empty()) {
      product = ProductOf(event.product_id);
      if (!product) {
        return Status::NotFound("product '" + Excerpt(event.product_id) +
                                "' not found: send events only for products in the catalogue");
      }
    }
    record->event = event;
    record->product = std::move(product);
    return Status::Ok();
  }

  // Sweeps expired events every retention_sweep_interval until StopSweeper.
  void StartSweeper(Engine* engine) {
    if (options.retention_days <= 0 || options.retention_sweep_interval.count() <= 0) return;
    sweeper = std::thread([this, engine] {
      std::unique_lock lock(sweep_mutex);
      while (!sweep_wake.wait_for(lock, options.retention_sweep_interval, [this] { return stopping; })) {
        lock.unlock();
        Result<size_t> swept = engine->SweepExpiredEvents();
        if (!swept.ok()) {
          spdlog::error("retention sweep failed, retrying in {} s: {}", options.retention_sweep_interval.count(),
                        swept.status().ToString());
        }
        lock.lock();
      }
    });
  }
  void StopSweeper() {
    {
      std::lock_guard lock(sweep_mutex);
      stopping = true;
    }
    sweep_wake.notify_all();
    if (sweeper.joinable()) sweeper.join();
  }

  // Counts every stored event into `signals`; events of products no longer in the catalogue
  // count too, so a product that returns keeps its history. Events recent enough for a live
  // session go to `recent`, in the same scan.
  Status LoadSignals(std::vector<Event>* recent) {
    if (event_counts != nullptr) {
      // An unreachable Redis leaves the entries to the follower thread.
      Status caught_up = event_counts->CatchUp();
      if (!caught_up.ok()) {
        spdlog::warn("product counts not read from the shared event stream yet, serving the saved ones: {}",
                     caught_up.ToString());
      }
      return Status::Ok();
    }
    if (redis_profiles != nullptr) {
      ReadSharedEvents();
      return Status::Ok();
    }
    size_t events = 0;
    const int64_t session_start = clock->NowMillis() - options.session.ExpireAfterMs();
    TESSERA_RETURN_IF_ERROR(embedded_profiles->ForEachEvent([&](Event&& event) {
      AddSignal(&signals, event, 1);
      ++events;
      if (event.timestamp_ms >= session_start && ShowsInterest(event.type)) recent->push_back(std::move(event));
    }));
    if (events > 0) spdlog::info("product signals: {} events counted", events);
    return Status::Ok();
  }

  // Applies the shared stream's product-count changes up to its end. An unreachable Redis is
  // logged; the reader thread catches up once it is back.
  void ReadSharedEvents() {
    const auto start = std::chrono::steady_clock::now();
    size_t changes = 0;
    for (;;) {
      Result<std::string> position = redis_profiles->ReadSharedEvents(
          shared_events_position, 1000, std::chrono::milliseconds(0), [&](const SharedEventDelta& delta) {
            ApplySharedDelta(delta);
            ++changes;
          });
      if (!position.ok()) {
        spdlog::warn("product counts not read from the shared event stream yet: {}", position.status().ToString());
        return;
      }
      if (*position == shared_events_position) break;
      shared_events_position = *position;
    }
    spdlog::info("product signals: {} event count changes read from the shared stream in {:.0f} ms", changes,
                 MillisecondsSince(start));
  }

  // Adds an event this replica recorded (+1) or erased (-1) to the product counts, unless
  // event_counts builds them from the shared stream, which carries this replica's changes too.
  void CountLocalEvent(const Event& event, int delta) {
    if (event_counts == nullptr) AddSignal(&signals, event, delta);
  }

  void ApplySharedDelta(const SharedEventDelta& delta) {
    if (delta.product_id.empty()) return;
    if (const std::optional<SignalKind> kind = SignalOf(delta.type)) signals.Add(delta.product_id, *kind, delta.delta);
  }

  // Follows the shared stream on a thread of its own, so that other replicas' events reach the
  // popularity and click-through features within milliseconds.
  void StartSharedEventsReader() {
    if (event_counts != nullptr) {
      event_counts->StartFollowing();
      return;
    }
    if (redis_profiles == nullptr) return;
    shared_events_reader = std::thread([this] {
      FollowUntilStopped(
          stop_reading_shared_events, "reading the shared event stream",
          [this]() -> Status {
            Result<std::string> position = redis_profiles->ReadSharedEvents(
                shared_events_position, 1000, std::chrono::milliseconds(500),
                [this](const SharedEventDelta& delta) { ApplySharedDelta(delta); });
            if (!position.ok()) return position.status();
            shared_events_position = *position;
            return Status::Ok();
          },
          [this] { return shared_events_position; });
    });
  }
  void StopSharedEventsReader() {
    stop_reading_shared_events.store(true);
    if (shared_events_reader.joinable()) shared_events_reader.join();
  }

  // The profile that personalizes a search. When a remote store cannot be reached the search
  // goes on unpersonalized, with a note in `warnings` and a warning logged at most every 10 s.
  Result<std::optional<UserProfile>> SearchProfileOf(const std::string& user_id, std::vector<std::string>* warnings) const {
    Result<std::optional<UserProfile>> profile = ProfileOf(user_id);
    if (profile.ok() || profile.status().code() != StatusCode::kProfileStoreUnavailable) return profile;
    warnings->push_back("the results are not personalized: the profile store cannot be reached");
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t last_ms = last_profile_warning_ms.load();
    if (now_ms - last_ms < 10000 || !last_profile_warning_ms.compare_exchange_strong(last_ms, now_ms)) {
      unlogged_profile_warnings.fetch_add(1);
      return std::optional<UserProfile>();
    }
    spdlog::warn("searches are not personalized ({} more since the last warning): {}",
                 unlogged_profile_warnings.exchange(0), profile.status().message());
    return std::optional<UserProfile>();
  }

  // True for the events a session vector follows: a search or an impression shows no interest.
  static bool ShowsInterest(EventType type) { return type != EventType::kSearch && type != EventType::kImpression; }

  // The key of `user_id` in `sessions`.
  std::string SessionUserKey(const std::string& user_id) const { return user_keyer->Key(user_id).substr(1); }

  // Adds the event's product to the session of (user_key, event.session_id) in `table`. Events
  // without interest, products without a fused vector and engines without a joint model add
  // nothing. Precondition: index_mutex held.
  void AddToSessionLocked(const Event& event, const std::string& user_key, SessionTable& table) const {
    if (!joint_space || !ShowsInterest(event.type)) return;
    const std::optional<DocId> doc = DocOf(event.product_id);
    if (!doc) return;
    const std::vector<float> vector = joint_space->index().Vector(*doc);
    Status added = table.Add(user_key, event.session_id, vector, options.profile.WeightOf(event.type),
                             event.timestamp_ms, clock->NowMillis());
    // The event itself is stored; only its session term is lost.
    if (!added.ok()) spdlog::error("product {}: not added to a session: {}", event.product_id, added.ToString());
  }

  // Rebuilds the session vectors from `recent` (stored events, user key as user_id, each user's
  // oldest first). Precondition: index_mutex held, fused vectors loaded.
  void ReplaySessionsLocked(const std::vector<Event>& recent) {
    if (!joint_space) return;
    for (const Event& event : recent) AddToSessionLocked(event, event.user_id, *sessions);
    if (sessions->size() > 0) {
      spdlog::info("sessions: {} rebuilt from {} recent events", sessions->size(), recent.size());
    }
  }

  // Adds a recorded event to its session in memory. With a Redis store, sessions are rebuilt
  // from the stored events at each search instead (SharedSessionOf), so nothing is kept here.
  // Precondition: index_mutex held.
  void AddRecordedToSessionLocked(const Event& event) {
    if (redis_profiles != nullptr) return;
    AddToSessionLocked(event, SessionUserKey(event.user_id), *sessions);
  }

  // The session that personalizes `request`: the one it names, or else the shopper's most recent.
  // A failure to read it from Redis leaves the session term out and adds a note to `warnings`.
  std::optional<SessionVector> SessionOf(const SearchRequest& request, std::vector<std::string>* warnings) const {
    if (request.user_id.empty() || !joint_space || options.personalization.session_weight == 0) return std::nullopt;
    if (redis_profiles != nullptr) return SharedSessionOf(request, warnings);
    return sessions->Find(SessionUserKey(request.user_id), request.session_id, clock->NowMillis());
  }

  // Maximum number of a shopper's newest events that a search replays into their sessions. A
  // stream entry takes about 250 bytes in Redis (docs/scaling-redis.md, "Redis, memory"), so
  // this bounds a read near 125 KB, an estimate.
  static constexpr size_t kMaxSessionReplayEvents = 500;

  // SessionOf with a Redis store. Any replica may have recorded the shopper's events, so the
  // sessions are rebuilt from the events of the expiry window, oldest first, as an embedded
  // store rebuilds them when it opens. Every replica thus computes the same session from the
  // same events, with the decay of SessionVector::Add.
  std::optional<SessionVector> SharedSessionOf(const SearchRequest& request, std::vector<std::string>* warnings) const {
    const int64_t now_ms = clock->NowMillis();
    Result<std::vector<Event>> recent =
        redis_profiles->RecentEvents(request.user_id, now_ms - options.session.ExpireAfterMs(), kMaxSessionReplayEvents);
    if (!recent.ok()) {
      warnings->push_back("the session term is left out: reading the shopper's recent events failed: " +
                          recent.status().message());
      LogSessionReadFailure(recent.status());
      return std::nullopt;
    }
    const std::string user_key = SessionUserKey(request.user_id);
    SessionTable replayed(options.session);
    {
      std::shared_lock lock(index_mutex);
      for (const Event& event : *recent) AddToSessionLocked(event, user_key, replayed);
    }
    return replayed.Find(user_key, request.session_id, now_ms);
  }

  // Logs a failed read of a shopper's recent events at most every 10 s, with the number of
  // failures left out since the last line.
  void LogSessionReadFailure(const Status& status) const {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t last_ms = last_session_warning_ms.load();
    if (now_ms - last_ms < 10000 || !last_session_warning_ms.compare_exchange_strong(last_ms, now_ms)) {
      unlogged_session_warnings.fetch_add(1);
      return;
    }
    spdlog::warn("searches without a session term ({} more since the last warning): {}",
                 unlogged_session_warnings.exchange(0), status.ToString());
  }

  // The session term of a DocId under `session`; empty without a session. The fused vectors are
  // unit length, so their inner product with the unit session direction is the cosine.
  // Precondition: index_mutex held shared for as long as the result is used.
  // NOTE: the learned ranker does not see this cosine, because a change of the feature schema
  // (rank/features.h) invalidates trained models. A session-cosine feature is a candidate for
  // the next schema change.
  std::function<double(DocId)> SessionTermOf(const std::optional<SessionVector>& session) const {
    if (!session || !joint_space) return {};
    auto direction = std::make_shared<const std::vector<float>>(session->Direction());
    const double weight = session->Weight(clock->NowMillis(), options.session);
    return [this, direction, weight](DocId doc) {
      return reranker->SessionTerm(joint_space->index().Similarity(*direction, doc), weight);
    };
  }

  std::string DefaultRankerPath() const {
    return options.ranker_model_path.empty() ? (fs::path(options.data_dir) / "models" / "ranker.model").string()
                                             : options.ranker_model_path;
  }

  // The personal features of the request's shopper; empty without a profile.
  std::function<PersonalFeatures(const Product&)> PersonalFeaturesOf(const std::optional<UserProfile>& profile) const {
    if (!profile) return {};
    const double strength = reranker->StrengthFactor(*profile, clock->NowMillis(), options.profile);
    return [this, &profile, strength](const Product& product) { return reranker->Features(product, *profile, strength); };
  }

  // Every feature of the candidates of `set`. Precondition: index_mutex held shared.
  FeatureMatrix ExtractLocked(const SearchRequest& request, const CandidateSet& set,
                              const std::optional<UserProfile>& profile, size_t consensus_depth) const {
    FeatureQuery query;
    query.consensus_depth = consensus_depth;
    query.lexical = &set.query;
    query.has_photo = !request.image_vector.empty();
    query.has_joint = joint_space && !request.joint_vector.empty();
    query.now_ms = clock->NowMillis();
    query.personal = PersonalFeaturesOf(profile);
    std::array<const VectorIndex*, kJointParts> parts = {};
    if (query.has_joint) {
      for (size_t i = 0; i < kJointParts; ++i) parts[i] = &joint_parts[i]->index();
      query.joint_part_query = PartQueryVector(request.joint_vector);
    }
    const FeatureExtractor extractor(text_index, photo_space->index(), signals, parts);
    return extractor.Extract(query, set.candidates, [&](DocId doc) -> const Product& { return *product_by_doc[doc]; });
  }

  // Retrieval, features, ranking and personalization of one request. Precondition: index_mutex
  // held shared; `request` has its joint vector.
  struct Evaluation {
    CandidateSet set;
    FeatureMatrix features;
    std::vector<RankedItem> items;  // best first
    std::shared_ptr<const Ranker> ranker;
    size_t consensus_depth = 0;  // the depth the consensus features were computed with
  };
  Result<Evaluation> EvaluateLocked(const SearchRequest& request, size_t depth,
                                    const std::optional<UserProfile>& profile,
                                    const std::optional<SessionVector>& session, bool rank) const {
    Retriever retriever(*parser, text_index, filters, photo_space->index(),
                        joint_space ? &joint_space->index() : nullptr, live_docs, options.hybrid);
    Evaluation evaluation;
    evaluation.ranker = CurrentRanker();
    // The baseline reads the retrieval score alone. The other features cost about a microsecond
    // per candidate, so they are computed only when a model or an explanation reads them.
    const bool baseline = dynamic_cast<const RetrievalScoreRanker*>(evaluation.ranker.get()) != nullptr;
    // The baseline keeps the retrieval order, so without personalization or explanations nothing
    // reads the candidates after the requested pages, and the index selects only those.
    // Retriever::Retrieve keeps these pages the same as at the full depth.
    if (rank && baseline && !profile && !request.explain) {
      depth = std::min(depth, std::max<size_t>(1, request.page * request.per_page));
    }
    // Relaxation stops at rerank_depth whatever the page and depth, so every page has the same
    // matches.
    Result<CandidateSet> retrieved = retriever.Retrieve(request, depth, options.rerank_depth);
    if (!retrieved.ok()) return retrieved.status();
    evaluation.set = std::move(retrieved).value();

    evaluation.items = ToRankedItems(evaluation.set.candidates);
    if (rank && baseline && !request.explain) {
      evaluation.features = FeatureMatrix(evaluation.set.candidates.size());
      for (size_t i = 0; i < evaluation.set.candidates.size(); ++i) {
        evaluation.features.At(i, Feature::kRetrievalScore) = evaluation.set.candidates[i].retrieval_score;
      }
    } else {
      // A model reads the consensus features at the depth it was trained with. Feature rows for
      // training and explanations of the baseline use the configured depth.
      const size_t trained_depth = rank ? evaluation.ranker->consensus_depth() : 0;
      evaluation.consensus_depth = trained_depth > 0 ? trained_depth : options.consensus_depth;
      evaluation.features = ExtractLocked(request, evaluation.set, profile, evaluation.consensus_depth);
    }
    if (!rank) return evaluation;

    evaluation.ranker->Rank(evaluation.features, &evaluation.items);
    if (profile) {
      // Personalization re-orders the top rerank_depth items; deeper pages keep the ranker's order.
      const size_t head = std::min(evaluation.items.size(), options.rerank_depth);
      std::vector<RankedItem> top(evaluation.items.begin(), evaluation.items.begin() + head);
      reranker->Rerank(&top, *profile, clock->NowMillis(), options.profile,
                       [&](DocId doc) -> const Product& { return *product_by_doc[doc]; },
                       evaluation.ranker->personal_scale(), SessionTermOf(session),
                       /*facet_boost=*/!evaluation.ranker->learned_personal());
      std::copy(top.begin(), top.end(), evaluation.items.begin());
    }
    return evaluation;
  }

  // Applies `batch` here, or with a shared catalogue publishes it and applies the stream up to it.
  Status PublishOrApply(std::vector<CatalogRecord>* batch) {
    if (!catalog_stream) return ApplyBatch(batch);
    Status published = catalog_stream->Publish(*batch);
    batch->clear();
    return published;
  }

  Result<IngestReport> Ingest(const std::function<Result<IngestReport>(const RecordSink&)>& read) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<CatalogRecord> batch;
    Result<IngestReport> report = read([&](CatalogRecord&& record) -> Status {
      batch.push_back(std::move(record));
      if (batch.size() >= kIngestBatch) return PublishOrApply(&batch);
      return Status::Ok();
    });
    if (!report.ok()) return report;
    TESSERA_RETURN_IF_ERROR(PublishOrApply(&batch));
    spdlog::info("ingest: {} accepted, {} deleted, {} rejected in {:.1f} s; {} products, {} photo vectors",
                 report->accepted, report->deleted, report->rejected, MillisecondsSince(start) / 1000.0,
                 live_docs.cardinality(), photo_space->index().size());
    SaveVectorIndexes();
    return report;
  }

  VectorSpaceOptions SpaceOptions(const std::string& name, size_t dimension) const {
    VectorSpaceOptions space;
    space.name = name;
    space.dimension = dimension;
    space.index_kind = options.vector_index;
    space.hnsw = options.hnsw;
    space.index_dir = (fs::path(options.data_dir) / "index").string();
    return space;
  }

  std::optional<DocId> DocOf(const std::string& id) const {
    auto it = doc_by_id.find(id);
    return it == doc_by_id.end() ? std::nullopt : std::optional<DocId>(it->second);
  }

  // Loads the joint model when one was trained for this photo encoder. Its absence is not an
  // error: search then works without the joint space.
  Status LoadJointModel() {
    const std::string path = JointModelPath();
    if (!fs::exists(path)) {
      spdlog::info("no joint text-photo model at {}: run `tessera train-encoders` to add one", path);
      return Status::Ok();
    }
    Result<std::unique_ptr<JointSpaceModel>> model =
        JointSpaceModel::Load(path, {image_encoder->name(), image_encoder->dimension()});
    if (!model.ok()) {
      spdlog::warn("joint text-photo model not loaded: {}", model.status().ToString());
      return Status::Ok();
    }
    joint_model = std::move(model).value();
    // The space is named after the model file and the fusion, so vectors of another model or
    // fusion are never mixed into its index. The training data's hash is not enough: a model
    // retrained on the same data with another seed or options gives other vectors.
    const std::string& fingerprint = joint_model->provenance().fingerprint;
    // DeleteEarlierJointSpaces removes the vectors of earlier models once this one has its own.
    const std::string name = "joint-" + options.joint.fusion + "-" + fingerprint;
    joint_space = std::make_unique<VectorSpace>(SpaceOptions(name, JointDimension()));
    for (size_t i = 0; i < kJointParts; ++i) {
      VectorSpaceOptions part =
          SpaceOptions("joint-part-" + std::string(kJointPartNames[i]) + "-" + fingerprint, joint_model->dimension());
      part.index_kind = "exact";
      joint_parts[i] = std::make_unique<VectorSpace>(part);
    }
    spdlog::info("joint text-photo model {} loaded: {} dimensions, {} fusion", path, joint_model->dimension(),
                 options.joint.fusion);
    return Status::Ok();
  }

  std::string JointModelPath() const {
    return options.joint.model_path.empty() ? (fs::path(options.data_dir) / "models" / "joint-space.model").string()
                                            : options.joint.model_path;
  }

  size_t JointDimension() const {
    return options.joint.fusion == "concat" ? 3 * joint_model->dimension() : joint_model->dimension();
  }

  Status LoadFromStore() {
    photo_space = std::make_unique<VectorSpace>(SpaceOptions(image_encoder->name(), image_encoder->dimension()));
    TESSERA_RETURN_IF_ERROR(photo_space->ReadGeneration(*kv));
    TESSERA_RETURN_IF_ERROR(LoadJointModel());
    if (joint_space) TESSERA_RETURN_IF_ERROR(joint_space->ReadGeneration(*kv));
    for (const auto& part : joint_parts) {
      if (part) TESSERA_RETURN_IF_ERROR(part->ReadGeneration(*kv));
    }

    std::unordered_map<std::string, std::string> photo_texts;
    if (text_reader) {
      TESSERA_RETURN_IF_ERROR(products->ForEachDerivedText(text_reader->name(), [&](const std::string& id, DerivedText&& text) {
        photo_texts[id] = std::move(text.text);
      }));
    }

    std::unique_lock lock(index_mutex);
    TESSERA_RETURN_IF_ERROR(products->ForEach([&](Product&& product) {
      auto shared = std::make_shared<const Product>(std::move(product));
      auto text = photo_texts.find(shared->id);
      IndexLocked(shared, FieldTerms(*shared, text == photo_texts.end() ? std::string() : text->second), {}, {});
    }));
    RefreshPriceBandsLocked();
    // Profiles are written behind their events: bring them up to date before any event is
    // recorded. The lookup reads the index without locking, since index_mutex is held here.
    if (embedded_profiles != nullptr) {
      TESSERA_RETURN_IF_ERROR(embedded_profiles->Recover([this](const std::string& id) -> std::shared_ptr<const Product> {
        auto it = doc_by_id.find(id);
        return it == doc_by_id.end() ? nullptr : product_by_doc[it->second];
      }));
    }
    std::vector<Event> recent;
    TESSERA_RETURN_IF_ERROR(LoadSignals(&recent));
    auto doc_of = [&](const std::string& id) { return DocOf(id); };
    TESSERA_RETURN_IF_ERROR(photo_space->Load(*products, doc_of));
    if (joint_space) {
      TESSERA_RETURN_IF_ERROR(AddMissingJointVectorsLocked(photo_texts));
      TESSERA_RETURN_IF_ERROR(DeleteEarlierJointSpaces());
      TESSERA_RETURN_IF_ERROR(joint_space->Load(*products, doc_of));
      for (const auto& part : joint_parts) TESSERA_RETURN_IF_ERROR(part->Load(*products, doc_of));
    }
    ReplaySessionsLocked(recent);
    return Status::Ok();
  }

  // Deletes the stored vectors, generation keys and saved indexes of other models' joint
  // spaces. A retrained model adds up to four vectors per product (167 MB of store and index for
  // the fashion catalogue at 256 dimensions), and only their own model reads them. Spaces of the
  // loaded model under another fusion are kept. Called after the loaded model's vectors are
  // stored, so a crash in between loses nothing that is still read.
  Status DeleteEarlierJointSpaces() {
    constexpr std::string_view kGenerationPrefix = "vector_generation/";
    const std::string suffix = "-" + joint_model->provenance().fingerprint;
    std::set<std::string, std::less<>> earlier;
    TESSERA_RETURN_IF_ERROR(kv->Scan(Family::kMeta, std::string(kGenerationPrefix) + "joint-",
                                     [&](std::string_view key, std::string_view) {
                                       const std::string_view name = key.substr(kGenerationPrefix.size());
                                       if (!name.ends_with(suffix)) earlier.emplace(name);
                                       return true;
                                     }));
    if (earlier.empty()) return Status::Ok();

    const auto start = std::chrono::steady_clock::now();
    // Vector keys are "<product id>/<space>", so the spaces' vectors are found by a full scan.
    WriteBatch batch;
    size_t vectors = 0;
    TESSERA_RETURN_IF_ERROR(kv->Scan(Family::kVectors, "", [&](std::string_view key, std::string_view) {
      const size_t slash = key.rfind('/');
      if (slash != std::string_view::npos && earlier.contains(key.substr(slash + 1))) {
        batch.Delete(Family::kVectors, key);
        ++vectors;
      }
      return true;
    }));
    for (const std::string& name : earlier) batch.Delete(Family::kMeta, std::string(kGenerationPrefix) + name);
    TESSERA_RETURN_IF_ERROR(kv->Write(&batch, /*sync=*/true));

    // Exact spaces have no index file, so a missing file is not an error.
    for (const std::string& name : earlier) {
      const std::string index = (fs::path(options.data_dir) / "index" / (name + ".hnsw")).string();
      for (const std::string& path : {index, index + ".meta"}) {
        std::error_code error;
        fs::remove(path, error);
        if (error) spdlog::warn("index file {} of an earlier joint model not deleted: {}", path, error.message());
      }
    }
    std::string names;
    for (const std::string& name : earlier) names += (names.empty() ? "" : ", ") + name;
    spdlog::info("deleted {} stored vectors of earlier joint models in {:.0f} ms ({}): they are computed again if "
                 "such a model is loaded", vectors, MillisecondsSince(start), names);
    return Status::Ok();
  }

  // Computes and stores the fused vector and its parts for every product that lacks them, as
  // after a first `tessera train-encoders` on an ingested catalogue. Every product has a text
  // part, so a product without one, or without a fused vector, lacks them. The parts do not
  // depend on the fusion, so a second fusion finds them in place but not its own fused vectors.
  // Precondition: index_mutex held, products and photo vectors indexed.
  Status AddMissingJointVectorsLocked(const std::unordered_map<std::string, std::string>& photo_texts) {
    const auto start = std::chrono::steady_clock::now();
    std::unordered_set<std::string> fused, present;
    TESSERA_RETURN_IF_ERROR(products->ForEachVector(joint_space->name(), [&](const std::string& id, std::vector<float>&&) {
      fused.insert(id);
    }));
    TESSERA_RETURN_IF_ERROR(products->ForEachVector(joint_parts[0]->name(), [&](const std::string& id, std::vector<float>&&) {
      if (fused.contains(id)) present.insert(id);
    }));
    WriteBatch writes;
    size_t added = 0;
    for (const auto& product : product_by_doc) {
      if (!product || present.contains(product->id)) continue;
      auto text = photo_texts.find(product->id);
      const std::vector<float> photo = photo_space->index().Vector(doc_by_id.at(product->id));
      AddJointPuts(&writes, product->id,
                   ProductJointVectors(*product, photo, text == photo_texts.end() ? "" : text->second));
      ++added;
    }
    if (added == 0) return Status::Ok();
    AddJointGenerationBumps(&writes);
    TESSERA_RETURN_IF_ERROR(kv->Write(&writes, /*sync=*/true));
    JointGenerationsCommitted();
    spdlog::info("joint space {}: {} product vectors computed in {:.0f} ms", joint_space->name(), added,
                 MillisecondsSince(start));
    return Status::Ok();
  }

  // The product's vectors in the joint space, from whichever modalities it has: its text, its
  // photo (projected) and the words on its photo, and their fusion as options.joint.fusion sets.
  JointVectors ProductJointVectors(const Product& product, const std::vector<float>& photo_vector,
                                   const std::string& photo_text) const {
    const JointSpaceOptions& joint = options.joint;
    JointVectors vectors;
    vectors.parts[0] = joint_model->EncodeText(JointSpaceProductText(product));
    if (!photo_vector.empty()) {
      Result<std::vector<float>> projected = joint_model->ProjectPhoto(photo_vector);
      if (projected.ok()) vectors.parts[1] = std::move(projected).value();
    }
    if (!photo_text.empty()) vectors.parts[2] = joint_model->EncodeText(photo_text);
    vectors.fused = Fuse({vectors.parts.begin(), vectors.parts.end()},
                         {joint.text_weight, joint.photo_weight, joint.photo_text_weight});
    return vectors;
  }

  // Adds the product's fused vector and parts to `writes`; a part the product lacks is deleted,
  // so no part of an earlier version remains.
  void AddJointPuts(WriteBatch* writes, const std::string& id, const JointVectors& vectors) const {
    ProductStore::AddVectorPut(writes, joint_space->name(), id, vectors.fused);
    for (size_t i = 0; i < kJointParts; ++i) {
      if (vectors.parts[i].empty()) {
        ProductStore::AddVectorDelete(writes, joint_parts[i]->name(), id);
      } else {
        ProductStore::AddVectorPut(writes, joint_parts[i]->name(), id, vectors.parts[i]);
      }
    }
  }

  void AddJointGenerationBumps(WriteBatch* writes) const {
    if (!joint_space) return;
    joint_space->AddGenerationBump(writes);
    for (const auto& part : joint_parts) part->AddGenerationBump(writes);
  }

  void JointGenerationsCommitted() {
    if (!joint_space) return;
    joint_space->GenerationCommitted();
    for (const auto& part : joint_parts) part->GenerationCommitted();
  }

  // The query's unit vector in a part's dimension: the fused query itself, or under
  // concatenation its first block (the blocks are equal), normalized.
  std::vector<float> PartQueryVector(const std::vector<float>& query) const {
    const size_t dimension = joint_model->dimension();
    if (query.size() <= dimension) return query;
    std::vector<float> block(query.begin(), query.begin() + static_cast<std::ptrdiff_t>(dimension));
    double norm = 0;
    for (float x : block) norm += double(x) * x;
    if (norm <= 0) return {};
    for (float& x : block) x = static_cast<float>(x / std::sqrt(norm));
    return block;
  }

  // A query's vector in the joint space: the same fusion over the parts the query has, so that
  // under concatenation a text query meets the text, photo and photo-text parts alike.
  std::vector<float> FuseQueryVector(const std::vector<float>& text_part, const std::vector<float>& photo_part) const {
    if (options.joint.fusion == "concat") {
      std::vector<float> combined = text_part.empty() ? photo_part : text_part;
      if (!text_part.empty() && !photo_part.empty()) {
        combined = Fuse({text_part, photo_part}, {options.joint.query_text_weight, options.joint.query_photo_weight});
      }
      return Fuse({combined, combined, combined}, {1, 1, 1});
    }
    return Fuse({text_part, photo_part}, {options.joint.query_text_weight, options.joint.query_photo_weight});
  }

  // Weighted sum or weighted concatenation of unit vectors, L2-normalized; an empty part adds
  // nothing (a zero block under concatenation).
  std::vector<float> Fuse(const std::vector<std::vector<float>>& parts, const std::vector<float>& weights) const {
    const size_t dimension = joint_model->dimension();
    const bool concatenate = options.joint.fusion == "concat" && parts.size() == 3;
    std::vector<float> fused(concatenate ? 3 * dimension : dimension, 0.0f);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].size() != dimension) continue;
      float* out = fused.data() + (concatenate ? i * dimension : 0);
      for (size_t d = 0; d < dimension; ++d) out[d] += weights[i] * parts[i][d];
    }
    double norm = 0;
    for (float x : fused) norm += double(x) * x;
    if (norm <= 0) return {};
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : fused) x *= scale;
    return fused;
  }

  // True when `request` needs its joint vector computed from its words: the engine has a joint
  // model, the request has words, and no vector yet (photo queries set it from the photo).
  // A copy of `request` with the joint vector of its words, or std::nullopt when it needs none,
  // so that a request is copied only when a vector has to be added.
  std::optional<SearchRequest> WithTextJointVector(const SearchRequest& request) const {
    if (!NeedsTextJointVector(request)) return std::nullopt;
    SearchRequest copy = request;
    copy.joint_vector = FuseQueryVector(joint_model->EncodeText(request.text), {});
    return copy;
  }

  // The profile of the request's shopper; std::nullopt without a user id or a profile.
  Result<std::optional<UserProfile>> ProfileOf(const std::string& user_id) const {
    if (user_id.empty()) return std::optional<UserProfile>();
    TESSERA_RETURN_IF_ERROR(ValidateUserId(user_id));
    return profiles->Get(user_id);
  }

  bool NeedsTextJointVector(const SearchRequest& request) const {
    return joint_model && request.joint_vector.empty() && request.image_vector.empty() &&
           !TrimAscii(request.text).empty();
  }

  // Saves the approximate indexes so the next start need not rebuild them.
  void SaveVectorIndexes() const {
    std::shared_lock lock(index_mutex);
    auto key_of = [&](DocId doc) { return product_by_doc[doc] ? product_by_doc[doc]->id : std::string(); };
    if (photo_space) photo_space->Save(key_of);
    if (joint_space) joint_space->Save(key_of);
  }

  std::string SpeechDir() const { return (fs::path(options.data_dir) / "speech").string(); }

  Status LoadSpeech(const std::string& dictionary, const std::string& language_model) {
    SpeechRecognizerOptions speech_options;
    speech_options.acoustic_model_dir = (fs::path(options.sphinx_model_dir) / "en-us").string();
    speech_options.dictionary_path = dictionary;
    speech_options.language_model_path = language_model;
    Result<std::unique_ptr<SpeechRecognizer>> recognizer = SpeechRecognizer::Open(speech_options);
    if (!recognizer.ok()) return recognizer.status();
    std::lock_guard lock(speech_mutex);
    speech = std::shared_ptr<SpeechRecognizer>(std::move(recognizer).value());
    return Status::Ok();
  }

  // A warning for each filter value that no live product has, listing the values that exist,
  // so a misspelt value does not look like an empty catalogue.
  // Precondition: index_mutex held (shared is enough).
  std::vector<std::string> FilterWarnings(const SearchFilters& requested) const {
    std::vector<std::string> warnings;
    for (const auto& [field, values] : {std::pair{"category", &requested.category},
                                        std::pair{"gender", &requested.gender},
                                        std::pair{"colour", &requested.colour}}) {
      for (const std::string& value : Split(*values, ',')) {
        const std::string trimmed(TrimAscii(value));
        if (trimmed.empty() || !filters.Matching(field, trimmed).isEmpty()) continue;
        // Categories are listed by article type, the level shoppers filter on most.
        const std::string listed_field = std::string(field) == "category" ? "article_type" : field;
        std::string known;
        size_t listed = 0;
        for (const auto& [name, count] : filters.Facet(listed_field, live_docs)) {
          if (listed++ == 20) {
            known += ", ...";
            break;
          }
          known += (known.empty() ? "" : ", ") + name;
        }
        warnings.push_back(std::string(field) + " '" + Excerpt(trimmed) + "' matches no product; values include " +
                           known);
      }
    }
    return warnings;
  }

  SearchResponse Respond(const SearchRequest& request, const Evaluation& evaluation,
                         const std::optional<UserProfile>& profile,
                         const std::optional<SessionVector>& session) const {
    const CandidateSet& set = evaluation.set;
    const std::vector<RankedItem>& items = evaluation.items;
    SearchResponse response;
    response.ranker = evaluation.ranker->name();
    response.query = request.text;
    response.total = set.total;
    response.page = request.page;
    response.per_page = request.per_page;
    response.personalized = profile.has_value();

    const double strength = profile ? reranker->StrengthFactor(*profile, clock->NowMillis(), options.profile) : 0;
    // Sessions count only for shoppers with a profile, as in EvaluateLocked.
    const std::vector<float> direction = profile && session && joint_space ? session->Direction() : std::vector<float>();
    const double session_weight = session ? session->Weight(clock->NowMillis(), options.session) : 0;
    const size_t begin = std::min(items.size(), (request.page - 1) * request.per_page);
    const size_t end = std::min(items.size(), begin + request.per_page);
    // Each hit reads a random entry of product_by_doc, then the product's reference count. With
    // cold caches both are misses, which the loop below would wait for one hit at a time, so
    // they are prefetched first and overlap. make_shared places the count beside the product.
    for (size_t i = begin; i < end; ++i) __builtin_prefetch(&product_by_doc[items[i].candidate.doc]);
    for (size_t i = begin; i < end; ++i) __builtin_prefetch(product_by_doc[items[i].candidate.doc].get());
    response.hits.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      const RankedItem& item = items[i];
      SearchHit hit;
      hit.product = product_by_doc[item.candidate.doc];
      hit.score = item.score;
      hit.relevance = item.relevance;
      hit.personal_boost = item.personal_boost;
      hit.text_score = item.candidate.text_score;
      hit.image_similarity = item.candidate.image_similarity;
      hit.joint_similarity = item.candidate.joint_similarity;
      if (!direction.empty()) {
        hit.session_cosine = joint_space->index().Similarity(direction, item.candidate.doc);
        hit.session_boost = static_cast<float>(evaluation.ranker->personal_scale() *
                                               reranker->SessionTerm(hit.session_cosine, session_weight));
      }
      // A ranker that learned the personal features adds no facet boost: their part of the
      // score is in the ranker's own contributions.
      if (request.explain && profile && !evaluation.ranker->learned_personal()) {
        BoostExplanation explanation;
        reranker->Boost(*hit.product, *profile, strength, &explanation);
        hit.boost_by_facet = std::move(explanation.by_facet);
      }
      if (request.explain) {
        std::array<float, kFeatureCount> values;
        const std::span<const float> row = evaluation.features.Row(item.row);
        std::copy(row.begin(), row.end(), values.begin());
        hit.features = values;
        hit.explanation = evaluation.ranker->Explain(evaluation.features, item.row);
      }
      response.hits.push_back(std::move(hit));
    }
    if (request.facets) {
      response.facets["gender"] = filters.Facet("gender", set.matched);
      response.facets["colour"] = filters.Facet("colour", set.matched);
      response.facets["category"] = filters.Facet("article_type", set.matched);
    }
    return response;
  }
};

Engine::Engine(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Engine::~Engine() {
  rep_->catalog_stream.reset();  // its thread applies changes to the members below
  rep_->event_counts.reset();    // its thread changes `signals`
  rep_->StopSweeper();
  rep_->StopSharedEventsReader();
  rep_->SaveVectorIndexes();
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options, const Clock* clock) {
  const auto start = std::chrono::steady_clock::now();
  if (FusionMethod method; !ParseFusionMethod(options.hybrid.fusion, &method)) {
    return Status::InvalidArgument("fusion '" + options.hybrid.fusion + "' is unknown: use bands, rrf or normalized");
  }
  auto rep = std::make_unique<Rep>();
  rep->options = options;
  rep->clock = clock;

  Result<std::unique_ptr<KvStore>> kv = KvStore::Open((fs::path(options.data_dir) / "store").string());
  if (!kv.ok()) return kv.status();
  rep->kv = std::move(kv).value();
  rep->products = std::make_unique<ProductStore>(rep->kv.get());
  // User ids are stored as keyed hashes; the key lives beside the store, readable by its owner only.
  Result<UserKeyer> keyer = UserKeyer::LoadOrCreate((fs::path(options.data_dir) / "secrets" / "user-id.key").string());
  if (!keyer.ok()) return keyer.status();
  GroupCommitOptions group;
  group.max_group_events = std::max<size_t>(1, options.event_group_limit);
  group.profile_flush_ms = options.profile_flush_ms;
  rep->user_keyer.emplace(*keyer);
  rep->sessions = std::make_unique<SessionTable>(options.session);
  if (options.profile_store == "embedded") {
    auto embedded = std::make_unique<EmbeddedProfileStore>(rep->kv.get(), options.profile, std::move(keyer).value(), group);
    rep->embedded_profiles = embedded.get();
    rep->profiles = std::move(embedded);
    Result<size_t> rekeyed = rep->embedded_profiles->KeyRawUserIds();
    if (!rekeyed.ok()) return rekeyed.status();
    if (*rekeyed > 0) spdlog::info("events and profiles of {} users moved from raw user ids to keyed hashes", *rekeyed);
  } else if (options.profile_store.rfind("redis://", 0) == 0) {
    Result<std::unique_ptr<RedisProfileStore>> redis =
        RedisProfileStore::Open(options.profile_store, options.profile, std::move(keyer).value());
    if (!redis.ok()) return redis.status();
    rep->redis_profiles = redis->get();
    rep->profiles = std::move(redis).value();
    if (!options.replica_name.empty()) {
      EventCountStreamOptions counts;
      counts.url = options.profile_store;
      counts.replica_name = options.replica_name;
      Rep* shared = rep.get();
      Result<std::unique_ptr<EventCountStream>> opened = EventCountStream::Open(
          counts, rep->kv.get(), &rep->signals, [shared](const SharedEventDelta& delta) { shared->ApplySharedDelta(delta); });
      if (!opened.ok()) return opened.status();
      rep->event_counts = std::move(opened).value();
    }
  } else {
    return Status::InvalidArgument("profile store '" + options.profile_store +
                                   "' is unknown: use embedded or redis://HOST:PORT/DATABASE");
  }
  rep->reranker = std::make_unique<PersonalReranker>(options.personalization);
  if (!(options.purge_delay_seconds >= 0)) {
    return Status::InvalidArgument("purge delay " + std::to_string(options.purge_delay_seconds) +
                                   " s is negative: use 0 to purge before an erasure returns");
  }
  // With Redis, erased data leaves Redis's append-only file when Redis rewrites it.
  rep->purger = std::make_unique<PurgeScheduler>(
      [kv = rep->kv.get(), redis = rep->redis_profiles] {
        return redis != nullptr ? redis->RewriteAppendOnlyFile() : PurgeShopperData(kv);
      },
      std::chrono::milliseconds(static_cast<int64_t>(options.purge_delay_seconds * 1000)));

  Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
  if (!analyzer.ok()) return analyzer.status();
  rep->analyzer = std::move(analyzer).value();
  if (!options.synonyms_path.empty()) {
    Result<SynonymSet> synonyms = SynonymSet::LoadFile(options.synonyms_path, *rep->analyzer);
    if (!synonyms.ok()) return synonyms.status();
    rep->synonyms = std::make_unique<SynonymSet>(std::move(synonyms).value());
    spdlog::info("synonyms: {} rules from {}", rep->synonyms->rule_count(), options.synonyms_path);
  }
  for (const auto& [field, weight] : options.field_weights) {
    TESSERA_RETURN_IF_ERROR(rep->text_index.SetFieldWeight(field, weight));
  }
  rep->text_index.SetGroupUnionCacheBytes(options.group_union_cache_mib << 20);
  Result<std::unique_ptr<ImageEncoder>> photo_encoder = CreatePhotoEncoder(options);
  if (!photo_encoder.ok()) return photo_encoder.status();
  rep->image_encoder = std::move(photo_encoder).value();
  if (options.read_photo_text) {
    Result<std::unique_ptr<PhotoTextReader>> reader = PhotoTextReader::Create(options.photo_text);
    if (reader.ok()) {
      rep->text_reader = std::move(reader).value();
    } else {
      spdlog::warn("text on photos is not read: {}", reader.status().ToString());
    }
  }
  rep->parser = std::make_unique<QueryParser>(*rep->analyzer, rep->synonyms.get(), rep->text_index, options.query);

  TESSERA_RETURN_IF_ERROR(rep->LoadFromStore());
  if (!options.replica_name.empty()) {
    if (rep->redis_profiles == nullptr) {
      return Status::InvalidArgument("replica name '" + options.replica_name +
                                     "' needs a Redis profile store to share the catalogue: set --profile-store redis://...");
    }
    CatalogStreamOptions stream;
    stream.url = options.profile_store;
    stream.replica_name = options.replica_name;
    stream.position_path = (fs::path(options.data_dir) / "catalog-stream-position").string();
    Rep* shared = rep.get();
    Result<std::unique_ptr<CatalogStream>> opened = CatalogStream::Open(
        stream, [shared](std::vector<CatalogRecord>&& records) { return shared->ApplyBatch(&records); });
    if (!opened.ok()) return opened.status();
    rep->catalog_stream = std::move(opened).value();
    // Changes made while this replica was stopped; an unreachable Redis leaves them to the
    // follower thread.
    const auto caught_up_start = std::chrono::steady_clock::now();
    Status caught_up = rep->catalog_stream->CatchUp();
    if (caught_up.ok()) {
      spdlog::info("catalogue stream: replica {} at entry {} after {:.0f} ms", options.replica_name,
                   rep->catalog_stream->position(), MillisecondsSince(caught_up_start));
    } else {
      spdlog::warn("catalogue stream: replica {} not caught up at start, serving the catalogue it has: {}",
                   options.replica_name, caught_up.ToString());
    }
  }

  // A model that exists but cannot be used is an error to fix, not a reason to refuse to serve.
  if (fs::exists(rep->DefaultRankerPath())) {
    Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Load(rep->DefaultRankerPath());
    if (model.ok()) {
      rep->ranker = std::move(model).value();
      rep->ranker_path = rep->DefaultRankerPath();
      rep->ranker_version = ModelFileVersion(rep->ranker_path);
      spdlog::info("ranker {} loaded from {}", rep->ranker->name(), rep->ranker_path);
    } else {
      spdlog::error("ranker model not loaded, ranking by retrieval score: {}", model.status().ToString());
    }
  }

  const fs::path speech_dir = rep->SpeechDir();
  if (fs::exists(speech_dir / "catalog.dic") && fs::exists(speech_dir / "catalog.lm")) {
    Status loaded = rep->LoadSpeech((speech_dir / "catalog.dic").string(), (speech_dir / "catalog.lm").string());
    if (!loaded.ok()) spdlog::warn("speech model in {} not loaded: {}", speech_dir.string(), loaded.ToString());
  }
  spdlog::info("engine opened {}: {} products, {} photo vectors, {} terms in {:.0f} ms", options.data_dir,
               rep->live_docs.cardinality(), rep->photo_space->index().size(), rep->text_index.term_count(),
               MillisecondsSince(start));
  std::unique_ptr<Engine> engine(new Engine(std::move(rep)));

  // Events past retention leave at open, then hourly (by default) on the sweeper thread.
  Result<size_t> swept = engine->SweepExpiredEvents();
  if (!swept.ok() && swept.status().code() == StatusCode::kProfileStoreUnavailable) {
    // The replica serves without the shared store; the next sweep runs on the sweeper thread.
    spdlog::warn("retention sweep at start skipped: {}", swept.status().ToString());
  } else if (!swept.ok()) {
    return swept.status();
  }
  engine->rep_->StartSweeper(engine.get());
  engine->rep_->StartSharedEventsReader();
  if (engine->rep_->catalog_stream) engine->rep_->catalog_stream->StartFollowing();
  return engine;
}

Result<IngestReport> Engine::IngestFashionCatalog(const std::string& dir) {
  return rep_->Ingest([&](const RecordSink& sink) { return ReadFashionCatalog(dir, sink); });
}

Result<IngestReport> Engine::IngestJsonl(std::istream& in, const std::string& base_dir) {
  return rep_->Ingest([&](const RecordSink& sink) { return ReadJsonlCatalog(in, base_dir, sink); });
}

Status Engine::Upsert(const Product& product) {
  TESSERA_RETURN_IF_ERROR(ValidateProduct(product));
  std::vector<CatalogRecord> batch;
  batch.push_back({CatalogRecord::Op::kUpsert, product, 0});
  // NOTE: the speech model is not rebuilt here, so words new to the catalogue are not heard
  // until the next ingest.
  return rep_->PublishOrApply(&batch);
}

Status Engine::Delete(const std::string& id) {
  {
    std::shared_lock lock(rep_->index_mutex);
    if (!rep_->doc_by_id.count(id)) return Status::NotFound("product '" + Excerpt(id) + "' not found");
  }
  std::vector<CatalogRecord> batch;
  CatalogRecord record;
  record.op = CatalogRecord::Op::kDelete;
  record.product.id = id;
  batch.push_back(std::move(record));
  return rep_->PublishOrApply(&batch);
}

Result<Product> Engine::GetProduct(const std::string& id) const {
  std::shared_lock lock(rep_->index_mutex);
  auto it = rep_->doc_by_id.find(id);
  if (it == rep_->doc_by_id.end()) return Status::NotFound("product '" + Excerpt(id) + "' not found");
  return *rep_->product_by_doc[it->second];
}

std::vector<Product> Engine::AllProducts() const {
  std::shared_lock lock(rep_->index_mutex);
  std::vector<Product> products;
  products.reserve(rep_->doc_by_id.size());
  for (const auto& product : rep_->product_by_doc) {
    if (product) products.push_back(*product);
  }
  return products;
}

Status Engine::RebuildSpeechModel() {
  const auto start = std::chrono::steady_clock::now();
  // Sentences: every title, plus the attribute phrases shoppers speak ("navy blue men shirts").
  std::vector<std::string> sentences;
  std::set<std::string> phrases;
  {
    std::shared_lock lock(rep_->index_mutex);
    for (const auto& product : rep_->product_by_doc) {
      if (!product) continue;
      sentences.push_back(product->title);
      const std::string& type = product->Attribute("article_type");
      const std::string& colour = product->Attribute("colour");
      const std::string& gender = product->Attribute("gender");
      if (type.empty()) continue;
      phrases.insert(type);
      if (!colour.empty()) phrases.insert(colour + " " + type);
      if (!gender.empty()) phrases.insert(gender + " " + type);
      if (!colour.empty() && !gender.empty()) phrases.insert(colour + " " + gender + " " + type);
    }
  }
  sentences.insert(sentences.end(), phrases.begin(), phrases.end());
  if (sentences.empty()) return Status::Unavailable("the catalogue is empty: ingest products before building speech");

  const std::string cmudict = (fs::path(rep_->options.sphinx_model_dir) / "cmudict-en-us.dict").string();
  Result<SpeechModelFiles> files = BuildSpeechModel(sentences, cmudict, rep_->SpeechDir());
  if (!files.ok()) return files.status();
  TESSERA_RETURN_IF_ERROR(rep_->LoadSpeech(files->dictionary_path, files->language_model_path));
  spdlog::info("speech model built from {} sentences: {} words, {} without pronunciation, in {:.0f} ms",
               sentences.size(), files->dictionary_words, files->words_without_pronunciation.size(),
               MillisecondsSince(start));
  return Status::Ok();
}

Result<SearchResponse> Engine::Search(const SearchRequest& original) const {
  const auto start = std::chrono::steady_clock::now();
  TESSERA_RETURN_IF_ERROR(ValidateSearchRequest(original));
  const std::optional<SearchRequest> with_joint = rep_->WithTextJointVector(original);
  const SearchRequest& request = with_joint ? *with_joint : original;
  std::vector<std::string> profile_warnings;
  Result<std::optional<UserProfile>> profile = rep_->SearchProfileOf(request.user_id, &profile_warnings);
  if (!profile.ok()) return profile.status();
  // The session term applies only to shoppers with a profile, so no session is read without one.
  const std::optional<SessionVector> session =
      profile->has_value() ? rep_->SessionOf(request, &profile_warnings) : std::nullopt;

  std::shared_lock lock(rep_->index_mutex);
  const size_t depth = std::max(rep_->options.rerank_depth, request.page * request.per_page);
  Result<Rep::Evaluation> evaluation = rep_->EvaluateLocked(request, depth, *profile, session, /*rank=*/true);
  if (!evaluation.ok()) return evaluation.status();
  const CandidateSet& set = evaluation->set;
  SearchResponse response = rep_->Respond(request, *evaluation, *profile, session);
  response.partial = set.partial;
  response.warnings = rep_->FilterWarnings(request.filters);
  response.warnings.insert(response.warnings.end(), profile_warnings.begin(), profile_warnings.end());
  if (set.partial) {
    response.warnings.push_back("the query ran out of its time budget of " +
                                std::to_string(rep_->options.query.time_budget.count()) +
                                " ms: the results are those found in time; shorten the query");
  }
  response.took_ms = MillisecondsSince(start);
  return response;
}

Result<FeatureRows> Engine::ExtractFeatures(const SearchRequest& original) const {
  TESSERA_RETURN_IF_ERROR(ValidateSearchRequest(original));
  const std::optional<SearchRequest> with_joint = rep_->WithTextJointVector(original);
  const SearchRequest& request = with_joint ? *with_joint : original;
  Result<std::optional<UserProfile>> profile = rep_->ProfileOf(request.user_id);
  if (!profile.ok()) return profile.status();

  std::shared_lock lock(rep_->index_mutex);
  Result<Rep::Evaluation> evaluation =
      rep_->EvaluateLocked(request, rep_->options.rerank_depth, *profile, std::nullopt, /*rank=*/false);
  if (!evaluation.ok()) return evaluation.status();
  FeatureRows rows;
  for (const Candidate& c : evaluation->set.candidates) rows.product_ids.push_back(rep_->product_by_doc[c.doc]->id);
  rows.features = std::move(evaluation->features);
  rows.consensus_depth = evaluation->consensus_depth;
  return rows;
}

void Engine::UseRanker(std::shared_ptr<const Ranker> ranker, const std::string& source) {
  std::lock_guard lock(rep_->ranker_mutex);
  rep_->ranker = ranker ? std::move(ranker) : std::make_shared<RetrievalScoreRanker>();
  rep_->ranker_path = source;
  rep_->ranker_version = ModelFileVersion(source);
}

Status Engine::LoadRanker(const std::string& path) {
  const std::string source = path.empty() ? rep_->DefaultRankerPath() : path;
  Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Load(source);
  if (!model.ok()) {
    spdlog::error("ranker model {} not loaded, the current ranker stays: {}", source, model.status().ToString());
    return model.status();
  }
  std::shared_ptr<const Ranker> loaded = std::move(model).value();
  UseRanker(loaded, source);
  spdlog::info("ranker {} loaded from {}", loaded->name(), source);
  return Status::Ok();
}

RankerInfo Engine::ranker_info() const {
  std::lock_guard lock(rep_->ranker_mutex);
  RankerInfo info{rep_->ranker->name(), rep_->ranker_path, "", rep_->ranker_version, rep_->ranker->learned_personal()};
  if (const auto* learned = dynamic_cast<const XgboostRanker*>(rep_->ranker.get())) info.report = learned->report().dump();
  return info;
}

Result<SearchResponse> Engine::SearchByImage(std::string_view image_bytes, SearchRequest request) const {
  const auto start = std::chrono::steady_clock::now();
  Result<DecodedImage> image = DecodeImage(image_bytes);
  if (!image.ok()) return image.status();
  request.image_vector = rep_->image_encoder->Encode(*image);
  if (rep_->joint_model) {
    // The words of a photo-and-words query ("like this, but in red") join the photo's projection.
    Result<std::vector<float>> photo_part = rep_->joint_model->ProjectPhoto(request.image_vector);
    std::vector<float> text_part;
    if (!TrimAscii(request.text).empty()) text_part = rep_->joint_model->EncodeText(request.text);
    if (photo_part.ok()) request.joint_vector = rep_->FuseQueryVector(text_part, *photo_part);
  }
  Result<SearchResponse> response = Search(request);
  if (response.ok()) response->took_ms = MillisecondsSince(start);
  return response;
}

Result<SearchResponse> Engine::SearchByVoice(std::string_view audio_bytes, SearchRequest request) const {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<SpeechRecognizer> speech;
  {
    std::lock_guard lock(rep_->speech_mutex);
    speech = rep_->speech;
  }
  if (!speech) {
    return Status::Unavailable("no speech model is loaded: run `tessera ingest` (it builds one) and restart");
  }
  Result<AudioClip> clip = DecodeAudio(audio_bytes);
  if (!clip.ok()) return clip.status();
  Result<Transcript> transcript = speech->Transcribe(*clip);
  if (!transcript.ok()) return transcript.status();

  SearchResponse response;
  if (transcript->text.empty()) {
    // Nothing recognized: return an empty result rather than an invented query.
    response.page = request.page;
    response.per_page = request.per_page;
  } else {
    request.text = transcript->text;
    Result<SearchResponse> searched = Search(request);
    if (!searched.ok()) return searched.status();
    response = std::move(searched).value();
  }
  response.transcript = *transcript;
  response.took_ms = MillisecondsSince(start);
  return response;
}

Status Engine::RecordEvent(const Event& event, EventOutcome* outcome) {
  std::vector<EventRecord> records(1);
  TESSERA_RETURN_IF_ERROR(rep_->CheckEvent(event, rep_->RetentionCutoffMs(), &records[0]));
  Result<std::vector<EventOutcome>> recorded = rep_->profiles->RecordBatch(records);
  if (!recorded.ok()) return recorded.status();
  if (recorded->front() == EventOutcome::kRecorded) {
    rep_->CountLocalEvent(event, 1);
    std::shared_lock lock(rep_->index_mutex);
    rep_->AddRecordedToSessionLocked(event);
  }
  if (outcome != nullptr) *outcome = recorded->front();
  return Status::Ok();
}

Status Engine::RecordEvents(const std::vector<Event>& events, std::vector<EventOutcome>* outcomes) {
  outcomes->clear();
  if (events.size() > kMaxEventBatch) {
    return Status::TooLarge("a batch of " + std::to_string(events.size()) + " events is above the limit of " +
                            std::to_string(kMaxEventBatch) + ": send it in smaller batches");
  }

  // Check the events in order; the ones before the first invalid event are recorded.
  const int64_t cutoff_ms = rep_->RetentionCutoffMs();
  std::vector<EventRecord> records;
  records.reserve(events.size());
  Status invalid;
  for (const Event& event : events) {
    EventRecord record;
    if (Status checked = rep_->CheckEvent(event, cutoff_ms, &record); !checked.ok()) {
      invalid = Status(checked.code(), "event " + std::to_string(records.size()) + ": " + checked.message());
      break;
    }
    records.push_back(std::move(record));
  }

  Result<std::vector<EventOutcome>> recorded = rep_->profiles->RecordBatch(records);
  if (!recorded.ok()) return recorded.status();
  {
    std::shared_lock lock(rep_->index_mutex);
    for (size_t i = 0; i < records.size(); ++i) {
      if ((*recorded)[i] != EventOutcome::kRecorded) continue;
      rep_->CountLocalEvent(records[i].event, 1);
      rep_->AddRecordedToSessionLocked(records[i].event);
    }
  }
  *outcomes = std::move(recorded).value();
  return invalid;
}

Result<size_t> Engine::MergeUsers(const std::string& from_user_id, const std::string& to_user_id) {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(from_user_id));
  TESSERA_RETURN_IF_ERROR(ValidateUserId(to_user_id));
  // The events only change owner, so the product counts stay as they are.
  Result<size_t> moved = rep_->profiles->Merge(from_user_id, to_user_id, rep_->CatalogueLookup());
  if (!moved.ok()) return moved;
  rep_->sessions->MoveUser(rep_->SessionUserKey(from_user_id), rep_->SessionUserKey(to_user_id));
  spdlog::info("merged users: {} events moved", *moved);
  // The anonymous shopper is erased, so its keys leave the store's files as after DELETE.
  TESSERA_RETURN_IF_ERROR(rep_->purger->Schedule());
  return moved;
}

Result<size_t> Engine::SweepExpiredEvents() {
  const int64_t cutoff_ms = rep_->RetentionCutoffMs();
  if (cutoff_ms == INT64_MIN) return size_t{0};
  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<Event>> expired = rep_->profiles->DeleteEventsBefore(cutoff_ms, rep_->CatalogueLookup());
  if (!expired.ok()) return expired.status();
  for (const Event& event : *expired) rep_->CountLocalEvent(event, -1);
  if (!expired->empty()) {
    spdlog::info("retention sweep: {} events before {} deleted in {:.0f} ms", expired->size(), UtcTimeText(cutoff_ms),
                 MillisecondsSince(start));
    TESSERA_RETURN_IF_ERROR(rep_->purger->Schedule());
  }
  return expired->size();
}

Result<std::optional<UserProfile>> Engine::Profile(const std::string& user_id) const {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(user_id));
  return rep_->profiles->Get(user_id);
}

Result<std::vector<Event>> Engine::UserEvents(const std::string& user_id) const {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(user_id));
  return rep_->profiles->Events(user_id);
}

Result<size_t> Engine::EraseUser(const std::string& user_id) {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(user_id));
  // The shopper's events leave the product counts too, so nothing derived from them remains.
  Result<std::vector<Event>> events = rep_->profiles->Events(user_id);
  if (!events.ok()) return events.status();
  Result<size_t> erased = rep_->profiles->Erase(user_id);
  if (!erased.ok()) return erased;
  rep_->sessions->EraseUser(rep_->SessionUserKey(user_id));
  for (const Event& event : *events) rep_->CountLocalEvent(event, -1);
  spdlog::info("erased user data: {} events", *erased);
  TESSERA_RETURN_IF_ERROR(rep_->purger->Schedule());
  return erased;
}

Status Engine::CompactStore() {
  const auto start = std::chrono::steady_clock::now();
  // The second pass starts a MANIFEST that snapshots the files the first pass wrote, so the
  // key range of erased data leaves the MANIFEST too (a new MANIFEST begins with the files live
  // before its first change).
  TESSERA_RETURN_IF_ERROR(rep_->kv->CompactAll());
  TESSERA_RETURN_IF_ERROR(rep_->kv->CompactAll());
  spdlog::info("store compacted in {:.0f} ms", MillisecondsSince(start));
  return Status::Ok();
}

Status Engine::SetOptOut(const std::string& user_id, bool opted_out) {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(user_id));
  Result<std::vector<Event>> events = rep_->profiles->Events(user_id);
  if (!events.ok()) return events.status();
  TESSERA_RETURN_IF_ERROR(rep_->profiles->SetOptOut(user_id, opted_out));
  if (opted_out) {
    for (const Event& event : *events) rep_->CountLocalEvent(event, -1);
    rep_->sessions->EraseUser(rep_->SessionUserKey(user_id));
  }
  spdlog::info("user opted {}: {} events erased", opted_out ? "out" : "in", opted_out ? events->size() : 0);
  if (opted_out) TESSERA_RETURN_IF_ERROR(rep_->purger->Schedule());
  return Status::Ok();
}

Result<bool> Engine::OptedOut(const std::string& user_id) const {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(user_id));
  return rep_->profiles->OptedOut(user_id);
}

Result<std::vector<Engine::Neighbour>> Engine::Nearest(Space space, const std::vector<float>& query, size_t k,
                                                       bool exact) const {
  std::shared_lock lock(rep_->index_mutex);
  const VectorSpace* vectors = space == Space::kPhoto ? rep_->photo_space.get() : rep_->joint_space.get();
  if (vectors == nullptr) return Status::Unavailable("no joint model is loaded: run `tessera train-encoders`");
  std::vector<VectorHit> hits;
  if (exact) {
    // Scores every stored vector, as ExactVectorIndex would, without keeping a second index.
    for (DocId doc : vectors->index().documents()) hits.push_back({doc, vectors->index().Similarity(query, doc)});
    KeepTopK(&hits, k);
  } else {
    hits = vectors->index().Search(query, k, nullptr);
  }
  std::vector<Neighbour> neighbours;
  for (const VectorHit& hit : hits) neighbours.push_back({rep_->product_by_doc[hit.doc]->id, hit.similarity});
  return neighbours;
}

Result<std::vector<float>> Engine::EncodePhoto(std::string_view image_bytes) const {
  Result<DecodedImage> image = DecodeImage(image_bytes);
  if (!image.ok()) return image.status();
  return rep_->image_encoder->Encode(*image);
}

const JointSpaceModel* Engine::joint_model() const { return rep_->joint_model.get(); }

Result<std::vector<float>> Engine::PhotoVector(const std::string& id) const {
  std::shared_lock lock(rep_->index_mutex);
  auto it = rep_->doc_by_id.find(id);
  if (it == rep_->doc_by_id.end()) return Status::NotFound("product '" + Excerpt(id) + "' not found");
  return rep_->photo_space->index().Vector(it->second);
}

Result<std::vector<float>> Engine::JointQueryVector(const std::string& text, const std::vector<float>& photo_vector) const {
  if (!rep_->joint_model) return Status::Unavailable("no joint model is loaded: run `tessera train-encoders`");
  std::vector<float> photo_part;
  if (!photo_vector.empty()) {
    Result<std::vector<float>> projected = rep_->joint_model->ProjectPhoto(photo_vector);
    if (!projected.ok()) return projected.status();
    photo_part = std::move(projected).value();
  }
  std::vector<float> text_part;
  if (!TrimAscii(text).empty()) text_part = rep_->joint_model->EncodeText(text);
  return rep_->FuseQueryVector(text_part, photo_part);
}

std::string Engine::photo_encoder_name() const { return rep_->image_encoder->name(); }

EngineStats Engine::Stats(bool with_memory) const {
  EngineStats stats;
  {
    std::shared_lock lock(rep_->index_mutex);
    stats.products = rep_->live_docs.cardinality();
    stats.photo_vectors = rep_->photo_space->index().size();
    stats.joint_vectors = rep_->joint_space ? rep_->joint_space->index().size() : 0;
    stats.terms = rep_->text_index.term_count();
    if (with_memory) stats.index_bytes = rep_->text_index.MemoryBytes();
    stats.group_union_hits = rep_->text_index.group_union_hits();
    stats.group_union_misses = rep_->text_index.group_union_misses();
  }
  stats.sessions = rep_->sessions->size();
  const WriteBehindLag lag = rep_->profiles->Lag();
  stats.unflushed_events = lag.events;
  if (lag.oldest) {
    stats.oldest_unflushed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - *lag.oldest).count();
  }
  stats.profile_store_errors = rep_->profiles->failures();
  std::lock_guard lock(rep_->speech_mutex);
  stats.speech_ready = rep_->speech != nullptr;
  return stats;
}

const Clock& Engine::clock() const { return *rep_->clock; }

}  // namespace tessera
