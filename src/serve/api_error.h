// The JSON error body of every error response of the API:
//   {"error": {"code": "invalid_argument", "message": "...", "field": "price_min"}}
// "field" is present only when the error is about one request field or parameter.
#pragma once

#include <string>
#include <string_view>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace tessera {

inline nlohmann::json ApiErrorJson(std::string_view code, const std::string& message, const std::string& field = "") {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  return {{"error", error}};
}

// Sets `res` to an error response with status `http_status` and the JSON error body.
inline void SendApiError(httplib::Response& res, int http_status, std::string_view code, const std::string& message,
                         const std::string& field = "") {
  res.status = http_status;
  res.set_content(ApiErrorJson(code, message, field).dump(), "application/json");
}

}  // namespace tessera
