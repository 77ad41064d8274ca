#include "common/text.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(TrimAscii, RemovesSurroundingWhitespace) {
  EXPECT_EQ(TrimAscii(" \t\r\n shirt \f\v\n"), "shirt");
}

TEST(TrimAscii, KeepsInnerWhitespace) {
  EXPECT_EQ(TrimAscii("  navy blue  "), "navy blue");
}

TEST(TrimAscii, WhitespaceOnlyBecomesEmpty) {
  EXPECT_EQ(TrimAscii(" \t \r\n"), "");
  EXPECT_EQ(TrimAscii(""), "");
}

TEST(TrimAscii, KeepsNonAsciiSpace) {
  // U+3000 IDEOGRAPHIC SPACE is not ASCII whitespace, so it stays.
  EXPECT_EQ(TrimAscii("\xE3\x80\x80x"), "\xE3\x80\x80x");
}

TEST(LowerAscii, LowersOnlyAsciiLetters) {
  EXPECT_EQ(LowerAscii("Navy BLUE 42"), "navy blue 42");
  // "É" (U+00C9) is two bytes that are not ASCII letters.
  EXPECT_EQ(LowerAscii("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");
}

TEST(Split, KeepsEmptyPieces) {
  const std::vector<std::string> expected = {"a", "", "b", ""};
  EXPECT_EQ(Split("a,,b,", ','), expected);
}

TEST(Split, NoSeparatorGivesWholeString) {
  const std::vector<std::string> expected = {"shirt"};
  EXPECT_EQ(Split("shirt", ','), expected);
}

TEST(Split, EmptyStringGivesOneEmptyPiece) {
  const std::vector<std::string> expected = {""};
  EXPECT_EQ(Split("", ','), expected);
}

TEST(IsValidUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));                            // é, 2 bytes
  EXPECT_TRUE(IsValidUtf8("\xE7\x94\xB7\xE5\xA3\xAB"));               // 男士, 3 bytes each
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x91\x95"));                       // U+1F455 T-shirt emoji
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));                       // U+10FFFF, the maximum
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBD"));                           // U+FFFD
}

TEST(IsValidUtf8, RejectsMalformedText) {
  const struct {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"lone continuation byte", "\x80"},
      {"invalid lead byte 0xFF", "a\xFF"},
      {"invalid lead byte 0xF8", "\xF8\x88\x80\x80\x80"},
      {"truncated two-byte sequence", "caf\xC3"},
      {"truncated three-byte sequence", "\xE7\x94"},
      {"truncated four-byte sequence", "\xF0\x9F\x91"},
      {"continuation replaced by ASCII", "\xC3("},
      {"overlong slash", "\xC0\xAF"},
      {"overlong three-byte NUL", "\xE0\x80\x80"},
      {"overlong four-byte", "\xF0\x80\x80\xAF"},
      {"UTF-16 high surrogate", "\xED\xA0\x80"},
      {"UTF-16 low surrogate", "\xED\xBF\xBF"},
      {"past U+10FFFF", "\xF4\x90\x80\x80"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.bytes)) << c.name;
  }
}

TEST(Excerpt, ShortTextUnchanged) {
  EXPECT_EQ(Excerpt("short", 60), "short");
  EXPECT_EQ(Excerpt("exactly", 7), "exactly");
}

TEST(Excerpt, LongTextCutWithEllipsis) {
  EXPECT_EQ(Excerpt("abcdefghij", 4), "abcd...");
}

TEST(Excerpt, DefaultLimitIsSixtyBytes) {
  const std::string long_text(100, 'x');
  EXPECT_EQ(Excerpt(long_text), std::string(60, 'x') + "...");
}

TEST(Excerpt, CutsAtCharacterBoundary) {
  // "ab" then 男 (3 bytes): a cut at 3 or 4 bytes would split 男, so the excerpt stops after "ab".
  const std::string text = "ab\xE7\x94\xB7xyz";
  EXPECT_EQ(Excerpt(text, 3), "ab...");
  EXPECT_EQ(Excerpt(text, 4), "ab...");
  EXPECT_EQ(Excerpt(text, 5), "ab\xE7\x94\xB7...");
  EXPECT_TRUE(IsValidUtf8(Excerpt(text, 4)));
}

TEST(Excerpt, ReplacesInvalidBytes) {
  // Error bodies are JSON, which cannot carry invalid UTF-8, so a Latin-1 "é" (0xE9) becomes U+FFFD.
  EXPECT_EQ(Excerpt("Caf\xE9 Shirt"), "Caf\xEF\xBF\xBD Shirt");
  EXPECT_EQ(Excerpt("\xFF"), "\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8(Excerpt("\xC0\xAF overlong slash")));
}

TEST(Excerpt, ReplacesTruncatedSequence) {
  // 男 without its last byte, at the end of the text: each of its two bytes becomes U+FFFD.
  EXPECT_EQ(Excerpt("ab\xE7\x94"), "ab\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace tessera
