// ValidateSearchRequest: the limits on a search's size and paging.
#include "retrieve/search_request.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "common/text.h"

namespace tessera {
namespace {

TEST(ValidateSearchRequest, LastPageOfResultWindowAccepted) {
  SearchRequest request;
  request.per_page = kMaxPerPage;
  request.page = kMaxResultWindow / kMaxPerPage;
  EXPECT_TRUE(ValidateSearchRequest(request).ok());
}

TEST(ValidateSearchRequest, PagePastResultWindowRejected) {
  SearchRequest request;
  request.per_page = kMaxPerPage;
  request.page = kMaxResultWindow / kMaxPerPage + 1;
  const Status status = ValidateSearchRequest(request);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("page"), std::string::npos) << status.message();
}

TEST(ValidateSearchRequest, PageWhoseProductWrapsRejected) {
  // page * per_page is 2^64 + 2, which wraps around to 2 in a 64-bit size_t.
  SearchRequest request;
  request.page = (std::numeric_limits<size_t>::max() / 2) + 2;
  request.per_page = 2;
  const Status status = ValidateSearchRequest(request);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(std::to_string(request.page)), std::string::npos) << status.message();
}

TEST(ValidateSearchRequest, UnknownMissingFieldMessageIsUtf8) {
  // The message quotes the field, and the server sends it inside a JSON body.
  SearchRequest request;
  request.filters.missing = {"pr\xE9" "ce"};
  const Status status = ValidateSearchRequest(request);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsValidUtf8(status.message())) << status.message();
}

}  // namespace
}  // namespace tessera
