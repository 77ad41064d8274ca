#include "encode/image_decoder.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <string>

#include "encode/gif_decoder.h"
#include "encode/image_header.h"

namespace tessera {
namespace {

// OpenCV 4.6 rejects a side longer than 2^20 pixels by default (OPENCV_IO_MAX_IMAGE_WIDTH and
// OPENCV_IO_MAX_IMAGE_HEIGHT in modules/imgcodecs/src/loadsave.cpp), so no longer side is a photo.
constexpr uint64_t kMaxSide = uint64_t{1} << 20;

// Rejects a zero or absurd side as invalid and a pixel count above the limit as too large.
Status CheckImageSize(uint64_t width, uint64_t height, const ImageLimits& limits) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide) {
    return Status::InvalidArgument("the image declares a size of " + size + " pixels, which is invalid (each side "
                                   "must be 1 to " + std::to_string(kMaxSide) + "): the file is damaged, "
                                   "send the photo again");
  }
  if (width * height > limits.max_pixels) {
    return Status::TooLarge("the image is " + size + " pixels, above the limit of " +
                            std::to_string(limits.max_pixels) + " pixels: send a smaller photo");
  }
  return Status::Ok();
}

Status UndecodableStatus(ImageFormat format) {
  if (format == ImageFormat::kUnknown) {
    return Status::Unsupported("the image is not in a format this server decodes (JPEG, PNG, WebP, GIF, BMP, "
                               "TIFF): convert it to JPEG or PNG");
  }
  return Status::Unsupported(std::string("the ") + ImageFormatName(format) +
                             " image could not be decoded because the file is damaged or truncated: "
                             "send the photo again or convert it to JPEG or PNG");
}

// Decodes with OpenCV. JPEG is read with IMREAD_COLOR because OpenCV 4.6 applies the EXIF
// Orientation tag for every flag except IMREAD_UNCHANGED, and a JPEG has no alpha or 16-bit data
// to keep. Other formats are read with IMREAD_UNCHANGED, which keeps alpha so it can be
// composited onto white, and 16-bit depth so it can be scaled down exactly.
// NOTE: the EXIF orientation of a PNG, WebP or TIFF is therefore not applied.
//
// NOTE: OpenCV's own guard, OPENCV_IO_MAX_IMAGE_PIXELS, is read once while libopencv_imgcodecs
// loads (a namespace-scope static in loadsave.cpp), so calling setenv from here has no effect.
// It can only be set in the server's environment before the process starts.
Result<cv::Mat> DecodeWithOpenCv(std::string_view bytes, ImageFormat format) {
  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  const int flags = format == ImageFormat::kJpeg ? cv::IMREAD_COLOR : cv::IMREAD_UNCHANGED;
  cv::Mat image;
  try {
    image = cv::imdecode(encoded, flags);
  } catch (const cv::Exception& e) {
    return Status::Unsupported(std::string("the image could not be decoded: ") + e.what());
  }
  if (image.empty()) return UndecodableStatus(format);
  return image;
}

// Converts any depth and channel count OpenCV returns to 8-bit BGR, compositing alpha onto white.
cv::Mat ToBgr8(cv::Mat image) {
  if (image.depth() == CV_16U) image.convertTo(image, CV_8U, 1.0 / 257.0);
  if (image.depth() != CV_8U) image.convertTo(image, CV_8U);
  if (image.channels() == 1) {
    cv::Mat bgr;
    cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    return bgr;
  }
  if (image.channels() != 4) return image;

  std::vector<cv::Mat> planes;
  cv::split(image, planes);
  cv::Mat alpha;
  planes[3].convertTo(alpha, CV_32F, 1.0 / 255.0);
  cv::Mat white_weight = 1.0 - alpha;
  std::vector<cv::Mat> out(3);
  for (int c = 0; c < 3; ++c) {
    cv::Mat channel;
    planes[c].convertTo(channel, CV_32F);
    channel = channel.mul(alpha) + white_weight * 255.0;
    channel.convertTo(out[c], CV_8U);
  }
  cv::Mat bgr;
  cv::merge(out, bgr);
  return bgr;
}

}  // namespace

Result<DecodedImage> DecodeImage(std::string_view bytes, const ImageLimits& limits) {
  if (bytes.empty()) return Status::InvalidArgument("the image is empty: send the photo's bytes as the body");
  if (bytes.size() > limits.max_bytes) {
    return Status::TooLarge("the image is " + std::to_string(bytes.size()) + " bytes, above the limit of " +
                            std::to_string(limits.max_bytes) + ": send a smaller photo");
  }

  // Formats no decoder here reads get a message naming them, since phones send them by default.
  const ImageFormat format = DetectImageFormat(bytes);
  if (format == ImageFormat::kHeic) return Status::Unsupported("HEIC photos are not supported: convert to JPEG or PNG");
  if (format == ImageFormat::kAvif) return Status::Unsupported("AVIF photos are not supported: convert to JPEG or PNG");

  // Check the size the header declares before any decoder allocates the pixels.
  // NOTE: formats DetectImageFormat does not name (PPM, JPEG 2000, OpenEXR, BigTIFF) go straight
  // to OpenCV, which checks only its own default limit of 2^30 pixels before allocating. Their
  // decoded size is checked against `limits` below, after the allocation.
  if (format != ImageFormat::kUnknown) {
    Result<ImageSize> declared = ReadImageSize(bytes, format);
    if (!declared.ok()) return declared.status();
    Status within_limits = CheckImageSize(declared->width, declared->height, limits);
    if (!within_limits.ok()) return within_limits;
  }

  if (format == ImageFormat::kGif) return DecodeGifFirstFrame(bytes);

  Result<cv::Mat> image = DecodeWithOpenCv(bytes, format);
  if (!image.ok()) return image.status();
  Status within_limits = CheckImageSize(image->cols, image->rows, limits);
  if (!within_limits.ok()) return within_limits;

  cv::Mat bgr = ToBgr8(std::move(*image));
  if (!bgr.isContinuous()) bgr = bgr.clone();
  DecodedImage decoded;
  decoded.width = bgr.cols;
  decoded.height = bgr.rows;
  decoded.bgr.assign(bgr.data, bgr.data + bgr.total() * bgr.elemSize());
  return decoded;
}

}  // namespace tessera
