#include "engine/purge_scheduler.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace tessera {
namespace {

using std::chrono::milliseconds;

// Waits up to 30 s, far beyond the delays below, for `done` to hold.
template <typename Condition>
bool WaitFor(Condition done) {
  for (int wait = 0; wait < 3000 && !done(); ++wait) std::this_thread::sleep_for(milliseconds(10));
  return done();
}

TEST(PurgeSchedulerTest, ZeroDelayPurgesInsideSchedule) {
  int purges = 0;
  PurgeScheduler scheduler([&] {
    ++purges;
    return Status::Ok();
  }, milliseconds(0));
  ASSERT_TRUE(scheduler.Schedule().ok());
  EXPECT_EQ(purges, 1);
  EXPECT_EQ(scheduler.completed(), 1u);
}

TEST(PurgeSchedulerTest, ZeroDelayReturnsThePurgeError) {
  PurgeScheduler scheduler([] { return Status::IoError("disk full"); }, milliseconds(0));
  EXPECT_EQ(scheduler.Schedule().code(), StatusCode::kIoError);
  EXPECT_EQ(scheduler.completed(), 0u);
}

TEST(PurgeSchedulerTest, RequestsWithinTheDelayShareOnePurge) {
  std::atomic<int> purges = 0;
  PurgeScheduler scheduler([&] {
    ++purges;
    return Status::Ok();
  }, milliseconds(200));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(scheduler.Schedule().ok());
  EXPECT_EQ(purges.load(), 0) << "the purge waits for the delay";
  ASSERT_TRUE(WaitFor([&] { return scheduler.completed() == 1; }));
  EXPECT_EQ(purges.load(), 1);

  ASSERT_TRUE(scheduler.Schedule().ok());
  ASSERT_TRUE(WaitFor([&] { return scheduler.completed() == 2; }));
  EXPECT_EQ(purges.load(), 2);
}

TEST(PurgeSchedulerTest, ShutdownRunsThePendingPurge) {
  std::atomic<int> purges = 0;
  {
    PurgeScheduler scheduler([&] {
      ++purges;
      return Status::Ok();
    }, std::chrono::hours(1));
    ASSERT_TRUE(scheduler.Schedule().ok());
  }
  EXPECT_EQ(purges.load(), 1);
}

TEST(PurgeSchedulerTest, ShutdownWithoutRequestsDoesNotPurge) {
  std::atomic<int> purges = 0;
  {
    PurgeScheduler scheduler([&] {
      ++purges;
      return Status::Ok();
    }, milliseconds(50));
  }
  EXPECT_EQ(purges.load(), 0);
}

}  // namespace
}  // namespace tessera
