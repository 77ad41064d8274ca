#include "serve/request_id.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace tessera {
namespace {

bool IsSafeIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

}  // namespace

std::string AcceptOrMakeRequestId(std::string_view client_id) {
  if (!client_id.empty() && client_id.size() <= kMaxRequestIdBytes &&
      std::all_of(client_id.begin(), client_id.end(), IsSafeIdChar)) {
    return std::string(client_id);
  }
  // One generator per thread, seeded once, so no lock is taken per request.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(generator()));
  return hex;
}

}  // namespace tessera
