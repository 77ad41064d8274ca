#include "serve/request_id.h"

#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace tessera {
namespace {

bool IsGenerated(const std::string& id) { return std::regex_match(id, std::regex("[0-9a-f]{16}")); }

TEST(RequestId, SafeClientIdKept) {
  EXPECT_EQ(AcceptOrMakeRequestId("checkout-42"), "checkout-42");
  EXPECT_EQ(AcceptOrMakeRequestId("a.b_c:d-e"), "a.b_c:d-e");
  EXPECT_EQ(AcceptOrMakeRequestId(std::string(kMaxRequestIdBytes, 'x')), std::string(kMaxRequestIdBytes, 'x'));
}

TEST(RequestId, UnsafeOrMissingIdReplaced) {
  for (const std::string& sent : {std::string(), std::string("has space"), std::string("quote\""),
                                  std::string("line\nbreak"), std::string(kMaxRequestIdBytes + 1, 'x')}) {
    const std::string id = AcceptOrMakeRequestId(sent);
    EXPECT_TRUE(IsGenerated(id)) << "'" << sent << "' -> " << id;
  }
  EXPECT_NE(AcceptOrMakeRequestId(""), AcceptOrMakeRequestId(""));
}

}  // namespace
}  // namespace tessera
