#include "encode/audio_decoder.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <ogg/ogg.h>
#include <samplerate.h>
#include <sndfile.h>
#include <vorbis/codec.h>

namespace tessera {
namespace {

// Accepted source sample rates. libsamplerate converts only within a ratio of 256, and below
// 8 kHz (the telephone band) too little of the speech spectrum survives for recognition.
constexpr int kMinSourceSampleRate = 8000;
constexpr int kMaxSourceSampleRate = 384000;

// Frames read per libsndfile call, which bounds the interleaved buffer to 4096 * channels floats.
constexpr sf_count_t kReadChunkFrames = 4096;

// Length of the frames IsSilent judges: 50 ms at 16 kHz.
constexpr size_t kSilenceFrameSamples = kSpeechSampleRate / 20;

// Bytes handed to libogg per call while looking for the Vorbis headers.
constexpr size_t kOggFeedBytes = 64 * 1024;

// Checks the three Vorbis header packets at the start of an Ogg upload before libsndfile opens
// it. libsndfile 1.2.0 with libvorbis 1.3.7 leaks the vorbis_info it allocated (5,784 bytes)
// when these headers fail to parse, and returns no handle to free it. So a damaged upload is
// rejected here, where this code owns libvorbis's state and clears it. An Ogg stream whose
// first packet is not a Vorbis header (Opus, FLAC) is left to libsndfile.
Status CheckOggVorbisHeaders(std::string_view bytes) {
  ogg_sync_state sync;
  ogg_sync_init(&sync);
  ogg_stream_state stream{};
  bool have_stream = false;
  vorbis_info info;
  vorbis_info_init(&info);
  vorbis_comment comment;
  vorbis_comment_init(&comment);

  int headers = 0;  // Vorbis header packets parsed: identification, comment, setup
  bool vorbis = true;
  bool damaged = false;
  size_t fed = 0;
  while (headers < 3 && vorbis && !damaged) {
    ogg_page page;
    const int paged = ogg_sync_pageout(&sync, &page);
    if (paged == 0) {  // needs more bytes
      if (fed == bytes.size()) break;
      const size_t count = std::min(kOggFeedBytes, bytes.size() - fed);
      char* buffer = ogg_sync_buffer(&sync, static_cast<long>(count));
      if (buffer == nullptr) break;
      std::copy_n(bytes.data() + fed, count, buffer);
      ogg_sync_wrote(&sync, static_cast<long>(count));
      fed += count;
      continue;
    }
    if (paged < 0) continue;  // bytes skipped to the next capture pattern
    if (!have_stream) {
      ogg_stream_init(&stream, ogg_page_serialno(&page));
      have_stream = true;
    }
    if (ogg_page_serialno(&page) != stream.serialno) continue;  // another logical stream
    if (ogg_stream_pagein(&stream, &page) != 0) {
      damaged = true;
      break;
    }
    ogg_packet packet;
    while (headers < 3 && ogg_stream_packetout(&stream, &packet) == 1) {
      if (headers == 0 && vorbis_synthesis_idheader(&packet) == 0) {
        vorbis = false;
        break;
      }
      if (vorbis_synthesis_headerin(&info, &comment, &packet) != 0) {
        damaged = true;
        break;
      }
      ++headers;
    }
  }
  vorbis_comment_clear(&comment);
  vorbis_info_clear(&info);
  if (have_stream) ogg_stream_clear(&stream);
  ogg_sync_clear(&sync);

  if (!vorbis || headers == 3) return Status::Ok();
  return Status::Unsupported(fmt::format(
      "the Ogg Vorbis audio could not be decoded because its headers are {} ({} of 3 read from {} "
      "bytes): send the recording again, or as WAV or FLAC",
      damaged ? "damaged" : "incomplete", headers, bytes.size()));
}

// The upload as a read-only file for libsndfile's virtual I/O.
struct MemoryFile {
  std::string_view bytes;
  sf_count_t position = 0;
};

sf_count_t MemoryFileLength(void* user) {
  return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size());
}

sf_count_t MemoryFileSeek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  sf_count_t base = 0;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = file->position; break;
    case SEEK_END: base = size; break;
    default: return -1;
  }
  const sf_count_t target = base + offset;
  if (target < 0 || target > size) return -1;
  file->position = target;
  return target;
}

sf_count_t MemoryFileRead(void* destination, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  const sf_count_t available = size - file->position;
  const sf_count_t n = std::clamp<sf_count_t>(available, 0, std::max<sf_count_t>(count, 0));
  std::copy_n(file->bytes.data() + file->position, n, static_cast<char*>(destination));
  file->position += n;
  return n;
}

sf_count_t MemoryFileWrite(const void*, sf_count_t, void*) { return 0; }  // opened read-only

sf_count_t MemoryFileTell(void* user) { return static_cast<MemoryFile*>(user)->position; }

// Returns the first bytes of `bytes` in hex ("52 49 46 46"), to show what an unknown upload was.
std::string HexPrefix(std::string_view bytes) {
  std::string hex;
  for (const char byte : bytes.substr(0, 8)) {
    if (!hex.empty()) hex += ' ';
    hex += fmt::format("{:02x}", static_cast<unsigned char>(byte));
  }
  return hex;
}

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Reads every frame of `file` and averages its channels. Fails with TooLarge once more than
// `max_frames` frames arrive, which catches a header that understates the length.
Result<std::vector<float>> ReadMono(SNDFILE* file, const SF_INFO& info, sf_count_t max_frames,
                                    const AudioLimits& limits) {
  const int channels = info.channels;
  std::vector<float> interleaved(static_cast<size_t>(kReadChunkFrames * channels));
  std::vector<float> mono;
  mono.reserve(static_cast<size_t>(std::clamp<sf_count_t>(info.frames, 0, max_frames)));

  // Each pass consumes at least one frame or ends the loop, and the frame count is capped.
  while (true) {
    const sf_count_t got = sf_readf_float(file, interleaved.data(), kReadChunkFrames);
    if (got <= 0) break;
    if (static_cast<sf_count_t>(mono.size()) + got > max_frames) {
      return Status::TooLarge(fmt::format(
          "audio is longer than the limit of {:.1f} s (the header understated its length): send "
          "a shorter recording or raise AudioLimits.max_seconds",
          limits.max_seconds));
    }
    for (sf_count_t frame = 0; frame < got; ++frame) {
      const float* first = interleaved.data() + frame * channels;
      float sum = 0;
      for (int c = 0; c < channels; ++c) sum += first[c];
      mono.push_back(sum / static_cast<float>(channels));
    }
  }
  if (sf_error(file) != SF_ERR_NO_ERROR) {
    return Status::InvalidArgument(fmt::format(
        "audio data is corrupt (libsndfile: {}): send the recording again", sf_strerror(file)));
  }
  return mono;
}

// Converts `mono` from `source_rate` to 16 kHz with libsamplerate's medium-quality sinc filter,
// which keeps the passband flat up to the 8 kHz the acoustic model reads.
Result<std::vector<float>> ResampleTo16k(std::vector<float> mono, int source_rate) {
  if (source_rate == kSpeechSampleRate) return mono;

  const double ratio = static_cast<double>(kSpeechSampleRate) / source_rate;
  std::vector<float> out(static_cast<size_t>(std::ceil(mono.size() * ratio)) + 16);
  SRC_DATA data{};
  data.data_in = mono.data();
  data.input_frames = static_cast<long>(mono.size());
  data.data_out = out.data();
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = ratio;
  data.end_of_input = 1;
  if (const int error = src_simple(&data, SRC_SINC_MEDIUM_QUALITY, 1); error != 0) {
    return Status::Internal(fmt::format("resampling from {} Hz to {} Hz failed: {}", source_rate,
                                        kSpeechSampleRate, src_strerror(error)));
  }
  out.resize(static_cast<size_t>(data.output_frames_gen));
  return out;
}

}  // namespace

Result<AudioClip> DecodeAudio(std::string_view bytes, const AudioLimits& limits) {
  if (bytes.empty()) {
    return Status::InvalidArgument(
        "audio is empty: send the recording as WAV, FLAC or Ogg Vorbis bytes");
  }
  if (bytes.size() > limits.max_bytes) {
    return Status::TooLarge(fmt::format(
        "audio is {} bytes, over the limit of {} bytes (AudioLimits.max_bytes): send a shorter or "
        "more compressed recording, e.g. FLAC or Ogg Vorbis",
        bytes.size(), limits.max_bytes));
  }

  if (bytes.substr(0, 4) == "OggS") TESSERA_RETURN_IF_ERROR(CheckOggVorbisHeaders(bytes));

  // Open the container from memory; libsndfile detects the format from the header bytes.
  MemoryFile memory{bytes, 0};
  SF_VIRTUAL_IO io{MemoryFileLength, MemoryFileSeek, MemoryFileRead, MemoryFileWrite,
                   MemoryFileTell};
  SF_INFO info{};
  SndfilePtr file(sf_open_virtual(&io, SFM_READ, &info, &memory));
  if (file == nullptr) {
    return Status::Unsupported(fmt::format(
        "audio format not recognized ({} bytes starting {}; libsndfile: {}): send WAV, FLAC or "
        "Ogg Vorbis",
        bytes.size(), HexPrefix(bytes), sf_strerror(nullptr)));
  }

  // Check the header before decoding any sample.
  if (info.channels <= 0) {
    return Status::InvalidArgument(
        fmt::format("audio header states {} channels: send a recording with at least one channel",
                    info.channels));
  }
  if (info.samplerate < kMinSourceSampleRate || info.samplerate > kMaxSourceSampleRate) {
    return Status::Unsupported(fmt::format(
        "audio sample rate {} Hz is outside the supported {}-{} Hz: record at 16 kHz or more",
        info.samplerate, kMinSourceSampleRate, kMaxSourceSampleRate));
  }
  const double header_seconds = static_cast<double>(info.frames) / info.samplerate;
  if (header_seconds > limits.max_seconds) {
    return Status::TooLarge(fmt::format(
        "audio is {:.1f} s long, over the limit of {:.1f} s (AudioLimits.max_seconds): send a "
        "shorter recording",
        header_seconds, limits.max_seconds));
  }

  // Decode, downmix and resample.
  const auto max_frames = static_cast<sf_count_t>(std::ceil(limits.max_seconds * info.samplerate));
  Result<std::vector<float>> mono = ReadMono(file.get(), info, max_frames, limits);
  if (!mono.ok()) return mono.status();
  if (mono->empty()) {
    return Status::InvalidArgument(
        "audio contains no samples: send a recording of the spoken query");
  }
  const size_t source_frames = mono->size();
  Result<std::vector<float>> resampled = ResampleTo16k(std::move(mono).value(), info.samplerate);
  if (!resampled.ok()) return resampled.status();
  // A clip of a frame or two at a higher rate resamples to no sample at all.
  if (resampled->empty()) {
    return Status::InvalidArgument(fmt::format(
        "audio contains no samples at 16 kHz, because its {} frames at {} Hz are too short to "
        "resample: send a recording of the spoken query", source_frames, info.samplerate));
  }

  AudioClip clip;
  clip.samples.resize(resampled->size());
  // Scales by 32767 and clips, so float input beyond [-1, 1] cannot wrap around.
  src_float_to_short_array(resampled->data(), clip.samples.data(),
                           static_cast<int>(resampled->size()));
  clip.sample_rate = kSpeechSampleRate;
  clip.duration_seconds = static_cast<double>(clip.samples.size()) / kSpeechSampleRate;
  clip.source_sample_rate = info.samplerate;
  clip.source_channels = info.channels;
  return clip;
}

bool IsSilent(const AudioClip& clip) {
  const std::vector<int16_t>& samples = clip.samples;
  for (size_t start = 0; start < samples.size(); start += kSilenceFrameSamples) {
    const size_t end = std::min(samples.size(), start + kSilenceFrameSamples);
    const auto n = static_cast<double>(end - start);

    double sum = 0;
    double sum_of_squares = 0;
    for (size_t i = start; i < end; ++i) {
      sum += samples[i];
      sum_of_squares += static_cast<double>(samples[i]) * samples[i];
    }
    // Variance = E[x^2] - E[x]^2 removes a constant microphone offset from the level.
    const double mean = sum / n;
    const double variance = std::max(0.0, sum_of_squares / n - mean * mean);
    if (std::sqrt(variance) >= kSilenceRmsThreshold) return false;
  }
  return true;
}

}  // namespace tessera
