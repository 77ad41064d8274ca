#!/usr/bin/env bash
# Installs every Debian package Tessera builds, tests and runs with, then fetches the pretrained
# models (scripts/fetch-models.sh).
# Idempotent: a second run installs and downloads nothing new and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # toolchain
  cmake g++ pkg-config ninja-build
  # store, text analysis, indexes
  librocksdb-dev libicu-dev libstemmer-dev libroaring-dev libfaiss-dev libhnswlib-dev zlib1g-dev
  # serving, formats, logging, command line
  libcpp-httplib-dev libboost-dev nlohmann-json3-dev libsimdjson-dev libspdlog-dev libcli11-dev
  # keyed hashes of user ids (HMAC-SHA-256)
  libssl-dev
  # shared shopper profiles, events and catalogue stream between replicas (--profile-store redis://)
  libhiredis-dev redis-server
  # images, OCR, audio, speech
  libopencv-dev libgif-dev libtesseract-dev tesseract-ocr-eng tesseract-ocr-chi-sim
  libpocketsphinx-dev pocketsphinx-en-us libsndfile1-dev libvorbis-dev libogg-dev libsamplerate0-dev
  # learned models
  libtorch-dev libxgboost-dev xgboost
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libxapian-dev libsqlite3-dev
  imagemagick espeak-ng sox fonts-wqy-microhei curl
  # HTTP load test of the server (bench/load-test.sh)
  wrk
  # storefront tests in a real browser, driven by playwright-core (tests/browser)
  chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm download the models and run the reference classifier that the model tests
# compare with. A Node.js from another source (for example one whose package bundles npm) is
# kept as it is, because Debian's npm package conflicts with such builds.
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages already installed"
else
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

./scripts/fetch-models.sh

# playwright-core for the storefront's browser tests. It drives Debian's Chromium, and the
# pinned install skips its install script, which would download browsers of its own.
./scripts/npm-ci-pinned.sh tests/browser setup
