#include "serve/api_keys.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::ReadFile;
using testing_support::TempDir;

TEST(ApiKeys, Sha256MatchesKnownDigest) {
  // FIPS 180-2 test vector for "abc".
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeys, FindReturnsRoleOfStoredHash) {
  const std::string text = "# comment\n\nsearch " + Sha256Hex("key-one") + " storefront page\nadmin " +
                           Sha256Hex("key-two") + "\n";
  Result<ApiKeys> keys = ApiKeys::Parse(text, "keys");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->entries().size(), 2u);

  std::optional<ApiKeyEntry> one = keys->Find("key-one");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->role, Role::kSearch);
  EXPECT_EQ(one->label, "storefront page");
  EXPECT_EQ(one->key_id, Sha256Hex("key-one").substr(0, 8));

  std::optional<ApiKeyEntry> two = keys->Find("key-two");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->role, Role::kAdmin);

  EXPECT_FALSE(keys->Find("key-three").has_value());
  EXPECT_FALSE(keys->Find("").has_value());
  // The stored hash itself is not a key.
  EXPECT_FALSE(keys->Find(Sha256Hex("key-one")).has_value());
}

TEST(ApiKeys, SameHashPrefixIsNotAMatch) {
  // A key whose hash shares its first 4 hex digits with a stored hash (about 65,536 tries) must
  // not match: the whole digest is compared.
  const std::string stored = Sha256Hex("stored-key");
  Result<ApiKeys> keys = ApiKeys::Parse("search " + stored + "\n", "keys");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  std::string near_miss;
  for (int i = 0; i < 10000000 && near_miss.empty(); ++i) {
    const std::string candidate = "candidate-" + std::to_string(i);
    if (Sha256Hex(candidate).compare(0, 4, stored, 0, 4) == 0) near_miss = candidate;
  }
  ASSERT_FALSE(near_miss.empty());
  EXPECT_FALSE(keys->Find(near_miss).has_value()) << near_miss;
  EXPECT_TRUE(keys->Find("stored-key").has_value());
}

TEST(ApiKeys, ParseRejectsBadLines) {
  const std::string hash = Sha256Hex("k");
  struct Case {
    std::string text;
    std::string expected_in_message;
  };
  const std::vector<Case> cases = {
      {"owner " + hash + "\n", "owner"},
      {"search\n", "no key hash"},
      {"search tsk_plaintext_key_pasted_here\n", "SHA-256"},
      {"search " + hash.substr(0, 63) + "\n", "SHA-256"},
      {"search " + hash + "\nadmin " + hash + "\n", "line 2 repeats"},
  };
  for (const Case& c : cases) {
    Result<ApiKeys> keys = ApiKeys::Parse(c.text, "keys");
    ASSERT_FALSE(keys.ok()) << c.text;
    EXPECT_EQ(keys.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(keys.status().message().find(c.expected_in_message), std::string::npos) << keys.status().message();
  }
  // A plaintext key pasted into the file is never echoed into the error message (and the log).
  Result<ApiKeys> pasted = ApiKeys::Parse("search tsk_plaintext_key_pasted_here\n", "keys");
  EXPECT_EQ(pasted.status().message().find("tsk_plaintext"), std::string::npos) << pasted.status().message();
}

TEST(ApiKeys, LoadReportsMissingFile) {
  Result<ApiKeys> keys = ApiKeys::Load("/nonexistent/tessera-keys");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), StatusCode::kNotFound);
}

TEST(ApiKeys, CreatedKeyIsStoredOnlyAsHash) {
  TempDir dir("tessera-keys-");
  ASSERT_FALSE(dir.path().empty()) << dir.error();
  const std::string path = (dir.path() / "keys").string();

  Result<std::string> key = GenerateApiKey();
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->rfind("tsk_", 0), 0u) << *key;
  EXPECT_EQ(key->size(), 4u + 64u);
  Result<std::string> other = GenerateApiKey();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*key, *other);

  ASSERT_TRUE(AppendApiKey(path, *key, Role::kSearch, "storefront").ok());
  ASSERT_TRUE(AppendApiKey(path, *other, Role::kAdmin, "").ok());
  const std::string text = ReadFile(path);
  EXPECT_EQ(text.find(*key), std::string::npos) << text;
  EXPECT_EQ(text.find(*other), std::string::npos) << text;
  EXPECT_NE(text.find(Sha256Hex(*key)), std::string::npos) << text;

  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  Result<ApiKeys> keys = ApiKeys::Load(path);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_TRUE(keys->Find(*key).has_value());
  EXPECT_EQ(keys->Find(*key)->role, Role::kSearch);
  ASSERT_TRUE(keys->Find(*other).has_value());
  EXPECT_EQ(keys->Find(*other)->role, Role::kAdmin);
}

TEST(ApiKeys, AppendRefusesDamagedFile) {
  TempDir dir("tessera-keys-");
  ASSERT_FALSE(dir.path().empty()) << dir.error();
  const std::string path = (dir.path() / "keys").string();
  {
    std::ofstream out(path);
    out << "search not-a-hash\n";
  }
  Result<ApiKeyEntry> appended = AppendApiKey(path, "tsk_new", Role::kSearch, "");
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(ReadFile(path), "search not-a-hash\n");
}

}  // namespace
}  // namespace tessera
