// The fashion catalogue's styles.csv, read straight from the data folder so tests check coverage
// against the data rather than against a copied list.
#pragma once

#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/text.h"
#include "ingest/product.h"

namespace tessera {

// Reads TESSERA_DATA_DIR/fashion/styles.csv as products carrying the four attributes that
// grading reads. The file quotes no field, and only the last column (the title) can contain a
// comma, so a plain split is enough for the first nine columns.
inline std::vector<Product> ReadFashionProducts() {
  const std::string path = std::string(TESSERA_DATA_DIR) + "/fashion/styles.csv";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path << ": set TESSERA_DATA_DIR to the data folder";
  std::vector<Product> products;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::vector<std::string> fields = Split(line, ',');
    if (fields.size() < 10) {
      ADD_FAILURE() << "short row in " << path << ": " << line;
      continue;
    }
    Product product;
    product.id = fields[0];
    product.attributes = {{"gender", fields[1]}, {"article_type", fields[4]}, {"colour", fields[5]},
                          {"usage", fields[8]}};
    products.push_back(std::move(product));
  }
  return products;
}

inline const std::vector<Product>& FashionProducts() {
  static const std::vector<Product> products = ReadFashionProducts();
  return products;
}

// Lower-cased distinct values of the columns that judged queries name. "NA" and empty values
// are left out, because they never become query words.
struct FashionColumnValues {
  std::set<std::string> article_types;
  std::set<std::string> colours;
  std::set<std::string> genders;
  std::set<std::string> usages;
};

inline const FashionColumnValues& FashionValues() {
  static const FashionColumnValues values = [] {
    FashionColumnValues distinct;
    auto add = [](std::set<std::string>& set, const std::string& value) {
      const std::string normalized = LowerAscii(TrimAscii(value));
      if (!normalized.empty() && normalized != "na") set.insert(normalized);
    };
    for (const Product& product : FashionProducts()) {
      add(distinct.article_types, product.Attribute("article_type"));
      add(distinct.colours, product.Attribute("colour"));
      add(distinct.genders, product.Attribute("gender"));
      add(distinct.usages, product.Attribute("usage"));
    }
    return distinct;
  }();
  return values;
}

}  // namespace tessera
