// Mel-frequency cepstral coefficients (MFCC) of a decoded voice clip: the acoustic features the
// click model's audio branch reads.
//
// The steps are those of common speech front ends. Samples get pre-emphasis 0.97 and are cut into
// 25 ms Hamming windows every 10 ms. Each window's 512-point FFT power spectrum passes through 26
// triangular mel filters from 0 Hz to half the sample rate. The log filter energies go through a
// DCT-II, which keeps the first 13 coefficients (c0 included).
#pragma once

#include <cstddef>
#include <vector>

#include "encode/audio_decoder.h"

namespace tessera {

struct MfccOptions {
  double frame_seconds = 0.025;
  double hop_seconds = 0.010;
  size_t fft_size = 512;  // a power of two at least as long as a frame
  size_t filters = 26;
  size_t coefficients = 13;
  double pre_emphasis = 0.97;
  size_t max_frames = 500;  // 5 s at a 10 ms hop; later frames are dropped
};

// MFCC frames of one clip: frames x coefficients floats, row-major.
struct MfccFrames {
  std::vector<float> values;
  size_t frames = 0;
  size_t coefficients = 0;
};

// Computes the MFCC frames of `clip`. A clip shorter than one frame gives no frames. Samples are
// scaled to [-1, 1) first, and a filter energy below 1e-10 is floored there before the log, so
// silence gives finite values. Thread-safe: no shared state.
MfccFrames ComputeMfcc(const AudioClip& clip, const MfccOptions& options = {});

}  // namespace tessera
