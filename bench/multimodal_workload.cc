#include "multimodal_workload.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "cli/train_encoders.h"
#include "common/clock.h"
#include "encode/image_decoder.h"
#include "encode/image_encoder.h"
#include "encode/joint_space_trainer.h"
#include "engine/engine.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "index/exact_vector_index.h"
#include "ingest/fashion_catalog_reader.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Precision@10 of same article type and of same type and colour, summed over queries.
struct PhotoPrecision {
  double same_type = 0, same_type_colour = 0;
  size_t queries = 0, own_product_in_top10 = 0;

  void Add(const Product& query, const std::vector<std::string>& ranked,
           const std::unordered_map<std::string, const Product*>& by_id) {
    size_t type = 0, type_colour = 0, counted = 0;
    for (const std::string& id : ranked) {
      if (id == query.id) {
        ++own_product_in_top10;
        continue;
      }
      if (counted == 10) break;
      ++counted;
      const Product& other = *by_id.at(id);
      const bool same_type = other.Attribute("article_type") == query.Attribute("article_type");
      type += same_type;
      type_colour += same_type && other.Attribute("colour") == query.Attribute("colour");
    }
    same_type += type / 10.0;
    same_type_colour += type_colour / 10.0;
    ++queries;
  }
  json ToJson() const {
    const double n = double(std::max<size_t>(1, queries));
    return {{"precision_at_10_same_type", same_type / n},
            {"precision_at_10_same_type_and_colour", same_type_colour / n},
            {"own_product_in_top_10", own_product_in_top10 / n}};
  }
};

std::vector<std::string> Ids(const std::vector<Engine::Neighbour>& neighbours) {
  std::vector<std::string> ids;
  for (const auto& n : neighbours) ids.push_back(n.id);
  return ids;
}

// nDCG@10 per query kind of the engine's text search.
json TextRelevance(const Engine& engine, const std::vector<JudgedQuery>& queries) {
  std::map<std::string, std::vector<double>> by_kind;
  for (const JudgedQuery& query : queries) {
    SearchRequest request;
    request.text = query.text;
    request.per_page = 10;
    request.facets = false;
    Result<SearchResponse> response = engine.Search(request);
    std::vector<std::string> ids;
    if (response.ok()) {
      for (const SearchHit& hit : response->hits) ids.push_back(hit.product->id);
    }
    const double ndcg = NdcgAtK(ids, query, 10);
    by_kind[query.kind].push_back(ndcg);
    by_kind["all"].push_back(ndcg);
  }
  json out = json::object();
  for (const auto& [kind, values] : by_kind) out[kind] = Summarize(values).mean;
  return out;
}

Result<std::unique_ptr<Engine>> OpenEngine(const MultimodalWorkloadOptions& options, const Clock* clock,
                                           const std::string& fusion, bool joint) {
  EngineOptions engine_options;
  engine_options.data_dir = options.data_dir;
  engine_options.synonyms_path = options.synonyms_path;
  engine_options.joint.fusion = fusion;
  engine_options.photo_encoder = options.photo_encoder;
  if (!joint) engine_options.joint.model_path = (fs::path(options.data_dir) / "no-joint-model").string();
  return Engine::Open(engine_options, clock);
}

}  // namespace

int RunMultimodalWorkload(const MultimodalWorkloadOptions& options) {
  const auto fail = [](const Status& status) {
    std::cerr << status.ToString() << "\n";
    return 1;
  };
  if (options.reuse_ingest) {
    if (!fs::exists(fs::path(options.data_dir) / "store")) {
      return fail(Status::NotFound(options.data_dir + " has no store to reuse: run once without --reuse-ingest"));
    }
  } else if (fs::exists(options.data_dir)) {
    return fail(Status::InvalidArgument(options.data_dir + " exists: give a new folder, or --reuse-ingest"));
  }

  // The catalogue, with the photos of held-out products removed.
  std::vector<Product> catalogue;
  // Absolute photo paths, so the JSONL below needs no base folder.
  const std::string fashion_dir = fs::absolute(options.fashion_dir).string();
  Result<IngestReport> read = ReadFashionCatalog(fashion_dir, [&](CatalogRecord&& record) {
    catalogue.push_back(std::move(record.product));
    return Status::Ok();
  });
  if (!read.ok()) return fail(read.status());
  JointSpaceTrainingOptions training;
  std::vector<Product> held_out;
  std::ostringstream jsonl;
  for (Product& product : catalogue) {
    if (!product.image_paths.empty() && IsHeldOut(product.id, training.holdout_fraction)) {
      held_out.push_back(product);
      product.image_paths.clear();
    }
    jsonl << ProductToJson(product).dump() << "\n";
  }
  std::cerr << "multimodal: " << catalogue.size() << " products, " << held_out.size() << " photos held out\n";
  if (held_out.size() > options.photo_queries) held_out.resize(options.photo_queries);

  SystemClock clock;
  {
    Result<std::unique_ptr<Engine>> engine = OpenEngine(options, &clock, "sum", false);
    if (!engine.ok()) return fail(engine.status());
    if (options.reuse_ingest) {
      // The reused store must hold this catalogue with the held-out photos left out.
      const size_t stored = (*engine)->Stats().products;
      if (stored != catalogue.size()) {
        return fail(Status::InvalidArgument(options.data_dir + " holds " + std::to_string(stored) + " products, not " +
                                            std::to_string(catalogue.size()) + ": give a new folder"));
      }
      for (const Product& query : held_out) {
        Result<std::vector<float>> stored_photo = (*engine)->PhotoVector(query.id);
        if (stored_photo.ok() && !stored_photo->empty()) {
          return fail(Status::InvalidArgument(options.data_dir + " has a photo of held-out product '" + query.id +
                                              "': give a new folder"));
        }
      }
    } else {
      std::istringstream in(jsonl.str());
      Result<IngestReport> report = (*engine)->IngestJsonl(in, "");
      if (!report.ok()) return fail(report.status());
    }
  }
  std::string photo_encoder;
  {
    Result<std::unique_ptr<Engine>> engine = OpenEngine(options, &clock, "sum", false);
    if (!engine.ok()) return fail(engine.status());
    photo_encoder = (*engine)->photo_encoder_name();
  }
  TrainEncodersOptions train;
  train.data_dir = options.data_dir;
  train.photo_encoder = photo_encoder;
  train.training.seed = options.training_seed;
  std::ostringstream train_report;
  if (Status trained = RunTrainEncoders(train, train_report); !trained.ok()) return fail(trained);

  std::unordered_map<std::string, const Product*> by_id;
  for (const Product& product : catalogue) by_id[product.id] = &product;

  // The colour-and-shape baseline over every catalogue photo left in.
  ColourShapeEncoder colour_shape;
  ExactVectorIndex baseline(colour_shape.dimension());
  std::vector<std::string> baseline_ids;
  for (const Product& product : catalogue) {
    if (product.image_paths.empty()) continue;
    Result<DecodedImage> image = DecodeImage(ReadBytes(product.image_paths[0]));
    if (!image.ok()) continue;
    (void)baseline.Upsert(static_cast<DocId>(baseline_ids.size()), colour_shape.Encode(*image));
    baseline_ids.push_back(product.id);
  }

  // The pretrained backbone alone. The photo encoder's vectors concatenate the backbone's and
  // the colour-and-shape encoder's, so the backbone part of a stored vector, normalized, ranks
  // photos by the backbone's cosine.
  const size_t colour_shape_dimension = colour_shape.dimension();
  const bool has_backbone_part = photo_encoder.find('+') != std::string::npos;
  const auto backbone_part = [&](const std::vector<float>& vector) {
    std::vector<float> part(vector.begin(), vector.end() - static_cast<std::ptrdiff_t>(colour_shape_dimension));
    double norm = 0;
    for (float x : part) norm += double(x) * x;
    if (norm > 0) {
      for (float& x : part) x = static_cast<float>(x / std::sqrt(norm));
    }
    return part;
  };
  std::unique_ptr<ExactVectorIndex> backbone;
  std::vector<std::string> backbone_ids;
  PhotoPrecision backbone_precision;

  json photo = json::object();
  json text_with_joint = json::object();
  json words_to_photos = json::object();
  PhotoPrecision baseline_precision, photo_precision, engine_precision;
  for (const std::string fusion : {"sum", "concat"}) {
    Result<std::unique_ptr<Engine>> opened = OpenEngine(options, &clock, fusion, true);
    if (!opened.ok()) return fail(opened.status());
    const Engine& engine = **opened;
    PhotoPrecision joint_precision;
    for (const Product& query : held_out) {
      const std::string bytes = ReadBytes(query.image_paths[0]);
      Result<std::vector<float>> vector = engine.EncodePhoto(bytes);
      if (!vector.ok()) continue;
      Result<std::vector<float>> joint = engine.JointQueryVector("", *vector);
      if (!joint.ok()) return fail(joint.status());
      joint_precision.Add(query, Ids(*engine.Nearest(Engine::Space::kJoint, *joint, 11, true)), by_id);
      if (fusion != "sum") continue;

      photo_precision.Add(query, Ids(*engine.Nearest(Engine::Space::kPhoto, *vector, 11, true)), by_id);
      if (has_backbone_part) {
        if (!backbone) {
          backbone = std::make_unique<ExactVectorIndex>(vector->size() - colour_shape_dimension);
          for (const Product& product : catalogue) {
            Result<std::vector<float>> stored = engine.PhotoVector(product.id);
            if (!stored.ok() || stored->empty()) continue;
            (void)backbone->Upsert(static_cast<DocId>(backbone_ids.size()), backbone_part(*stored));
            backbone_ids.push_back(product.id);
          }
        }
        std::vector<std::string> backbone_ranked;
        for (const VectorHit& hit : backbone->Search(backbone_part(*vector), 11, nullptr)) {
          backbone_ranked.push_back(backbone_ids[hit.doc]);
        }
        backbone_precision.Add(query, backbone_ranked, by_id);
      }
      Result<DecodedImage> image = DecodeImage(bytes);
      std::vector<std::string> baseline_ranked;
      for (const VectorHit& hit : baseline.Search(colour_shape.Encode(*image), 11, nullptr)) {
        baseline_ranked.push_back(baseline_ids[hit.doc]);
      }
      baseline_precision.Add(query, baseline_ranked, by_id);
      SearchRequest request;
      request.per_page = 11;
      request.facets = false;
      Result<SearchResponse> served = engine.SearchByImage(bytes, request);
      std::vector<std::string> served_ids;
      if (served.ok()) {
        for (const SearchHit& hit : served->hits) served_ids.push_back(hit.product->id);
      }
      engine_precision.Add(query, served_ids, by_id);
    }
    photo["joint_" + fusion] = joint_precision.ToJson();

    const std::vector<JudgedQuery> queries = DeriveJudgedQuerySet(engine.AllProducts(), JudgmentOptions{});
    text_with_joint[fusion] = TextRelevance(engine, queries);
    if (fusion == "sum") {
      // Words against the projected photos alone: no title, no attribute, no OCR text.
      ExactVectorIndex photos_only(engine.joint_model()->dimension());
      std::vector<std::string> photo_ids;
      for (const Product& product : catalogue) {
        // The vector stored at ingest: the same encoder, without decoding the photo again.
        Result<std::vector<float>> vector = engine.PhotoVector(product.id);
        if (!vector.ok() || vector->empty()) continue;
        Result<std::vector<float>> projected = engine.joint_model()->ProjectPhoto(*vector);
        if (!projected.ok()) continue;
        (void)photos_only.Upsert(static_cast<DocId>(photo_ids.size()), *projected);
        photo_ids.push_back(product.id);
      }
      std::vector<double> ndcg;
      for (const JudgedQuery& query : queries) {
        if (query.kind != kPlainQueryKind) continue;
        std::vector<std::string> ranked;
        for (const VectorHit& hit : photos_only.Search(engine.joint_model()->EncodeText(query.text), 10, nullptr)) {
          ranked.push_back(photo_ids[hit.doc]);
        }
        ndcg.push_back(NdcgAtK(ranked, query, 10));
      }
      words_to_photos = {{"plain_queries", ndcg.size()},
                         {"photos", photo_ids.size()},
                         {"ndcg_at_10", Summarize(ndcg).mean}};
    }
  }
  photo["colour_shape_baseline"] = baseline_precision.ToJson();
  photo["photo_encoder_" + photo_encoder] = photo_precision.ToJson();
  if (has_backbone_part) photo["backbone_alone"] = backbone_precision.ToJson();
  photo["engine_photo_search"] = engine_precision.ToJson();
  {
    Result<std::unique_ptr<Engine>> engine = OpenEngine(options, &clock, "sum", false);
    if (!engine.ok()) return fail(engine.status());
    text_with_joint["text_alone"] = TextRelevance(**engine, DeriveJudgedQuerySet((*engine)->AllProducts(), {}));
  }

  json out = {{"workload", "multimodal"},
              {"photo_encoder", photo_encoder},
              {"training_seed", options.training_seed},
              {"held_out_photo_queries", held_out.size()},
              {"photo_queries", photo},
              {"words_to_photos", words_to_photos},
              {"text_search_ndcg_at_10", text_with_joint},
              {"joint_training", json::parse(train_report.str(), nullptr, false)}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
