// Crash driver: loads the real `tessera serve` on loopback with catalogue imports, single upserts
// and deletes, and shopper events. It kills the server with SIGKILL at a random moment, restarts
// it on the same data folder, and checks that every acknowledged write survived.
//
// The driver records each request before sending it. A request is acknowledged when its 2xx
// response arrives before the kill; a request still without a response at the kill is in flight
// and may have been applied or not, but never in part. Shared by the end-to-end test (a few
// iterations) and `tessera_bench crash` (many).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tessera::e2e {

struct CrashTestOptions {
  // A folder that does not exist yet. The driver creates it for the data folder and the log.
  std::filesystem::path work_dir;
  std::filesystem::path fashion_dir;  // real catalogue folder: styles.csv and images/
  uint64_t seed = 1;
  size_t iterations = 3;
  // Loopback port of the server; 0 picks a free one in [19000, 19999].
  int port = 0;

  // The catalogue: products made from the first rows of styles.csv. The first `base_products`
  // are imported once and never changed, so that events can name them; the rest are upserted
  // and deleted during the load.
  size_t catalogue_rows = 600;
  size_t base_products = 100;
  // Share of upserted products given their real photo, so that some writes also store a
  // photo vector.
  double photo_share = 0.2;

  // The load of one iteration, stopped by the kill. The kill comes a uniform random number of
  // milliseconds after the load starts.
  int min_kill_ms = 150;
  int max_kill_ms = 1500;
  size_t import_lines = 40;   // lines per POST /api/products/import
  size_t event_threads = 2;   // each sends single events and batches for users of its own
  size_t users_per_thread = 6;
  size_t max_event_batch = 50;
  // Requests one sender makes in an iteration at most, should the kill come late.
  size_t max_requests_per_sender = 5000;
  // Graceful restarts (SIGTERM, start, the same checks), spread evenly between the kills. Their
  // start times are the peer of the start times after a kill.
  size_t clean_restarts = 0;
};

struct CrashTestReport {
  uint64_t seed = 0;
  size_t iterations = 0;  // iterations completed: load, kill, restart and check
  // Writes acknowledged during the loads: product upserts and deletes (an import counts each
  // line), and events.
  size_t acknowledged_product_writes = 0;
  size_t acknowledged_events = 0;
  // Checks after the restarts, summed over restarts: every restart checks every product id and
  // every event acknowledged so far, not only the last load's.
  size_t products_checked = 0;  // product ids whose acknowledged state was checked
  size_t deletes_checked = 0;   // of those, ids whose acknowledged state is deleted
  size_t events_checked = 0;
  size_t profiles_checked = 0;
  size_t in_flight_requests = 0;  // requests without a response at the kill, summed
  // Acknowledged writes missing after a restart: products absent or older than acknowledged,
  // deleted products back, events missing. Must be 0.
  size_t lost = 0;
  // Anything else wrong after a restart: a product that matches none of its versions (half
  // applied), an in-flight event batch stored in part, unknown or repeated events, a profile
  // that differs from its events, wrong counts, failed searches, a server that does not open.
  // Must be 0.
  size_t corrupt = 0;
  // Error responses to requests before the kill; every request is valid, so must be 0.
  size_t error_responses = 0;
  // From the start of the process to the first health 200: after each kill, and after each
  // graceful stop.
  std::vector<double> restart_ms;
  std::vector<double> clean_restart_ms;
  std::vector<std::string> failures;  // the first 50 failures, described (setup failures too)
};

// Runs `options.iterations` kill-and-restart iterations and checks each restart. Writes the
// seed and each failure to stderr as it goes. A failure of the server is counted in the report,
// never thrown. The work folder is left in place, with the server log.
CrashTestReport RunCrashTest(const CrashTestOptions& options);

}  // namespace tessera::e2e
