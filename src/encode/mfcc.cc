#include "encode/mfcc.h"

#include <algorithm>
#include <cmath>
#include <complex>

namespace tessera {

namespace {

double HzToMel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double MelToHz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

// In-place iterative radix-2 FFT. `data.size()` must be a power of two.
void Fft(std::vector<std::complex<double>>& data) {
  const size_t n = data.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(data[i], data[j]);
  }
  for (size_t length = 2; length <= n; length <<= 1) {
    const std::complex<double> step = std::polar(1.0, -2.0 * M_PI / static_cast<double>(length));
    for (size_t start = 0; start < n; start += length) {
      std::complex<double> twiddle(1.0, 0.0);
      for (size_t k = 0; k < length / 2; ++k) {
        const std::complex<double> even = data[start + k];
        const std::complex<double> odd = data[start + k + length / 2] * twiddle;
        data[start + k] = even + odd;
        data[start + k + length / 2] = even - odd;
        twiddle *= step;
      }
    }
  }
}

// Triangular filters, filters x (fft_size / 2 + 1) weights, evenly spaced on the mel scale.
std::vector<std::vector<double>> MelFilterBank(const MfccOptions& options, int sample_rate) {
  const size_t bins = options.fft_size / 2 + 1;
  const double top = HzToMel(sample_rate / 2.0);
  std::vector<double> edges(options.filters + 2);
  for (size_t i = 0; i < edges.size(); ++i) {
    const double hz = MelToHz(top * static_cast<double>(i) / static_cast<double>(options.filters + 1));
    edges[i] = hz * static_cast<double>(options.fft_size) / sample_rate;  // in FFT bins
  }
  std::vector<std::vector<double>> bank(options.filters, std::vector<double>(bins, 0.0));
  for (size_t f = 0; f < options.filters; ++f) {
    for (size_t b = 0; b < bins; ++b) {
      const double x = static_cast<double>(b);
      if (x > edges[f] && x <= edges[f + 1]) bank[f][b] = (x - edges[f]) / (edges[f + 1] - edges[f]);
      if (x > edges[f + 1] && x < edges[f + 2]) bank[f][b] = (edges[f + 2] - x) / (edges[f + 2] - edges[f + 1]);
    }
  }
  return bank;
}

}  // namespace

MfccFrames ComputeMfcc(const AudioClip& clip, const MfccOptions& options) {
  MfccFrames out;
  out.coefficients = options.coefficients;
  const auto frame_length = static_cast<size_t>(options.frame_seconds * clip.sample_rate);
  const auto hop = std::max<size_t>(1, static_cast<size_t>(options.hop_seconds * clip.sample_rate));
  if (frame_length == 0 || frame_length > options.fft_size || clip.samples.size() < frame_length) return out;

  // Pre-emphasis over the whole clip, on samples scaled to [-1, 1).
  std::vector<double> signal(clip.samples.size());
  for (size_t i = 0; i < signal.size(); ++i) {
    const double sample = clip.samples[i] / 32768.0;
    const double previous = i == 0 ? 0.0 : clip.samples[i - 1] / 32768.0;
    signal[i] = sample - options.pre_emphasis * previous;
  }

  std::vector<double> window(frame_length);
  for (size_t i = 0; i < frame_length; ++i) {
    window[i] = 0.54 - 0.46 * std::cos(2.0 * M_PI * static_cast<double>(i) / static_cast<double>(frame_length - 1));
  }
  const std::vector<std::vector<double>> bank = MelFilterBank(options, clip.sample_rate);
  const size_t frames = std::min(options.max_frames, 1 + (signal.size() - frame_length) / hop);

  std::vector<std::complex<double>> spectrum(options.fft_size);
  std::vector<double> log_energy(options.filters);
  out.values.reserve(frames * options.coefficients);
  for (size_t frame = 0; frame < frames; ++frame) {
    // Power spectrum of the windowed frame.
    std::fill(spectrum.begin(), spectrum.end(), std::complex<double>(0.0, 0.0));
    for (size_t i = 0; i < frame_length; ++i) spectrum[i] = signal[frame * hop + i] * window[i];
    Fft(spectrum);

    // Log mel energies, then their DCT-II (orthonormal scaling).
    for (size_t f = 0; f < options.filters; ++f) {
      double energy = 0;
      for (size_t b = 0; b < bank[f].size(); ++b) energy += bank[f][b] * std::norm(spectrum[b]) / options.fft_size;
      log_energy[f] = std::log(std::max(energy, 1e-10));
    }
    const double filters = static_cast<double>(options.filters);
    for (size_t c = 0; c < options.coefficients; ++c) {
      double sum = 0;
      for (size_t f = 0; f < options.filters; ++f) {
        sum += log_energy[f] * std::cos(M_PI * static_cast<double>(c) * (static_cast<double>(f) + 0.5) / filters);
      }
      const double scale = c == 0 ? std::sqrt(1.0 / filters) : std::sqrt(2.0 / filters);
      out.values.push_back(static_cast<float>(sum * scale));
    }
  }
  out.frames = frames;
  return out;
}

}  // namespace tessera
