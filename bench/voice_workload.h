// The voice workload: judged queries spoken by espeak-ng in several voices and speeds, clean and
// with white noise mixed in by sox, searched through Engine::SearchByVoice.
#pragma once

#include <cstddef>

#include "engine/engine.h"

namespace tessera {

struct VoiceWorkloadOptions {
  size_t phrases = 60;  // judged plain queries spoken, spread evenly over the derived set
  // RMS of the white noise mixed into the noisy clips, as a fraction of full scale.
  double noise_amplitude = 0.02;
};

// Prints one JSON object: per condition (voice, speed, clean or noisy) the word error rate, the
// share of exact transcripts, query success (a fully relevant product in the top 10), nDCG@10
// against the same query typed, and end-to-end latency. Returns a process exit code.
int RunVoiceWorkload(const Engine& engine, const VoiceWorkloadOptions& options);

}  // namespace tessera
