// AudioDecoder: turns an uploaded voice query into the 16 kHz mono PCM the speech recognizer reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

// Sample rate of every decoded clip, in Hz. The PocketSphinx en-us acoustic model is trained on
// 16 kHz audio.
inline constexpr int kSpeechSampleRate = 16000;

// Bounds checked before any sample is decoded, so an oversized upload costs no decoding work.
struct AudioLimits {
  size_t max_bytes = 16 << 20;  // size of the encoded upload
  double max_seconds = 30.0;    // duration stated by the container header
};

// Decoded audio: 16-bit signed PCM, mono, at `sample_rate` Hz.
struct AudioClip {
  std::vector<int16_t> samples;
  int sample_rate = kSpeechSampleRate;
  double duration_seconds = 0;  // samples.size() / sample_rate
  int source_sample_rate = 0;   // rate of the upload before resampling, in Hz
  int source_channels = 0;      // channel count of the upload before the downmix
};

// Decodes any container and codec libsndfile reads (WAV, FLAC, Ogg Vorbis, AIFF, AU, ...) from
// memory, averages the channels to mono and resamples to 16 kHz with libsamplerate.
//
// Errors: empty input or a file without samples -> InvalidArgument; bytes libsndfile does not
// recognize, or a sample rate outside 8-384 kHz -> Unsupported; input over `limits` -> TooLarge,
// naming the limit. Thread-safe: no shared state.
Result<AudioClip> DecodeAudio(std::string_view bytes, const AudioLimits& limits = {});

// RMS level, in 16-bit sample units, that no 50 ms frame of a silent clip reaches. 100 is
// -50 dBFS. Measured with `sox FILE -n stats -w 0.05` on the test audio: the loudest 50 ms of
// espeak-ng speech is about -19 dBFS (RMS 3,700), and sox white noise at volume 0.001 is about
// -70 dBFS (RMS 11), so the threshold sits 30 dB under speech and 20 dB over that noise.
inline constexpr double kSilenceRmsThreshold = 100.0;

// Returns true when the clip contains no speech: no 50 ms frame has an RMS, after removing the
// frame's DC offset, at or above kSilenceRmsThreshold. Judging frames rather than the whole clip
// keeps a short word inside seconds of silence from being averaged away. An empty clip is silent.
// NOTE: the threshold is an estimate from synthetic audio. Noise in a loud room can exceed it
// without speech, and speech recorded at very low gain can stay under it.
bool IsSilent(const AudioClip& clip);

}  // namespace tessera
