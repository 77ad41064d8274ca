// Classifies photos with the published nsfwjs MobileNetV2, loaded by nsfwjs itself from the
// files of its npm package and run on TensorFlow.js's pure-JavaScript CPU backend. The C++
// backbone encoder is tested against this output.
//
// Usage: node classify.js [--layer NAME]... WIDTHxHEIGHT:PIXELS.rgb...
//   PIXELS.rgb  WIDTH * HEIGHT * 3 bytes: 8-bit RGB, row-major, no header. Raw pixels are the
//               input so that JPEG decoding cannot differ between the two sides. nsfwjs's own
//               preprocessing (divide by 255, resize to 224x224 unless already that size) runs.
//   --layer     a Keras layer (e.g. dense_2) whose output to print as well; may repeat
// Prints one JSON object per photo, one per line:
//   {"classes": [...], "probabilities": [...], "layers": {name: [...]}}
// with the classes in the model's output order (nsfwjs's NSFW_CLASSES).
"use strict";

const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");
// The package exports no path to its class list, so load the file beside its entry point.
const { NSFW_CLASSES } = require(path.join(path.dirname(require.resolve("nsfwjs")), "nsfw_classes.js"));

// Parses "WIDTHxHEIGHT:PATH" and returns the photo as an int32 tensor (height, width, 3).
function readPhoto(argument) {
  const match = /^(\d+)x(\d+):(.+)$/.exec(argument);
  if (!match) throw new Error(`invalid photo argument '${argument}': expected WIDTHxHEIGHT:PATH`);
  const [width, height, file] = [Number(match[1]), Number(match[2]), match[3]];
  const pixels = fs.readFileSync(file);
  if (pixels.length !== width * height * 3) {
    throw new Error(`${file} has ${pixels.length} bytes, expected ${width * height * 3} (${width}x${height} RGB)`);
  }
  return tf.tensor3d(new Int32Array(pixels), [height, width, 3], "int32");
}

async function main() {
  const layers = [];
  const photos = [];
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === "--layer") {
      layers.push(args[++i]);
    } else {
      photos.push(args[i]);
    }
  }
  if (photos.length === 0) throw new Error("usage: node classify.js [--layer NAME]... WIDTHxHEIGHT:PIXELS.rgb...");

  await tf.setBackend("cpu");
  // nsfwjs logs which model it loads; keep stdout for the JSON result.
  console.info = () => {};
  const model = await nsfwjs.load("MobileNetV2");

  for (const photo of photos) {
    const image = readPhoto(photo);
    const result = { classes: Object.values(NSFW_CLASSES), probabilities: [], layers: {} };
    // infer() applies nsfwjs's own preprocessing before running the model.
    const output = model.infer(image);
    result.probabilities = Array.from(await output.data());
    output.dispose();
    for (const layer of layers) {
      const features = model.infer(image, layer);
      result.layers[layer] = Array.from(await features.data());
      features.dispose();
    }
    image.dispose();
    process.stdout.write(JSON.stringify(result) + "\n");
  }
}

main().catch((error) => {
  console.error(`classify: ${error.message}`);
  process.exit(1);
});
