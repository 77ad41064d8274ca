#!/usr/bin/env bash
# Fetches the pretrained models Tessera runs and the tools its tests compare them with.
#   TESSERA_MODEL_DIR  where models go (default: models/ in the repository, which git ignores)
# Idempotent: when the files are in place and match their recorded digests it downloads nothing.
#
# MobileNetV2 (ImageNet-trained, top blocks fine-tuned to 5 classes) comes from the npm package
# nsfwjs (MIT licence), which ships it as TensorFlow.js bundles inside its tarball. `npm pack`
# downloads the tarball without running any install script. The tarball's sha512 must equal the
# value pinned below. tools/nsfwjs-reference/unpack_model.js then turns the bundles into
# model.json + weights.bin (float32) + manifest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_dir="$PWD"

nsfwjs_version="4.3.0"
# `npm view nsfwjs@4.3.0 dist.integrity`
nsfwjs_integrity="sha512-WTKDte0vp1X97N1h34P79G/hG+sVT3+TnDz9di1WseIJR93v11E4viNX7Vg9WsO6HYoR772Nzq2iM8jo3XBZ+g=="

model_root="${TESSERA_MODEL_DIR:-$repo_dir/models}"
model_dir="$model_root/nsfwjs-mobilenet-v2"
reference_dir="$repo_dir/tools/nsfwjs-reference"

for tool in node npm; do
  if ! command -v "$tool" > /dev/null; then
    echo "fetch-models: $tool is missing: install Node.js 18 or later with npm" >&2
    exit 1
  fi
done

# Prints "ok" when manifest.json in $1 records the pinned tarball and both files match their
# recorded sizes and SHA-256 digests.
check_model() {
  node - "$1" "$nsfwjs_integrity" <<'EOF'
const crypto = require("crypto"), fs = require("fs"), path = require("path");
const [dir, integrity] = process.argv.slice(2);
try {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
  let ok = manifest.tarball_integrity === integrity;
  for (const [name, expected] of Object.entries(manifest.files)) {
    const bytes = fs.readFileSync(path.join(dir, name));
    ok = ok && bytes.length === expected.bytes &&
         crypto.createHash("sha256").update(bytes).digest("hex") === expected.sha256;
  }
  console.log(ok ? "ok" : "mismatch");
} catch (error) {
  console.log("missing");
}
EOF
}

# The model: download, verify and unpack only when the unpacked files are missing or differ.
if [ "$(check_model "$model_dir")" = ok ]; then
  echo "fetch-models: nsfwjs-mobilenet-v2 already in $model_dir"
else
  work_dir="$(mktemp -d)"
  trap 'rm -rf "$work_dir"' EXIT
  echo "fetch-models: downloading nsfwjs@$nsfwjs_version with npm pack"
  (cd "$work_dir" && npm pack --silent "nsfwjs@$nsfwjs_version" > /dev/null)
  tarball="$work_dir/nsfwjs-$nsfwjs_version.tgz"
  actual="sha512-$(node -e 'const c = require("crypto"), fs = require("fs");
    process.stdout.write(c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));' "$tarball")"
  if [ "$actual" != "$nsfwjs_integrity" ]; then
    echo "fetch-models: $tarball has integrity $actual, expected $nsfwjs_integrity" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$work_dir"
  mkdir -p "$model_root"
  node "$reference_dir/unpack_model.js" "$work_dir/package" "$model_dir" "$nsfwjs_integrity"
  if [ "$(check_model "$model_dir")" != ok ]; then
    echo "fetch-models: the unpacked model in $model_dir fails its own manifest check" >&2
    exit 1
  fi
fi

# The reference classifier the tests compare with: nsfwjs on the pure-JavaScript TensorFlow.js
# CPU backend, pinned by package-lock.json.
./scripts/npm-ci-pinned.sh "$reference_dir" fetch-models
