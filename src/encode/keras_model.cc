#include "encode/keras_model.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Forward = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

constexpr const char* kSetupHint = "run scripts/setup.sh to download the model again";

using Activation = std::function<torch::Tensor(torch::Tensor)>;

// A Conv2D or DepthwiseConv2D with its weights in torch's layout. A depthwise kernel
// (h, w, in, multiplier) becomes a grouped convolution with one group per input channel. Output
// channel c * multiplier + m is the same in both layouts.
struct Convolution {
  torch::Tensor weight;  // OIHW, or (in * multiplier, 1, h, w) when depthwise
  c10::optional<torch::Tensor> bias;
  std::array<int64_t, 2> kernel_size{}, stride{}, dilation{};
  int64_t groups = 1;
  bool pad_same = false;
  std::string activation_name;
  Activation activation;

  torch::Tensor Run(const torch::Tensor& input) const;
};

// BatchNormalization over the channel axis, with the moving statistics (inference).
struct BatchNorm {
  c10::optional<torch::Tensor> gamma, beta;  // absent when scale or center is false
  torch::Tensor mean, variance;
  double epsilon = 0;
};

struct Layer {
  std::string name;
  std::string type;
  std::vector<size_t> inputs;  // indices of the layers whose outputs this layer reads
  Forward forward;
  std::vector<int64_t> output_shape;  // NCHW or (N, units) without N, set by the load-time run
  // Set for Conv2D, DepthwiseConv2D and BatchNormalization, for FoldBatchNorms.
  std::shared_ptr<const Convolution> convolution;
  std::shared_ptr<const BatchNorm> batch_norm;
};

// Weights by name ("Conv1/kernel"), as stored in weights.bin. Layers take theirs on build.
using WeightMap = std::unordered_map<std::string, torch::Tensor>;

Status LayerError(StatusCode code, const std::string& layer, const std::string& what) {
  return Status(code, "layer '" + layer + "': " + what);
}

// Reads a Keras pair option such as kernel_size, which model.json stores as [h, w] or as one int.
std::array<int64_t, 2> Pair(const json& config, const char* key) {
  const json& value = config.at(key);
  if (value.is_number_integer()) return {value.get<int64_t>(), value.get<int64_t>()};
  return {value.at(0).get<int64_t>(), value.at(1).get<int64_t>()};
}

// Every spatial layer must use channels_last, the only layout this interpreter converts from.
Status CheckChannelsLast(const std::string& layer, const json& config) {
  const std::string format = config.value("data_format", "channels_last");
  if (format == "channels_last") return Status::Ok();
  return LayerError(StatusCode::kUnsupported, layer, "data_format '" + format + "' is not supported, only channels_last");
}

Result<torch::Tensor> TakeWeight(WeightMap& weights, const std::string& layer, const std::string& param) {
  const auto found = weights.find(layer + "/" + param);
  if (found == weights.end()) {
    return LayerError(StatusCode::kCorruption, layer, "weight " + layer + "/" + param + " is missing from model.json's manifest");
  }
  torch::Tensor tensor = std::move(found->second);
  weights.erase(found);
  return tensor;
}

Status CheckShape(const std::string& layer, const std::string& param, const torch::Tensor& tensor,
                  const std::vector<int64_t>& expected) {
  if (tensor.sizes().vec() == expected) return Status::Ok();
  return LayerError(StatusCode::kCorruption, layer,
                    "weight " + param + " has shape " + c10::str(tensor.sizes()) + ", expected " + c10::str(expected));
}

// Returns the function for a Keras activation name. Softmax runs over the channel axis, which is
// Keras's last axis and axis 1 in NCHW and in (N, units).
Result<Activation> MakeActivation(const std::string& layer, const std::string& name) {
  if (name == "linear") return Activation([](torch::Tensor x) { return x; });
  if (name == "relu") return Activation([](torch::Tensor x) { return torch::relu(x); });
  if (name == "relu6") {
    return Activation([](torch::Tensor x) { return torch::clamp(x, 0.0, 6.0); });
  }
  if (name == "sigmoid") return Activation([](torch::Tensor x) { return torch::sigmoid(x); });
  if (name == "tanh") return Activation([](torch::Tensor x) { return torch::tanh(x); });
  if (name == "softmax") {
    return Activation([](torch::Tensor x) { return torch::softmax(x, 1); });
  }
  return LayerError(StatusCode::kUnsupported, layer,
                    "activation '" + name + "' is not supported (linear, relu, relu6, sigmoid, tanh, softmax are)");
}

// Pads `x` (NCHW) the way TensorFlow's padding "same" does: the output has ceil(in / stride)
// positions, and when the total padding is odd the extra row or column goes at the end.
torch::Tensor PadSame(const torch::Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                      std::array<int64_t, 2> dilation) {
  std::array<int64_t, 4> pad{};  // left, right, top, bottom, the order torch's pad expects
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t in = x.size(2 + axis);
    const int64_t out = (in + stride[axis] - 1) / stride[axis];
    const int64_t span = (kernel[axis] - 1) * dilation[axis] + 1;
    const int64_t total = std::max<int64_t>((out - 1) * stride[axis] + span - in, 0);
    const int64_t before = total / 2;
    const int axis_in_pad = axis == 0 ? 2 : 0;  // height pads are the last pair
    pad[axis_in_pad] = before;
    pad[axis_in_pad + 1] = total - before;
  }
  if (pad == std::array<int64_t, 4>{}) return x;
  return torch::constant_pad_nd(x, {pad[0], pad[1], pad[2], pad[3]}, 0.0);
}

Result<Convolution> BuildConvolution(const std::string& name, const json& config, WeightMap& weights, bool depthwise) {
  TESSERA_RETURN_IF_ERROR(CheckChannelsLast(name, config));
  Convolution conv;
  conv.kernel_size = Pair(config, "kernel_size");
  conv.stride = Pair(config, "strides");
  conv.dilation = Pair(config, "dilation_rate");
  const std::string padding = config.at("padding").get<std::string>();
  if (padding != "same" && padding != "valid") {
    return LayerError(StatusCode::kUnsupported, name, "padding '" + padding + "' is not supported (same, valid are)");
  }
  conv.pad_same = padding == "same";
  conv.activation_name = config.value("activation", "linear");
  Result<Activation> activation = MakeActivation(name, conv.activation_name);
  if (!activation.ok()) return activation.status();
  conv.activation = std::move(*activation);

  Result<torch::Tensor> kernel = TakeWeight(weights, name, depthwise ? "depthwise_kernel" : "kernel");
  if (!kernel.ok()) return kernel.status();
  const auto [kernel_height, kernel_width] = conv.kernel_size;
  if (kernel->dim() != 4 || kernel->size(0) != kernel_height || kernel->size(1) != kernel_width) {
    return LayerError(StatusCode::kCorruption, name,
                      "kernel has shape " + c10::str(kernel->sizes()) + ", expected kernel_size " +
                          c10::str(std::vector<int64_t>{kernel_height, kernel_width}));
  }
  if (depthwise) {
    conv.groups = kernel->size(2);
    // (h, w, in, multiplier) -> (in, multiplier, h, w) -> (in * multiplier, 1, h, w)
    conv.weight = kernel->permute({2, 3, 0, 1}).reshape({-1, 1, kernel_height, kernel_width}).contiguous();
  } else {
    TESSERA_RETURN_IF_ERROR(CheckShape(name, "kernel", *kernel,
                                       {kernel_height, kernel_width, kernel->size(2), config.at("filters").get<int64_t>()}));
    conv.weight = kernel->permute({3, 2, 0, 1}).contiguous();  // HWIO -> OIHW
  }
  if (config.value("use_bias", true)) {
    Result<torch::Tensor> bias = TakeWeight(weights, name, "bias");
    if (!bias.ok()) return bias.status();
    TESSERA_RETURN_IF_ERROR(CheckShape(name, "bias", *bias, {conv.weight.size(0)}));
    conv.bias = *bias;
  }
  return conv;
}

// Calls oneDNN's convolution directly where libtorch has it. On one thread, torch::conv2d sends
// 1x1 stride-1 convolutions of fewer than 16 images to its im2col + BLAS path instead, and
// Debian's libtorch uses the reference BLAS. For this MobileNetV2 that path took 107 ms of CPU
// per photo against 20 ms through oneDNN (encode_backbone_bench --threads 1, measured before
// batch norms were folded).
torch::Tensor Convolution::Run(const torch::Tensor& input) const {
  // PadSame pads explicitly because TensorFlow's padding may be asymmetric, so the convolution pads nothing.
  const torch::Tensor x = pad_same ? PadSame(input, kernel_size, stride, dilation) : input;
  const std::vector<int64_t> no_padding{0, 0};
  const std::vector<int64_t> strides(stride.begin(), stride.end());
  const std::vector<int64_t> dilations(dilation.begin(), dilation.end());
  if (at::hasMKLDNN()) return activation(at::mkldnn_convolution(x, weight, bias, no_padding, strides, dilations, groups));
  return activation(torch::conv2d(x, weight, bias, strides, no_padding, dilations, groups));
}

// Returns `conv` followed by `norm` as one convolution: with s = gamma / sqrt(variance + epsilon),
// the weight of output channel o becomes weight[o] * s[o] and the bias (bias[o] - mean[o]) * s[o]
// + beta[o]. Computed in double, then rounded to float once.
Convolution FoldBatchNorm(const Convolution& conv, const BatchNorm& norm) {
  const torch::Tensor variance = norm.variance.to(torch::kFloat64);
  torch::Tensor scale = torch::rsqrt(variance + norm.epsilon);
  if (norm.gamma) scale = scale * norm.gamma->to(torch::kFloat64);
  torch::Tensor bias = conv.bias ? conv.bias->to(torch::kFloat64) : torch::zeros_like(variance);
  bias = (bias - norm.mean.to(torch::kFloat64)) * scale;
  if (norm.beta) bias = bias + norm.beta->to(torch::kFloat64);

  Convolution folded = conv;
  folded.weight = (conv.weight.to(torch::kFloat64) * scale.reshape({-1, 1, 1, 1})).to(torch::kFloat32).contiguous();
  folded.bias = bias.to(torch::kFloat32);
  return folded;
}

Forward ConvolutionForward(std::shared_ptr<const Convolution> conv) {
  return [conv = std::move(conv)](const std::vector<torch::Tensor>& in) { return conv->Run(in[0]); };
}

Result<BatchNorm> BuildBatchNormalization(const std::string& name, const json& config, WeightMap& weights) {
  const json& axis = config.at("axis");
  const int64_t axis_value = axis.is_array() ? axis.at(0).get<int64_t>() : axis.get<int64_t>();
  if (axis_value != -1 && axis_value != 3) {
    return LayerError(StatusCode::kUnsupported, name,
                      "axis " + std::to_string(axis_value) + " is not supported, only the channel axis (-1 or 3)");
  }
  BatchNorm norm;
  norm.epsilon = config.at("epsilon").get<double>();
  Result<torch::Tensor> mean = TakeWeight(weights, name, "moving_mean");
  if (!mean.ok()) return mean.status();
  Result<torch::Tensor> variance = TakeWeight(weights, name, "moving_variance");
  if (!variance.ok()) return variance.status();
  const int64_t channels = mean->size(0);
  TESSERA_RETURN_IF_ERROR(CheckShape(name, "moving_variance", *variance, {channels}));
  norm.mean = *mean;
  norm.variance = *variance;

  // center = false drops beta and scale = false drops gamma; batch_norm then uses 0 and 1.
  if (config.value("scale", true)) {
    Result<torch::Tensor> g = TakeWeight(weights, name, "gamma");
    if (!g.ok()) return g.status();
    TESSERA_RETURN_IF_ERROR(CheckShape(name, "gamma", *g, {channels}));
    norm.gamma = *g;
  }
  if (config.value("center", true)) {
    Result<torch::Tensor> b = TakeWeight(weights, name, "beta");
    if (!b.ok()) return b.status();
    TESSERA_RETURN_IF_ERROR(CheckShape(name, "beta", *b, {channels}));
    norm.beta = *b;
  }
  return norm;
}

// Keras ReLU: max_value when x >= max_value, x when threshold <= x, else negative_slope * (x - threshold).
Forward BuildRelu(const json& config) {
  const std::optional<double> max_value =
      config.contains("max_value") && !config.at("max_value").is_null() ? std::optional<double>(config.at("max_value").get<double>())
                                                                         : std::nullopt;
  const double slope = config.value("negative_slope", 0.0);
  const double threshold = config.value("threshold", 0.0);
  return [=](const std::vector<torch::Tensor>& in) {
    torch::Tensor y;
    if (slope == 0.0 && threshold == 0.0) {
      y = torch::relu(in[0]);
    } else {
      y = torch::where(in[0] >= threshold, in[0], (in[0] - threshold) * slope);
    }
    return max_value ? torch::clamp_max(y, *max_value) : y;
  };
}

Result<Forward> BuildZeroPadding(const std::string& name, const json& config) {
  TESSERA_RETURN_IF_ERROR(CheckChannelsLast(name, config));
  // padding is an int, [rows, columns] or [[top, bottom], [left, right]].
  const json& padding = config.at("padding");
  int64_t top, bottom, left, right;
  if (padding.is_number_integer()) {
    top = bottom = left = right = padding.get<int64_t>();
  } else if (padding.at(0).is_number_integer()) {
    top = bottom = padding.at(0).get<int64_t>();
    left = right = padding.at(1).get<int64_t>();
  } else {
    top = padding.at(0).at(0).get<int64_t>();
    bottom = padding.at(0).at(1).get<int64_t>();
    left = padding.at(1).at(0).get<int64_t>();
    right = padding.at(1).at(1).get<int64_t>();
  }
  return Forward([=](const std::vector<torch::Tensor>& in) {
    return torch::constant_pad_nd(in[0], {left, right, top, bottom}, 0.0);
  });
}

Result<Forward> BuildAveragePooling(const std::string& name, const json& config) {
  TESSERA_RETURN_IF_ERROR(CheckChannelsLast(name, config));
  const std::string padding = config.at("padding").get<std::string>();
  if (padding != "valid") {
    // TensorFlow's "same" pooling averages over the pixels inside the image only, with the
    // asymmetric padding of PadSame. No model here needs it, so it is rejected.
    return LayerError(StatusCode::kUnsupported, name, "padding '" + padding + "' is not supported, only valid");
  }
  const auto pool = Pair(config, "pool_size");
  const auto stride = config.contains("strides") && !config.at("strides").is_null() ? Pair(config, "strides") : pool;
  return Forward([=](const std::vector<torch::Tensor>& in) {
    return torch::avg_pool2d(in[0], {pool[0], pool[1]}, {stride[0], stride[1]});
  });
}

Result<Forward> BuildDense(const std::string& name, const json& config, WeightMap& weights) {
  Result<Activation> activation = MakeActivation(name, config.value("activation", "linear"));
  if (!activation.ok()) return activation.status();
  Result<torch::Tensor> kernel = TakeWeight(weights, name, "kernel");
  if (!kernel.ok()) return kernel.status();
  const int64_t units = config.at("units").get<int64_t>();
  if (kernel->dim() != 2) {
    return LayerError(StatusCode::kCorruption, name, "kernel has shape " + c10::str(kernel->sizes()) + ", expected (inputs, units)");
  }
  TESSERA_RETURN_IF_ERROR(CheckShape(name, "kernel", *kernel, {kernel->size(0), units}));
  const torch::Tensor weight = kernel->t().contiguous();  // (in, units) -> (units, in), as linear expects
  c10::optional<torch::Tensor> bias;
  if (config.value("use_bias", true)) {
    Result<torch::Tensor> b = TakeWeight(weights, name, "bias");
    if (!b.ok()) return b.status();
    TESSERA_RETURN_IF_ERROR(CheckShape(name, "bias", *b, {units}));
    bias = *b;
  }
  return Forward([=, activation = *activation](const std::vector<torch::Tensor>& in) {
    TORCH_CHECK(in[0].dim() == 2, "Dense input must be (batch, features), got ", in[0].sizes(), ": add a Flatten layer");
    return activation(torch::linear(in[0], weight, bias));
  });
}

// Returns the forward function of the layer types without weights to fold.
Result<Forward> BuildForward(const std::string& name, const std::string& type, const json& config, WeightMap& weights) {
  if (type == "InputLayer" || type == "Dropout") {
    return Forward([](const std::vector<torch::Tensor>& in) { return in[0]; });
  }
  if (type == "ReLU") return BuildRelu(config);
  if (type == "ZeroPadding2D") return BuildZeroPadding(name, config);
  if (type == "AveragePooling2D") return BuildAveragePooling(name, config);
  if (type == "Dense") return BuildDense(name, config, weights);
  if (type == "Activation") {
    Result<Activation> activation = MakeActivation(name, config.at("activation").get<std::string>());
    if (!activation.ok()) return activation.status();
    return Forward([activation = *activation](const std::vector<torch::Tensor>& in) { return activation(in[0]); });
  }
  if (type == "Add") {
    return Forward([](const std::vector<torch::Tensor>& in) {
      torch::Tensor sum = in[0];
      for (size_t i = 1; i < in.size(); ++i) sum = sum + in[i];
      return sum;
    });
  }
  if (type == "GlobalAveragePooling2D") {
    TESSERA_RETURN_IF_ERROR(CheckChannelsLast(name, config));
    if (config.value("keepdims", false)) {
      return LayerError(StatusCode::kUnsupported, name, "keepdims = true is not supported");
    }
    return Forward([](const std::vector<torch::Tensor>& in) { return in[0].mean({2, 3}); });
  }
  if (type == "Flatten") {
    TESSERA_RETURN_IF_ERROR(CheckChannelsLast(name, config));
    // Keras flattens (height, width, channel); NCHW is permuted back to NHWC first.
    return Forward([](const std::vector<torch::Tensor>& in) {
      return in[0].dim() == 4 ? in[0].permute({0, 2, 3, 1}).flatten(1) : in[0].flatten(1);
    });
  }
  return LayerError(StatusCode::kUnsupported, name,
                    "layer type '" + type +
                        "' is not supported; the interpreter runs InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, "
                        "BatchNormalization, ReLU, Activation, Add, AveragePooling2D, GlobalAveragePooling2D, Flatten, "
                        "Dense and Dropout");
}

// Sets layer.forward, and layer.convolution or layer.batch_norm for those types.
Status BuildLayer(Layer& layer, const json& config, WeightMap& weights) {
  const std::string& type = layer.type;
  if (type == "Conv2D" || type == "DepthwiseConv2D") {
    Result<Convolution> conv = BuildConvolution(layer.name, config, weights, /*depthwise=*/type == "DepthwiseConv2D");
    if (!conv.ok()) return conv.status();
    layer.convolution = std::make_shared<const Convolution>(std::move(*conv));
    layer.forward = ConvolutionForward(layer.convolution);
    return Status::Ok();
  }
  if (type == "BatchNormalization") {
    Result<BatchNorm> norm = BuildBatchNormalization(layer.name, config, weights);
    if (!norm.ok()) return norm.status();
    layer.batch_norm = std::make_shared<const BatchNorm>(std::move(*norm));
    layer.forward = [norm = layer.batch_norm](const std::vector<torch::Tensor>& in) {
      return torch::batch_norm(in[0], norm->gamma, norm->beta, norm->mean, norm->variance, /*training=*/false,
                               /*momentum=*/0.0, norm->epsilon, /*cudnn_enabled=*/false);
    };
    return Status::Ok();
  }
  Result<Forward> forward = BuildForward(layer.name, type, config, weights);
  if (!forward.ok()) return forward.status();
  layer.forward = std::move(*forward);
  return Status::Ok();
}

// Reads `dir`/weights.bin into tensors named by model.json's weights manifest.
Result<WeightMap> ReadWeights(const fs::path& dir, const json& manifest) {
  struct Spec {
    std::string name;
    std::vector<int64_t> shape;
    int64_t count;
  };
  std::vector<Spec> specs;
  int64_t total = 0;
  for (const json& group : manifest) {
    for (const json& weight : group.at("weights")) {
      Spec spec{weight.at("name").get<std::string>(), weight.at("shape").get<std::vector<int64_t>>(), 1};
      const std::string dtype = weight.value("dtype", "float32");
      if (dtype != "float32" || weight.contains("quantization")) {
        return Status::Unsupported("model.json: weight " + spec.name + " is " + dtype +
                                   (weight.contains("quantization") ? " quantized" : "") +
                                   ", but weights.bin must hold plain float32: " + kSetupHint);
      }
      for (int64_t side : spec.shape) spec.count *= side;
      total += spec.count;
      specs.push_back(std::move(spec));
    }
  }

  const fs::path path = dir / "weights.bin";
  std::error_code error;
  const uintmax_t size = fs::file_size(path, error);
  if (error) return Status::NotFound(path.string() + " cannot be read (" + error.message() + "): " + kSetupHint);
  if (size != static_cast<uintmax_t>(total) * sizeof(float)) {
    return Status::Corruption(path.string() + " has " + std::to_string(size) + " bytes, but model.json describes " +
                              std::to_string(total) + " float32 weights (" + std::to_string(total * 4) +
                              " bytes): " + kSetupHint);
  }
  std::vector<float> values(static_cast<size_t>(total));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(size))) {
    return Status::IoError("reading " + path.string() + " failed: " + kSetupHint);
  }

  WeightMap weights;
  int64_t offset = 0;
  for (const Spec& spec : specs) {
    weights[spec.name] = torch::from_blob(values.data() + offset, spec.shape, torch::kFloat32).clone();
    offset += spec.count;
  }
  return weights;
}

Result<json> ReadModelJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path.string() + " not found: " + kSetupHint);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    return Status::Corruption(path.string() + " is not valid JSON (" + e.what() + "): " + kSetupHint);
  }
}

}  // namespace

struct KerasModel::Impl {
  std::vector<Layer> layers;  // in topological order: every layer after the layers it reads
  std::map<std::string, size_t, std::less<>> index_by_name;
  int height = 0, width = 0, channels = 0;
  size_t input_layer = 0;

  Status BuildLayers(const json& model_config, WeightMap& weights);
  Status SortTopologically();
  void FoldBatchNorms();
  Status ComputeOutputShapes();
  std::vector<torch::Tensor> Execute(const torch::Tensor& input, const std::vector<size_t>& outputs) const;
};

Status KerasModel::Impl::BuildLayers(const json& model_config, WeightMap& weights) {
  const json& config = model_config.at("config");
  for (const json& entry : config.at("layers")) {
    Layer layer;
    layer.name = entry.at("name").get<std::string>();
    layer.type = entry.at("class_name").get<std::string>();
    try {
      TESSERA_RETURN_IF_ERROR(BuildLayer(layer, entry.at("config"), weights));
    } catch (const json::exception& e) {
      return LayerError(StatusCode::kCorruption, layer.name, std::string("invalid config in model.json: ") + e.what());
    }
    if (layer.type == "InputLayer") {
      const auto shape = entry.at("config").at("batch_input_shape");
      height = shape.at(1).get<int>();
      width = shape.at(2).get<int>();
      channels = shape.at(3).get<int>();
      input_layer = layers.size();
    }
    if (!index_by_name.emplace(layer.name, layers.size()).second) {
      return LayerError(StatusCode::kCorruption, layer.name, "the name appears twice in model.json");
    }
    layers.push_back(std::move(layer));
  }

  // Resolve each inbound node [layer name, node index, tensor index, kwargs] to a layer index.
  size_t position = 0;
  for (const json& entry : config.at("layers")) {
    Layer& layer = layers[position++];
    const json& nodes = entry.at("inbound_nodes");
    if (nodes.size() > 1) {
      return LayerError(StatusCode::kUnsupported, layer.name, "the layer is called more than once, which is not supported");
    }
    if (nodes.empty()) continue;
    for (const json& inbound : nodes.at(0)) {
      const std::string source = inbound.at(0).get<std::string>();
      const auto found = index_by_name.find(source);
      if (found == index_by_name.end()) {
        return LayerError(StatusCode::kCorruption, layer.name, "it reads layer '" + source + "', which model.json lacks");
      }
      if (inbound.at(1).get<int>() != 0 || inbound.at(2).get<int>() != 0) {
        return LayerError(StatusCode::kUnsupported, layer.name, "it reads a second call or output of '" + source + "'");
      }
      layer.inputs.push_back(found->second);
    }
  }
  if (height <= 0 || width <= 0 || channels <= 0) {
    return Status::Corruption("model.json has no InputLayer with a batch_input_shape (batch, height, width, channels)");
  }
  return Status::Ok();
}

// Orders the layers so each comes after its inputs (Kahn's algorithm, keeping model.json's order
// among ready layers), and rejects a cycle.
Status KerasModel::Impl::SortTopologically() {
  const size_t n = layers.size();
  std::vector<size_t> waiting(n, 0);
  std::vector<std::vector<size_t>> readers(n);
  for (size_t i = 0; i < n; ++i) {
    waiting[i] = layers[i].inputs.size();
    for (size_t source : layers[i].inputs) readers[source].push_back(i);
  }
  std::vector<size_t> order;
  std::vector<bool> done(n, false);
  while (order.size() < n) {
    bool progressed = false;
    for (size_t i = 0; i < n; ++i) {
      if (done[i] || waiting[i] != 0) continue;
      done[i] = true;
      progressed = true;
      order.push_back(i);
      for (size_t reader : readers[i]) --waiting[reader];
    }
    if (!progressed) return Status::Corruption("model.json: the layers' inbound nodes form a cycle");
  }

  std::vector<size_t> new_index(n);
  for (size_t k = 0; k < n; ++k) new_index[order[k]] = k;
  std::vector<Layer> sorted;
  sorted.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    Layer layer = std::move(layers[order[k]]);
    for (size_t& source : layer.inputs) source = new_index[source];
    sorted.push_back(std::move(layer));
  }
  layers = std::move(sorted);
  for (size_t k = 0; k < n; ++k) index_by_name[layers[k].name] = k;
  input_layer = new_index[input_layer];
  return Status::Ok();
}

// Replaces each BatchNormalization that directly follows a convolution without activation, whose
// output nothing else reads, by the convolution with the batch norm folded into its weights. The
// batch norm layer then reads the convolution's input. The convolution layer keeps its own
// weights, so Run can still return its output when asked for it.
void KerasModel::Impl::FoldBatchNorms() {
  std::vector<int> readers(layers.size(), 0);
  for (const Layer& layer : layers) {
    for (size_t source : layer.inputs) ++readers[source];
  }
  for (Layer& layer : layers) {
    if (!layer.batch_norm || layer.inputs.size() != 1) continue;
    const Layer& source = layers[layer.inputs[0]];
    if (!source.convolution || source.convolution->activation_name != "linear" || readers[layer.inputs[0]] != 1) continue;
    layer.forward = ConvolutionForward(
        std::make_shared<const Convolution>(FoldBatchNorm(*source.convolution, *layer.batch_norm)));
    layer.inputs = source.inputs;
  }
}

// Runs one image of zeros through every layer, recording each output shape. A weight that does
// not fit its layer's input fails here with the layer's name.
Status KerasModel::Impl::ComputeOutputShapes() {
  torch::InferenceMode guard;
  std::vector<torch::Tensor> values(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<torch::Tensor> inputs;
    for (size_t source : layers[i].inputs) inputs.push_back(values[source]);
    if (i == input_layer) inputs.push_back(torch::zeros({1, channels, height, width}));
    if (inputs.empty()) return LayerError(StatusCode::kCorruption, layers[i].name, "the layer has no inputs");
    try {
      values[i] = layers[i].forward(inputs);
    } catch (const c10::Error& e) {
      return LayerError(StatusCode::kCorruption, layers[i].name,
                        std::string("its weights do not fit its input: ") + e.what_without_backtrace() + ": " + kSetupHint);
    }
    const auto sizes = values[i].sizes();
    layers[i].output_shape.assign(sizes.begin() + 1, sizes.end());
  }
  return Status::Ok();
}

// Runs the layers that `outputs` depend on, freeing each intermediate result after its last reader.
std::vector<torch::Tensor> KerasModel::Impl::Execute(const torch::Tensor& input, const std::vector<size_t>& outputs) const {
  const size_t n = layers.size();
  std::vector<bool> needed(n, false);
  std::vector<int> readers_left(n, 0);
  for (size_t output : outputs) needed[output] = true;
  for (size_t i = n; i-- > 0;) {  // reverse topological order: readers before their sources
    if (!needed[i]) continue;
    for (size_t source : layers[i].inputs) {
      needed[source] = true;
      ++readers_left[source];
    }
  }
  for (size_t output : outputs) ++readers_left[output];  // keep outputs until the end

  std::vector<torch::Tensor> values(n);
  for (size_t i = 0; i < n; ++i) {
    if (!needed[i]) continue;
    std::vector<torch::Tensor> inputs;
    for (size_t source : layers[i].inputs) {
      inputs.push_back(values[source]);
      if (--readers_left[source] == 0) values[source] = torch::Tensor();
    }
    if (i == input_layer) inputs.push_back(input);
    try {
      values[i] = layers[i].forward(inputs);
    } catch (const c10::Error& e) {
      throw std::runtime_error("layer '" + layers[i].name + "': " + e.what_without_backtrace());
    }
  }
  std::vector<torch::Tensor> results;
  for (size_t output : outputs) results.push_back(values[output]);
  return results;
}

KerasModel::KerasModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KerasModel::~KerasModel() = default;

int KerasModel::input_height() const { return impl_->height; }
int KerasModel::input_width() const { return impl_->width; }
int KerasModel::input_channels() const { return impl_->channels; }

Result<std::unique_ptr<KerasModel>> KerasModel::Load(const fs::path& dir, const KerasModelOptions& options) {
  if (options.num_threads < 1) {
    return Status::InvalidArgument("num_threads " + std::to_string(options.num_threads) + " is below 1: pass 1 or more");
  }
  const fs::path model_path = dir / "model.json";
  Result<json> model = ReadModelJson(model_path);
  if (!model.ok()) return model.status();

  auto impl = std::make_unique<Impl>();
  try {
    if (!model->contains("modelTopology") || !model->contains("weightsManifest")) {
      return Status::Corruption(model_path.string() + " has no modelTopology or weightsManifest: " + kSetupHint);
    }
    Result<WeightMap> weights = ReadWeights(dir, model->at("weightsManifest"));
    if (!weights.ok()) return weights.status();
    const json& topology = model->at("modelTopology");
    const json& model_config = topology.contains("model_config") ? topology.at("model_config") : topology;
    const std::string model_class = model_config.at("class_name").get<std::string>();
    if (model_class != "Model" && model_class != "Functional") {
      return Status::Unsupported(model_path.string() + ": model class '" + model_class +
                                 "' is not supported, only a functional Model");
    }
    TESSERA_RETURN_IF_ERROR(impl->BuildLayers(model_config, *weights));
  } catch (const json::exception& e) {
    return Status::Corruption(model_path.string() + " does not describe a Keras model (" + e.what() + "): " + kSetupHint);
  }
  TESSERA_RETURN_IF_ERROR(impl->SortTopologically());
  impl->FoldBatchNorms();

  // libtorch keeps one intra-op thread count per process; Run applies it to each calling thread.
  at::set_num_threads(options.num_threads);
  TESSERA_RETURN_IF_ERROR(impl->ComputeOutputShapes());
  return std::unique_ptr<KerasModel>(new KerasModel(std::move(impl)));
}

Result<size_t> KerasModel::OutputWidth(const std::string& name) const {
  const auto found = impl_->index_by_name.find(name);
  if (found == impl_->index_by_name.end()) return Status::NotFound("the model has no layer named '" + name + "'");
  size_t width = 1;
  for (int64_t side : impl_->layers[found->second].output_shape) width *= static_cast<size_t>(side);
  return width;
}

Result<std::vector<std::vector<float>>> KerasModel::Run(const float* nhwc, size_t batch,
                                                        std::span<const std::string> outputs) const {
  if (batch == 0) return Status::InvalidArgument("batch is 0: pass at least one image");
  std::vector<size_t> indices;
  for (const std::string& name : outputs) {
    const auto found = impl_->index_by_name.find(name);
    if (found == impl_->index_by_name.end()) return Status::NotFound("the model has no layer named '" + name + "'");
    indices.push_back(found->second);
  }

  // libtorch applies its process-wide thread count to a thread on the thread's first parallel
  // operation, but oneDNN reads OpenMP's per-thread setting earlier, so apply it now.
  at::internal::lazy_init_num_threads();
  // InferenceMode disables autograd bookkeeping for this thread only, so concurrent calls do not
  // share any mutable state: the weights are only read.
  torch::InferenceMode guard;
  std::vector<torch::Tensor> results;
  try {
    // An NCHW view of the caller's NHWC buffer, without a copy: NCHW sizes with channels-last
    // strides. oneDNN convolutions keep that memory format, which measured faster than NCHW.
    // The buffer outlives the call, and no layer writes into its input.
    const torch::Tensor input =
        torch::from_blob(const_cast<float*>(nhwc),
                         {static_cast<int64_t>(batch), impl_->height, impl_->width, impl_->channels}, torch::kFloat32)
            .permute({0, 3, 1, 2});
    results = impl_->Execute(input, indices);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("running the model failed: ") + e.what());
  }

  std::vector<std::vector<float>> flat;
  for (torch::Tensor& result : results) {
    if (result.dim() == 4) result = result.permute({0, 2, 3, 1});  // back to Keras's channels_last order
    result = result.contiguous();
    flat.emplace_back(result.data_ptr<float>(), result.data_ptr<float>() + result.numel());
  }
  return flat;
}

}  // namespace tessera
