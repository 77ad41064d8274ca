#include "e2e/crash_driver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_support.h"
#include "ingest/product.h"
#include "personalize/event.h"
#include "personalize/profile.h"

namespace tessera::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// The catalogue the driver writes.

// One row of styles.csv: id,gender,masterCategory,subCategory,articleType,baseColour,season,
// year,usage,productDisplayName. The name is the last column and may contain commas.
struct CatalogueRow {
  std::string id;
  std::vector<std::string> columns;  // the nine columns before the name
  std::string name;
  std::string photo;  // absolute path of images/<id>.jpg, or "" when the data set has none
};

std::vector<CatalogueRow> ReadCatalogueRows(const fs::path& fashion_dir, size_t rows) {
  std::vector<CatalogueRow> result;
  std::ifstream in(fashion_dir / "styles.csv");
  std::string line;
  std::getline(in, line);  // header
  while (result.size() < rows && std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    CatalogueRow row;
    size_t start = 0;
    for (int column = 0; column < 9; ++column) {
      const size_t comma = line.find(',', start);
      if (comma == std::string::npos) break;
      row.columns.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
    if (row.columns.size() != 9 || row.columns[0].empty()) continue;
    row.id = row.columns[0];
    row.name = line.substr(start);
    const fs::path photo = fashion_dir / "images" / (row.id + ".jpg");
    if (fs::exists(photo)) row.photo = fs::weakly_canonical(photo).string();
    result.push_back(std::move(row));
  }
  return result;
}

// A word of eight random letters that names one version of one product, so that a search for it
// finds that version.
std::string RandomMarker(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> letter('a', 'z');
  std::string marker = "zq";
  for (int i = 0; i < 8; ++i) marker.push_back(static_cast<char>(letter(rng)));
  return marker;
}

// The JSONL object of one version of a product. Every field depends on the version, so a
// product made of two versions' fields matches neither.
json ProductVersionJson(const CatalogueRow& row, uint64_t version, const std::string& marker, bool with_photo) {
  const std::vector<std::string>& c = row.columns;
  json category = json::array();
  for (size_t column : {2, 3, 4}) {
    if (!c[column].empty()) category.push_back(c[column]);
  }
  json attributes = json::object();
  const std::pair<const char*, size_t> kAttributes[] = {{"gender", 1},  {"article_type", 4}, {"colour", 5},
                                                        {"season", 6},  {"year", 7},         {"usage", 8}};
  for (const auto& [name, column] : kAttributes) {
    if (!c[column].empty()) attributes[name] = c[column];
  }
  attributes["edition"] = std::to_string(version);
  const std::string brand = row.name.substr(0, row.name.find(' '));
  json product = {{"id", "p" + row.id},
                  {"title", (row.name.empty() ? std::string("Product") : row.name) + " " + marker},
                  {"description", "Version " + std::to_string(version) + " of product " + row.id + "."},
                  {"brand", brand.empty() ? std::string("Crash") : brand},
                  {"category_path", category},
                  {"price", 100.0 + 7.5 * static_cast<double>(version)},
                  {"currency", "INR"},
                  {"attributes", attributes},
                  {"availability", version % 3 == 0 ? "out_of_stock" : "in_stock"}};
  if (with_photo && !row.photo.empty()) product["images"] = json::array({row.photo});
  return product;
}

// The body GET /api/products/{id} returns for a stored product (as the server's ProductJson
// makes it): the product's JSON without the server's photo paths, and the photo's URL.
json ExpectedProductBody(const json& sent) {
  Result<Product> product = ProductFromJson(sent, "");
  if (!product.ok()) return json{{"invalid", product.status().ToString()}};
  json body = ProductToJson(*product);
  body.erase("images");
  body["image_url"] = product->image_paths.empty() ? json(nullptr) : json("/api/products/" + product->id + "/image");
  return body;
}

// ---------------------------------------------------------------------------------------------
// What the driver recorded of each product and event. A product id and a user belong to one sender,
// so during the load only that sender thread touches their records.

struct ProductRecord {
  const CatalogueRow* row = nullptr;
  std::string id;
  bool base = false;  // imported once, named by events, never changed
  // The acknowledged state: the expected GET body, or nullopt when the product is absent.
  std::optional<json> acknowledged;
  // The state each request without an acknowledgement would leave (at most one: a sender waits
  // for each response before its next request).
  std::vector<std::optional<json>> in_flight;
  std::vector<json> history;  // every version ever sent, for telling a lost write from a torn one
  uint64_t next_version = 1;
  bool ever_deleted = false;
};

struct SentEvent {
  std::string user;
  std::string event_id;
  std::string type;
  std::string product_id;  // "" for search events
};

struct UserRecord {
  std::string user;
  std::map<std::string, SentEvent> acknowledged;  // by event id
};

// Counts and failures of the checks, shared by the check functions.
class Checker {
 public:
  explicit Checker(CrashTestReport* report) : report_(report) {}

  void Lost(const std::string& what) {
    ++report_->lost;
    Fail("lost: " + what);
  }
  void Corrupt(const std::string& what) {
    ++report_->corrupt;
    Fail("corrupt: " + what);
  }
  // A failure before the first kill; the report then has fewer iterations than requested.
  void SetupFailed(const std::string& what) { Fail("setup failed: " + what); }
  CrashTestReport& report() { return *report_; }

 private:
  void Fail(const std::string& message) {
    constexpr size_t kKeptFailures = 50;
    if (report_->failures.size() < kKeptFailures) {
      report_->failures.push_back(message);
      std::cerr << "crash test: " << message << "\n";
    }
  }

  CrashTestReport* report_;
};

// True when two JSON values are equal, numbers within a relative 1e-9. Profile weights are sums of
// decayed doubles, and the recovered and the recomputed profile apply the same events in the same
// order, so any larger difference is a real one.
bool NearlyEqual(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>();
    const double y = b.get<double>();
    return std::abs(x - y) <= 1e-9 * std::max({1.0, std::abs(x), std::abs(y)});
  }
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !NearlyEqual(it.value(), b[it.key()])) return false;
    }
    return true;
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!NearlyEqual(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

// ---------------------------------------------------------------------------------------------
// The server and HTTP.

std::unique_ptr<httplib::Client> MakeClient(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_connection_timeout(2, 0);
  client->set_read_timeout(30, 0);
  client->set_write_timeout(30, 0);
  return client;
}

// A free loopback port in [19000, 19999], drawn at random; 0 when 200 draws found none.
int PickLoopbackPort(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> draw(19000, 19999);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = draw(rng);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

// Polls /api/health every 5 ms. Returns the milliseconds from `started` to the first 200, or
// nullopt after 60 s.
std::optional<double> WaitUntilServing(int port, Clock::time_point started) {
  auto client = MakeClient(port);
  client->set_connection_timeout(0, 200000);
  while (MillisecondsSince(started) < 60000) {
    if (auto res = client->Get("/api/health"); res && res->status == 200) return MillisecondsSince(started);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The driver.

class CrashDriver {
 public:
  CrashDriver(const CrashTestOptions& options, CrashTestReport* report)
      : options_(options), rng_(options.seed), checker_(report) {}

  void Run();

 private:
  // Setup: the catalogue, the first server and the base products.
  bool Setup();
  // Starts the server; adds the time until it serves to `start_times` when not null.
  bool StartServer(std::vector<double>* start_times);
  void CheckAll();

  // One sender per thread; each returns when stopped, at its request bound, or at its first
  // request without a 2xx response.
  void ImportSender(std::vector<ProductRecord*> pool, uint64_t seed);
  void SingleWriteSender(std::vector<ProductRecord*> pool, uint64_t seed);
  void EventSender(size_t thread, std::vector<UserRecord*> users, uint64_t seed);
  json NextVersion(ProductRecord* record, std::mt19937_64& rng);
  void Load();

  // The checks after a restart; each folds the observed state into the acknowledged one.
  void CheckProducts();
  void CheckEvents();
  void CheckCountsAndSearch();

  const CrashTestOptions& options_;
  std::mt19937_64 rng_;
  Checker checker_;
  int port_ = 0;
  size_t iteration_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::vector<CatalogueRow> rows_;
  std::vector<std::unique_ptr<ProductRecord>> products_;
  std::unordered_map<std::string, Product> base_products_;  // by id, for recomputing profiles
  std::vector<std::unique_ptr<UserRecord>> users_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> error_responses_{0};
  std::atomic<size_t> acknowledged_product_writes_{0};
  std::atomic<size_t> acknowledged_events_{0};
  std::mutex in_flight_mutex_;
  std::vector<std::vector<SentEvent>> in_flight_batches_;  // guarded by in_flight_mutex_
  size_t in_flight_requests_ = 0;                          // guarded by in_flight_mutex_
};

bool CrashDriver::StartServer(std::vector<double>* start_times) {
  const Clock::time_point started = Clock::now();
  server_ = std::make_unique<ServerProcess>(options_.work_dir / "var", port_, options_.work_dir / "server.log");
  const std::optional<double> ready = WaitUntilServing(port_, started);
  if (!ready) {
    const std::string message = "the server did not serve within 60 s (log: " + (options_.work_dir / "server.log").string() + ")";
    if (start_times == nullptr) {
      checker_.SetupFailed(message);
    } else {
      checker_.Corrupt("iteration " + std::to_string(iteration_) + ": " + message);
    }
    return false;
  }
  if (start_times != nullptr) start_times->push_back(*ready);
  return true;
}

bool CrashDriver::Setup() {
  if (fs::exists(options_.work_dir)) {
    checker_.SetupFailed(options_.work_dir.string() + " exists: name a folder that does not exist yet");
    return false;
  }
  rows_ = ReadCatalogueRows(options_.fashion_dir, options_.catalogue_rows);
  if (rows_.size() <= options_.base_products) {
    checker_.SetupFailed((options_.fashion_dir / "styles.csv").string() + " has too few rows");
    return false;
  }
  for (size_t i = 0; i < rows_.size(); ++i) {
    auto record = std::make_unique<ProductRecord>();
    record->row = &rows_[i];
    record->id = "p" + rows_[i].id;
    record->base = i < options_.base_products;
    products_.push_back(std::move(record));
  }
  for (size_t thread = 0; thread < options_.event_threads; ++thread) {
    for (size_t user = 0; user < options_.users_per_thread; ++user) {
      auto record = std::make_unique<UserRecord>();
      record->user = "crash-t" + std::to_string(thread) + "-u" + std::to_string(user);
      users_.push_back(std::move(record));
    }
  }

  fs::create_directories(options_.work_dir);
  port_ = options_.port != 0 ? options_.port : PickLoopbackPort(rng_);
  if (port_ == 0) {
    checker_.SetupFailed("no free loopback port in 19000-19999");
    return false;
  }
  if (!StartServer(nullptr)) return false;

  // The base products, without photos, in one acknowledged import.
  std::string body;
  for (const auto& record : products_) {
    if (!record->base) continue;
    const json sent = ProductVersionJson(*record->row, record->next_version++, RandomMarker(rng_), false);
    body += sent.dump() + "\n";
    record->acknowledged = ExpectedProductBody(sent);
    record->history.push_back(*record->acknowledged);
    Result<Product> product = ProductFromJson(sent, "");
    if (product.ok()) base_products_[record->id] = *product;
  }
  auto res = MakeClient(port_)->Post("/api/products/import", body, "application/x-ndjson");
  if (!res || res->status != 200) {
    checker_.SetupFailed("importing the base products failed: " + (res ? res->body : std::string("no response")));
    return false;
  }
  return true;
}

json CrashDriver::NextVersion(ProductRecord* record, std::mt19937_64& rng) {
  const std::string marker = RandomMarker(rng);
  const bool with_photo = std::uniform_real_distribution<double>(0, 1)(rng) < options_.photo_share;
  const json sent = ProductVersionJson(*record->row, record->next_version++, marker, with_photo);
  record->history.push_back(ExpectedProductBody(sent));
  return sent;
}

void CrashDriver::ImportSender(std::vector<ProductRecord*> pool, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto client = MakeClient(port_);
  for (size_t request = 0; request < options_.max_requests_per_sender && !stop_; ++request) {
    // Distinct ids, so that each id has at most one line per request.
    std::shuffle(pool.begin(), pool.end(), rng);
    const size_t lines = std::min(options_.import_lines, pool.size());
    std::string body;
    for (size_t i = 0; i < lines; ++i) {
      ProductRecord* record = pool[i];
      const bool present = record->acknowledged.has_value();
      if (present && std::uniform_real_distribution<double>(0, 1)(rng) < 0.25) {
        body += json{{"op", "delete"}, {"id", record->id}}.dump() + "\n";
        record->in_flight.push_back(std::nullopt);
      } else {
        const json sent = NextVersion(record, rng);
        body += sent.dump() + "\n";
        record->in_flight.push_back(record->history.back());
      }
    }
    auto res = client->Post("/api/products/import", body, "application/x-ndjson");
    const json response = res ? json::parse(res->body, nullptr, false) : json();
    const bool acknowledged = res && res->status / 100 == 2 && response.is_object() && response.value("rejected", 1) == 0;
    if (!acknowledged) {
      if (res) ++error_responses_;
      std::lock_guard lock(in_flight_mutex_);
      ++in_flight_requests_;
      return;
    }
    acknowledged_product_writes_ += lines;
    for (size_t i = 0; i < lines; ++i) {
      ProductRecord* record = pool[i];
      record->acknowledged = record->in_flight.back();
      if (!record->acknowledged) record->ever_deleted = true;
      record->in_flight.clear();
    }
  }
}

void CrashDriver::SingleWriteSender(std::vector<ProductRecord*> pool, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto client = MakeClient(port_);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  for (size_t request = 0; request < options_.max_requests_per_sender && !stop_; ++request) {
    ProductRecord* record = pool[pick(rng)];
    const bool remove = record->acknowledged && std::uniform_real_distribution<double>(0, 1)(rng) < 0.3;
    const auto send = [&] {
      if (remove) {
        record->in_flight.push_back(std::nullopt);
        return client->Delete("/api/products/" + record->id);
      }
      const json sent = NextVersion(record, rng);
      record->in_flight.push_back(record->history.back());
      return client->Put("/api/products/" + record->id, sent.dump(), "application/json");
    };
    const httplib::Result res = send();
    if (!res || res->status / 100 != 2) {
      if (res) ++error_responses_;
      std::lock_guard lock(in_flight_mutex_);
      ++in_flight_requests_;
      return;
    }
    ++acknowledged_product_writes_;
    record->acknowledged = record->in_flight.back();
    if (!record->acknowledged) record->ever_deleted = true;
    record->in_flight.clear();
  }
}

void CrashDriver::EventSender(size_t thread, std::vector<UserRecord*> users, uint64_t seed) {
  static const char* kTypes[] = {"view", "view", "click", "click", "add_to_cart", "purchase", "search"};
  std::mt19937_64 rng(seed);
  auto client = MakeClient(port_);
  std::vector<const ProductRecord*> base;
  for (const auto& record : products_) {
    if (record->base) base.push_back(record.get());
  }
  std::uniform_int_distribution<size_t> pick_user(0, users.size() - 1);
  std::uniform_int_distribution<size_t> pick_product(0, base.size() - 1);
  std::uniform_int_distribution<size_t> pick_type(0, std::size(kTypes) - 1);
  std::uniform_int_distribution<size_t> pick_size(2, std::max<size_t>(2, options_.max_event_batch));
  size_t sent_events = 0;

  for (size_t request = 0; request < options_.max_requests_per_sender && !stop_; ++request) {
    const bool single = std::uniform_int_distribution<int>(0, 1)(rng) == 0;
    const size_t size = single ? 1 : pick_size(rng);
    std::vector<SentEvent> batch;
    json items = json::array();
    for (size_t i = 0; i < size; ++i) {
      SentEvent event;
      event.user = users[pick_user(rng)]->user;
      event.type = kTypes[pick_type(rng)];
      event.event_id = "i" + std::to_string(iteration_) + "-t" + std::to_string(thread) + "-e" + std::to_string(sent_events++);
      json item = {{"user_id", event.user}, {"type", event.type}, {"event_id", event.event_id}};
      if (event.type == "search") {
        item["query"] = "shirts";
      } else {
        event.product_id = base[pick_product(rng)]->id;
        item["product_id"] = event.product_id;
      }
      items.push_back(std::move(item));
      batch.push_back(std::move(event));
    }
    const std::string body = single ? items[0].dump() : json{{"events", items}}.dump();
    auto res = client->Post("/api/events", body, "application/json");
    if (!res || res->status / 100 != 2) {
      if (res) ++error_responses_;
      std::lock_guard lock(in_flight_mutex_);
      ++in_flight_requests_;
      in_flight_batches_.push_back(std::move(batch));
      return;
    }
    acknowledged_events_ += batch.size();
    for (SentEvent& event : batch) {
      for (UserRecord* user : users) {
        if (user->user == event.user) user->acknowledged[event.event_id] = event;
      }
    }
  }
}

// Runs every sender and kills the server at a random moment.
void CrashDriver::Load() {
  std::vector<ProductRecord*> import_pool;
  std::vector<ProductRecord*> single_pool;
  size_t mutable_index = 0;
  for (const auto& record : products_) {
    if (record->base) continue;
    (mutable_index++ % 3 == 2 ? single_pool : import_pool).push_back(record.get());
  }

  stop_ = false;
  std::vector<std::jthread> senders;
  senders.emplace_back([this, import_pool, seed = rng_()] { ImportSender(import_pool, seed); });
  senders.emplace_back([this, single_pool, seed = rng_()] { SingleWriteSender(single_pool, seed); });
  for (size_t thread = 0; thread < options_.event_threads; ++thread) {
    std::vector<UserRecord*> users;
    for (size_t user = 0; user < options_.users_per_thread; ++user) {
      users.push_back(users_[thread * options_.users_per_thread + user].get());
    }
    senders.emplace_back([this, thread, users, seed = rng_()] { EventSender(thread, users, seed); });
  }

  const int delay = std::uniform_int_distribution<int>(options_.min_kill_ms, options_.max_kill_ms)(rng_);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  server_->Stop(SIGKILL);
  stop_ = true;
  senders.clear();  // joins
}

void CrashDriver::CheckProducts() {
  auto client = MakeClient(port_);
  const std::string at = "iteration " + std::to_string(iteration_) + ": product ";
  for (const auto& record : products_) {
    auto res = client->Get("/api/products/" + record->id);
    if (!res || (res->status != 200 && res->status != 404)) {
      checker_.Corrupt(at + record->id + ": GET failed: " + (res ? res->body : std::string("no response")));
      continue;
    }
    std::optional<json> observed;
    if (res->status == 200) observed = json::parse(res->body, nullptr, false);

    ++checker_.report().products_checked;
    if (record->ever_deleted && !record->acknowledged) ++checker_.report().deletes_checked;
    const bool in_flight = std::find(record->in_flight.begin(), record->in_flight.end(), observed) != record->in_flight.end();
    if (observed != record->acknowledged && !in_flight) {
      if (!observed) {
        checker_.Lost(at + record->id + " is absent, but its upsert was acknowledged");
      } else if (!record->acknowledged) {
        checker_.Lost(at + record->id + " is back, but its delete was acknowledged");
      } else if (std::find(record->history.begin(), record->history.end(), *observed) != record->history.end()) {
        checker_.Lost(at + record->id + " is at an older version than acknowledged: " + observed->dump());
      } else {
        checker_.Corrupt(at + record->id + " matches none of its versions: " + observed->dump());
      }
    }
    record->acknowledged = observed;
    record->in_flight.clear();
  }
}

void CrashDriver::CheckEvents() {
  auto client = MakeClient(port_);
  const std::string at = "iteration " + std::to_string(iteration_) + ": ";
  std::unordered_map<std::string, std::pair<size_t, const SentEvent*>> in_flight;  // event id -> batch, event
  for (size_t b = 0; b < in_flight_batches_.size(); ++b) {
    for (const SentEvent& event : in_flight_batches_[b]) in_flight[event.event_id] = {b, &event};
  }
  std::vector<size_t> stored_of_batch(in_flight_batches_.size(), 0);

  for (const auto& user : users_) {
    auto res = client->Get("/api/users/" + user->user + "/export");
    const json exported = res && res->status == 200 ? json::parse(res->body, nullptr, false) : json();
    if (!exported.is_object() || !exported["events"].is_array()) {
      checker_.Corrupt(at + "export of " + user->user + " failed: " + (res ? res->body : std::string("no response")));
      continue;
    }

    // Every stored event was sent, once, as sent; every acknowledged one is stored.
    std::map<std::string, size_t> copies;
    UserProfile expected_profile;
    const ProfileOptions profile_options;
    for (const json& item : exported["events"]) {
      Result<Event> event = EventFromJson(item, INT64_MAX - kMaxEventClockSkewMs);
      if (!event.ok()) {
        checker_.Corrupt(at + "event of " + user->user + " does not parse: " + item.dump());
        continue;
      }
      ++copies[event->event_id];
      const SentEvent* sent = nullptr;
      if (auto it = user->acknowledged.find(event->event_id); it != user->acknowledged.end()) {
        sent = &it->second;
      } else if (auto flight = in_flight.find(event->event_id); flight != in_flight.end() && flight->second.second->user == user->user) {
        sent = flight->second.second;
        ++stored_of_batch[flight->second.first];
      }
      if (sent == nullptr) {
        checker_.Corrupt(at + "user " + user->user + " has an event never sent: " + item.dump());
      } else if (sent->type != EventTypeName(event->type) || sent->product_id != event->product_id) {
        checker_.Corrupt(at + "event " + event->event_id + " differs from the one sent: " + item.dump());
      }
      const auto product = base_products_.find(event->product_id);
      expected_profile.Apply(*event, product == base_products_.end() ? Product() : product->second, profile_options);
    }
    for (const auto& [event_id, count] : copies) {
      if (count > 1) checker_.Corrupt(at + "event " + event_id + " of " + user->user + " is stored " + std::to_string(count) + " times");
    }
    for (const auto& [event_id, sent] : user->acknowledged) {
      ++checker_.report().events_checked;
      if (!copies.count(event_id)) checker_.Lost(at + "acknowledged event " + event_id + " of " + user->user + " is missing");
    }

    // The profile equals the one its stored events give, applied in the stored order.
    if (exported["events"].empty()) continue;
    ++checker_.report().profiles_checked;
    if (!NearlyEqual(exported["profile"], expected_profile.ToJson())) {
      checker_.Corrupt(at + "profile of " + user->user + " differs from its events: stored " + exported["profile"].dump() +
                       ", from the events " + expected_profile.ToJson().dump());
    }
  }

  // An in-flight request is stored whole or not at all; whole ones become acknowledged.
  for (size_t b = 0; b < in_flight_batches_.size(); ++b) {
    const std::vector<SentEvent>& batch = in_flight_batches_[b];
    if (stored_of_batch[b] != 0 && stored_of_batch[b] != batch.size()) {
      checker_.Corrupt(at + "an in-flight request of " + std::to_string(batch.size()) + " events is stored in part (" +
                       std::to_string(stored_of_batch[b]) + " events)");
    }
    if (stored_of_batch[b] == 0) continue;
    for (const SentEvent& event : batch) {
      for (const auto& user : users_) {
        if (user->user == event.user) user->acknowledged[event.event_id] = event;
      }
    }
  }
  in_flight_batches_.clear();
}

// The health counts match the checked products, and searches find present products by their
// version's word and never return deleted ones.
void CrashDriver::CheckCountsAndSearch() {
  auto client = MakeClient(port_);
  const std::string at = "iteration " + std::to_string(iteration_) + ": ";
  size_t present = 0;
  size_t with_photo = 0;
  std::vector<const ProductRecord*> searched_present;
  std::vector<const ProductRecord*> searched_deleted;
  for (const auto& record : products_) {
    if (record->acknowledged) {
      ++present;
      if (!(*record->acknowledged)["image_url"].is_null()) ++with_photo;
      if (!record->base) searched_present.push_back(record.get());
    } else if (record->ever_deleted) {
      searched_deleted.push_back(record.get());
    }
  }

  auto res = client->Get("/api/health");
  const json health = res && res->status == 200 ? json::parse(res->body, nullptr, false) : json();
  if (!health.is_object()) {
    checker_.Corrupt(at + "health failed");
  } else {
    if (health.value("products", size_t{0}) != present) {
      checker_.Corrupt(at + "health counts " + health["products"].dump() + " products, " + std::to_string(present) + " are present");
    }
    if (health.value("photo_vectors", size_t{0}) != with_photo) {
      checker_.Corrupt(at + "health counts " + health["photo_vectors"].dump() + " photo vectors, " + std::to_string(with_photo) +
                       " present products have a photo");
    }
  }

  std::shuffle(searched_present.begin(), searched_present.end(), rng_);
  std::shuffle(searched_deleted.begin(), searched_deleted.end(), rng_);
  searched_present.resize(std::min<size_t>(searched_present.size(), 10));
  searched_deleted.resize(std::min<size_t>(searched_deleted.size(), 5));
  const auto found = [&](const ProductRecord* record, bool expected) {
    // The word of the stored version, or for a deleted product of the last version sent.
    const std::string title = (record->acknowledged ? *record->acknowledged : record->history.back())["title"];
    const std::string marker = title.substr(title.rfind(' ') + 1);
    auto found_res = client->Get("/api/search?per_page=50&facets=false&q=" + marker);
    const json body = found_res && found_res->status == 200 ? json::parse(found_res->body, nullptr, false) : json();
    if (!body.is_object() || !body["results"].is_array()) {
      checker_.Corrupt(at + "search for " + marker + " failed: " + (found_res ? found_res->body : std::string("no response")));
      return;
    }
    bool listed = false;
    for (const json& hit : body["results"]) listed = listed || hit.value("id", "") == record->id;
    if (listed != expected) {
      checker_.Corrupt(at + "search for " + marker + (expected ? " misses " : " returns deleted ") + record->id);
    }
  };
  for (const ProductRecord* record : searched_present) found(record, true);
  for (const ProductRecord* record : searched_deleted) found(record, false);
}

void CrashDriver::CheckAll() {
  CheckProducts();
  CheckEvents();
  CheckCountsAndSearch();
}

void CrashDriver::Run() {
  CrashTestReport& report = checker_.report();
  report.seed = options_.seed;
  std::cerr << "crash test: seed " << options_.seed << " (the same seed repeats the requests and kill delays)\n";
  if (!Setup()) return;

  const size_t clean_every = options_.clean_restarts == 0 ? 0 : std::max<size_t>(1, options_.iterations / options_.clean_restarts);
  for (iteration_ = 1; iteration_ <= options_.iterations; ++iteration_) {
    Load();
    report.in_flight_requests = in_flight_requests_;
    report.error_responses = error_responses_;
    report.acknowledged_product_writes = acknowledged_product_writes_;
    report.acknowledged_events = acknowledged_events_;
    if (!StartServer(&report.restart_ms)) return;
    CheckAll();
    ++report.iterations;

    // A graceful restart in the same machine state, for the peer figure.
    if (clean_every == 0 || iteration_ % clean_every != 0 || report.clean_restart_ms.size() >= options_.clean_restarts) continue;
    if (server_->Stop() != 0) checker_.Corrupt("iteration " + std::to_string(iteration_) + ": the server did not shut down cleanly on SIGTERM");
    if (!StartServer(&report.clean_restart_ms)) return;
    CheckAll();
  }
  server_->Stop();
  std::cerr << "crash test: " << report.iterations << " kills; " << report.acknowledged_product_writes
            << " product writes and " << report.acknowledged_events << " events acknowledged; checked "
            << report.products_checked << " products (" << report.deletes_checked << " deleted), " << report.events_checked
            << " events, " << report.profiles_checked << " profiles; " << report.in_flight_requests
            << " requests in flight; lost " << report.lost << ", corrupt " << report.corrupt << "\n";
}

}  // namespace

CrashTestReport RunCrashTest(const CrashTestOptions& options) {
  CrashTestReport report;
  CrashDriver driver(options, &report);
  driver.Run();
  return report;
}

}  // namespace tessera::e2e
