// Audio fixtures are made at test time: speech with espeak-ng (voice en-us, 140 words per minute,
// which writes 22,050 Hz mono WAV), and conversions, tones, noise and silence with sox.

#include "encode/audio_decoder.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <ogg/ogg.h>

#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandInFolder;
using testing_support::HasProgram;
using testing_support::ReadFile;
using testing_support::RunShell;
using testing_support::TempDir;

double Rms(const std::vector<int16_t>& samples) {
  double sum = 0;
  for (const int16_t s : samples) sum += static_cast<double>(s) * s;
  return samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

// Pearson correlation of the first min(a.size(), b.size()) samples.
double Correlation(const std::vector<int16_t>& a, const std::vector<int16_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  double mean_a = 0;
  double mean_b = 0;
  for (size_t i = 0; i < n; ++i) {
    mean_a += a[i];
    mean_b += b[i];
  }
  mean_a /= static_cast<double>(n);
  mean_b /= static_cast<double>(n);
  double cov = 0;
  double var_a = 0;
  double var_b = 0;
  for (size_t i = 0; i < n; ++i) {
    cov += (a[i] - mean_a) * (b[i] - mean_b);
    var_a += (a[i] - mean_a) * (a[i] - mean_a);
    var_b += (b[i] - mean_b) * (b[i] - mean_b);
  }
  return cov / std::sqrt(var_a * var_b);
}

class AudioDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasProgram("sox") || !HasProgram("espeak-ng")) {
      GTEST_SKIP() << "espeak-ng and sox are needed to make the test audio: apt-get install "
                      "espeak-ng sox";
    }
    temp_dir_.emplace("tessera-audio-");
    ASSERT_FALSE(temp_dir_->path().empty()) << temp_dir_->error();
    dir_ = temp_dir_->path();
  }

  // Runs a shell command in the temporary folder and asserts that it succeeded.
  void Run(const std::string& command) {
    const std::string line = CommandInFolder(dir_, command);
    ASSERT_EQ(RunShell(line), 0) << line;
  }

  // Speaks `text` into `name` (22,050 Hz mono WAV).
  void Speak(const std::string& text, const std::string& name) {
    Run("espeak-ng -v en-us -s 140 -w " + name + " '" + text + "'");
  }

  AudioClip DecodeFile(const std::string& name) {
    Result<AudioClip> clip = DecodeAudio(ReadFile(dir_ / name));
    EXPECT_TRUE(clip.ok()) << name << ": " << clip.status().ToString();
    return clip.ok() ? std::move(clip).value() : AudioClip{};
  }

  // Created in SetUp after the program check, so a skipped test makes no folder.
  std::optional<TempDir> temp_dir_;
  fs::path dir_;
};

TEST(AudioDecoder, EmptyInputIsInvalidArgument) {
  Result<AudioClip> clip = DecodeAudio("");
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(clip.status().message().find("empty"), std::string::npos) << clip.status().message();
}

TEST(AudioDecoder, GarbageBytesAreUnsupported) {
  std::mt19937 random(42);
  std::string garbage(4096, '\0');
  for (char& byte : garbage) byte = static_cast<char>(random() & 0xFF);

  Result<AudioClip> clip = DecodeAudio(garbage);
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(clip.status().message().find("not recognized"), std::string::npos)
      << clip.status().message();
}

TEST(AudioDecoder, UploadOverByteLimitIsTooLarge) {
  AudioLimits limits;
  limits.max_bytes = 100;
  Result<AudioClip> clip = DecodeAudio(std::string(1000, 'x'), limits);
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(clip.status().message().find("limit of 100 bytes"), std::string::npos)
      << clip.status().message();
}

TEST(AudioDecoder, EmptyClipIsSilent) { EXPECT_TRUE(IsSilent(AudioClip{})); }

TEST_F(AudioDecoderTest, OverLongAudioIsTooLarge) {
  Run("sox -n -r 16000 -c 1 long.wav trim 0 31");
  Result<AudioClip> clip = DecodeAudio(ReadFile(dir_ / "long.wav"));
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(clip.status().message().find("limit of 30.0 s"), std::string::npos)
      << clip.status().message();
}

TEST_F(AudioDecoderTest, MaxSecondsLimitIsConfigurable) {
  Run("sox -n -r 16000 -c 1 two.wav trim 0 2");
  AudioLimits limits;
  limits.max_seconds = 1.0;
  Result<AudioClip> clip = DecodeAudio(ReadFile(dir_ / "two.wav"), limits);
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kTooLarge);
}

TEST_F(AudioDecoderTest, WavWithoutSamplesIsInvalidArgument) {
  Run("sox -n -r 16000 -c 1 empty.wav trim 0 0");
  Result<AudioClip> clip = DecodeAudio(ReadFile(dir_ / "empty.wav"));
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(clip.status().message().find("no samples"), std::string::npos)
      << clip.status().message();
}

TEST_F(AudioDecoderTest, OneFrameAt44kIsInvalidArgument) {
  // One frame at 44.1 kHz resamples to no sample at 16 kHz.
  Run("sox -n -r 44100 -c 2 -e floating-point one-frame.wav synth 1s sine 440");
  Result<AudioClip> clip = DecodeAudio(ReadFile(dir_ / "one-frame.wav"));
  ASSERT_FALSE(clip.ok()) << clip->samples.size() << " samples";
  EXPECT_EQ(clip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(clip.status().message().find("no samples"), std::string::npos) << clip.status().message();
}

TEST_F(AudioDecoderTest, SampleRateBelow8kIsUnsupported) {
  Run("sox -n -r 4000 -c 1 low.wav synth 0.5 sine 300");
  Result<AudioClip> clip = DecodeAudio(ReadFile(dir_ / "low.wav"));
  ASSERT_FALSE(clip.ok());
  EXPECT_EQ(clip.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(clip.status().message().find("4000 Hz"), std::string::npos) << clip.status().message();
}

TEST_F(AudioDecoderTest, EspeakWavIsResampledTo16k) {
  Speak("blue shirt", "speech.wav");
  const AudioClip clip = DecodeFile("speech.wav");

  EXPECT_EQ(clip.source_sample_rate, 22050);
  EXPECT_EQ(clip.source_channels, 1);
  EXPECT_EQ(clip.sample_rate, 16000);
  // The duration survives resampling to within one 10 ms frame.
  Run("soxi -D speech.wav > duration.txt");
  const double expected_seconds = std::stod(ReadFile(dir_ / "duration.txt"));
  EXPECT_NEAR(clip.duration_seconds, expected_seconds, 0.01);
  EXPECT_NEAR(static_cast<double>(clip.samples.size()), expected_seconds * 16000, 160);
}

TEST_F(AudioDecoderTest, Stereo44kMatchesMonoSource) {
  Speak("black watch", "speech.wav");
  Run("sox speech.wav -r 44100 -c 2 stereo.wav");
  const AudioClip mono = DecodeFile("speech.wav");
  const AudioClip stereo = DecodeFile("stereo.wav");

  EXPECT_EQ(stereo.source_sample_rate, 44100);
  EXPECT_EQ(stereo.source_channels, 2);
  EXPECT_EQ(stereo.sample_rate, 16000);
  EXPECT_NEAR(stereo.duration_seconds, mono.duration_seconds, 0.01);
  // Both channels carry the same signal, so the downmix equals it, and two resampling paths
  // (22,050 -> 16,000 Hz, and 22,050 -> 44,100 -> 16,000 Hz) give nearly the same waveform.
  EXPECT_GT(Correlation(mono.samples, stereo.samples), 0.95);
  EXPECT_NEAR(Rms(stereo.samples), Rms(mono.samples), 0.05 * Rms(mono.samples));
}

TEST_F(AudioDecoderTest, DownmixAveragesChannels) {
  Run("sox -n -r 44100 -c 2 both.wav synth 1 sine 440 vol 0.5");
  Run("sox both.wav left.wav remix 1 0");
  const AudioClip both = DecodeFile("both.wav");
  const AudioClip left = DecodeFile("left.wav");

  // A tone in one channel and silence in the other averages to half the amplitude.
  EXPECT_NEAR(Rms(left.samples), 0.5 * Rms(both.samples), 0.02 * Rms(both.samples));
  // A 440 Hz sine crosses zero 880 times a second; a wrong resampling ratio would shift that.
  int crossings = 0;
  for (size_t i = 1; i < both.samples.size(); ++i) {
    if ((both.samples[i - 1] < 0) != (both.samples[i] < 0)) ++crossings;
  }
  EXPECT_NEAR(crossings / both.duration_seconds, 880, 10);
}

TEST_F(AudioDecoderTest, FlacDecodesToSameSamplesAsWav) {
  Speak("women handbags", "speech.wav");
  Run("sox speech.wav speech.flac");
  const AudioClip wav = DecodeFile("speech.wav");
  const AudioClip flac = DecodeFile("speech.flac");

  ASSERT_EQ(flac.samples.size(), wav.samples.size());
  EXPECT_EQ(flac.samples, wav.samples);  // FLAC is lossless
}

TEST_F(AudioDecoderTest, OggVorbisDecodes) {
  Speak("red shirt", "speech.wav");
  Run("sox speech.wav speech.ogg");
  const AudioClip wav = DecodeFile("speech.wav");
  const AudioClip ogg = DecodeFile("speech.ogg");

  EXPECT_NEAR(ogg.duration_seconds, wav.duration_seconds, 0.05);
  EXPECT_GT(Correlation(wav.samples, ogg.samples), 0.9);
}

// Ogg Vorbis cut inside its headers, or with a damaged setup header, is rejected before libsndfile
// opens it, because libsndfile leaks 5,784 bytes on every such file. In the sanitized suite,
// LeakSanitizer fails this test when one of them reaches libsndfile.
TEST_F(AudioDecoderTest, DamagedOggVorbisHeadersAreRejected) {
  Run("sox -n -r 16000 -c 1 tone.ogg synth 1 sine 440");
  const std::string ogg = ReadFile(dir_ / "tone.ogg");
  ASSERT_GT(ogg.size(), 1000u);
  ASSERT_TRUE(DecodeAudio(ogg).ok());

  for (const size_t cut : {size_t{60}, size_t{200}, size_t{1000}}) {
    Result<AudioClip> clip = DecodeAudio(std::string_view(ogg).substr(0, cut));
    ASSERT_FALSE(clip.ok()) << cut;
    EXPECT_EQ(clip.status().code(), StatusCode::kUnsupported) << cut;
    EXPECT_NE(clip.status().message().find("Ogg Vorbis audio could not be decoded because its headers are incomplete"),
              std::string::npos)
        << clip.status().message();
  }

  // The setup header is the third packet, and its codebooks start with the sync pattern "BCV".
  // The page's checksum is set again, so the page stays valid and only libvorbis can reject it.
  std::string damaged = ogg;
  const size_t codebook = damaged.find("BCV");
  ASSERT_NE(codebook, std::string::npos);
  damaged[codebook] = 'X';
  const size_t page_start = damaged.rfind("OggS", codebook);
  ASSERT_NE(page_start, std::string::npos);
  auto* header = reinterpret_cast<unsigned char*>(&damaged[page_start]);
  const long header_length = 27 + header[26];  // fixed part, then one lacing value per segment
  long body_length = 0;
  for (int i = 0; i < header[26]; ++i) body_length += header[27 + i];
  ogg_page page{header, header_length, header + header_length, body_length};
  ogg_page_checksum_set(&page);
  Result<AudioClip> clip = DecodeAudio(damaged);
  ASSERT_FALSE(clip.ok());
  EXPECT_NE(clip.status().message().find("headers are damaged"), std::string::npos) << clip.status().message();
}

TEST_F(AudioDecoderTest, GeneratedSilenceIsSilent) {
  Run("sox -n -r 16000 -c 1 silence.wav trim 0 1.5");
  const AudioClip clip = DecodeFile("silence.wav");
  EXPECT_NEAR(clip.duration_seconds, 1.5, 0.001);
  EXPECT_TRUE(IsSilent(clip));
}

TEST_F(AudioDecoderTest, FaintNoiseIsSilent) {
  // -R fixes sox's random seed; volume 0.001 gives about -70 dBFS.
  Run("sox -R -n -r 16000 -c 1 noise.wav synth 1.5 whitenoise vol 0.001");
  EXPECT_TRUE(IsSilent(DecodeFile("noise.wav")));
}

TEST_F(AudioDecoderTest, SpeechIsNotSilent) {
  Speak("blue shirt", "speech.wav");
  EXPECT_FALSE(IsSilent(DecodeFile("speech.wav")));
}

TEST_F(AudioDecoderTest, ShortWordAfterLongSilenceIsNotSilent) {
  Speak("shirt", "word.wav");
  Run("sox word.wav padded.wav pad 10 0");
  const AudioClip clip = DecodeFile("padded.wav");
  EXPECT_GT(clip.duration_seconds, 10);
  EXPECT_FALSE(IsSilent(clip));
}

TEST_F(AudioDecoderTest, DcOffsetAloneIsSilent) {
  // A constant offset of 0.1 full scale is no sound; only the variation around it counts.
  Run("sox -n -r 16000 -c 1 offset.wav synth 1 sine 0 dcshift 0.1");
  const AudioClip clip = DecodeFile("offset.wav");
  ASSERT_FALSE(clip.samples.empty());
  EXPECT_GT(clip.samples[clip.samples.size() / 2], 3000);
  EXPECT_TRUE(IsSilent(clip));
}

}  // namespace
}  // namespace tessera
