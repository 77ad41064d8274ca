#include "eval/query_variants.h"

#include <array>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "common/text.h"

namespace tessera {
namespace {

using WordTable = std::map<std::string_view, std::string_view>;

// One other English word a shopper uses for an article type. The list is kept apart from
// config/synonyms/fashion.txt and much smaller, so the synonym queries are not simply that
// file read backwards. Values without a natural alternative, or whose alternative only adds a
// word ("heels" -> "high heels") or is another catalogue type ("backpacks" -> "rucksacks"),
// are left out.
const WordTable& ShopperArticleTypes() {
  static const WordTable table = {
      {"bath robe", "bathrobes"},
      {"bra", "brassiere"},
      {"briefs", "underpants"},
      {"camisoles", "camis"},
      {"capris", "cropped pants"},
      {"casual shoes", "sneakers"},
      {"clutches", "evening bags"},
      {"compact", "pressed powder"},
      {"cufflinks", "cuff links"},
      {"deodorant", "deo"},
      {"dresses", "frocks"},
      {"duffel bag", "holdall"},
      {"eyeshadow", "eye shadow"},
      {"face moisturisers", "face creams"},
      {"face wash and cleanser", "facewash"},
      {"flats", "ballerinas"},
      {"flip flops", "slippers"},
      {"footballs", "soccer balls"},
      {"formal shoes", "dress shoes"},
      {"handbags", "purses"},
      {"headband", "hairbands"},
      {"innerwear vests", "undershirts"},
      {"jeans", "denims"},
      {"jewellery set", "jewelry set"},
      {"kajal and eyeliner", "kohl"},
      {"key chain", "keyrings"},
      {"laptop bag", "computer bag"},
      {"lip care", "lip balm"},
      {"lounge pants", "pyjamas"},
      {"mask and peel", "face packs"},
      {"mobile pouch", "phone pouch"},
      {"nail polish", "nail paint"},
      {"night suits", "pyjama sets"},
      {"nightdress", "nighties"},
      {"perfume and body mist", "fragrances"},
      {"rain jacket", "raincoat"},
      {"rompers", "playsuits"},
      {"sarees", "saris"},
      {"shapewear", "body shapers"},
      {"sports sandals", "floaters"},
      {"sports shoes", "running shoes"},
      {"sunglasses", "shades"},
      {"sunscreen", "sunblock"},
      {"suspenders", "braces"},
      {"sweaters", "pullovers"},
      {"swimwear", "swimsuits"},
      {"ties", "neckties"},
      {"track pants", "joggers"},
      {"tracksuits", "jogging suits"},
      {"trolley bag", "suitcases"},
      {"trousers", "pants"},
      {"tshirts", "tees"},
      {"waist pouch", "fanny packs"},
      {"watches", "wristwatches"},
      {"wristbands", "sweatbands"},
  };
  return table;
}

// One other English word for a colour, under the same rules as ShopperArticleTypes.
const WordTable& ShopperColours() {
  static const WordTable table = {
      {"coffee brown", "chocolate brown"}, {"fluorescent green", "neon green"},
      {"grey", "gray"},                    {"grey melange", "heather grey"},
      {"gold", "golden"},                  {"lavender", "lilac"},
      {"magenta", "fuchsia"},              {"multi", "multicolour"},
      {"off white", "ivory"},
  };
  return table;
}

// The Simplified Chinese word a shopper on a Chinese store types for each article type. Indian
// garments with no established Chinese name (kurtas, salwar, churidar, ...) and "ipad", which
// Chinese shoppers type in Latin letters, are left out, so their queries get no Chinese variant.
// "tshirts" is 体恤 because T恤, the more common spelling, contains a Latin letter.
const WordTable& ChineseArticleTypes() {
  static const WordTable table = {
      {"accessory gift set", "配饰礼盒"},   {"baby dolls", "娃娃装睡衣"},
      {"backpacks", "双肩包"},              {"bangle", "手镯"},
      {"basketballs", "篮球"},              {"bath robe", "浴袍"},
      {"beauty accessory", "美妆工具"},     {"belts", "腰带"},
      {"blazers", "西装外套"},              {"body lotion", "身体乳"},
      {"body wash and scrub", "沐浴露"},    {"booties", "短靴"},
      {"boxers", "四角裤"},                 {"bra", "文胸"},
      {"bracelet", "手链"},                 {"briefs", "三角内裤"},
      {"camisoles", "吊带背心"},            {"capris", "七分裤"},
      {"caps", "鸭舌帽"},                   {"casual shoes", "休闲鞋"},
      {"clothing set", "套装"},             {"clutches", "手拿包"},
      {"compact", "粉饼"},                  {"concealer", "遮瑕膏"},
      {"cufflinks", "袖扣"},                {"cushion covers", "抱枕套"},
      {"deodorant", "止汗露"},              {"dresses", "连衣裙"},
      {"duffel bag", "旅行袋"},             {"earrings", "耳环"},
      {"eye cream", "眼霜"},                {"eyeshadow", "眼影"},
      {"face moisturisers", "面霜"},        {"face scrub and exfoliator", "面部磨砂膏"},
      {"face serum and gel", "精华液"},     {"face wash and cleanser", "洗面奶"},
      {"flats", "平底鞋"},                  {"flip flops", "人字拖"},
      {"footballs", "足球"},                {"formal shoes", "皮鞋"},
      {"foundation and primer", "粉底液"},  {"fragrance gift set", "香水礼盒"},
      {"free gifts", "赠品"},               {"gloves", "手套"},
      {"hair accessory", "发饰"},           {"hair colour", "染发剂"},
      {"hat", "帽子"},                      {"headband", "发箍"},
      {"handbags", "手提包"},               {"heels", "高跟鞋"},
      {"highlighter and blush", "腮红"},    {"innerwear vests", "背心"},
      {"jackets", "夹克"},                  {"jeans", "牛仔裤"},
      {"jeggings", "牛仔打底裤"},           {"jewellery set", "首饰套装"},
      {"jumpsuit", "连体裤"},               {"kajal and eyeliner", "眼线笔"},
      {"key chain", "钥匙扣"},              {"laptop bag", "电脑包"},
      {"leggings", "打底裤"},               {"lip care", "润唇膏"},
      {"lip gloss", "唇彩"},                {"lip liner", "唇线笔"},
      {"lip plumper", "丰唇蜜"},            {"lipstick", "口红"},
      {"lounge pants", "家居裤"},           {"lounge shorts", "家居短裤"},
      {"lounge tshirts", "家居上衣"},       {"makeup remover", "卸妆水"},
      {"mascara", "睫毛膏"},                {"mask and peel", "面膜"},
      {"mens grooming kit", "男士护理套装"}, {"messenger bag", "邮差包"},
      {"mobile pouch", "手机袋"},           {"mufflers", "围巾"},
      {"nail essentials", "美甲工具"},      {"nail polish", "指甲油"},
      {"necklace and chains", "项链"},      {"night suits", "睡衣套装"},
      {"nightdress", "睡裙"},               {"pendant", "吊坠"},
      {"perfume and body mist", "香水"},    {"rain jacket", "雨衣"},
      {"rain trousers", "雨裤"},            {"ring", "戒指"},
      {"robe", "睡袍"},                     {"rompers", "连体衣"},
      {"rucksacks", "登山包"},              {"sandals", "凉鞋"},
      {"sarees", "纱丽"},                   {"scarves", "丝巾"},
      {"shapewear", "塑身衣"},              {"shirts", "衬衫"},
      {"shoe accessories", "鞋配件"},       {"shoe laces", "鞋带"},
      {"shorts", "短裤"},                   {"shrug", "短款开衫"},
      {"skirts", "半身裙"},                 {"socks", "袜子"},
      {"sports sandals", "运动凉鞋"},       {"sports shoes", "运动鞋"},
      {"stockings", "丝袜"},                {"stoles", "披肩"},
      {"suits", "西装"},                    {"sunglasses", "太阳镜"},
      {"sunscreen", "防晒霜"},              {"suspenders", "背带"},
      {"sweaters", "毛衣"},                 {"sweatshirts", "卫衣"},
      {"swimwear", "泳衣"},                 {"tablet sleeve", "平板电脑包"},
      {"ties", "领带"},                     {"ties and cufflinks", "领带袖扣套装"},
      {"tights", "连裤袜"},                 {"toner", "爽肤水"},
      {"tops", "上衣"},                     {"track pants", "运动裤"},
      {"tracksuits", "运动套装"},           {"travel accessory", "旅行用品"},
      {"trolley bag", "拉杆箱"},            {"trousers", "长裤"},
      {"trunk", "平角内裤"},                {"tshirts", "体恤"},
      {"tunics", "长款上衣"},               {"umbrellas", "雨伞"},
      {"waist pouch", "腰包"},              {"waistcoat", "马甲"},
      {"wallets", "钱包"},                  {"watches", "手表"},
      {"water bottle", "水杯"},             {"wristbands", "护腕"},
  };
  return table;
}

const WordTable& ChineseColours() {
  static const WordTable table = {
      {"beige", "米色"},           {"black", "黑色"},          {"blue", "蓝色"},
      {"bronze", "古铜色"},        {"brown", "棕色"},          {"burgundy", "酒红色"},
      {"charcoal", "炭灰色"},      {"coffee brown", "咖啡棕"}, {"copper", "铜色"},
      {"cream", "奶油色"},         {"fluorescent green", "荧光绿"}, {"gold", "金色"},
      {"green", "绿色"},           {"grey", "灰色"},           {"grey melange", "麻灰色"},
      {"khaki", "卡其色"},         {"lavender", "淡紫色"},     {"lime green", "青柠绿"},
      {"magenta", "洋红色"},       {"maroon", "枣红色"},       {"mauve", "藕荷色"},
      {"metallic", "金属色"},      {"multi", "多色"},          {"mushroom brown", "蘑菇色"},
      {"mustard", "芥末黄"},       {"navy blue", "藏青色"},    {"nude", "裸色"},
      {"off white", "米白色"},     {"olive", "橄榄绿"},        {"orange", "橙色"},
      {"peach", "桃色"},           {"pink", "粉色"},           {"purple", "紫色"},
      {"red", "红色"},             {"rose", "玫瑰色"},         {"rust", "铁锈红"},
      {"sea green", "海绿色"},     {"silver", "银色"},         {"skin", "肤色"},
      {"steel", "钢灰色"},         {"tan", "棕褐色"},          {"taupe", "灰褐色"},
      {"teal", "水鸭色"},          {"turquoise blue", "绿松石色"}, {"white", "白色"},
      {"yellow", "黄色"},
  };
  return table;
}

const WordTable& ChineseGenders() {
  static const WordTable table = {{"men", "男士"}, {"women", "女士"}, {"boys", "男童"}, {"girls", "女童"}};
  return table;
}

const WordTable& ChineseUsages() {
  static const WordTable table = {
      {"casual", "休闲"}, {"ethnic", "民族风"},   {"formal", "正装"}, {"home", "居家"},
      {"party", "派对"},  {"smart casual", "商务休闲"}, {"sports", "运动"}, {"travel", "旅行"},
  };
  return table;
}

// Letters next to each lower-case letter on a US QWERTY keyboard, indexed by letter - 'a'.
constexpr std::array<std::string_view, 26> kAdjacentKeys = {
    "qwsz", "vghn", "xdfv", "serfcx", "wrsd",  "drtgvc", "ftyhbv", "gyujnb", "uojk",
    "huikmn", "jiolm", "kop", "njk", "bhjm", "ipkl", "ol",   "wa",   "etdf",
    "awedxz", "ryfg", "yihj", "cfgb", "qeas", "zsdc", "tugh", "asx",
};

std::string Attribute(const JudgedQuery& query, const char* key) {
  const auto it = query.attributes.find(key);
  return it == query.attributes.end() ? std::string() : it->second;
}

std::string_view Lookup(const WordTable& table, const std::string& value) {
  const auto it = table.find(value);
  return it == table.end() ? std::string_view() : it->second;
}

// Words in the order DeriveJudgedQueries writes them: usage, colour, gender, article type.
std::string EnglishText(const std::string& usage, const std::string& colour, const std::string& gender,
                        const std::string& article_type) {
  std::string text;
  for (const std::string* value : {&usage, &colour, &gender, &article_type}) {
    if (value->empty()) continue;
    if (!text.empty()) text += ' ';
    text += *value;
  }
  return text;
}

// True when the query's text is its attributes in the derived word order, so a word of the text
// can be swapped by attribute. Hand-written queries fail this test.
bool TextSpellsAttributes(const JudgedQuery& query) {
  if (Attribute(query, "article_type").empty()) return false;
  return query.text == EnglishText(Attribute(query, "usage"), Attribute(query, "colour"),
                                   Attribute(query, "gender"), Attribute(query, "article_type"));
}

// Returns the text with the article type, or else the colour, replaced by a shopper word, or
// an empty string when neither has one.
std::string SynonymText(const JudgedQuery& query) {
  std::string usage = Attribute(query, "usage");
  std::string colour = Attribute(query, "colour");
  std::string gender = Attribute(query, "gender");
  std::string article_type = Attribute(query, "article_type");

  const std::string_view article_type_word = Lookup(ShopperArticleTypes(), article_type);
  const std::string_view colour_word = Lookup(ShopperColours(), colour);
  if (!article_type_word.empty()) {
    article_type = article_type_word;
  } else if (!colour_word.empty()) {
    colour = colour_word;
  } else {
    return {};
  }
  return EnglishText(usage, colour, gender, article_type);
}

// Returns the query in Chinese, or an empty string when a named attribute has no translation.
std::string ChineseText(const JudgedQuery& query) {
  std::string text;
  const std::pair<const char*, const WordTable*> parts[] = {
      {"gender", &ChineseGenders()},
      {"usage", &ChineseUsages()},
      {"colour", &ChineseColours()},
      {"article_type", &ChineseArticleTypes()},
  };
  const std::string_view article_type = Lookup(ChineseArticleTypes(), Attribute(query, "article_type"));
  for (const auto& [key, table] : parts) {
    const std::string value = Attribute(query, key);
    if (value.empty()) continue;
    const std::string_view word = Lookup(*table, value);
    if (word.empty()) return {};

    // "casual casual shoes" would read 休闲休闲鞋, but a shopper types the usage once: 休闲鞋.
    if (table == &ChineseUsages() && article_type.starts_with(word)) continue;
    text += word;
  }
  return text;
}

// 64-bit FNV-1a, so the per-query seed is the same under every standard library (std::hash is
// implementation-defined).
uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : text) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

// Returns a uniform value in [0, bound) from the raw engine output, rejecting draws below
// 2^64 mod bound. std::uniform_int_distribution is implementation-defined, so it is not used.
uint64_t UniformBelow(std::mt19937_64& engine, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const uint64_t draw = engine();
    if (draw >= threshold) return draw % bound;
  }
}

char AdjacentKey(char letter, std::mt19937_64& engine) {
  const std::string_view keys = kAdjacentKeys[static_cast<size_t>(letter - 'a')];
  return keys[UniformBelow(engine, keys.size())];
}

bool IsLowerAsciiWord(std::string_view word) {
  for (char c : word) {
    if (c < 'a' || c > 'z') return false;
  }
  return !word.empty();
}

// Applies one random edit inside `word` (at least 5 lower-case letters), keeping its first and
// last letters. Each edit has Damerau distance 1: a substitution by a different letter, one
// deletion, one insertion, or a swap of two different neighbouring letters.
std::string EditWord(const std::string& word, std::mt19937_64& engine) {
  const size_t length = word.size();
  std::string edited = word;
  switch (UniformBelow(engine, 4)) {
    case 0: {  // adjacent-key substitution at an inner position
      const size_t i = 1 + UniformBelow(engine, length - 2);
      edited[i] = AdjacentKey(word[i], engine);
      break;
    }
    case 1: {  // deletion of an inner letter
      edited.erase(1 + UniformBelow(engine, length - 2), 1);
      break;
    }
    case 2: {  // transposition of two inner neighbours; equal letters would leave the word unchanged
      const size_t i = 1 + UniformBelow(engine, length - 3);
      if (word[i] == word[i + 1]) return word;
      std::swap(edited[i], edited[i + 1]);
      break;
    }
    default: {  // insertion of a key next to the letter before it, as a finger slipping
      const size_t i = 1 + UniformBelow(engine, length - 1);
      edited.insert(i, 1, AdjacentKey(word[i - 1], engine));
      break;
    }
  }
  return edited;
}

// Returns the text with one word edited, or an empty string when no word qualifies. An edit
// that leaves the word unchanged or spells a word of `vocabulary` (for example "shorts" ->
// "shirts") is drawn again, at most kMaxAttempts times.
std::string TypoText(const std::string& text, uint64_t seed, const std::set<std::string>& vocabulary) {
  constexpr int kMaxAttempts = 32;
  constexpr size_t kMinWordLength = 5;

  std::vector<std::string> words = Split(text, ' ');
  std::vector<size_t> eligible;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i].size() >= kMinWordLength && IsLowerAsciiWord(words[i])) eligible.push_back(i);
  }
  if (eligible.empty()) return {};

  std::mt19937_64 engine(seed ^ Fnv1a(text));
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const size_t index = eligible[UniformBelow(engine, eligible.size())];
    const std::string edited = EditWord(words[index], engine);
    if (edited == words[index] || vocabulary.contains(edited)) continue;

    words[index] = edited;
    std::string result;
    for (const std::string& word : words) result += (result.empty() ? "" : " ") + word;
    return result;
  }
  return {};
}

JudgedQuery MakeVariant(const JudgedQuery& plain, const char* kind, std::string text) {
  JudgedQuery variant = plain;
  variant.id = plain.id + "-" + kind;
  variant.kind = kind;
  variant.text = std::move(text);
  return variant;
}

}  // namespace

std::vector<JudgedQuery> DeriveQueryVariants(const std::vector<JudgedQuery>& plain,
                                             const QueryVariantOptions& options) {
  // Words of every plain query, so that a typo never spells another query word.
  std::set<std::string> vocabulary;
  for (const JudgedQuery& query : plain) {
    for (std::string& word : Split(query.text, ' ')) vocabulary.insert(std::move(word));
  }

  std::vector<JudgedQuery> variants;
  for (const JudgedQuery& query : plain) {
    if (query.kind != kPlainQueryKind) continue;
    const bool by_attribute = TextSpellsAttributes(query);

    if (by_attribute) {
      std::string text = SynonymText(query);
      if (!text.empty() && text != query.text) variants.push_back(MakeVariant(query, kSynonymQueryKind, std::move(text)));
    }
    if (std::string text = TypoText(query.text, options.seed, vocabulary); !text.empty()) {
      variants.push_back(MakeVariant(query, kTypoQueryKind, std::move(text)));
    }
    if (by_attribute) {
      std::string text = ChineseText(query);
      if (!text.empty()) variants.push_back(MakeVariant(query, kChineseQueryKind, std::move(text)));
    }
  }
  return variants;
}

std::vector<JudgedQuery> DeriveJudgedQuerySet(const std::vector<Product>& products, const JudgmentOptions& options) {
  std::vector<JudgedQuery> queries = DeriveJudgedQueries(products, options);
  std::vector<JudgedQuery> variants = DeriveQueryVariants(queries, {.seed = options.seed});
  queries.insert(queries.end(), std::make_move_iterator(variants.begin()), std::make_move_iterator(variants.end()));
  return queries;
}

}  // namespace tessera
