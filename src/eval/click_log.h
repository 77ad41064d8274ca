// Click logs for the offline replay: readers for the YOOCHOOSE and Taobao UserBehavior layouts,
// grouping clicks into sessions, and the split of sessions by time.
//
// The layouts and the split are described in docs/replay.md. All functions are pure and safe to
// call from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "common/status.h"

namespace tessera {

// One interaction of a shopper with an item, in file order.
struct Click {
  std::string session_id;  // the YOOCHOOSE SessionId, or the Taobao user_id
  std::string item_id;
  int64_t time_ms = 0;  // Unix time in milliseconds
};

// The clicks of one session, sorted by time. Clicks with equal times keep their file order.
struct ClickSession {
  std::string id;
  std::vector<std::string> item_ids;
  std::vector<int64_t> times_ms;  // same length as item_ids, non-decreasing

  size_t size() const { return item_ids.size(); }
  int64_t end_ms() const { return times_ms.empty() ? 0 : times_ms.back(); }
};

// Reads a YOOCHOOSE click file: tab-separated `SessionId ItemId Time`, Time in Unix seconds with
// an optional fraction. A first line that equals the header "SessionId\tItemId\tTime" is skipped
// and empty lines are ignored. Any other line that does not have exactly three fields, an empty
// id, or a Time that is not a finite number >= 0 fails with kInvalidArgument naming
// `source_name`, the 1-based line and the field.
Result<std::vector<Click>> ReadYoochooseClicks(std::istream& input, const std::string& source_name);

// Reads a Taobao UserBehavior file: comma-separated `user_id,item_id,category_id,behaviour,timestamp`
// without a header, behaviour one of pv, cart, fav, buy, and timestamp in whole Unix seconds.
// Every behaviour counts as a click on the item, and the user id becomes the session id. Empty
// lines are ignored; a malformed line fails like ReadYoochooseClicks.
Result<std::vector<Click>> ReadTaobaoBehaviour(std::istream& input, const std::string& source_name);

// Opens `path` and reads it with ReadYoochooseClicks or ReadTaobaoBehaviour. Fails with kIoError
// when the file cannot be opened.
Result<std::vector<Click>> ReadYoochooseClickFile(const std::string& path);
Result<std::vector<Click>> ReadTaobaoBehaviourFile(const std::string& path);

// Groups clicks by session id and sorts each session by time (a stable sort, so equal times keep
// file order). Sessions are returned ordered by id.
std::vector<ClickSession> GroupIntoSessions(const std::vector<Click>& clicks);

struct SessionSplit {
  std::vector<ClickSession> earlier;  // sessions that end before cutoff_ms
  std::vector<ClickSession> later;    // sessions that end at or after cutoff_ms
  int64_t cutoff_ms = 0;
};

// Splits sessions by the time of their last click so that about `later_share` of them, the
// ones that end last, fall in `later`. The cutoff is the end time of the first session in that
// share, so sessions ending at the same time never straddle it and the share can be larger.
// Whole sessions move, so no session is cut in two. `later_share` is clamped to [0, 1]; 0
// leaves `later` empty.
SessionSplit SplitSessionsByEndTime(std::vector<ClickSession> sessions, double later_share);

}  // namespace tessera
