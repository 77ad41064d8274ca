// Model files: one container for every trained model Tessera writes (the joint text-photo space,
// the learned rankers), so each is versioned, checksummed and replaced atomically alike.
//
// Layout, integers little-endian: an 8-byte magic naming the kind of model, the format version
// (u32), the JSON header's length (u64), the JSON header, the payload's length (u64), the payload
// (the model's own bytes), and FNV-1a 64 (u64) of every byte before it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tessera {

struct ModelFileKind {
  std::string_view magic;     // exactly 8 bytes
  uint32_t version = 0;       // the only format version this build reads
  std::string_view what;      // for messages, e.g. "joint-space model"
  std::string_view retrain;   // the command that writes a new file, for messages
};

struct ModelFileParts {
  std::string header;   // JSON text
  std::string payload;
  uint64_t checksum = 0;  // the file's FNV-1a 64, which changes with any byte of the model
};

// Packs `header` and `payload` into file bytes of `kind`.
std::string PackModelFile(const ModelFileKind& kind, std::string_view header, std::string_view payload);

// Unpacks the bytes of the file at `path`. Fails with kNotFound when the file is missing, and
// with kCorruption naming the file and the fix when the magic, version, lengths or checksum are
// wrong.
Result<ModelFileParts> ReadModelFile(const ModelFileKind& kind, const std::string& path);

// Writes `bytes` beside `path` and renames the file into place, so a reader never sees half a
// model. Creates the parent folder when it is missing.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace tessera
