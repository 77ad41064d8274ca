// Engine: the whole pipeline behind one object (ingest -> analysis/encode -> index -> retrieve
// -> rank -> personalize). The HTTP server and the command line both drive it, and it depends on
// nothing of HTTP.
#pragma once

#include <array>
#include <chrono>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "encode/joint_space_model.h"
#include "encode/photo_text_reader.h"
#include "encode/speech_recognizer.h"
#include "index/hnsw_vector_index.h"
#include "ingest/catalog_record.h"
#include "personalize/personal_reranker.h"
#include "personalize/profile.h"
#include "personalize/profile_store.h"
#include "personalize/session_vector.h"
#include "rank/features.h"
#include "rank/ranker.h"
#include "retrieve/query_parser.h"
#include "retrieve/retriever.h"
#include "retrieve/search_request.h"

namespace tessera {

// The joint text-photo space: how product and query vectors are fused, and how much the joint
// similarity counts in retrieval. Used when a model trained by `tessera train-encoders` exists.
struct JointSpaceOptions {
  std::string model_path;  // "" for <data_dir>/models/joint-space.model
  // "sum": one vector, the weighted sum of the parts. "concat": the weighted parts side by side,
  // so a query's similarity is the weighted sum of its similarity to each part.
  std::string fusion = "sum";
  // Weights of a product's parts: its text, its photo (projected) and the words on its photo.
  float text_weight = 1.0f;
  float photo_weight = 1.0f;
  float photo_text_weight = 0.5f;
  // Weights of a query's parts when it has words and a photo ("like this, but in red").
  float query_text_weight = 1.0f;
  float query_photo_weight = 1.0f;
};

struct EngineOptions {
  std::string data_dir = "var";  // contains store/ and speech/
  // How many retrieved candidates are ranked and personalized per query.
  size_t rerank_depth = 200;
  // Candidates at the head of the retrieval order that the consensus features compare with, in
  // feature rows for training (`tessera features`, `train-ranker`) and in explanations of the
  // baseline. A loaded model is served with the depth recorded in its file.
  size_t consensus_depth = kDefaultConsensusDepth;
  // Solr-format synonym file applied to queries; "" for none.
  std::string synonyms_path;
  // BM25F weight per text field (title, brand, category, attributes, description,
  // photo_text); fields not named keep their defaults.
  std::map<std::string, float> field_weights;
  // MiB of query group unions (a word with its synonyms) kept between queries. 0 keeps none.
  size_t group_union_cache_mib = 64;
  // Typo tolerance, expansion limits and the per-query time budget.
  QueryParserOptions query;
  ProfileOptions profile;
  PersonalizationOptions personalization;
  // Days a shopper event is kept (0: forever). Older events are rejected when sent, and stored
  // ones are deleted by a sweep at open and then every retention_sweep_interval.
  int retention_days = 365;
  std::chrono::seconds retention_sweep_interval{3600};
  // Events one group commit may hold (GroupCommitOptions); 1 gives every event its own synced
  // write, as before group commit.
  size_t event_group_limit = GroupCommitOptions().max_group_events;
  // Milliseconds between writes of changed profiles behind their events (GroupCommitOptions);
  // 0 writes each touched profile into its events' synced write.
  int64_t profile_flush_ms = GroupCommitOptions().profile_flush_ms;
  // Where shopper events and profiles live: "embedded" (the data dir's store) or the URL of a
  // Redis server shared by several replicas, redis://HOST[:PORT][/DATABASE][?timeout_ms=N]
  // (docs/scaling-redis.md). Every replica sharing a Redis needs the same user-id key file,
  // <data_dir>/secrets/user-id.key.
  std::string profile_store = "embedded";
  // With a Redis profile store, the name of this replica, unique among those sharing the Redis:
  // catalogue upserts, deletes and imports then go through the shared stream tessera:catalog,
  // which every replica applies in the same order (engine/catalog_stream.h). "" keeps catalogue
  // changes to this replica.
  std::string replica_name;
  // Seconds after an erasure or opt-out within which the store's files no longer hold the
  // erased data (one compaction for all erasures in that time); 0 compacts before the erasure
  // returns.
  double purge_delay_seconds = 10;
  // Session vectors: the decayed mean of the fused joint-space vectors of the products a shopper
  // viewed, clicked, carted or bought in a session. Kept only when a joint model is loaded.
  SessionOptions session;
  // Nearest-neighbour index of the photo vectors: "hnsw" (approximate, saved at shutdown and
  // after ingest, reloaded at start) or "exact" (brute force, rebuilt at start).
  std::string vector_index = "hnsw";
  // Photo vectors: "mobilenet-pooled+colour-shape" (the default: the 1280 pooled features of the
  // nsfwjs MobileNetV2 beside the hand-made colour histogram, silhouette and gradients, which
  // supply the colour the CNN lacks; BENCHMARKS.md), "mobilenet-pooled", "mobilenet" (its
  // 128-unit penultimate layer) or "colour-shape" (no model needed).
  std::string photo_encoder = "mobilenet-pooled+colour-shape";
  // Folder of the pretrained models scripts/fetch-models.sh downloads.
  std::string model_dir = TESSERA_MODEL_DIR;
  HnswOptions hnsw;
  JointSpaceOptions joint;
  HybridOptions hybrid;
  // Learned ranker written by `tessera train-ranker`; "" for <data_dir>/models/ranker.model.
  // Without a readable model the retrieval score ranks.
  std::string ranker_model_path;
  // Read the words printed on photos large enough to read (Tesseract, English and simplified
  // Chinese), indexed as the photo_text field.
  bool read_photo_text = true;
  PhotoTextOptions photo_text;
  // Folder with PocketSphinx's en-us acoustic model and cmudict-en-us.dict.
  std::string sphinx_model_dir = TESSERA_SPHINX_MODEL_DIR;
};

struct SearchHit {
  // Shared with the engine's catalogue, so a result costs no copy. The product is immutable, and
  // this pointer keeps it alive even if it is replaced or deleted meanwhile.
  std::shared_ptr<const Product> product;
  float score = 0;           // final: relevance + personal_boost
  float relevance = 0;       // the ranker's score in [0, 1]
  float personal_boost = 0;
  float text_score = 0;      // BM25 sum
  float image_similarity = 0;
  float joint_similarity = 0;  // cosine in the joint text-photo space; 0 without a joint model
  std::map<std::string, double> boost_by_facet;  // filled when the request sets explain
  // The session term's part of personal_boost (scaled like it), and the cosine it came from:
  // between the session direction and the product's fused vector. 0 without a session.
  float session_boost = 0;
  float session_cosine = 0;
  // Filled when the request sets explain: every feature's value (NaN when missing), and how the
  // ranker made `relevance` from them (bias + contributions = relevance).
  std::optional<std::array<float, kFeatureCount>> features;
  std::optional<ScoreExplanation> explanation;
};

// Feature rows of one query's candidates, the ranker's input.
struct FeatureRows {
  std::vector<std::string> product_ids;  // in retrieval order, one per row
  FeatureMatrix features;
  size_t consensus_depth = 0;  // the depth the consensus features were computed with
};

// The ranker that orders results, and where it came from.
struct RankerInfo {
  std::string name;    // "retrieval-score", "linear" or "lambdamart"
  std::string path;    // the model file; "" for the retrieval score
  std::string report;  // the model's training report (JSON); "" for the retrieval score
  // The model file's stored checksum in hex, which changes with every training run; "" for the
  // retrieval score.
  std::string version;
  // Whether the model weighs the shopper's affinities itself (Ranker::learned_personal), so that
  // no facet boost is added.
  bool learned_personal = false;
};

struct SearchResponse {
  std::string query;
  uint64_t total = 0;
  size_t page = 1;
  size_t per_page = 24;
  double took_ms = 0;
  bool personalized = false;
  bool partial = false;  // the time budget ran out; the results are those found in time
  std::vector<SearchHit> hits;
  std::map<std::string, std::map<std::string, uint64_t>> facets;  // field -> value -> count
  std::optional<Transcript> transcript;  // voice queries only
  // Notes for the caller that did not fail the search, e.g. a filter value no product has.
  std::vector<std::string> warnings;
  std::string ranker;  // name of the ranker that ordered the results
};

struct EngineStats {
  size_t products = 0;
  size_t photo_vectors = 0;
  size_t joint_vectors = 0;  // products with a vector in the joint space; 0 without a joint model
  size_t terms = 0;
  // Estimated bytes held by the text index (InvertedIndex::MemoryBytes); the catalogue, filters
  // and photo vectors are not counted. Filled only by Stats(/*with_memory=*/true), which visits
  // every document and term.
  size_t index_bytes = 0;
  // Query group unions found kept and computed since the engine opened (InvertedIndex).
  uint64_t group_union_hits = 0;
  uint64_t group_union_misses = 0;
  bool speech_ready = false;
  size_t sessions = 0;  // session vectors held in memory
  // Events acknowledged whose profile changes are not yet written behind them, and how long ago
  // the oldest of them was acknowledged (0 when there is none).
  uint64_t unflushed_events = 0;
  double oldest_unflushed_seconds = 0;
  // Profile store calls that failed because a remote store could not be reached or timed out.
  uint64_t profile_store_errors = 0;
};

// Thread safety: every public method may be called concurrently. Searches share a read lock on
// the indexes; catalogue changes take the write lock.
class Engine {
 public:
  // Opens (or creates) the store in options.data_dir and rebuilds the in-memory indexes from it,
  // so a restart serves without re-ingesting. `clock` is not owned and must outlive the engine.
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options, const Clock* clock);
  ~Engine();

  // Catalogue. Readers report rejected records; accepted ones are stored, encoded and indexed.
  Result<IngestReport> IngestFashionCatalog(const std::string& dir);
  Result<IngestReport> IngestJsonl(std::istream& in, const std::string& base_dir);
  Status Upsert(const Product& product);
  // Returns kNotFound when no product has `id`.
  Status Delete(const std::string& id);
  Result<Product> GetProduct(const std::string& id) const;
  // Every live product, in ingest order; a copy, for evaluation and export.
  std::vector<Product> AllProducts() const;

  // Builds the speech recognizer's dictionary and language model from the catalogue's text and
  // loads it. Called after ingest; Open loads an existing model.
  Status RebuildSpeechModel();

  // Search by text (and filters), by photo bytes, or by voice recording bytes. When a remote
  // profile store cannot be reached, the search is not personalized and its warnings report that.
  Result<SearchResponse> Search(const SearchRequest& request) const;
  Result<SearchResponse> SearchByImage(std::string_view image_bytes, SearchRequest request) const;
  Result<SearchResponse> SearchByVoice(std::string_view audio_bytes, SearchRequest request) const;

  // The feature rows of the candidates of `request` (up to rerank_depth, in retrieval order),
  // computed by the same code as Search, for training rankers and feature logging.
  Result<FeatureRows> ExtractFeatures(const SearchRequest& request) const;

  // Loads the ranker model at `path` ("" for options.ranker_model_path) and swaps it in: searches
  // already running finish with the old ranker, later ones use the new. On failure (missing or
  // damaged file, a model reading features this build does not extract) the current ranker stays.
  Status LoadRanker(const std::string& path = "");
  RankerInfo ranker_info() const;
  // Swaps in `ranker` (null: the retrieval score), loaded from `source` ("" when none), as
  // LoadRanker does; for tools that compare rankers in one process.
  void UseRanker(std::shared_ptr<const Ranker> ranker, const std::string& source = "");

  // The fate of an accepted event: recorded, a duplicate event_id, or from an opted-out user.
  using EventOutcome = ::tessera::EventOutcome;
  // Largest batch RecordEvents accepts.
  static constexpr size_t kMaxEventBatch = 1000;

  // Events and profiles. RecordEvent rejects products that do not exist and timestamps older
  // than the retention cut-off. An event repeating an event_id its user already sent, or sent
  // by a user who opted out, is acknowledged but not stored. `outcome` (when not null) is set
  // to the reason. A stored view, click, cart or purchase also updates the session vector of
  // (user, event.session_id) before this returns, so the next search of that session uses it.
  Status RecordEvent(const Event& event, EventOutcome* outcome = nullptr);
  // Records a batch with one synced write (shared with concurrent callers by group commit).
  // Per-event, not all-or-nothing: the events are checked in order, and those before the first
  // invalid one are recorded, with one outcome each in `outcomes`. The returned error then
  // names the invalid event's position ("event 3: ..."). A store failure records none of them.
  // A batch above kMaxEventBatch is rejected whole with kTooLarge.
  Status RecordEvents(const std::vector<Event>& events, std::vector<EventOutcome>* outcomes);
  // Moves the events of `from_user_id` (an anonymous session) to `to_user_id` (the account it
  // logged in to), recomputes that profile, and erases `from_user_id`, in one atomic write.
  // Returns how many events moved. kInvalidArgument for equal ids or an opted-out user.
  Result<size_t> MergeUsers(const std::string& from_user_id, const std::string& to_user_id);
  // Deletes the stored events older than the retention cut-off (none when retention_days is 0)
  // and recomputes the affected profiles; returns how many were deleted. Open runs it, and
  // then a background thread every retention_sweep_interval.
  Result<size_t> SweepExpiredEvents();
  Result<std::optional<UserProfile>> Profile(const std::string& user_id) const;
  Result<std::vector<Event>> UserEvents(const std::string& user_id) const;
  // Removes everything held about the user; returns the number of events removed.
  Result<size_t> EraseUser(const std::string& user_id);
  // Flushes and compacts the store, so that erased and overwritten data leaves its files (the
  // write-ahead log included) and not only its index. Takes seconds for a large store.
  Status CompactStore();
  // Opting out erases everything held about the user and drops their later events until they
  // opt in again.
  Status SetOptOut(const std::string& user_id, bool opted_out);
  Result<bool> OptedOut(const std::string& user_id) const;

  // Vector-level access for evaluation and explanations. kPhoto is the photo encoder's space,
  // kJoint the fused joint space (kUnavailable without a joint model).
  enum class Space { kPhoto, kJoint };
  struct Neighbour {
    std::string id;
    float similarity = 0;
  };
  // The `k` products nearest to `query` in `space`, by exact search when `exact`.
  Result<std::vector<Neighbour>> Nearest(Space space, const std::vector<float>& query, size_t k, bool exact) const;
  // The photo encoder's stored vector of the product `id`: empty when the product has no encoded
  // photo, kNotFound when no product has `id`.
  Result<std::vector<float>> PhotoVector(const std::string& id) const;
  // The photo encoder's vector of a photo.
  Result<std::vector<float>> EncodePhoto(std::string_view image_bytes) const;
  // The loaded joint model, or null; immutable and safe to use concurrently.
  const JointSpaceModel* joint_model() const;
  // The fused query vector of words and a photo vector, either of which may be empty.
  Result<std::vector<float>> JointQueryVector(const std::string& text, const std::vector<float>& photo_vector) const;
  std::string photo_encoder_name() const;

  // Counts for health checks; `with_memory` also measures index_bytes, in time linear in the
  // catalogue size, so health checks leave it off.
  EngineStats Stats(bool with_memory = false) const;
  const Clock& clock() const;

 private:
  struct Rep;
  explicit Engine(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
