// Writes the seed corpus of every fuzz target into OUT_DIR/<target>/: a few bytes of JSON per
// parser, encoded search requests, and tiny photos and recordings made here with OpenCV, giflib
// and libsndfile, so the seeds need no data files.
//
// Usage: make_seed_corpus OUT_DIR
#include <gif_lib.h>
#include <sndfile.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

bool WriteSeed(const fs::path& folder, const std::string& name, const std::string& bytes) {
  fs::create_directories(folder);
  std::ofstream out(folder / name, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "could not write %s\n", (folder / name).c_str());
    return false;
  }
  return true;
}

const char* const kProductSeeds[] = {
    R"({"id": "sku-1", "title": "Roadster Men Navy Blue Shirt", "description": "Slim fit", "brand": "Roadster", "category_path": ["Apparel", "Topwear", "Shirts"], "price": 899, "currency": "INR", "attributes": {"gender": "Men", "colour": "Navy Blue", "year": 2012}, "images": ["photos/sku-1.jpg", "/srv/a/../b.png"], "availability": "in_stock"})",
    "{\"op\": \"delete\", \"id\": \"sku-2\"}\n{\"id\": 15970, \"title\": \"耐克 男士 衬衫\", \"price\": 0.5, \"currency\": \"CNY\"}\n\n",
    R"({"op": "upsert", "id": "a:b.c_d-e", "title": "Tee", "availability": "preorder", "price": null, "brand": null})",
};

const char* const kEventSeeds[] = {
    R"({"user_id": "shopper-1", "type": "click", "product_id": "15970", "timestamp": 1767225000000, "position": 3, "event_id": "e-1"})",
    R"({"events": [{"user_id": "u@x", "type": "search", "query": "navy shirt", "query_id": "q1", "session_id": "s1"}, {"user_id": "u@x", "type": "add_to_cart", "product_id": "9"}]})",
    R"({"user_id": "u", "type": "purchase", "product_id": "p", "timestamp": 5})",
};

// The byte layout search_request_fuzzer's FuzzedDataProvider reads: strings from the front, each
// ended by a backslash and another character, and numbers from the back.
std::string SearchSeed(const std::string& text, const std::string& category, const std::string& gender,
                       uint64_t page, uint64_t per_page, bool prefix) {
  std::string front;
  for (const std::string& field : {category, gender, std::string()}) front += field + "\\;";
  front += text;
  std::string back;
  back += '\0';  // no `missing` fields
  back += '\0';  // no price_max
  back += '\0';  // no price_min
  // ConsumeIntegral reads the last byte as the most significant, so in memory the number is
  // little-endian.
  for (uint64_t value : {per_page, page}) {
    for (int i = 0; i < 8; ++i) back += static_cast<char>((value >> (8 * i)) & 0xFF);
  }
  back += static_cast<char>(prefix ? 1 : 0);
  return front + back;
}

std::string EncodeImage(const std::string& extension, const cv::Mat& image) {
  std::vector<uint8_t> bytes;
  if (!cv::imencode(extension, image, bytes)) return "";
  return std::string(bytes.begin(), bytes.end());
}

int WriteToString(GifFileType* gif, const GifByteType* bytes, int length) {
  static_cast<std::string*>(gif->UserData)->append(reinterpret_cast<const char*>(bytes), length);
  return length;
}

// A 4x3 GIF89a with a 4-colour palette, a transparent index and an interlaced frame.
std::string EncodeGif() {
  std::string out;
  int error = 0;
  GifFileType* gif = EGifOpen(&out, WriteToString, &error);
  if (gif == nullptr) return "";
  GifColorType colours[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  ColorMapObject* palette = GifMakeMapObject(4, colours);
  EGifSetGifVersion(gif, true);
  bool ok = EGifPutScreenDesc(gif, 4, 3, 2, 0, palette) == GIF_OK;
  GraphicsControlBlock control{DISPOSAL_UNSPECIFIED, false, 0, 3};
  GifByteType extension[4];
  const size_t extension_length = EGifGCBToExtension(&control, extension);
  ok = ok && EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(extension_length), extension) == GIF_OK;
  ok = ok && EGifPutImageDesc(gif, 0, 0, 4, 3, true, nullptr) == GIF_OK;
  GifPixelType row[4] = {0, 1, 2, 3};
  for (int y = 0; y < 3 && ok; ++y) ok = EGifPutLine(gif, row, 4) == GIF_OK;
  GifFreeMapObject(palette);
  EGifCloseFile(gif, &error);
  return ok ? out : "";
}

struct MemoryFile {
  std::string bytes;
  sf_count_t position = 0;
};

sf_count_t Length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size()); }
sf_count_t Tell(void* user) { return static_cast<MemoryFile*>(user)->position; }
sf_count_t Seek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  sf_count_t base = 0;
  if (whence == SEEK_CUR) base = file->position;
  if (whence == SEEK_END) base = Length(user);
  file->position = base + offset;
  return file->position;
}
sf_count_t Read(void* out, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, Length(user) - file->position));
  std::memcpy(out, file->bytes.data() + file->position, static_cast<size_t>(n));
  file->position += n;
  return n;
}
sf_count_t Write(const void* in, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto end = static_cast<size_t>(file->position + count);
  if (file->bytes.size() < end) file->bytes.resize(end);
  std::memcpy(file->bytes.data() + file->position, in, static_cast<size_t>(count));
  file->position += count;
  return count;
}

// 10 ms of a 440 Hz tone in `format`: small seeds keep libFuzzer's input size limit small.
std::string EncodeAudio(int format, int sample_rate, int channels) {
  MemoryFile file;
  SF_VIRTUAL_IO io{Length, Seek, Read, Write, Tell};
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* sound = sf_open_virtual(&io, SFM_WRITE, &info, &file);
  if (sound == nullptr) return "";
  const int frames = sample_rate / 100;
  std::vector<float> samples(static_cast<size_t>(frames) * channels);
  for (int i = 0; i < frames; ++i) {
    for (int c = 0; c < channels; ++c) {
      samples[static_cast<size_t>(i) * channels + c] = 0.5f * static_cast<float>(std::sin(2 * std::numbers::pi * 440 * i / sample_rate));
    }
  }
  sf_writef_float(sound, samples.data(), frames);
  sf_close(sound);
  return file.bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  bool ok = true;

  int n = 0;
  for (const char* seed : kProductSeeds) ok &= WriteSeed(out / "product_json", "seed-" + std::to_string(n++), seed);
  n = 0;
  for (const char* seed : kEventSeeds) ok &= WriteSeed(out / "event_json", "seed-" + std::to_string(n++), seed);

  const fs::path search = out / "search_request";
  ok &= WriteSeed(search, "words", SearchSeed("navy blue men shirts", "", "", 1, 24, false));
  ok &= WriteSeed(search, "filters", SearchSeed("shoes", "Sports Shoes,Jeans", "men", 2, 10, false));
  ok &= WriteSeed(search, "typo-prefix", SearchSeed("shrits xyz-123 jea", "", "", 1, 100, true));
  ok &= WriteSeed(search, "chinese", SearchSeed("耐克藏青色衬衫 t恤", "", "", 1, 24, false));
  ok &= WriteSeed(search, "browse", SearchSeed("", "shirts", "", 3, 5, false));

  const fs::path images = out / "image_decoder";
  cv::Mat bgr(3, 4, CV_8UC3);
  cv::randu(bgr, 0, 255);
  cv::Mat bgra(3, 4, CV_8UC4, cv::Scalar(10, 20, 30, 128));
  cv::Mat gray16(3, 4, CV_16UC1, cv::Scalar(40000));
  for (const auto& [name, bytes] : {std::pair{"tiny.jpg", EncodeImage(".jpg", bgr)},
                                    std::pair{"tiny.png", EncodeImage(".png", bgr)},
                                    std::pair{"alpha.png", EncodeImage(".png", bgra)},
                                    std::pair{"gray16.png", EncodeImage(".png", gray16)},
                                    std::pair{"tiny.bmp", EncodeImage(".bmp", bgr)},
                                    std::pair{"tiny.tiff", EncodeImage(".tiff", bgr)},
                                    std::pair{"tiny.webp", EncodeImage(".webp", bgr)},
                                    std::pair{"tiny.gif", EncodeGif()}}) {
    if (bytes.empty()) {
      std::fprintf(stderr, "could not encode %s\n", name);
      ok = false;
      continue;
    }
    ok &= WriteSeed(images, name, bytes);
  }

  const fs::path audio = out / "audio_decoder";
  for (const auto& [name, format, rate, channels] :
       {std::tuple{"mono16k.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1},
        std::tuple{"stereo44k-float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 2},
        std::tuple{"mono8k.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1},
        std::tuple{"mono22k.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1},
        std::tuple{"mono16k.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 16000, 1},
        std::tuple{"mono16k-ulaw.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 16000, 1}}) {
    const std::string bytes = EncodeAudio(format, rate, channels);
    if (bytes.empty()) {
      std::fprintf(stderr, "could not encode %s: %s\n", name, sf_strerror(nullptr));
      ok = false;
      continue;
    }
    ok &= WriteSeed(audio, name, bytes);
  }
  return ok ? 0 : 1;
}
