#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <zlib.h>

#include "analysis/analyzer.h"
#include "analysis/synonyms.h"
#include "common/files.h"
#include "common/text.h"
#include "encode/audio_decoder.h"
#include "encode/image_decoder.h"
#include "encode/image_encoder.h"
#include "encode/photo_text_reader.h"
#include "encode/speech_model_builder.h"
#include "index/filter_index.h"
#include "index/inverted_index.h"
#include "index/exact_vector_index.h"
#include "index/hnsw_vector_index.h"
#include "index/vector_index.h"
#include "ingest/fashion_catalog_reader.h"
#include "ingest/jsonl_reader.h"
#include "personalize/profile_store.h"
#include "rank/ranker.h"
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

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

struct Engine::Rep {
  EngineOptions options;
  const Clock* clock = nullptr;

  std::unique_ptr<KvStore> kv;
  std::unique_ptr<ProductStore> products;
  std::unique_ptr<EmbeddedProfileStore> profiles;
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<SynonymSet> synonyms;  // null without a synonym file
  std::unique_ptr<QueryParser> parser;
  ColourShapeEncoder image_encoder;
  std::unique_ptr<PhotoTextReader> text_reader;  // null when reading is off or Tesseract is missing
  RetrievalScoreRanker ranker;
  std::unique_ptr<PersonalReranker> reranker;

  // Guards everything below. Searches take it shared; catalogue changes take it exclusive.
  mutable std::shared_mutex index_mutex;
  InvertedIndex text_index{TextFields()};
  FilterIndex filters;
  std::unique_ptr<VectorIndex> image_index;
  // Bumped in the same store write as every change to the photo vectors, so a saved vector index
  // is reused only when it holds exactly the stored vectors.
  uint64_t image_generation = 0;
  // The generation the files on disk hold, so a shutdown after no change writes nothing.
  mutable std::optional<uint64_t> saved_generation;
  // Serializes saves: two ingests that end together would otherwise write the same files.
  mutable std::mutex save_mutex;
  Roaring live_docs;
  std::vector<std::shared_ptr<const Product>> product_by_doc;
  std::unordered_map<std::string, DocId> doc_by_id;

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

  // What the product's first photo contributes: its vector (empty when it has no decodable
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
    analysis.vector = image_encoder.Encode(*image);
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
    image_index->Remove(doc);
    live_docs.remove(doc);
    product_by_doc[doc].reset();
    doc_by_id.erase(it);
  }

  // Precondition: index_mutex held exclusively. Replaces any earlier version of the product.
  void IndexLocked(std::shared_ptr<const Product> product, const std::vector<std::vector<std::string>>& terms,
                   const std::vector<float>& photo_vector) {
    RemoveLocked(product->id);
    const auto doc = static_cast<DocId>(product_by_doc.size());
    text_index.Add(doc, terms);
    for (const std::string& level : product->category_path) filters.Add(doc, "category", level);
    filters.Add(doc, "gender", product->Attribute("gender"));
    filters.Add(doc, "colour", product->Attribute("colour"));
    filters.Add(doc, "article_type", product->Attribute("article_type"));
    filters.SetPrice(doc, product->price);
    if (!photo_vector.empty()) {
      Status added = image_index->Upsert(doc, photo_vector);
      if (!added.ok()) spdlog::error("product {}: photo vector not indexed: {}", product->id, added.ToString());
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
        prepared.push_back({std::make_shared<const Product>(std::move(record.product)), {}, {}});
        continue;
      }
      const std::shared_ptr<const Product>& product = upserts[i];
      PhotoAnalysis& photo = photos[i];
      ProductStore::AddPut(&writes, *product);
      if (!photo.vector.empty()) {
        ProductStore::AddVectorPut(&writes, image_encoder.name(), product->id, photo.vector);
      } else {
        ProductStore::AddVectorDelete(&writes, image_encoder.name(), product->id);
      }
      if (text_reader && photo.text) {
        ProductStore::AddDerivedTextPut(&writes, text_reader->name(), product->id, *photo.text);
      } else if (text_reader) {
        ProductStore::AddDerivedTextDelete(&writes, text_reader->name(), product->id);
      }
      const std::string photo_text = photo.text ? photo.text->text : std::string();
      prepared.push_back({product, FieldTerms(*product, photo_text), std::move(photo.vector)});
    }
    writes.Put(Family::kMeta, GenerationKey(), std::to_string(image_generation + 1));
    // Synced, so an acknowledged catalogue change survives a crash.
    TESSERA_RETURN_IF_ERROR(kv->Write(&writes, /*sync=*/true));

    std::unique_lock lock(index_mutex);
    ++image_generation;
    for (size_t i = 0; i < prepared.size(); ++i) {
      if ((*batch)[i].op == CatalogRecord::Op::kDelete) {
        RemoveLocked(prepared[i].product->id);
      } else {
        IndexLocked(prepared[i].product, prepared[i].terms, prepared[i].vector);
      }
    }
    batch->clear();
    return Status::Ok();
  }

  Result<IngestReport> Ingest(const std::function<Result<IngestReport>(const RecordSink&)>& read) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<CatalogRecord> batch;
    Result<IngestReport> report = read([&](CatalogRecord&& record) -> Status {
      batch.push_back(std::move(record));
      if (batch.size() >= kIngestBatch) return ApplyBatch(&batch);
      return Status::Ok();
    });
    if (!report.ok()) return report;
    TESSERA_RETURN_IF_ERROR(ApplyBatch(&batch));
    spdlog::info("ingest: {} accepted, {} deleted, {} rejected in {:.1f} s; {} products, {} photo vectors",
                 report->accepted, report->deleted, report->rejected, MillisecondsSince(start) / 1000.0,
                 live_docs.cardinality(), image_index->size());
    SaveVectorIndex();
    return report;
  }

  std::string GenerationKey() const { return "vector_generation/" + image_encoder.name(); }
  std::string VectorIndexPath() const {
    return (fs::path(options.data_dir) / "index" / (image_encoder.name() + ".hnsw")).string();
  }

  std::unique_ptr<VectorIndex> NewVectorIndex() const {
    if (options.vector_index == "exact") return std::make_unique<ExactVectorIndex>(image_encoder.dimension());
    return std::make_unique<HnswVectorIndex>(image_encoder.dimension(), options.hnsw);
  }

  Status LoadFromStore() {
    Result<std::optional<std::string>> generation = kv->Get(Family::kMeta, GenerationKey());
    if (!generation.ok()) return generation.status();
    if (*generation) image_generation = std::stoull(**generation);

    std::unordered_map<std::string, std::string> photo_texts;
    if (text_reader) {
      TESSERA_RETURN_IF_ERROR(products->ForEachDerivedText(text_reader->name(), [&](const std::string& id, DerivedText&& text) {
        photo_texts[id] = std::move(text.text);
      }));
    }

    std::unique_lock lock(index_mutex);
    image_index = NewVectorIndex();
    TESSERA_RETURN_IF_ERROR(products->ForEach([&](Product&& product) {
      auto shared = std::make_shared<const Product>(std::move(product));
      auto text = photo_texts.find(shared->id);
      IndexLocked(shared, FieldTerms(*shared, text == photo_texts.end() ? std::string() : text->second), {});
    }));
    return LoadVectorIndexLocked();
  }

  // Reuses the saved approximate index when it holds exactly the stored vectors; otherwise
  // builds one from them. Precondition: index_mutex held exclusively, products indexed.
  Status LoadVectorIndexLocked() {
    const auto start = std::chrono::steady_clock::now();
    if (options.vector_index != "exact") {
      auto doc_of = [&](const std::string& id) -> std::optional<DocId> {
        auto it = doc_by_id.find(id);
        return it == doc_by_id.end() ? std::nullopt : std::optional<DocId>(it->second);
      };
      Result<std::unique_ptr<HnswVectorIndex>> saved =
          HnswVectorIndex::Load(VectorIndexPath(), image_encoder.dimension(), image_generation, doc_of, options.hnsw);
      if (saved.ok()) {
        image_index = std::move(saved).value();
        saved_generation = image_generation;
        spdlog::info("vector index {}: {} vectors loaded in {:.0f} ms", VectorIndexPath(), image_index->size(),
                     MillisecondsSince(start));
        return Status::Ok();
      }
      if (saved.status().code() != StatusCode::kNotFound) {
        spdlog::warn("{}; rebuilding it from the store", saved.status().ToString());
      }
    }
    TESSERA_RETURN_IF_ERROR(products->ForEachVector(image_encoder.name(), [&](const std::string& id, std::vector<float>&& v) {
      auto it = doc_by_id.find(id);
      if (it == doc_by_id.end()) return;
      Status added = image_index->Upsert(it->second, v);
      if (!added.ok()) spdlog::error("product {}: photo vector not indexed: {}", id, added.ToString());
    }));
    spdlog::info("vector index ({}): {} vectors indexed in {:.0f} ms", options.vector_index, image_index->size(),
                 MillisecondsSince(start));
    return Status::Ok();
  }

  // Saves the approximate index so the next start need not rebuild it. A failure costs only
  // that rebuild, so it is logged, not returned.
  void SaveVectorIndex() const {
    auto* hnsw = dynamic_cast<const HnswVectorIndex*>(image_index.get());
    if (hnsw == nullptr) return;
    const auto start = std::chrono::steady_clock::now();
    std::lock_guard save_lock(save_mutex);
    std::shared_lock lock(index_mutex);
    if (saved_generation == image_generation) return;
    std::error_code error;
    fs::create_directories(fs::path(VectorIndexPath()).parent_path(), error);
    Status saved = hnsw->Save(VectorIndexPath(), image_generation,
                              [&](DocId doc) { return product_by_doc[doc] ? product_by_doc[doc]->id : std::string(); });
    if (!saved.ok()) {
      spdlog::warn("vector index not saved: {}", saved.ToString());
      return;
    }
    saved_generation = image_generation;
    spdlog::info("vector index {}: {} vectors saved in {:.0f} ms", VectorIndexPath(), hnsw->size(),
                 MillisecondsSince(start));
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

  SearchResponse Respond(const SearchRequest& request, const CandidateSet& set, std::vector<RankedItem> items,
                         const std::optional<UserProfile>& profile) const {
    SearchResponse response;
    response.query = request.text;
    response.total = set.total;
    response.page = request.page;
    response.per_page = request.per_page;
    response.personalized = profile.has_value();

    const double strength = profile ? reranker->StrengthFactor(*profile, clock->NowMillis(), options.profile) : 0;
    const size_t begin = std::min(items.size(), (request.page - 1) * request.per_page);
    const size_t end = std::min(items.size(), begin + request.per_page);
    for (size_t i = begin; i < end; ++i) {
      const RankedItem& item = items[i];
      SearchHit hit;
      hit.product = product_by_doc[item.candidate.doc];
      hit.score = item.score;
      hit.relevance = item.relevance;
      hit.personal_boost = item.personal_boost;
      hit.text_score = item.candidate.text_score;
      hit.image_similarity = item.candidate.image_similarity;
      if (request.explain && profile) {
        BoostExplanation explanation;
        reranker->Boost(*hit.product, *profile, strength, &explanation);
        hit.boost_by_facet = std::move(explanation.by_facet);
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
Engine::~Engine() { rep_->SaveVectorIndex(); }

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options, const Clock* clock) {
  const auto start = std::chrono::steady_clock::now();
  auto rep = std::make_unique<Rep>();
  rep->options = options;
  rep->clock = clock;

  Result<std::unique_ptr<KvStore>> kv = KvStore::Open((fs::path(options.data_dir) / "store").string());
  if (!kv.ok()) return kv.status();
  rep->kv = std::move(kv).value();
  rep->products = std::make_unique<ProductStore>(rep->kv.get());
  rep->profiles = std::make_unique<EmbeddedProfileStore>(rep->kv.get(), options.profile);
  rep->reranker = std::make_unique<PersonalReranker>(options.personalization);

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

  const fs::path speech_dir = rep->SpeechDir();
  if (fs::exists(speech_dir / "catalog.dic") && fs::exists(speech_dir / "catalog.lm")) {
    Status loaded = rep->LoadSpeech((speech_dir / "catalog.dic").string(), (speech_dir / "catalog.lm").string());
    if (!loaded.ok()) spdlog::warn("speech model in {} not loaded: {}", speech_dir.string(), loaded.ToString());
  }
  spdlog::info("engine opened {}: {} products, {} photo vectors, {} terms in {:.0f} ms", options.data_dir,
               rep->live_docs.cardinality(), rep->image_index->size(), rep->text_index.term_count(),
               MillisecondsSince(start));
  return std::unique_ptr<Engine>(new Engine(std::move(rep)));
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
  return rep_->ApplyBatch(&batch);
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
  return rep_->ApplyBatch(&batch);
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

Result<SearchResponse> Engine::Search(const SearchRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  TESSERA_RETURN_IF_ERROR(ValidateSearchRequest(request));
  if (!request.user_id.empty()) TESSERA_RETURN_IF_ERROR(ValidateUserId(request.user_id));

  std::optional<UserProfile> profile;
  if (!request.user_id.empty()) {
    Result<std::optional<UserProfile>> loaded = rep_->profiles->Get(request.user_id);
    if (!loaded.ok()) return loaded.status();
    profile = std::move(loaded).value();
  }

  std::shared_lock lock(rep_->index_mutex);
  Retriever retriever(*rep_->parser, rep_->text_index, rep_->filters, *rep_->image_index, rep_->live_docs);
  const size_t depth = std::max(rep_->options.rerank_depth, request.page * request.per_page);
  // Relaxation stops at rerank_depth whatever the page, so every page has the same matches.
  Result<CandidateSet> retrieved = retriever.Retrieve(request, depth, rep_->options.rerank_depth);
  if (!retrieved.ok()) return retrieved.status();
  const CandidateSet& set = *retrieved;

  std::vector<RankedItem> items = ToRankedItems(set.candidates);
  rep_->ranker.Rank(&items);
  if (profile) {
    // Personalization re-orders the top rerank_depth items; deeper pages keep the ranker's order.
    const size_t head = std::min(items.size(), rep_->options.rerank_depth);
    std::vector<RankedItem> top(items.begin(), items.begin() + head);
    rep_->reranker->Rerank(&top, *profile, rep_->clock->NowMillis(), rep_->options.profile,
                           [&](DocId doc) -> const Product& { return *rep_->product_by_doc[doc]; });
    std::copy(top.begin(), top.end(), items.begin());
  }
  SearchResponse response = rep_->Respond(request, set, std::move(items), profile);
  response.partial = set.partial;
  response.warnings = rep_->FilterWarnings(request.filters);
  if (set.partial) {
    response.warnings.push_back("the query ran out of its time budget of " +
                                std::to_string(rep_->options.query.time_budget.count()) +
                                " ms: the results are those found in time; shorten the query");
  }
  response.took_ms = MillisecondsSince(start);
  return response;
}

Result<SearchResponse> Engine::SearchByImage(std::string_view image_bytes, SearchRequest request) const {
  const auto start = std::chrono::steady_clock::now();
  Result<DecodedImage> image = DecodeImage(image_bytes);
  if (!image.ok()) return image.status();
  request.image_vector = rep_->image_encoder.Encode(*image);
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

Status Engine::RecordEvent(const Event& event) {
  TESSERA_RETURN_IF_ERROR(ValidateUserId(event.user_id));
  Result<Product> product = GetProduct(event.product_id);
  if (!product.ok()) {
    return Status::NotFound("product '" + Excerpt(event.product_id) +
                            "' not found: send events only for products in the catalogue");
  }
  return rep_->profiles->Record(event, *product);
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
  Result<size_t> erased = rep_->profiles->Erase(user_id);
  if (erased.ok()) spdlog::info("erased user data: {} events", *erased);
  return erased;
}

EngineStats Engine::Stats(bool with_memory) const {
  EngineStats stats;
  {
    std::shared_lock lock(rep_->index_mutex);
    stats.products = rep_->live_docs.cardinality();
    stats.photo_vectors = rep_->image_index->size();
    stats.terms = rep_->text_index.term_count();
    if (with_memory) stats.index_bytes = rep_->text_index.MemoryBytes();
  }
  std::lock_guard lock(rep_->speech_mutex);
  stats.speech_ready = rep_->speech != nullptr;
  return stats;
}

const Clock& Engine::clock() const { return *rep_->clock; }

}  // namespace tessera
