// `tessera train-encoders`: trains the joint text-photo space on the store's products and photo
// vectors, and writes the model and its report.
#pragma once

#include <ostream>
#include <string>

#include "common/status.h"
#include "encode/joint_space_trainer.h"

namespace tessera {

struct TrainEncodersOptions {
  std::string data_dir;  // the engine's data folder; its store must have been filled by `tessera ingest`
  std::string out_path;  // "" for <data_dir>/models/joint-space.model
  // ImageEncoder::name() of the stored photo vectors to train on.
  std::string photo_encoder = "mobilenet-v2-nsfwjs-pooled-v1+colour-shape-v1";
  // Dimension and photo encoder of training.config are filled from the store; the rest is used
  // as given.
  JointSpaceTrainingOptions training;
};

// Reads the (title, photo vector) pairs from the store, trains, shows progress on stderr, writes
// the model to out_path and the report beside it (<model stem>.report.json), and prints the
// report as JSON on `out`. Fails with kNotFound when the store or the photo vectors are missing.
Status RunTrainEncoders(const TrainEncodersOptions& options, std::ostream& out);

}  // namespace tessera
