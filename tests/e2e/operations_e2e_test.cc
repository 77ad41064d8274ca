// End to end, operations: the real `tessera serve` on loopback exposes Prometheus metrics, tags
// every response with a request id, sheds load beyond capacity with 503, and on SIGTERM finishes
// the request in flight, writes everything and exits 0, so a restart finds it all.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tessera::e2e;

// The first `count` photos of the real catalogue, sorted by file name.
std::vector<fs::path> CataloguePhotos(size_t count) {
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(DataDir() / "fashion" / "images")) photos.push_back(entry.path());
  std::sort(photos.begin(), photos.end());
  photos.resize(std::min(count, photos.size()));
  return photos;
}

// A JSONL import of one product per photo, ids "<prefix><photo id>".
std::string ProductsJsonl(const std::vector<fs::path>& photos, const std::string& prefix) {
  std::string body;
  for (const fs::path& photo : photos) {
    const std::string id = prefix + photo.stem().string();
    body += json({{"id", id},
                  {"title", "Navy Blue Cotton Shirt " + id},
                  {"brand", "Roadster"},
                  {"category_path", {"Apparel", "Topwear", "Shirts"}},
                  {"attributes", {{"gender", "Men"}, {"colour", "Navy Blue"}, {"article_type", "Shirts"}}},
                  {"images", {photo.string()}}})
                .dump() +
            "\n";
  }
  return body;
}

// The value of the sample `name{labels}` (or `name` without labels) in a metrics page; -1 when
// the page has no such sample.
double Sample(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// A TCP connection to the server that sends nothing, so the worker serving it waits for a request.
class IdleConnection {
 public:
  explicit IdleConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~IdleConnection() { close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Starts a non-blocking TCP connection to the server. Returns -1 when socket() fails.
int StartConnect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));  // EINPROGRESS expected
  return fd;
}

// Returns the backlog of the TCP socket listening on `port`, or -1 when none is found. It is read
// through the kernel's sock_diag interface, as `ss -lt` reads the Send-Q of a listening socket.
int64_t ListenBacklog(int port) {
  const int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.body.sdiag_family = AF_INET;
  request.body.sdiag_protocol = IPPROTO_TCP;
  request.body.idiag_states = 1u << 10;  // TCP_LISTEN

  int64_t backlog = -1;
  if (send(fd, &request, sizeof(request), 0) == static_cast<ssize_t>(sizeof(request))) {
    alignas(nlmsghdr) char buffer[32768];
    for (bool done = false; !done;) {
      const ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
      if (received <= 0) break;
      int left = static_cast<int>(received);
      for (auto* message = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(message, left);
           message = NLMSG_NEXT(message, left)) {
        if (message->nlmsg_type == NLMSG_DONE || message->nlmsg_type == NLMSG_ERROR) {
          done = true;
          break;
        }
        const auto* socket_info = static_cast<const inet_diag_msg*>(NLMSG_DATA(message));
        if (ntohs(socket_info->id.idiag_sport) == port) backlog = socket_info->idiag_wqueue;
      }
    }
  }

  close(fd);
  return backlog;
}

// True when the connection `fd` completes its handshake within `timeout_ms`.
bool Connected(int fd, int timeout_ms) {
  pollfd entry{fd, POLLOUT, 0};
  if (poll(&entry, 1, timeout_ms) != 1) return false;
  int error = 0;
  socklen_t length = sizeof(error);
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
}

// Reads one HTTP response from `fd`: its headers, then a body of the Content-Length they state.
// Returns "" when the peer closes the connection first or `timeout_ms` passes.
std::string ReadResponse(int fd, int timeout_ms) {
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buffer[4096];
  for (;;) {
    const size_t end = received.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::smatch length;
      const std::string headers = received.substr(0, end);
      const size_t body = std::regex_search(headers, length, std::regex("Content-Length: (\\d+)"))
                              ? std::stoul(length[1].str())
                              : 0;
      if (received.size() >= end + 4 + body) return received;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd entry{fd, POLLIN, 0};
    if (poll(&entry, 1, static_cast<int>(left.count())) != 1) return "";
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return "";
    received.append(buffer, static_cast<size_t>(n));
  }
}

// How many times `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

class OperationsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(DataDir() / "fashion" / "images")) GTEST_SKIP() << "fashion photos not found under " << DataDir();
    root_ = fs::temp_directory_path() / ("tessera-ops-e2e-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    data_dir_ = root_ / "var";
    log_ = root_ / "server.log";
  }

  void TearDown() override {
    server_.reset();
    if (!root_.empty()) fs::remove_all(root_);
  }

  // Starts the server on a fresh port with `extra_args` after `serve`; false when it did not
  // become ready.
  bool StartServer(const std::vector<std::string>& extra_args = {}) {
    port_ = FreeLoopbackPort();
    server_ = std::make_unique<ServerProcess>(data_dir_, port_, log_, extra_args);
    return server_->WaitReady();
  }

  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60, 0);
    return client.Get(path, headers);
  }

  httplib::Result Post(const std::string& path, const std::string& body, const std::string& type) const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(300, 0);
    return client.Post(path, body, type);
  }

  std::string Metrics() const {
    auto res = Get("/metrics");
    return res && res->status == 200 ? res->body : std::string();
  }

  fs::path root_, data_dir_, log_;
  int port_ = 0;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(OperationsEndToEnd, MetricsCountRoutesEventsAndIndexes) {
  ASSERT_TRUE(StartServer()) << ReadFile(log_);
  auto imported = Post("/api/products/import", ProductsJsonl(CataloguePhotos(5), "m"), "application/x-ndjson");
  ASSERT_TRUE(imported);
  ASSERT_EQ(imported->status, 200) << imported->body;
  const std::string product = "m" + CataloguePhotos(1)[0].stem().string();

  for (int i = 0; i < 3; ++i) ASSERT_EQ(Get("/api/search?q=shirt")->status, 200);
  ASSERT_EQ(Get("/api/search?q=shirt&page=zero")->status, 400);
  const std::string event = json({{"user_id", "u1"}, {"type", "click"}, {"product_id", product}, {"event_id", "e1"}}).dump();
  ASSERT_EQ(Post("/api/events", event, "application/json")->status, 200);
  ASSERT_EQ(Post("/api/events", event, "application/json")->status, 200);  // a duplicate event_id
  const std::string unknown = json({{"user_id", "u1"}, {"type", "wink"}, {"product_id", product}}).dump();
  ASSERT_EQ(Post("/api/events", unknown, "application/json")->status, 400);

  auto res = Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string page = res->body;
  EXPECT_EQ(Sample(page, R"(tessera_http_requests_total{route="search.text",method="GET",status_class="2xx"})"), 3) << page;
  EXPECT_EQ(Sample(page, R"(tessera_http_requests_total{route="search.text",method="GET",status_class="4xx"})"), 1) << page;
  EXPECT_EQ(Sample(page, R"(tessera_http_request_duration_seconds_count{route="search.text",method="GET"})"), 4) << page;
  EXPECT_EQ(Sample(page, R"(tessera_http_request_duration_seconds_bucket{route="search.text",method="GET",le="+Inf"})"), 4);
  EXPECT_EQ(Sample(page, "tessera_http_requests_in_flight"), 1) << "the scrape itself is in flight";
  EXPECT_EQ(Sample(page, "tessera_index_products"), 5) << page;
  EXPECT_GT(Sample(page, "tessera_index_terms"), 0) << page;
  EXPECT_EQ(Sample(page, R"(tessera_index_vectors{space="photo"})"), 5) << page;
  // "shirt" is one word without synonyms here, so no query needed a group union.
  EXPECT_EQ(Sample(page, R"(tessera_query_group_unions_total{result="computed"})"), 0) << page;
  EXPECT_EQ(Sample(page, R"(tessera_events_accepted_total{outcome="recorded"})"), 1) << page;
  EXPECT_EQ(Sample(page, R"(tessera_events_accepted_total{outcome="duplicate"})"), 1) << page;
  EXPECT_EQ(Sample(page, R"(tessera_events_rejected_total{reason="invalid_argument"})"), 1) << page;
  EXPECT_EQ(Sample(page, R"(tessera_ranker_info{name="retrieval-score",version=""})"), 1) << page;
  EXPECT_GE(Sample(page, "tessera_events_unflushed"), 0) << page;

  // Profiles are written behind their events within a second (profile_flush_ms), so the lag
  // returns to zero.
  double unflushed = -1;
  for (int attempt = 0; attempt < 50 && unflushed != 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    unflushed = Sample(Metrics(), "tessera_events_unflushed");
  }
  EXPECT_EQ(unflushed, 0);
  EXPECT_EQ(Sample(Metrics(), "tessera_events_unflushed_oldest_age_seconds"), 0);
}

TEST_F(OperationsEndToEnd, RequestIdEchoedOrMadeAndLogged) {
  ASSERT_TRUE(StartServer()) << ReadFile(log_);
  auto echoed = Get("/api/search?q=shirt", {{"X-Request-Id", "checkout-42.a"}});
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->get_header_value("X-Request-Id"), "checkout-42.a");

  auto made = Get("/api/search?q=shirt");
  ASSERT_TRUE(made);
  EXPECT_TRUE(std::regex_match(made->get_header_value("X-Request-Id"), std::regex("[0-9a-f]{16}")))
      << made->get_header_value("X-Request-Id");

  // An id that could break a log line is replaced.
  auto replaced = Get("/api/search?q=shirt", {{"X-Request-Id", "a b\"c"}});
  ASSERT_TRUE(replaced);
  EXPECT_TRUE(std::regex_match(replaced->get_header_value("X-Request-Id"), std::regex("[0-9a-f]{16}")));

  auto no_route = Get("/api/nowhere", {{"X-Request-Id", "lost-1"}});
  ASSERT_TRUE(no_route);
  EXPECT_EQ(no_route->status, 404);
  EXPECT_EQ(no_route->get_header_value("X-Request-Id"), "lost-1");

  // Errors are logged with the request id, and secrets sent in headers never reach the log.
  auto failed = Get("/api/search?q=shirt&per_page=many",
                    {{"X-Request-Id", "bad-page-7"}, {"Authorization", "Bearer sk-ops-secret-1"}, {"X-Tessera-Key", "sk-ops-secret-2"}});
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 400);
  EXPECT_EQ(server_->Stop(), 0);
  const std::string log = ReadFile(log_);
  EXPECT_NE(log.find("request_id=bad-page-7"), std::string::npos) << log;
  EXPECT_NE(log.find("msg=\"server starting\" version="), std::string::npos) << log;
  EXPECT_NE(log.find("data_dir=" + data_dir_.string()), std::string::npos) << log;
  EXPECT_EQ(log.find("sk-ops-secret"), std::string::npos) << log;
}

TEST_F(OperationsEndToEnd, JsonLogFormatWritesOneObjectPerLine) {
  ASSERT_TRUE(StartServer({"--log-format", "json"})) << ReadFile(log_);
  ASSERT_EQ(Get("/api/search?q=shirt&page=zero", {{"X-Request-Id", "json-1"}})->status, 400);
  EXPECT_EQ(server_->Stop(), 0);

  // Libraries that print on their own (RocksDB, libtorch) may add other lines, but no line of
  // the server's own is key=value text.
  const std::string log = ReadFile(log_);
  EXPECT_EQ(log.find("ts="), std::string::npos) << log;
  std::istringstream lines(log);
  std::string line;
  size_t objects = 0;
  bool error_logged = false;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    const json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(object.is_object()) << line;
    EXPECT_TRUE(object.contains("ts")) << line;
    EXPECT_TRUE(object.contains("level")) << line;
    EXPECT_TRUE(object.contains("msg")) << line;
    if (object.value("request_id", "") == "json-1") error_logged = object["status"] == 400;
    ++objects;
  }
  EXPECT_GT(objects, 2u);
  EXPECT_TRUE(error_logged);
}

TEST_F(OperationsEndToEnd, BeyondCapacityShedsWith503) {
  // One worker and one waiting connection: an idle connection takes the worker, a second waits,
  // and a third is beyond capacity.
  ASSERT_TRUE(StartServer({"--threads", "1", "--max-queued-connections", "1", "--retry-after", "2"})) << ReadFile(log_);
  auto busy = std::make_unique<IdleConnection>(port_);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto waiting = std::make_unique<IdleConnection>(port_);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(busy->connected());
  ASSERT_TRUE(waiting->connected());

  auto shed = Get("/api/search?q=shirt");
  ASSERT_TRUE(shed);
  EXPECT_EQ(shed->status, 503);
  EXPECT_EQ(shed->get_header_value("Retry-After"), "2");
  const json body = json::parse(shed->body, nullptr, false);
  EXPECT_EQ(body["error"]["code"], "unavailable") << shed->body;
  EXPECT_NE(body["error"]["message"].get<std::string>().find("beyond capacity"), std::string::npos) << shed->body;

  // Health checks and metrics are still served while the server sheds.
  auto health = Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const std::string page = Metrics();
  EXPECT_EQ(Sample(page, R"(tessera_http_requests_shed_total{route="search.text",method="GET"})"), 1) << page;
  EXPECT_EQ(Sample(page, "tessera_http_connections_queued"), 1) << page;

  // Once the connections close, requests are served again.
  busy.reset();
  waiting.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto served = Get("/api/search?q=shirt");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200) << served->body;
}

TEST_F(OperationsEndToEnd, ConnectionBurstWaitsInBacklog) {
  // While the server cannot accept (stopped here, as a busy accept thread is for a moment), the
  // kernel completes the handshakes of at most the listen backlog's connections. It drops the
  // SYNs of the others, and their clients resend them only after 1, 3 and 7 s.
  ASSERT_TRUE(StartServer()) << ReadFile(log_);
  const int64_t somaxconn = std::stoll(ReadFile("/proc/sys/net/core/somaxconn"));
  EXPECT_EQ(ListenBacklog(port_), std::min<int64_t>(4096, somaxconn));
  ASSERT_EQ(kill(server_->pid(), SIGSTOP), 0);
  constexpr int kBurst = 64;
  std::vector<int> sockets;
  for (int i = 0; i < kBurst; ++i) sockets.push_back(StartConnect(port_));
  int connected = 0;
  for (int fd : sockets) connected += Connected(fd, 500) ? 1 : 0;
  ASSERT_EQ(kill(server_->pid(), SIGCONT), 0);
  EXPECT_EQ(connected, kBurst);
  for (int fd : sockets) close(fd);
  auto health = Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(OperationsEndToEnd, SecondServerOnSamePortFails) {
  ASSERT_TRUE(StartServer()) << ReadFile(log_);
  const fs::path second_log = root_ / "second.log";
  ServerProcess second(root_ / "var-second", port_, second_log);
  std::string log;
  for (int attempt = 0; attempt < 600 && log.find("cannot listen") == std::string::npos; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = ReadFile(second_log);
  }
  EXPECT_NE(log.find("is another server using the port?"), std::string::npos) << log;
  EXPECT_NE(second.Stop(), 0) << log;
  auto health = Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(OperationsEndToEnd, KeepAliveClosesAfterRequestLimit) {
  ASSERT_TRUE(StartServer({"--keep-alive-requests", "2"})) << ReadFile(log_);
  const int fd = StartConnect(port_);
  ASSERT_TRUE(Connected(fd, 5000));
  // Requests one at a time on one connection (cpp-httplib does not read pipelined requests).
  const std::string request = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::vector<std::string> responses;
  for (int i = 0; i < 3; ++i) {
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) break;
    responses.push_back(ReadResponse(fd, 10000));
  }
  close(fd);
  // The second response carries "Connection: close", and the server closes the connection
  // without a response to the third request (the default limit of 5 would serve it).
  ASSERT_GE(responses.size(), 2u);
  EXPECT_EQ(Count(responses[0], "HTTP/1.1 200"), 1u) << responses[0];
  EXPECT_EQ(Count(responses[0], "Connection: close"), 0u) << responses[0];
  EXPECT_EQ(Count(responses[1], "HTTP/1.1 200"), 1u) << responses[1];
  EXPECT_EQ(Count(responses[1], "Connection: close"), 1u) << responses[1];
  if (responses.size() == 3) {
    EXPECT_EQ(responses[2], "");
  }
}

TEST_F(OperationsEndToEnd, SigtermFinishesRequestAndRestartFindsAll) {
  ASSERT_TRUE(StartServer({"--shutdown-timeout", "240"})) << ReadFile(log_);
  const std::vector<fs::path> photos = CataloguePhotos(400);
  ASSERT_EQ(photos.size(), 400u);
  const std::vector<fs::path> first(photos.begin(), photos.begin() + 5);
  const std::vector<fs::path> rest(photos.begin() + 5, photos.end());
  auto imported = Post("/api/products/import", ProductsJsonl(first, "s"), "application/x-ndjson");
  ASSERT_TRUE(imported);
  ASSERT_EQ(imported->status, 200) << imported->body;
  const std::string clicked = "s" + first[0].stem().string();
  const std::string click = json({{"user_id", "shopper"}, {"type", "click"}, {"product_id", clicked}}).dump();
  ASSERT_EQ(Post("/api/events", click, "application/json")->status, 200);

  // A slow request: importing hundreds of products encodes each photo.
  auto slow = std::async(std::launch::async, [&] { return Post("/api/products/import", ProductsJsonl(rest, "s"), "application/x-ndjson"); });
  bool in_flight = false;
  for (int attempt = 0; attempt < 1000 && !in_flight; ++attempt) {
    in_flight = Sample(Metrics(), "tessera_http_requests_in_flight") >= 2;  // the import and this scrape
    if (!in_flight) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(in_flight) << "the import finished before SIGTERM could be sent: " << ReadFile(log_);

  EXPECT_EQ(server_->Stop(), 0) << ReadFile(log_);  // SIGTERM, then wait for the exit
  const httplib::Result finished = slow.get();
  ASSERT_TRUE(finished) << "the request in flight was cut off: " << ReadFile(log_);
  EXPECT_EQ(finished->status, 200) << finished->body;
  EXPECT_EQ(json::parse(finished->body)["accepted"], rest.size()) << finished->body;
  const std::string log = ReadFile(log_);
  EXPECT_NE(log.find("msg=\"server stopping\" signal=SIGTERM"), std::string::npos) << log;
  EXPECT_NE(log.find("msg=\"server stopped\""), std::string::npos) << log;

  // The restarted server has every product and the click in the shopper's profile.
  ASSERT_TRUE(StartServer()) << ReadFile(log_);
  auto health = Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(json::parse(health->body)["products"], photos.size()) << health->body;
  auto profile = Get("/api/users/shopper/profile");
  ASSERT_TRUE(profile);
  EXPECT_EQ(json::parse(profile->body)["events"], 1) << profile->body;
  auto last = Get("/api/products/s" + rest.back().stem().string());
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200) << last->body;
}

}  // namespace
