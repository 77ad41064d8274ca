#include "encode/speech_recognizer.h"

#include <filesystem>
#include <mutex>
#include <system_error>

#include <fmt/format.h>
#include <pocketsphinx.h>
#include <sphinxbase/genrand.h>

namespace tessera {
namespace {

// The dither generator's seed, the same as Open's -seed.
constexpr unsigned long kDitherSeed = 1;

Status CheckExists(const std::string& path, const char* description) {
  std::error_code error;
  if (path.empty()) {
    return Status::InvalidArgument(
        fmt::format("the {} path is empty: set it in SpeechRecognizerOptions", description));
  }
  if (!std::filesystem::exists(path, error)) {
    return Status::NotFound(fmt::format(
        "{} {} not found: build the speech model first, or install Debian's pocketsphinx-en-us "
        "package for the acoustic model",
        description, path));
  }
  return Status::Ok();
}

// Serializes Open, because ps_init points sphinxbase's process-wide log at -logfn.
std::mutex& OpenMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

Result<std::unique_ptr<SpeechRecognizer>> SpeechRecognizer::Open(
    const SpeechRecognizerOptions& options) {
  TESSERA_RETURN_IF_ERROR(CheckExists(options.acoustic_model_dir, "acoustic model folder"));
  TESSERA_RETURN_IF_ERROR(CheckExists(options.dictionary_path, "pronunciation dictionary"));
  TESSERA_RETURN_IF_ERROR(CheckExists(options.language_model_path, "language model"));

  std::lock_guard<std::mutex> lock(OpenMutex());
  cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE,                   //
                                 "-hmm", options.acoustic_model_dir.c_str(),  //
                                 "-dict", options.dictionary_path.c_str(),    //
                                 "-lm", options.language_model_path.c_str(),  //
                                 "-logfn", options.log_path.c_str(),          //
                                 "-dither", "yes",                            //
                                 "-seed", "1",                                //
                                 "-cmn", "batch",                             //
                                 nullptr);
  if (config == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "PocketSphinx rejected the configuration (acoustic model {}, dictionary {}, language "
        "model {}): check the paths",
        options.acoustic_model_dir, options.dictionary_path, options.language_model_path));
  }
  ps_decoder_t* decoder = ps_init(config);
  if (decoder == nullptr) {
    cmd_ln_free_r(config);
    return Status::InvalidArgument(fmt::format(
        "PocketSphinx failed to load the acoustic model {}, dictionary {} or language model {}: "
        "check that the dictionary uses the acoustic model's phones and that the language model "
        "is ARPA or binary. Set SpeechRecognizerOptions.log_path to a file to see PocketSphinx's "
        "reason",
        options.acoustic_model_dir, options.dictionary_path, options.language_model_path));
  }
  return std::unique_ptr<SpeechRecognizer>(new SpeechRecognizer(config, decoder));
}

SpeechRecognizer::SpeechRecognizer(cmd_ln_s* config, ps_decoder_s* decoder)
    : config_(config), decoder_(decoder) {}

SpeechRecognizer::~SpeechRecognizer() {
  ps_free(decoder_);
  cmd_ln_free_r(config_);
}

Result<Transcript> SpeechRecognizer::Transcribe(const AudioClip& clip) {
  if (clip.sample_rate != kSpeechSampleRate) {
    return Status::InvalidArgument(fmt::format(
        "clip sample rate is {} Hz but the acoustic model reads {} Hz: decode it with DecodeAudio",
        clip.sample_rate, kSpeechSampleRate));
  }
  if (clip.samples.empty()) {
    return Status::InvalidArgument("clip has no samples: send a recording of the spoken query");
  }
  Transcript transcript;
  if (IsSilent(clip)) {
    transcript.silent = true;
    return transcript;
  }

  std::lock_guard<std::mutex> lock(mutex_);

  // The same clip must give the same transcript whatever was decoded before it. The default
  // live cepstral mean normalization carries its estimate from one utterance to the next, so
  // Open sets -cmn batch: the mean of this clip alone (full_utt = TRUE below). The noise level
  // is kept per stream, so each clip starts a stream of its own. Dither draws from
  // sphinxbase's process-wide generator, so it is reseeded for every clip.
  genrand_seed(kDitherSeed);
  if (ps_start_stream(decoder_) < 0) {
    return Status::Internal("PocketSphinx failed to start a stream");
  }
  if (ps_start_utt(decoder_) < 0) {
    return Status::Internal("PocketSphinx failed to start an utterance");
  }
  const int processed = ps_process_raw(decoder_, clip.samples.data(), clip.samples.size(),
                                       /*no_search=*/FALSE, /*full_utt=*/TRUE);
  const int ended = ps_end_utt(decoder_);
  if (processed < 0 || ended < 0) {
    return Status::Internal(fmt::format(
        "PocketSphinx failed to decode a clip of {} samples ({:.2f} s)", clip.samples.size(),
        clip.duration_seconds));
  }

  int32 score = 0;
  const char* hypothesis = ps_get_hyp(decoder_, &score);
  if (hypothesis == nullptr || *hypothesis == '\0') return transcript;
  transcript.text = hypothesis;
  transcript.confidence = logmath_exp(ps_get_logmath(decoder_), ps_get_prob(decoder_));
  return transcript;
}

}  // namespace tessera
