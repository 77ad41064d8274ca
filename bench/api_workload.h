// The API workload: what the access gate (API keys, roles, rate limits, size limits) adds to a
// request's latency over real HTTP, against the same server without keys in the same run.
#pragma once

#include <cstddef>
#include <string>

namespace tessera {

struct ApiWorkloadOptions {
  std::string data_dir;     // a folder that does not exist yet; one store and a keys file are created in it
  size_t products = 2000;   // synthetic products ingested
  size_t rounds = 20;       // rounds; each sends `requests` to every server and route, in turn
  size_t requests = 200;    // requests per server, route and round
};

// Prints one JSON object with the median and p99 latency of each route on the open and the keyed
// server, and their ratio. Returns a process exit code.
int RunApiWorkload(const ApiWorkloadOptions& options);

}  // namespace tessera
