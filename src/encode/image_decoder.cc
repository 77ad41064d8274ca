#include "encode/image_decoder.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace tessera {

Result<DecodedImage> DecodeImage(std::string_view bytes, const ImageLimits& limits) {
  if (bytes.empty()) return Status::InvalidArgument("the image is empty: send the photo's bytes as the body");
  if (bytes.size() > limits.max_bytes) {
    return Status::TooLarge("the image is " + std::to_string(bytes.size()) + " bytes, above the limit of " +
                            std::to_string(limits.max_bytes) + ": send a smaller photo");
  }

  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat image;
  try {
    // IMREAD_UNCHANGED keeps alpha so it can be composited onto white, and 16-bit depth so it
    // can be scaled down exactly.
    // NOTE: IMREAD_UNCHANGED does not apply EXIF orientation, so a rotated phone photo is
    // encoded as stored.
    image = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return Status::Unsupported(std::string("the image could not be decoded: ") + e.what());
  }
  if (image.empty()) {
    return Status::Unsupported("the image is not in a format this server decodes (JPEG, PNG, WebP, BMP, TIFF): "
                               "convert it to JPEG or PNG");
  }
  if (static_cast<uint64_t>(image.cols) * static_cast<uint64_t>(image.rows) > limits.max_pixels) {
    return Status::TooLarge("the image is " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                            " pixels, above the limit of " + std::to_string(limits.max_pixels) + " pixels");
  }

  // Bring every layout to 8-bit BGR.
  if (image.depth() == CV_16U) image.convertTo(image, CV_8U, 1.0 / 257.0);
  if (image.depth() != CV_8U) image.convertTo(image, CV_8U);
  cv::Mat bgr;
  if (image.channels() == 1) {
    cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
  } else if (image.channels() == 4) {
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
    cv::merge(out, bgr);
  } else {
    bgr = image;
  }

  DecodedImage decoded;
  decoded.width = bgr.cols;
  decoded.height = bgr.rows;
  if (!bgr.isContinuous()) bgr = bgr.clone();
  decoded.bgr.assign(bgr.data, bgr.data + bgr.total() * bgr.elemSize());
  return decoded;
}

}  // namespace tessera
