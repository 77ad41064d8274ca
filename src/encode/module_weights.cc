#include "encode/module_weights.h"

#include <sstream>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

namespace tessera {

Result<std::string> SerializeWeights(const torch::nn::Module& module, std::string_view model_name) {
  std::ostringstream weights;
  try {
    torch::serialize::OutputArchive archive;
    module.save(archive);
    archive.save_to(weights);
  } catch (const c10::Error& e) {
    return Status::Internal("cannot serialize the " + std::string(model_name) +
                            " weights: " + std::string(e.what_without_backtrace()));
  }
  return weights.str();
}

Status LoadWeights(torch::nn::Module& module, std::string_view bytes, std::string_view source) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size());
    module.load(archive);
  } catch (const c10::Error& e) {
    return Status::Corruption(std::string(source) + " has unreadable weights: " + e.what_without_backtrace());
  }
  return Status::Ok();
}

}  // namespace tessera
