#include "common/status.h"

#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(Status, DefaultIsOk) {
  const Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_EQ(status.message(), "");
}

TEST(Status, OkToStringIsOk) {
  EXPECT_EQ(Status::Ok().ToString(), "ok");
}

TEST(Status, FactoriesSetCodeAndMessage) {
  const struct {
    Status status;
    StatusCode code;
  } cases[] = {
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument},
      {Status::NotFound("m"), StatusCode::kNotFound},
      {Status::Unsupported("m"), StatusCode::kUnsupported},
      {Status::TooLarge("m"), StatusCode::kTooLarge},
      {Status::IoError("m"), StatusCode::kIoError},
      {Status::Corruption("m"), StatusCode::kCorruption},
      {Status::DeadlineExceeded("m"), StatusCode::kDeadlineExceeded},
      {Status::Unavailable("m"), StatusCode::kUnavailable},
      {Status::Internal("m"), StatusCode::kInternal},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(StatusCodeName(c.code));
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
  }
}

TEST(Status, ToStringPrefixesCodeName) {
  const Status status = Status::InvalidArgument("price -3 is negative: send a price >= 0");
  EXPECT_EQ(status.ToString(), "invalid_argument: price -3 is negative: send a price >= 0");
}

TEST(StatusCodeName, EveryCodeHasSnakeCaseName) {
  EXPECT_STREQ(StatusCodeName(StatusCode::kOk), "ok");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInvalidArgument), "invalid_argument");
  EXPECT_STREQ(StatusCodeName(StatusCode::kNotFound), "not_found");
  EXPECT_STREQ(StatusCodeName(StatusCode::kUnsupported), "unsupported");
  EXPECT_STREQ(StatusCodeName(StatusCode::kTooLarge), "too_large");
  EXPECT_STREQ(StatusCodeName(StatusCode::kIoError), "io_error");
  EXPECT_STREQ(StatusCodeName(StatusCode::kCorruption), "corruption");
  EXPECT_STREQ(StatusCodeName(StatusCode::kDeadlineExceeded), "deadline_exceeded");
  EXPECT_STREQ(StatusCodeName(StatusCode::kUnavailable), "unavailable");
  EXPECT_STREQ(StatusCodeName(StatusCode::kProfileStoreUnavailable), "profile_store_unavailable");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInternal), "internal");
}

TEST(Result, HoldsValue) {
  Result<int> result(42);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(result.value(), 42);
  EXPECT_TRUE(result.status().ok());
}

TEST(Result, HoldsError) {
  Result<int> result(Status::NotFound("product 'x' not found"));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(), "product 'x' not found");
}

TEST(Result, ArrowReachesMembers) {
  Result<std::string> result(std::string("shirt"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->size(), 5u);
}

TEST(Result, MoveOutTakesMoveOnlyValue) {
  Result<std::unique_ptr<int>> result(std::make_unique<int>(7));
  ASSERT_TRUE(result.ok());
  std::unique_ptr<int> value = std::move(result).value();
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 7);
}

Status FailWhen(bool fail, int* steps) {
  TESSERA_RETURN_IF_ERROR(fail ? Status::IoError("disk full") : Status::Ok());
  ++*steps;
  return Status::Ok();
}

TEST(ReturnIfError, ReturnsFirstError) {
  int steps = 0;
  const Status status = FailWhen(true, &steps);
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_EQ(status.message(), "disk full");
  EXPECT_EQ(steps, 0);
}

TEST(ReturnIfError, ContinuesOnOk) {
  int steps = 0;
  const Status status = FailWhen(false, &steps);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(steps, 1);
}

}  // namespace
}  // namespace tessera
