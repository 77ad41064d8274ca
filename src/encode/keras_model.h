// KerasModel: runs a Keras functional model saved in the TensorFlow.js layers-model format, on the
// CPU with libtorch. libtorch stays inside keras_model.cc, so this header is cheap to include.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace tessera {

struct KerasModelOptions {
  // Threads libtorch uses inside one operation (a convolution, a matrix product). libtorch keeps
  // this count process-wide, so the last loaded model's value applies to all of them.
  int num_threads = 1;
};

// An interpreter for the layer list of a Keras model: model.json contains the topology and a
// weights manifest, and weights.bin contains every weight as float32 little-endian, in manifest
// order.
//
// Supported layer types: InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization,
// ReLU, Activation, Add, AveragePooling2D (padding "valid"), GlobalAveragePooling2D, Flatten,
// Dense and Dropout (the identity at inference), all with data_format "channels_last". Loading
// rejects any other type, a layer called more than once, and a layer with several outputs.
//
// Tensors flow as NCHW inside, so kernels are converted on load: Conv2D HWIO -> OIHW and
// DepthwiseConv2D HWC1 -> (C, 1, H, W). Padding "same" pads like TensorFlow, which puts the
// extra row and column at the bottom and right when the total padding is odd (stride 2). A
// BatchNormalization that directly follows a convolution is folded into the convolution's weights.
//
// Thread safety: Run is const and may be called from many threads at once. The weights are
// read-only tensors, and each call runs under torch::InferenceMode, which is thread-local.
class KerasModel {
 public:
  // Loads `dir`/model.json and `dir`/weights.bin, converts the weights and runs one image of zeros
  // through every layer, so a weight whose shape does not fit its layer fails here, not in Run.
  // Errors: a missing file -> kNotFound; a file that does not parse, a weight of the wrong shape
  // or a weights.bin whose size differs from the manifest -> kCorruption; a layer type or option
  // the interpreter does not run -> kUnsupported. Each message names the file or layer.
  [[nodiscard]] static Result<std::unique_ptr<KerasModel>> Load(const std::filesystem::path& dir,
                                                                const KerasModelOptions& options = {});
  ~KerasModel();
  KerasModel(const KerasModel&) = delete;
  KerasModel& operator=(const KerasModel&) = delete;

  // Input size from the InputLayer's batch_input_shape (batch, height, width, channels).
  int input_height() const;
  int input_width() const;
  int input_channels() const;

  // Returns the number of floats that layer `name` outputs per image (the product of its output
  // shape without the batch axis), or kNotFound when the model has no such layer.
  [[nodiscard]] Result<size_t> OutputWidth(const std::string& name) const;

  // Runs `batch` images through the layers that `outputs` depend on and returns one vector per
  // name in `outputs`, holding batch x OutputWidth(name) floats, image-major. Outputs of 4-D
  // layers are flattened in channels_last order (height, width, channel), as Keras stores them.
  // `nhwc` contains batch x input_height() x input_width() x input_channels() floats and is only
  // read during the call.
  // Errors: an unknown output name -> kNotFound; batch == 0 -> kInvalidArgument; a libtorch
  // failure (such as running out of memory) -> kInternal naming the layer.
  [[nodiscard]] Result<std::vector<std::vector<float>>> Run(const float* nhwc, size_t batch,
                                                            std::span<const std::string> outputs) const;

 private:
  struct Impl;
  explicit KerasModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
