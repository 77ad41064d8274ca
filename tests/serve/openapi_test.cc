// docs/openapi.json against the routes the server registers: every route is described, every
// described path is a route, and each operation's id and access match the route's name and access.
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "engine/engine.h"
#include "serve/http_server.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using nlohmann::json;
using testing_support::ReadFile;
using testing_support::TempDir;

const char* AccessName(Access access) {
  switch (access) {
    case Access::kOpen: return "open";
    case Access::kSearch: return "search";
    case Access::kAnalytics: return "analytics";
    case Access::kAdmin: return "admin";
  }
  return "unknown";
}

// "GET /api/products/([^/]+)/image" -> "GET /api/products/{}/image".
std::string RouteKey(const RouteInfo& route) {
  static const std::regex kGroup(R"(\([^)]*\))");
  return route.method + " " + std::regex_replace(route.pattern, kGroup, "{}");
}

// "get", "/api/products/{id}/image" -> "GET /api/products/{}/image".
std::string OperationKey(std::string method, const std::string& path) {
  static const std::regex kParameter(R"(\{[^}]+\})");
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return method + " " + std::regex_replace(path, kParameter, "{}");
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << dir_.error();
    EngineOptions options;
    options.data_dir = (dir_.path() / "var").string();
    options.photo_encoder = "colour-shape";  // no model to load: only the routes matter here
    Result<std::unique_ptr<Engine>> engine = Engine::Open(options, &clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    HttpServerOptions server_options;
    server_options.web_dir = std::string(TESSERA_SOURCE_DIR) + "/web";  // registers the storefront routes too
    server_ = std::make_unique<HttpServer>(engine_.get(), server_options);

    const std::string text = ReadFile(std::string(TESSERA_SOURCE_DIR) + "/docs/openapi.json");
    spec_ = json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(spec_.is_object()) << "docs/openapi.json is missing or not valid JSON";
    for (const auto& [path, item] : spec_["paths"].items()) {
      for (const auto& [method, operation] : item.items()) {
        if (method == "parameters") continue;
        operations_[OperationKey(method, path)] = operation;
      }
    }
  }

  TempDir dir_{"tessera-openapi-"};
  SystemClock clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HttpServer> server_;
  json spec_;
  std::map<std::string, json> operations_;
};

TEST_F(OpenApiTest, EveryRouteIsDescribed) {
  for (const RouteInfo& route : server_->routes()) {
    const std::string key = RouteKey(route);
    ASSERT_TRUE(operations_.count(key)) << key << " (" << route.name << ") is not in docs/openapi.json";
    const json& operation = operations_[key];
    EXPECT_EQ(operation.value("operationId", ""), route.name) << key;
    EXPECT_EQ(operation.value("x-tessera-access", ""), AccessName(route.access)) << key;
  }
}

TEST_F(OpenApiTest, EveryDescribedOperationIsARoute) {
  std::set<std::string> routes;
  for (const RouteInfo& route : server_->routes()) routes.insert(RouteKey(route));
  for (const auto& [key, operation] : operations_) {
    EXPECT_TRUE(routes.count(key)) << key << " is in docs/openapi.json but the server has no such route";
  }
}

TEST_F(OpenApiTest, EveryOperationDescribesItsErrors) {
  for (const auto& [key, operation] : operations_) {
    ASSERT_TRUE(operation.contains("responses")) << key;
    const json& responses = operation["responses"];
    EXPECT_TRUE(responses.contains("200") || responses.contains("204")) << key << " has no success response";
    bool has_error = false;
    for (const auto& [status, response] : responses.items()) {
      if (status == "default" || status[0] == '4' || status[0] == '5') has_error = true;
    }
    EXPECT_TRUE(has_error) << key << " has no error response";
    if (operation.value("x-tessera-access", "") != "open") {
      EXPECT_TRUE(responses.contains("401")) << key << " needs a key but documents no 401";
      EXPECT_TRUE(responses.contains("403")) << key << " needs a key but documents no 403";
    }
    EXPECT_TRUE(responses.contains("429")) << key << " documents no 429";
  }
}

}  // namespace
}  // namespace tessera
