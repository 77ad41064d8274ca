// The vector workload: approximate (HNSW) against exact nearest-neighbour search over the
// vectors an encoder stored for a catalogue, with held-out queries.
#pragma once

#include <cstddef>
#include <string>

namespace tessera {

struct VectorWorkloadOptions {
  std::string data_dir;          // an ingested data dir (its store/ is read, not modified)
  std::string encoder = "colour-shape-v1";
  size_t queries = 500;          // vectors held out of both indexes and used as queries
  unsigned seed = 7;
};

// Prints one JSON object: build times, and per ef_search the recall@10 against exact search and
// the latencies of both, unfiltered and with filters passing 50% and 10% of the documents.
int RunVectorWorkload(const VectorWorkloadOptions& options);

}  // namespace tessera
