#include "eval/click_log.h"

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

const std::filesystem::path kBehaviourDir = std::filesystem::path(TESSERA_DATA_DIR) / "behaviour";

Result<std::vector<Click>> ReadYoochoose(const std::string& text) {
  std::istringstream input(text);
  return ReadYoochooseClicks(input, "clicks.txt");
}

Result<std::vector<Click>> ReadTaobao(const std::string& text) {
  std::istringstream input(text);
  return ReadTaobaoBehaviour(input, "behaviour.csv");
}

ClickSession Session(const std::string& id, std::vector<int64_t> times_ms) {
  ClickSession session;
  session.id = id;
  session.times_ms = std::move(times_ms);
  session.item_ids.assign(session.times_ms.size(), "item");
  return session;
}

TEST(YoochooseReader, SkipsHeaderAndReadsMilliseconds) {
  Result<std::vector<Click>> clicks = ReadYoochoose("SessionId\tItemId\tTime\n1\t214536502\t1396860669.277\n\n"
                                                    "1\t214536506\t1396860886\r\n");
  ASSERT_TRUE(clicks.ok()) << clicks.status().ToString();
  ASSERT_EQ(clicks->size(), 2u);
  EXPECT_EQ((*clicks)[0].session_id, "1");
  EXPECT_EQ((*clicks)[0].item_id, "214536502");
  EXPECT_EQ((*clicks)[0].time_ms, 1396860669277);
  EXPECT_EQ((*clicks)[1].time_ms, 1396860886000);
}

TEST(YoochooseReader, RejectsBadTimeNamingLineAndField) {
  Result<std::vector<Click>> clicks = ReadYoochoose("SessionId\tItemId\tTime\n1\t2\t1396860669\n1\t3\tsoon\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_EQ(clicks.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(clicks.status().message().find("clicks.txt line 3"), std::string::npos) << clicks.status().message();
  EXPECT_NE(clicks.status().message().find("field Time 'soon'"), std::string::npos) << clicks.status().message();
}

TEST(YoochooseReader, RejectsNegativeTime) {
  Result<std::vector<Click>> clicks = ReadYoochoose("1\t2\t-5\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("field Time '-5'"), std::string::npos) << clicks.status().message();
}

TEST(YoochooseReader, RejectsWrongFieldCount) {
  Result<std::vector<Click>> clicks = ReadYoochoose("1\t2\t1396860669\t4\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("line 1: expected 3 tab-separated fields"), std::string::npos)
      << clicks.status().message();
  EXPECT_NE(clicks.status().message().find("found 4"), std::string::npos) << clicks.status().message();
}

TEST(YoochooseReader, RejectsEmptyItemId) {
  Result<std::vector<Click>> clicks = ReadYoochoose("1\t\t1396860669\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("field ItemId '' is empty"), std::string::npos)
      << clicks.status().message();
}

TEST(YoochooseReader, RejectsHeaderAfterFirstLine) {
  Result<std::vector<Click>> clicks = ReadYoochoose("1\t2\t1396860669\nSessionId\tItemId\tTime\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("line 2: field Time"), std::string::npos) << clicks.status().message();
}

TEST(TaobaoReader, ReadsEveryBehaviourAsClick) {
  Result<std::vector<Click>> clicks =
      ReadTaobao("543462,1715,1464116,pv,1511658000\n543462,1716,1464116,buy,1511658060\n");
  ASSERT_TRUE(clicks.ok()) << clicks.status().ToString();
  ASSERT_EQ(clicks->size(), 2u);
  EXPECT_EQ((*clicks)[1].session_id, "543462");
  EXPECT_EQ((*clicks)[1].item_id, "1716");
  EXPECT_EQ((*clicks)[1].time_ms, 1511658060000);
}

TEST(TaobaoReader, RejectsUnknownBehaviour) {
  Result<std::vector<Click>> clicks = ReadTaobao("543462,1715,1464116,pv,1511658000\n1,2,3,click,1511658000\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("behaviour.csv line 2"), std::string::npos) << clicks.status().message();
  EXPECT_NE(clicks.status().message().find("field behaviour 'click'"), std::string::npos)
      << clicks.status().message();
}

TEST(TaobaoReader, RejectsFractionalTimestamp) {
  Result<std::vector<Click>> clicks = ReadTaobao("1,2,3,pv,1511658000.5\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("field timestamp '1511658000.5'"), std::string::npos)
      << clicks.status().message();
}

TEST(TaobaoReader, RejectsMissingField) {
  Result<std::vector<Click>> clicks = ReadTaobao("1,2,pv,1511658000\n");
  ASSERT_FALSE(clicks.ok());
  EXPECT_NE(clicks.status().message().find("expected 5 comma-separated fields"), std::string::npos)
      << clicks.status().message();
}

TEST(ClickLogFile, MissingFileIsIoError) {
  Result<std::vector<Click>> clicks = ReadYoochooseClickFile("/nonexistent/clicks.txt");
  ASSERT_FALSE(clicks.ok());
  EXPECT_EQ(clicks.status().code(), StatusCode::kIoError);
  EXPECT_NE(clicks.status().message().find("/nonexistent/clicks.txt"), std::string::npos);
}

TEST(ClickLogFile, ReadsRealLogs) {
  Result<std::vector<Click>> test = ReadYoochooseClickFile(kBehaviourDir / "yoochoose_100k/yoochoose-clicks-100k_test.txt");
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  EXPECT_EQ(test->size(), 13568u);
  Result<std::vector<Click>> taobao = ReadTaobaoBehaviourFile(kBehaviourDir / "taobao_userbehavior_sample/UserBehavior.csv");
  ASSERT_TRUE(taobao.ok()) << taobao.status().ToString();
  EXPECT_EQ(taobao->size(), 4000u);
}

TEST(GroupIntoSessions, SortsByTimeKeepingFileOrderOnTies) {
  const std::vector<Click> clicks = {{"s2", "c", 300}, {"s1", "b", 200}, {"s1", "a", 100}, {"s1", "d", 200}};
  const std::vector<ClickSession> sessions = GroupIntoSessions(clicks);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].id, "s1");
  EXPECT_EQ(sessions[0].item_ids, (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_EQ(sessions[0].times_ms, (std::vector<int64_t>{100, 200, 200}));
  EXPECT_EQ(sessions[1].item_ids, (std::vector<std::string>{"c"}));
}

TEST(SplitSessionsByEndTime, LatestShareGoesLater) {
  std::vector<ClickSession> sessions;
  for (int i = 0; i < 10; ++i) sessions.push_back(Session("s" + std::to_string(i), {i * 10, i * 10 + 5}));
  const SessionSplit split = SplitSessionsByEndTime(sessions, 0.2);
  EXPECT_EQ(split.earlier.size(), 8u);
  ASSERT_EQ(split.later.size(), 2u);
  EXPECT_EQ(split.cutoff_ms, 85);
  EXPECT_EQ(split.later[0].id, "s8");
  EXPECT_EQ(split.later[1].id, "s9");
}

TEST(SplitSessionsByEndTime, EqualEndTimesStayTogether) {
  const std::vector<ClickSession> sessions = {Session("a", {10}), Session("b", {20}), Session("c", {20}),
                                              Session("d", {20})};
  const SessionSplit split = SplitSessionsByEndTime(sessions, 0.25);
  EXPECT_EQ(split.earlier.size(), 1u);
  EXPECT_EQ(split.later.size(), 3u);
}

TEST(SplitSessionsByEndTime, ZeroShareKeepsAllEarlier) {
  const SessionSplit split = SplitSessionsByEndTime({Session("a", {10}), Session("b", {20})}, 0.0);
  EXPECT_EQ(split.earlier.size(), 2u);
  EXPECT_TRUE(split.later.empty());
}

}  // namespace
}  // namespace tessera
