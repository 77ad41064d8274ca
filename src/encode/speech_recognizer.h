// SpeechRecognizer: transcribes a decoded voice query with PocketSphinx, against the catalogue
// language model that BuildSpeechModel writes.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "encode/audio_decoder.h"

// PocketSphinx types, declared here so that only speech_recognizer.cc includes its headers.
struct ps_decoder_s;
struct cmd_ln_s;

namespace tessera {

struct SpeechRecognizerOptions {
  // Folder of the acoustic model, e.g. /usr/share/pocketsphinx/model/en-us/en-us from Debian's
  // pocketsphinx-en-us package. Its feature parameters must expect 16 kHz audio.
  std::string acoustic_model_dir;
  // Pronunciation dictionary, e.g. SpeechModelFiles::dictionary_path.
  std::string dictionary_path;
  // ARPA or binary n-gram model whose words all appear in the dictionary.
  std::string language_model_path;
  // File PocketSphinx writes its own log to. Point it at a real file to see why a model failed
  // to load.
  std::string log_path = "/dev/null";
};

struct Transcript {
  std::string text;  // recognized words, lower-case, separated by single spaces; empty if none
  // Posterior probability of `text` over the word lattice, in [0, 1]. It ranks hypotheses of one
  // model but is not a calibrated probability that the words are right. 0 when the clip is silent
  // or no words were recognized.
  double confidence = 0;
  bool silent = false;  // IsSilent(clip) held, so the clip was not decoded
};

// Owns one PocketSphinx 5prealpha decoder. Thread-safe: Transcribe may be called from any thread,
// and concurrent calls run one at a time on an internal mutex, because a ps_decoder_t keeps its
// utterance state in the object. A service that needs parallel decoding opens one recognizer per
// worker, and each loads its own copy of the models.
class SpeechRecognizer {
 public:
  // Loads the acoustic model, dictionary and language model. Safe to call from several threads:
  // calls run one at a time, because PocketSphinx sets its log file process-wide while loading.
  // Errors: a missing path -> NotFound naming it, and files PocketSphinx cannot load ->
  // InvalidArgument.
  static Result<std::unique_ptr<SpeechRecognizer>> Open(const SpeechRecognizerOptions& options);

  // Returns the words spoken in `clip`. A silent clip (see IsSilent) returns an empty transcript
  // with silent = true without decoding. Errors: a clip not at 16 kHz or without samples ->
  // InvalidArgument; a decoder failure -> Internal.
  Result<Transcript> Transcribe(const AudioClip& clip);

  ~SpeechRecognizer();
  SpeechRecognizer(const SpeechRecognizer&) = delete;
  SpeechRecognizer& operator=(const SpeechRecognizer&) = delete;

 private:
  SpeechRecognizer(cmd_ln_s* config, ps_decoder_s* decoder);

  std::mutex mutex_;
  cmd_ln_s* config_;        // our reference; the decoder retains its own
  ps_decoder_s* decoder_;   // guarded by mutex_
};

}  // namespace tessera
