// The multimodal workload: photo queries with held-out photos, words against photo vectors, and
// text search with and without the joint space, on a catalogue ingested for the purpose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

struct MultimodalWorkloadOptions {
  std::string fashion_dir;   // the fashion catalogue (styles.csv, images/, hires/)
  std::string data_dir;      // a new folder: the workload ingests and trains in it
  std::string synonyms_path;
  size_t photo_queries = 500;  // held-out photos queried
  std::string photo_encoder = "mobilenet-pooled+colour-shape";  // EngineOptions::photo_encoder
  uint64_t training_seed = 42;  // JointSpaceTrainingOptions::seed
  // Keeps the catalogue that an earlier run of this workload ingested into data_dir, so that
  // runs with other training seeds skip the minutes of photo encoding. The joint model is retrained.
  bool reuse_ingest = false;
};

// Holds out the photos of the products the joint model's training split holds out (10% by a
// hash of the product id), so neither the model nor the catalogue has seen them. Those products
// stay in the catalogue without a photo. Ingests, trains the joint space, and prints one JSON
// object with:
//  - photo queries: precision@10 of the same article type, and of the same type and colour,
//    for the colour-and-shape encoder, the photo encoder, its pretrained backbone alone (when
//    the photo encoder concatenates the backbone with the colour-and-shape encoder), the joint space under sum and
//    concatenation fusion, and the engine's photo search; the query's own product is excluded,
//    and how often the joint space ranks it (now without a photo) in the top 10 is reported;
//  - words to photos: nDCG@10 of the judged plain queries against the projected photos alone;
//  - text search: nDCG@10 per query kind with and without the joint space.
int RunMultimodalWorkload(const MultimodalWorkloadOptions& options);

}  // namespace tessera
