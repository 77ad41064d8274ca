#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "ingest/product.h"
#include "personalize/profile.h"

namespace tessera {
namespace {

TEST(PriceBandTest, FollowsTheOneTwoFiveScale) {
  EXPECT_EQ(PriceBand(899, "INR"), "INR 500-1000");
  EXPECT_EQ(PriceBand(1000, "INR"), "INR 1000-2000");
  EXPECT_EQ(PriceBand(1999.99, "INR"), "INR 1000-2000");
  EXPECT_EQ(PriceBand(2000, "INR"), "INR 2000-5000");
  EXPECT_EQ(PriceBand(4999, "INR"), "INR 2000-5000");
  EXPECT_EQ(PriceBand(5000, "INR"), "INR 5000-10000");
  EXPECT_EQ(PriceBand(12.5, "USD"), "USD 10-20");
  EXPECT_EQ(PriceBand(0.75, "USD"), "USD 0.5-1");
  EXPECT_EQ(PriceBand(25000000, "IDR"), "IDR 20000000-50000000");
}

TEST(PriceBandTest, EmptyForUnusablePrices) {
  EXPECT_EQ(PriceBand(0, "INR"), "");
  EXPECT_EQ(PriceBand(-5, "INR"), "");
  EXPECT_EQ(PriceBand(std::numeric_limits<double>::quiet_NaN(), "INR"), "");
  EXPECT_EQ(PriceBand(std::numeric_limits<double>::infinity(), "INR"), "");
}

TEST(PriceBandTest, IsAProfileFacet) {
  Product product;
  product.price = 899;
  product.currency = "INR";
  EXPECT_EQ(FacetValue(product, "price_band"), "INR 500-1000");
  product.price.reset();
  EXPECT_EQ(FacetValue(product, "price_band"), "");
}

}  // namespace
}  // namespace tessera
