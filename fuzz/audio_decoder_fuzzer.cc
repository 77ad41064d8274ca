// Fuzzes voice-query decoding as POST /api/search/voice runs it: libsndfile's container and codec
// readers through our in-memory file, the downmix, the resampler and the silence check. Beyond
// crashes and sanitizer reports, it checks that a decoded clip is 16 kHz mono within the
// duration limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "encode/audio_decoder.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // The server allows 30 s. A shorter limit runs the same checks, and keeps a few bytes of FLAC
  // that expand to 30 s at 384 kHz from taking seconds per run to resample.
  AudioLimits limits;
  limits.max_seconds = 3.0;

  const Result<AudioClip> clip = DecodeAudio(bytes, limits);
  if (!clip.ok()) {
    fuzz::CheckErrorMessage(clip.status());
    return 0;
  }
  TESSERA_FUZZ_CHECK(!clip->samples.empty(), "a decoded clip has no samples");
  TESSERA_FUZZ_CHECK(clip->sample_rate == kSpeechSampleRate, std::to_string(clip->sample_rate));
  TESSERA_FUZZ_CHECK(clip->source_channels > 0, std::to_string(clip->source_channels));
  TESSERA_FUZZ_CHECK(clip->source_sample_rate >= 8000 && clip->source_sample_rate <= 384000,
                     std::to_string(clip->source_sample_rate));
  // The resampler may add a few samples at the end, never a second.
  TESSERA_FUZZ_CHECK(clip->duration_seconds <= limits.max_seconds + 1.0, std::to_string(clip->duration_seconds));
  (void)IsSilent(*clip);
  return 0;
}
