// The events workload: durable shopper events per second with group commit against one synced
// write per event, how soon a click shows in the shopper's next search over real HTTP, and what
// personalization adds to a search's latency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct EventsWorkloadOptions {
  std::string data_dir;     // a folder that does not exist yet; three stores are created in it
  std::string fashion_dir;  // real catalogue (styles.csv); its products are ingested without photos
  size_t products = 5000;   // the first this many products of the catalogue
  // Events per RecordEvents call, one figure each (at most Engine::kMaxEventBatch).
  std::vector<size_t> batch_sizes = {100, 1000};
  size_t batch_events = 50000;  // events per batch figure
  // Concurrent callers sending single events, one figure each.
  std::vector<size_t> thread_counts = {8, 64};
  size_t concurrent_events = 20000;  // events per concurrent figure
  double max_seconds = 10;           // every durability figure also stops after this long
  size_t freshness_rounds = 200;  // click-then-search rounds over HTTP
  size_t queries = 200;           // queries of the personalization-cost figure
  uint64_t seed = 42;
};

// Prints one JSON object with every figure. Returns a process exit code.
int RunEventsWorkload(const EventsWorkloadOptions& options);

}  // namespace tessera
