// Unpacks the MobileNetV2 that the nsfwjs npm package ships as two JavaScript bundles into plain
// files that the C++ side reads:
//   model.json     Keras topology (modelTopology) and a weights manifest naming weights.bin
//   weights.bin    every weight as float32 little-endian, in manifest order
//   manifest.json  where the files came from and their SHA-256 digests
//
// nsfwjs 4.3.0 stores the weights as base64 text of uint8 affine-quantized values. They are
// dequantized here exactly as TensorFlow.js does on load (decodeWeight in tfjs-core 4.22 io_utils.js:
// value = q * scale + min, stored in a Float32Array), so the floats are the ones that the
// published model computes with.
//
// Usage: node unpack_model.js <package dir from the tarball> <output dir> <tarball integrity>
// Uses only Node's built-in modules, so it runs before any npm install.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

function fail(message) {
  console.error(`unpack_model: ${message}`);
  process.exit(1);
}

// Dequantizes one weight, or copies it when it is stored as plain float32.
function decodeWeight(spec, bytes, offset) {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const quantization = spec.quantization;
  if (!quantization) {
    if (spec.dtype !== "float32") fail(`weight ${spec.name} has dtype ${spec.dtype}, expected float32`);
    const start = bytes.byteOffset + offset;
    const values = new Float32Array(bytes.buffer.slice(start, start + count * 4));
    if (values.length !== count) fail(`weight data ends inside ${spec.name}`);
    return { values, size: count * 4 };
  }
  let quantized;
  if (quantization.dtype === "uint8") {
    quantized = bytes.subarray(offset, offset + count);
  } else if (quantization.dtype === "uint16") {
    quantized = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 2));
  } else {
    fail(`weight ${spec.name} uses quantization ${quantization.dtype}, which this script does not decode`);
  }
  if (quantized.length !== count) fail(`weight data ends inside ${spec.name}`);
  const values = Float32Array.from(quantized, (q) => q * quantization.scale + quantization.min);
  return { values, size: count * quantized.BYTES_PER_ELEMENT };
}

function sha256(buffer) {
  return crypto.createHash("sha256").update(buffer).digest("hex");
}

function main() {
  if (os.endianness() !== "LE") fail("weights.bin is written in host byte order, so this needs a little-endian host");
  const [packageDir, outputDir, integrity] = process.argv.slice(2);
  if (!packageDir || !outputDir || !integrity) {
    fail("usage: node unpack_model.js <package dir> <output dir> <tarball integrity>");
  }
  const bundleDir = path.join(packageDir, "dist", "models", "mobilenet_v2");
  const packageJson = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));

  // Both bundles are UMD modules: requiring one returns the model JSON or the base64 weights.
  const modelJson = require(path.resolve(bundleDir, "model.min.js"));
  const weightsBase64 = require(path.resolve(bundleDir, "group1-shard1of1.min.js"));
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    fail(`${bundleDir}/model.min.js has no modelTopology or weightsManifest`);
  }
  if (typeof weightsBase64 !== "string") fail(`${bundleDir}/group1-shard1of1.min.js is not a base64 string`);
  const bytes = Buffer.from(weightsBase64, "base64");

  // Dequantize every weight in manifest order, which is the order of their bytes in the shard.
  const specs = modelJson.weightsManifest.flatMap((group) => group.weights);
  const floats = [];
  const plainSpecs = [];
  let offset = 0;
  for (const spec of specs) {
    const { values, size } = decodeWeight(spec, bytes, offset);
    offset += size;
    floats.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    plainSpecs.push({ name: spec.name, shape: spec.shape, dtype: "float32" });
  }
  if (offset !== bytes.length) fail(`the weight shard has ${bytes.length} bytes but the manifest describes ${offset}`);
  const weights = Buffer.concat(floats);

  const model = {
    format: "layers-model",
    generatedBy: `nsfwjs ${packageJson.version} (dequantized to float32)`,
    modelTopology: modelJson.modelTopology,
    weightsManifest: [{ paths: ["weights.bin"], weights: plainSpecs }],
  };
  const modelText = JSON.stringify(model);
  const manifest = {
    source: `npm package nsfwjs@${packageJson.version} (${packageJson.license} licence), dist/models/mobilenet_v2`,
    tarball_integrity: integrity,
    classes: ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"],
    input: "224x224 RGB, float32 pixel / 255, resized with tf.image.resizeBilinear alignCorners=true",
    weight_count: specs.length,
    files: {
      "model.json": { bytes: Buffer.byteLength(modelText), sha256: sha256(modelText) },
      "weights.bin": { bytes: weights.length, sha256: sha256(weights) },
    },
  };

  // Write into a temporary folder and rename it, so an interrupted run leaves no half model.
  const staging = `${outputDir}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  fs.writeFileSync(path.join(staging, "model.json"), modelText);
  fs.writeFileSync(path.join(staging, "weights.bin"), weights);
  fs.writeFileSync(path.join(staging, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  fs.rmSync(outputDir, { recursive: true, force: true });
  fs.renameSync(staging, outputDir);
  console.log(`unpack_model: wrote ${specs.length} weights (${weights.length} bytes) to ${outputDir}`);
}

main();
