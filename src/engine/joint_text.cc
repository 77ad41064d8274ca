#include "engine/joint_text.h"

namespace tessera {

std::string JointSpaceExtraText(const Product& product) {
  std::string text;
  const std::string& article_type = product.Attribute("article_type");
  if (!article_type.empty()) {
    text = article_type;
  } else if (!product.category_path.empty()) {
    text = product.category_path.back();
  }
  for (const char* key : {"colour", "gender", "usage"}) text += " " + product.Attribute(key);
  return text;
}

std::string JointSpaceProductText(const Product& product) {
  return product.title + " " + JointSpaceExtraText(product);
}

}  // namespace tessera
