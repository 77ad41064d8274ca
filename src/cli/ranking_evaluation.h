// Helpers shared by the commands that train rankers on the judged queries (`tessera train-ranker`
// and `tessera train-click-model`). They load the judged set, split it by query, extract feature
// rows through the serving code, draw the progress line and compute held-out nDCG@10 and MRR@10.
// Sharing them means every learned ranker is measured on the same test queries in the same way.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/engine.h"
#include "eval/judgments.h"

namespace tessera {

struct JudgedSetOptions {
  std::string judgments_path;  // JSON Lines from `tessera eval --write-judgments`; "" to derive
  JudgmentOptions derive;      // used when judgments_path is ""
  // Derived sets also contain photo queries (DerivePhotoJudgedQueries) of products whose photo the
  // engine has encoded, up to photo.max_queries. Without photo.eligible, only products the joint
  // space did not train on (its held-out and validation splits) become queries.
  PhotoJudgmentOptions photo;
};

// Reads the judged queries from options.judgments_path, or derives them (with their variants and
// photo queries) from the engine's catalogue. Fails with kInvalidArgument when there is none.
Result<std::vector<JudgedQuery>> LoadJudgedQueries(const Engine& engine, const JudgedSetOptions& options);

// The id a query shares with its variants: "q0001-typo" -> "q0001".
std::string BaseQueryId(const std::string& id);

enum class Split { kTrain, kValidation, kTest };

// The split of a query, by a hash of its base id, so it does not depend on the seed or order.
// A query and its variants always fall on the same side.
Split SplitOf(const JudgedQuery& query, double test_fraction, double validation_fraction);

struct QueryRows {
  const JudgedQuery* query = nullptr;
  FeatureRows rows;
  std::vector<float> labels;
};

// Runs `query` through Engine::ExtractFeatures and labels each candidate with its grade (0 when
// unjudged). A photo query searches with its product's stored photo vector (and its projection
// into the joint space when a joint model is loaded), and that product's own row is dropped.
// Fails with kNotFound when the photo query's product has no photo vector.
Result<QueryRows> ExtractQuery(const Engine& engine, const JudgedQuery& query);

// Runs ExtractQuery on every query, showing progress on stderr. Fails naming the query that failed.
Result<std::vector<QueryRows>> ExtractAll(const Engine& engine, const std::vector<JudgedQuery>& queries);

// Draws a progress line on stderr: redrawn in place on a terminal, every 10% otherwise.
class Progress {
 public:
  Progress(std::string label, size_t total);
  void Show(size_t done, const std::string& detail = "");

 private:
  std::string label_;
  size_t total_;
  bool terminal_;
  size_t last_decile_ = 11;
};

// Product ids of `rows` ordered by `scores`, best first; ties keep the retrieval order.
std::vector<std::string> RankedIds(const QueryRows& q, const std::vector<float>& scores);

// nDCG@10 and MRR@10 of one ranking method over the test queries, overall and per kind.
struct MethodMetrics {
  std::map<std::string, std::vector<double>> ndcg, mrr;  // "all" and each kind

  void Add(const JudgedQuery& query, const std::vector<std::string>& ranked);
  nlohmann::json ToJson() const;
};

// Adds the two baselines of `q` to `methods`: "bm25f" (the candidates ordered by BM25F, missing
// last) and "retrieval" (the row order, which is the hybrid retrieval without a model).
void AddBaselines(const QueryRows& q, std::map<std::string, MethodMetrics>* methods);

double SecondsSince(std::chrono::steady_clock::time_point start);

}  // namespace tessera
