#include "vector_workload.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "index/exact_vector_index.h"
#include "index/hnsw_vector_index.h"
#include "store/kv_store.h"
#include "store/product_store.h"

namespace tessera {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

json Latency(const std::vector<double>& values) {
  const MetricSummary s = Summarize(values);
  return {{"median", s.median}, {"p99", s.p99}};
}

// Recall@10 and latencies of `approximate` and `exact` over `queries` under `allowed`.
json Compare(const VectorIndex& approximate, const VectorIndex& exact, const std::vector<std::vector<float>>& queries,
             const Roaring* allowed) {
  std::vector<double> approximate_ms, exact_ms;
  size_t found = 0, expected_total = 0;
  for (const auto& query : queries) {
    auto start = Clock::now();
    const std::vector<VectorHit> truth = exact.Search(query, 10, allowed);
    exact_ms.push_back(MillisSince(start));
    start = Clock::now();
    const std::vector<VectorHit> got = approximate.Search(query, 10, allowed);
    approximate_ms.push_back(MillisSince(start));
    std::set<DocId> got_docs;
    for (const VectorHit& hit : got) got_docs.insert(hit.doc);
    for (const VectorHit& hit : truth) found += got_docs.count(hit.doc);
    expected_total += truth.size();
  }
  return {{"recall_at_10", double(found) / double(std::max<size_t>(1, expected_total))},
          {"hnsw_ms", Latency(approximate_ms)},
          {"exact_ms", Latency(exact_ms)}};
}

}  // namespace

int RunVectorWorkload(const VectorWorkloadOptions& options) {
  Result<std::unique_ptr<KvStore>> kv = KvStore::Open(options.data_dir + "/store");
  if (!kv.ok()) {
    std::cerr << kv.status().ToString() << "\n";
    return 1;
  }
  ProductStore products(kv->get());
  std::vector<std::vector<float>> vectors;
  Status read = products.ForEachVector(options.encoder, [&](const std::string&, std::vector<float>&& v) {
    vectors.push_back(std::move(v));
  });
  if (!read.ok() || vectors.size() <= options.queries) {
    std::cerr << "need more than " << options.queries << " vectors of encoder " << options.encoder << " in "
              << options.data_dir << " (found " << vectors.size() << "): run tessera ingest first\n";
    return 1;
  }

  // Hold the queries out, so no query finds itself.
  std::mt19937 random(options.seed);
  std::shuffle(vectors.begin(), vectors.end(), random);
  const std::vector<std::vector<float>> queries(vectors.begin(), vectors.begin() + static_cast<long>(options.queries));
  vectors.erase(vectors.begin(), vectors.begin() + static_cast<long>(options.queries));
  const size_t dimension = vectors.front().size();

  ExactVectorIndex exact(dimension);
  auto start = Clock::now();
  for (DocId doc = 0; doc < vectors.size(); ++doc) (void)exact.Upsert(doc, vectors[doc]);
  const double exact_build_ms = MillisSince(start);
  HnswVectorIndex hnsw(dimension);
  start = Clock::now();
  for (DocId doc = 0; doc < vectors.size(); ++doc) (void)hnsw.Upsert(doc, vectors[doc]);
  const double hnsw_build_ms = MillisSince(start);

  Roaring half, tenth;
  for (DocId doc = 0; doc < vectors.size(); ++doc) {
    if (random() % 2 == 0) half.add(doc);
    if (random() % 10 == 0) tenth.add(doc);
  }

  json by_ef = json::array();
  for (size_t ef : {16, 32, 64, 128, 256}) {
    HnswOptions tuned;
    tuned.ef_search = ef;
    // Same graph (same seed and insertion order), searched with another candidate list length.
    HnswVectorIndex searched(dimension, tuned);
    for (DocId doc = 0; doc < vectors.size(); ++doc) (void)searched.Upsert(doc, vectors[doc]);
    by_ef.push_back({{"ef_search", ef},
                     {"unfiltered", Compare(searched, exact, queries, nullptr)},
                     {"filter_50_percent", Compare(searched, exact, queries, &half)},
                     {"filter_10_percent", Compare(searched, exact, queries, &tenth)}});
  }
  json out = {{"workload", "vectors"},
              {"encoder", options.encoder},
              {"dimension", dimension},
              {"indexed_vectors", vectors.size()},
              {"held_out_queries", queries.size()},
              {"build_ms", {{"exact", exact_build_ms}, {"hnsw", hnsw_build_ms}}},
              {"by_ef_search", by_ef}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
