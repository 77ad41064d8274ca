// HttpServer: the JSON API and the storefront over HTTP (cpp-httplib). It is the only code that
// depends on HTTP, and it maps Status codes to HTTP status codes in one place (HttpStatusFor).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "serve/access_options.h"

namespace tessera {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port, chosen by Bind
  std::string web_dir;                     // storefront files; "" serves the API only
  size_t max_body_bytes = 25u << 20;       // largest accepted upload (photo or voice), bytes
  int threads = 8;
  int slow_request_ms = 1000;              // requests slower than this are logged with their route
  AccessOptions access;                    // API keys, CORS, request limits (serve/access.h)

  // Load shedding: at most this many accepted connections wait for a worker thread, and later
  // ones get a 503 response with Retry-After (WorkerPool). 0 lets any number wait.
  int max_queued_connections = 64;
  int retry_after_seconds = 1;             // the Retry-After of a shed request
  // An idle keep-alive connection keeps its worker thread until it closes: after this many
  // seconds without a request, or after `keep_alive_requests` requests (cpp-httplib's defaults).
  int keep_alive_seconds = 5;
  int keep_alive_requests = 5;
  std::string version;                     // reported by GET /metrics
};

// The role a caller needs for a route. kOpen routes (health, the storefront's files, product photos)
// need none. kSearch is the role a storefront is given (search, product pages, events, the
// shopper's own profile). kAnalytics reads the engine's state. kAdmin changes the catalogue and the
// models. An admin key may call every route (serve/access.h).
enum class Access { kOpen, kSearch, kAnalytics, kAdmin };

// One registered route: the HTTP method, the path pattern as registered (a regular expression
// for routes with parameters), a stable name for logs and metrics, and the access it needs.
struct RouteInfo {
  std::string method;
  std::string pattern;
  std::string name;
  Access access;
};

// Maps a Status code to its HTTP status code.
int HttpStatusFor(StatusCode code);

class HttpServer {
 public:
  // Does not own `engine`, which must outlive the server.
  HttpServer(Engine* engine, HttpServerOptions options);
  ~HttpServer();

  // Loads the API keys and binds the listening socket; Run calls it when it has not been called.
  // Returns kIoError when the address cannot be bound, and the error of AccessGate::Load when the
  // keys file or the storefront key is missing or invalid.
  Status Bind();
  // The bound port (the chosen one when options.port is 0); 0 before Bind.
  int port() const;
  // Binds if needed and serves until Stop is called from another thread or a signal handler.
  Status Run();
  void Stop();
  // Requests inside a route handler now; thread-safe.
  int64_t in_flight() const;

  // Returns every route the server serves, in registration order.
  const std::vector<RouteInfo>& routes() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
