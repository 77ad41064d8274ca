// End to end: the real `tessera` binary with API keys made by `tessera keys create`, a storefront
// key, a CORS origin and a low analytics rate limit, over loopback. Checks the status codes and
// JSON errors of missing keys, wrong roles, rate limits, size limits and CORS, and that no key
// reaches the server log.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tessera::e2e;

constexpr char kAllowedOrigin[] = "http://shop.test";
// A well-formed key that is not in the keys file.
constexpr char kUnknownKey[] = "tsk_00000000000000000000000000000000000000000000000000000000deadbeef";

class ApiSecurityEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("tessera-e2e-api-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    log_ = root_ / "server.log";
    const fs::path keys = root_ / "keys";
    search_key_ = CreateKey(keys, "search", root_ / "search.key");
    analytics_key_ = CreateKey(keys, "analytics", root_ / "analytics.key");
    admin_key_ = CreateKey(keys, "admin", root_ / "admin.key");

    port_ = FreeLoopbackPort();
    // Analytics: 3 requests at once, then one every 10 s, so the fourth in a row is limited.
    server_ = new ServerProcess(root_ / "var", port_, log_,
                                {"--api-keys", keys.string(), "--storefront-key-file", (root_ / "search.key").string(),
                                 "--cors-origin", kAllowedOrigin, "--rate-limit", "analytics=0.1/3"});
    ready_ = server_->WaitReady();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    if (!root_.empty()) fs::remove_all(root_);
  }

  void SetUp() override {
    ASSERT_FALSE(search_key_.empty()) << "tessera keys create failed";
    ASSERT_FALSE(analytics_key_.empty());
    ASSERT_FALSE(admin_key_.empty());
    ASSERT_TRUE(ready_) << ReadFile(log_);
  }

  // Runs `tessera keys create`, whose standard output is the key alone, into `key_file`.
  static std::string CreateKey(const fs::path& keys, const std::string& role, const fs::path& key_file) {
    const std::string command = std::string(TESSERA_BINARY) + " keys create --api-keys " + keys.string() + " --role " +
                                role + " --label " + role + "-e2e > " + key_file.string() + " 2>> " +
                                (root_ / "keys.log").string();
    if (RunCommand(command) != 0) return "";
    std::string key = ReadFile(key_file);
    while (!key.empty() && key.back() == '\n') key.pop_back();
    return key;
  }

  static httplib::Headers KeyHeader(const std::string& key) { return {{"X-Tessera-Key", key}}; }
  static httplib::Headers Bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

  static httplib::Result Send(const std::string& method, const std::string& path, const httplib::Headers& headers,
                              const std::string& body = "", const std::string& type = "application/json") {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    if (method == "GET") return client.Get(path, headers);
    if (method == "POST") return client.Post(path, headers, body, type);
    if (method == "PUT") return client.Put(path, headers, body, type);
    if (method == "DELETE") return client.Delete(path, headers);
    return client.Options(path, headers);
  }

  // Asserts the JSON error shape and returns the body.
  static json ErrorBody(const httplib::Result& res, int status) {
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << res->body;
    const json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(body.is_object()) << res->body;
    if (!body.is_object() || !body.contains("error")) {
      ADD_FAILURE() << "no error object: " << res->body;
      return json();
    }
    EXPECT_TRUE(body["error"]["code"].is_string()) << res->body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << res->body;
    return body;
  }

  static std::string Message(const json& body) { return body.is_null() ? "" : body["error"].value("message", ""); }

  // Sends `request` as raw bytes and returns what the server sends back, up to the end of a JSON
  // error body. Used for what cpp-httplib's client cannot send: malformed HTTP, and a request
  // head that announces a body the client never sends.
  static std::string RawExchange(const std::string& request) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "";
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port_));
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      return "";
    }
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string response;
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; response.find("}}") == std::string::npos && (n = read(fd, buffer, sizeof(buffer))) > 0;) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
    close(fd);
    return response;
  }

  static inline fs::path root_, log_;
  static inline std::string search_key_, analytics_key_, admin_key_;
  static inline int port_ = 0;
  static inline bool ready_ = false;
  static inline ServerProcess* server_ = nullptr;
};

TEST_F(ApiSecurityEndToEnd, MissingKeyNamesTheHeaders) {
  auto res = Send("GET", "/api/search?q=shirt", {});
  const json body = ErrorBody(res, 401);
  EXPECT_EQ(body["error"]["code"], "unauthenticated");
  EXPECT_NE(Message(body).find("Authorization: Bearer"), std::string::npos) << Message(body);
  EXPECT_NE(Message(body).find("X-Tessera-Key"), std::string::npos) << Message(body);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
}

TEST_F(ApiSecurityEndToEnd, UnknownKeyIsRejected) {
  const json body = ErrorBody(Send("GET", "/api/search?q=shirt", KeyHeader(kUnknownKey)), 401);
  EXPECT_EQ(body["error"]["code"], "unauthenticated");
  EXPECT_EQ(Message(body).find(kUnknownKey), std::string::npos) << "the key is echoed";
}

TEST_F(ApiSecurityEndToEnd, SearchKeyWorksInEitherHeader) {
  auto by_header = Send("GET", "/api/search?q=shirt", KeyHeader(search_key_));
  ASSERT_TRUE(by_header);
  EXPECT_EQ(by_header->status, 200) << by_header->body;
  auto by_bearer = Send("GET", "/api/search?q=shirt", Bearer(search_key_));
  ASSERT_TRUE(by_bearer);
  EXPECT_EQ(by_bearer->status, 200) << by_bearer->body;
  auto profile = Send("GET", "/api/users/shopper-k/profile", Bearer(search_key_));
  ASSERT_TRUE(profile);
  EXPECT_EQ(profile->status, 200) << profile->body;
}

TEST_F(ApiSecurityEndToEnd, WrongRoleNamesTheRoleNeeded) {
  const json product = {{"title", "Keyed Scarf"}};
  const json upsert = ErrorBody(Send("PUT", "/api/products/k-1", Bearer(search_key_), product.dump()), 403);
  EXPECT_EQ(upsert["error"]["code"], "permission_denied");
  EXPECT_NE(Message(upsert).find("admin"), std::string::npos) << Message(upsert);
  EXPECT_NE(Message(upsert).find("products.upsert"), std::string::npos) << Message(upsert);

  const json models = ErrorBody(Send("GET", "/api/models", Bearer(search_key_)), 403);
  EXPECT_NE(Message(models).find("analytics"), std::string::npos) << Message(models);

  // Analytics is read-only: it may not search as the storefront, nor erase a shopper.
  const json search = ErrorBody(Send("GET", "/api/search?q=shirt", Bearer(analytics_key_)), 403);
  EXPECT_NE(Message(search).find("search"), std::string::npos) << Message(search);
  ErrorBody(Send("DELETE", "/api/users/shopper-k", Bearer(analytics_key_)), 403);
}

TEST_F(ApiSecurityEndToEnd, AdminKeyReachesEveryRole) {
  const json product = {{"title", "Keyed Admin Scarf"}, {"attributes", {{"colour", "Teal"}}}};
  auto upsert = Send("PUT", "/api/products/k-admin", Bearer(admin_key_), product.dump());
  ASSERT_TRUE(upsert);
  EXPECT_EQ(upsert->status, 200) << upsert->body;
  auto search = Send("GET", "/api/search?q=keyed%20admin%20scarf", Bearer(admin_key_));
  ASSERT_TRUE(search);
  EXPECT_EQ(search->status, 200) << search->body;
  EXPECT_NE(search->body.find("k-admin"), std::string::npos) << search->body;
  auto exported = Send("GET", "/api/users/shopper-k/export", Bearer(admin_key_));
  ASSERT_TRUE(exported);
  EXPECT_EQ(exported->status, 200) << exported->body;
}

TEST_F(ApiSecurityEndToEnd, OpenRoutesNeedNoKey) {
  auto health = Send("GET", "/api/health", {});
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto script = Send("GET", "/static/app.js", {});
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  // Photos are open because <img> tags cannot send a key; this product has none.
  const json missing_photo = ErrorBody(Send("GET", "/api/products/no-such-id/image", {}), 404);
  EXPECT_EQ(missing_photo["error"]["code"], "not_found");
}

TEST_F(ApiSecurityEndToEnd, StorefrontPageCarriesItsSearchKey) {
  auto page = Send("GET", "/", {});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  const std::string meta = "<meta name=\"tessera-search-key\" content=\"" + search_key_ + "\">";
  EXPECT_NE(page->body.find(meta), std::string::npos) << page->body.substr(0, 400);
  EXPECT_EQ(page->body.find(admin_key_), std::string::npos);
}

TEST_F(ApiSecurityEndToEnd, RateLimitAnswers429WithRetryAfter) {
  // The analytics bucket admits 3 requests at once and refills one every 10 s.
  int admitted = 0;
  for (int i = 0; i < 3; ++i) {
    auto res = Send("GET", "/api/models", Bearer(analytics_key_));
    ASSERT_TRUE(res);
    admitted += res->status == 200;
  }
  EXPECT_EQ(admitted, 3);
  auto limited = Send("GET", "/api/models", Bearer(analytics_key_));
  const json body = ErrorBody(limited, 429);
  EXPECT_EQ(body["error"]["code"], "rate_limited");
  ASSERT_TRUE(limited);
  const std::string retry_after_text = limited->get_header_value("Retry-After");
  ASSERT_FALSE(retry_after_text.empty()) << "no Retry-After header";
  const int retry_after = std::stoi(retry_after_text);
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 10);
  EXPECT_NE(Message(body).find("retry after"), std::string::npos) << Message(body);

  // Other callers keep their own buckets.
  auto admin = Send("GET", "/api/models", Bearer(admin_key_));
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200);
}

TEST_F(ApiSecurityEndToEnd, SizeLimitsAnswerJsonErrors) {
  // A 2 MiB body announced to a route whose limit is 1 MiB is rejected from the request head,
  // before any of the body is sent.
  const std::string head = "POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: 2097152\r\n";
  const std::string too_large = RawExchange(head + "X-Tessera-Key: " + search_key_ + "\r\n\r\n");
  EXPECT_EQ(too_large.rfind("HTTP/1.1 413", 0), 0u) << too_large;
  EXPECT_NE(too_large.find(R"("code":"too_large")"), std::string::npos) << too_large;
  EXPECT_NE(too_large.find("1048576"), std::string::npos) << too_large;
  EXPECT_NE(too_large.find("Connection: close"), std::string::npos) << too_large;

  // Without a key the size does not matter: 401 first.
  const std::string unauthenticated = RawExchange(head + "\r\n");
  EXPECT_EQ(unauthenticated.rfind("HTTP/1.1 401", 0), 0u) << unauthenticated;

  // A body within the limit but above it once read (sent chunked, so no Content-Length) is
  // checked by the route wrapper.
  httplib::Client client("127.0.0.1", port_);
  const std::string big((1u << 20) + 10, ' ');
  auto chunked = client.Post(
      "/api/events", Bearer(search_key_),
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset >= big.size()) {
          sink.done();
          return true;
        }
        return sink.write(big.data() + offset, std::min<size_t>(big.size() - offset, 65536));
      },
      "application/json");
  const json chunked_body = ErrorBody(chunked, 413);
  EXPECT_EQ(chunked_body["error"]["code"], "too_large");

  const json long_query = ErrorBody(Send("GET", "/api/search?q=" + std::string(5000, 'a'), Bearer(search_key_)), 414);
  EXPECT_EQ(long_query["error"]["code"], "uri_too_long");
  EXPECT_NE(Message(long_query).find("4096"), std::string::npos) << Message(long_query);
}

TEST_F(ApiSecurityEndToEnd, CorsOnlyForTheAllowedOrigin) {
  httplib::Headers preflight = {{"Origin", kAllowedOrigin},
                                {"Access-Control-Request-Method", "GET"},
                                {"Access-Control-Request-Headers", "x-tessera-key"}};
  auto allowed = Send("OPTIONS", "/api/search", preflight);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 204);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), kAllowedOrigin);
  EXPECT_NE(allowed->get_header_value("Access-Control-Allow-Headers").find("X-Tessera-Key"), std::string::npos);
  EXPECT_NE(allowed->get_header_value("Access-Control-Allow-Methods").find("GET"), std::string::npos);

  httplib::Headers other = {{"Origin", "http://elsewhere.test"}, {"Access-Control-Request-Method", "GET"}};
  auto refused = Send("OPTIONS", "/api/search", other);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->has_header("Access-Control-Allow-Origin"));
  EXPECT_FALSE(refused->has_header("Access-Control-Allow-Headers"));

  // Actual requests: the allowed origin can read even an error, another origin gets no header.
  httplib::Headers from_shop = Bearer(search_key_);
  from_shop.emplace("Origin", kAllowedOrigin);
  auto search = Send("GET", "/api/search?q=shirt", from_shop);
  ASSERT_TRUE(search);
  EXPECT_EQ(search->get_header_value("Access-Control-Allow-Origin"), kAllowedOrigin);
  auto unauthenticated = Send("GET", "/api/search?q=shirt", {{"Origin", kAllowedOrigin}});
  ASSERT_TRUE(unauthenticated);
  EXPECT_EQ(unauthenticated->status, 401);
  EXPECT_EQ(unauthenticated->get_header_value("Access-Control-Allow-Origin"), kAllowedOrigin);
  auto elsewhere = Send("GET", "/api/search?q=shirt", {{"Origin", "http://elsewhere.test"}});
  ASSERT_TRUE(elsewhere);
  EXPECT_FALSE(elsewhere->has_header("Access-Control-Allow-Origin"));
}

TEST_F(ApiSecurityEndToEnd, EveryErrorIsJson) {
  const json no_route = ErrorBody(Send("GET", "/api/nothing-here", {}), 404);
  EXPECT_EQ(no_route["error"]["code"], "not_found");

  auto wrong_method = Send("DELETE", "/api/search", Bearer(admin_key_));
  const json method_body = ErrorBody(wrong_method, 405);
  EXPECT_EQ(method_body["error"]["code"], "method_not_allowed");
  EXPECT_NE(wrong_method->get_header_value("Allow").find("GET"), std::string::npos);

  // Bodies that are not JSON objects, and parameters, name the field.
  struct Case {
    std::string method, path, body, field;
  };
  const std::vector<Case> cases = {
      {"PUT", "/api/users/u-1/opt-out", "[]", "opted_out"},
      {"PUT", "/api/users/u-1/opt-out", "true", "opted_out"},
      {"POST", "/api/users/u-1/merge", "\"anon\"", "from"},
      {"POST", "/api/events", R"({"events": 3})", "events"},
      {"GET", "/api/search?q=shirt&price_min=cheap", "", "price_min"},
      {"GET", "/api/search?q=shirt&per_page=-1", "", "per_page"},
      {"GET", "/api/search?q=shirt&colur=red", "", "colur"},
  };
  for (const Case& c : cases) {
    const json body = ErrorBody(Send(c.method, c.path, Bearer(admin_key_), c.body), 400);
    EXPECT_EQ(body["error"].value("field", ""), c.field) << c.method << " " << c.path << " " << c.body;
  }
  for (const std::string& body : {std::string("[]"), std::string("42"), std::string("{not json")}) {
    const json upsert = ErrorBody(Send("PUT", "/api/products/k-2", Bearer(admin_key_), body), 400);
    EXPECT_EQ(upsert["error"]["code"], "invalid_argument") << body;
    const json event = ErrorBody(Send("POST", "/api/events", Bearer(admin_key_), body), 400);
    EXPECT_EQ(event["error"]["code"], "invalid_argument") << body;
  }
}

TEST_F(ApiSecurityEndToEnd, MalformedHttpGetsJsonError) {
  const std::string response = RawExchange("NOT-HTTP\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  EXPECT_NE(response.find(R"("code":"bad_request")"), std::string::npos) << response;
}

// Last, so that the log contains every request above. It also sends each key once more itself.
TEST_F(ApiSecurityEndToEnd, NoKeyReachesTheLog) {
  for (const std::string& key : {search_key_, analytics_key_, admin_key_, std::string(kUnknownKey)}) {
    Send("GET", "/api/products/missing-product", Bearer(key));
    Send("PUT", "/api/products/k-log", KeyHeader(key), "{not json");
  }
  const std::string log = ReadFile(log_) + ReadFile(root_ / "keys.log");
  ASSERT_FALSE(log.empty());
  for (const std::string& key : {search_key_, analytics_key_, admin_key_, std::string(kUnknownKey)}) {
    EXPECT_EQ(log.find(key), std::string::npos) << "a key is in the log";
    EXPECT_EQ(log.find(key.substr(4, 24)), std::string::npos) << "part of a key is in the log";
  }
  // The log names keys by id: the start line counts them, the keys command names the new ones.
  EXPECT_NE(log.find("API keys required: 3 keys"), std::string::npos) << log;
}

}  // namespace
