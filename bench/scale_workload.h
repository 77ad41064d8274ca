// The `scale` workload of tessera_bench: ingest a synthetic catalogue of N products into a new
// store, then measure ingest rate, memory, engine re-open time and query latency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

struct ScaleOptions {
  std::string data_dir;     // store to create; must not exist yet or be empty
  std::string fashion_dir;  // the real catalogue (styles.csv) the synthetic products are built from
  uint64_t products = 1'000'000;
  uint64_t seed = 42;       // seeds both the synthetic catalogue and the judged query sample
  size_t queries = 200;     // plain judged queries, each with up to three variants
  std::string synonyms_path;  // Solr-format synonym file for the engine; "" for none
};

// Runs the workload and prints one JSON object to stdout. Returns the process exit code: 0 on
// success, 1 with a message on stderr when the folder, the catalogue or the engine fails.
int RunScale(const ScaleOptions& options);

}  // namespace tessera
