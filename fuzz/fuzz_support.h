// Checks shared by the fuzz targets. A failed check prints what failed and aborts, so libFuzzer
// saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/text.h"

#define TESSERA_FUZZ_CHECK(condition, detail)                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "fuzz check failed: %s\n  %s\n", #condition, std::string(detail).c_str()); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace tessera::fuzz {

// The server sends every error message inside a JSON body, and nlohmann::json::dump throws on
// invalid UTF-8, so a message must be valid UTF-8 to reach the client as a 4xx response.
inline void CheckErrorMessage(const Status& status) {
  TESSERA_FUZZ_CHECK(!status.ok(), "an error was expected");
  TESSERA_FUZZ_CHECK(!status.message().empty(), status.ToString());
  TESSERA_FUZZ_CHECK(IsValidUtf8(status.message()), status.ToString());
  const nlohmann::json body = {{"error", {{"message", status.message()}}}};
  (void)body.dump();
}

}  // namespace tessera::fuzz
