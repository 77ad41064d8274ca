// Request ids: the id a client sent in X-Request-Id when it is safe to log and echo, or a new one.
#pragma once

#include <string>
#include <string_view>

namespace tessera {

// Maximum length of a client-supplied request id that is kept, in bytes.
inline constexpr size_t kMaxRequestIdBytes = 64;

// Returns `client_id` when it is 1 to kMaxRequestIdBytes characters of letters, digits and
// ". _ : -" (so it cannot break a log line or a header); otherwise a new id of 16 random hex
// digits. Thread-safe.
std::string AcceptOrMakeRequestId(std::string_view client_id);

}  // namespace tessera
