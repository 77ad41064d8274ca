#include "voice_workload.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "encode/audio_decoder.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// espeak-ng voices (an American female and male variant) and speeds in words per minute,
// around the 150-160 of conversational English.
const std::vector<std::string> kVoices = {"en-us+f2", "en-us+m3"};
const std::vector<int> kSpeeds = {130, 175};

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// Word-level Levenshtein distance: substitutions, insertions and deletions.
size_t WordEdits(const std::vector<std::string>& reference, const std::vector<std::string>& recognized) {
  std::vector<size_t> row(recognized.size() + 1);
  for (size_t j = 0; j <= recognized.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= reference.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= recognized.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (reference[i - 1] == recognized[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[recognized.size()];
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

double Rms(const std::string& wav_bytes) {
  Result<AudioClip> clip = DecodeAudio(wav_bytes);
  if (!clip.ok() || clip->samples.empty()) return 0;
  double sum = 0;
  for (int16_t s : clip->samples) sum += double(s) * s;
  return std::sqrt(sum / double(clip->samples.size()));
}

bool Run(const std::string& command) {
  if (std::system(command.c_str()) == 0) return true;
  std::cerr << "failed: " << command << "\n(espeak-ng and sox are installed by scripts/setup.sh)\n";
  return false;
}

std::vector<std::string> Ids(const SearchResponse& response) {
  std::vector<std::string> ids;
  for (const SearchHit& hit : response.hits) ids.push_back(hit.product->id);
  return ids;
}

struct ConditionValues {
  size_t clips = 0, words = 0, word_edits = 0, exact = 0, success = 0;
  std::vector<double> ndcg, typed_ndcg, latency_ms, seconds, snr_db;

  json ToJson() const {
    const auto mean = [](const std::vector<double>& v) { return v.empty() ? 0.0 : Summarize(v).mean; };
    json out = {{"clips", clips},
                {"word_error_rate", double(word_edits) / double(std::max<size_t>(1, words))},
                {"exact_transcripts", double(exact) / double(std::max<size_t>(1, clips))},
                {"query_success", double(success) / double(std::max<size_t>(1, clips))},
                {"ndcg_at_10", mean(ndcg)},
                {"typed_ndcg_at_10", mean(typed_ndcg)},
                {"clip_seconds", mean(seconds)},
                {"latency_ms", {{"median", Summarize(latency_ms).median}, {"p99", Summarize(latency_ms).p99}}}};
    if (!snr_db.empty()) out["snr_db"] = mean(snr_db);
    return out;
  }
};

}  // namespace

int RunVoiceWorkload(const Engine& engine, const VoiceWorkloadOptions& options) {
  const std::vector<JudgedQuery> derived = DeriveJudgedQuerySet(engine.AllProducts(), JudgmentOptions{});
  std::vector<JudgedQuery> queries;
  for (const JudgedQuery& query : derived) {
    if (query.kind == kPlainQueryKind) queries.push_back(query);
  }
  // Every k-th plain query, so all query templates are spoken.
  const size_t step = std::max<size_t>(1, queries.size() / std::max<size_t>(1, options.phrases));
  std::vector<JudgedQuery> spoken;
  for (size_t i = 0; i < queries.size() && spoken.size() < options.phrases; i += step) spoken.push_back(queries[i]);

  const fs::path dir = fs::temp_directory_path() / ("tessera-bench-voice-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::map<std::string, ConditionValues> conditions;
  ConditionValues clean_all, noisy_all;
  for (size_t q = 0; q < spoken.size(); ++q) {
    const JudgedQuery& query = spoken[q];
    SearchRequest typed;
    typed.text = query.text;
    typed.per_page = 10;
    Result<SearchResponse> typed_response = engine.Search(typed);
    const double typed_ndcg = typed_response.ok() ? NdcgAtK(Ids(*typed_response), query, 10) : 0;

    for (const std::string& voice : kVoices) {
      for (int speed : kSpeeds) {
        // The clean clip, white noise of the same length, and their mix.
        const std::string stem = (dir / (std::to_string(q) + "-" + voice + "-" + std::to_string(speed))).string();
        if (!Run("espeak-ng -v " + voice + " -s " + std::to_string(speed) + " -w '" + stem + ".wav' '" + query.text +
                 "'") ||
            !Run("sox '" + stem + ".wav' '" + stem + "-noise.wav' synth whitenoise vol " +
                 std::to_string(options.noise_amplitude)) ||
            !Run("sox -m '" + stem + ".wav' '" + stem + "-noise.wav' '" + stem + "-noisy.wav'")) {
          return 1;
        }
        const std::string clean_bytes = ReadBytes(stem + ".wav");
        const double snr = 20 * std::log10(Rms(clean_bytes) / std::max(1e-9, Rms(ReadBytes(stem + "-noise.wav"))));

        for (bool noisy : {false, true}) {
          const std::string bytes = noisy ? ReadBytes(stem + "-noisy.wav") : clean_bytes;
          SearchRequest request;
          request.per_page = 10;
          const auto start = std::chrono::steady_clock::now();
          Result<SearchResponse> response = engine.SearchByVoice(bytes, request);
          const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
          if (!response.ok() && response.status().code() == StatusCode::kUnavailable) {
            // No speech model: every clip would fail the same way, so stop with the reason.
            std::cerr << response.status().ToString() << "\n";
            fs::remove_all(dir);
            return 1;
          }

          const std::string transcript = response.ok() && response->transcript ? response->transcript->text : "";
          const std::vector<std::string> reference = Words(query.text);
          const std::vector<std::string> ids = response.ok() ? Ids(*response) : std::vector<std::string>();
          bool found = false;
          for (const std::string& id : ids) {
            auto grade = query.grades.find(id);
            found = found || (grade != query.grades.end() && grade->second == query.max_grade);
          }
          const std::string name = voice + ", " + std::to_string(speed) + " wpm, " + (noisy ? "noisy" : "clean");
          for (ConditionValues* values : {&conditions[name], noisy ? &noisy_all : &clean_all}) {
            ++values->clips;
            values->words += reference.size();
            values->word_edits += WordEdits(reference, Words(transcript));
            values->exact += transcript == query.text;
            values->success += found;
            values->ndcg.push_back(ids.empty() ? 0 : NdcgAtK(ids, query, 10));
            values->typed_ndcg.push_back(typed_ndcg);
            values->latency_ms.push_back(ms);
            Result<AudioClip> clip = DecodeAudio(bytes);
            values->seconds.push_back(clip.ok() ? clip->duration_seconds : 0);
            if (noisy) values->snr_db.push_back(snr);
          }
        }
      }
    }
  }
  fs::remove_all(dir);

  json by_condition = json::object();
  for (const auto& [name, values] : conditions) by_condition[name] = values.ToJson();
  json out = {{"workload", "voice"},
              {"phrases", spoken.size()},
              {"voices", kVoices},
              {"speeds_wpm", kSpeeds},
              {"noise_amplitude", options.noise_amplitude},
              {"clean", clean_all.ToJson()},
              {"noisy", noisy_all.ToJson()},
              {"by_condition", by_condition}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
