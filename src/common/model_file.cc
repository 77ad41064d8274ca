#include "common/model_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/hash.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;

// Magic, version, header length, payload length, checksum.
constexpr size_t kFixedBytes = 8 + 4 + 8 + 8 + 8;

void AppendLittleEndian(uint64_t value, size_t bytes, std::string* out) {
  for (size_t i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint64_t ReadLittleEndian(std::string_view bytes, size_t offset, size_t count) {
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i) value |= uint64_t{static_cast<unsigned char>(bytes[offset + i])} << (8 * i);
  return value;
}

}  // namespace

std::string PackModelFile(const ModelFileKind& kind, std::string_view header, std::string_view payload) {
  std::string out(kind.magic.substr(0, 8));
  out.resize(8, '\0');
  AppendLittleEndian(kind.version, 4, &out);
  AppendLittleEndian(header.size(), 8, &out);
  out += header;
  AppendLittleEndian(payload.size(), 8, &out);
  out += payload;
  AppendLittleEndian(Fnv1a64(out), 8, &out);
  return out;
}

Result<ModelFileParts> ReadModelFile(const ModelFileKind& kind, const std::string& path) {
  const std::string what(kind.what);
  const std::string retrain(kind.retrain);
  std::optional<std::string> bytes = ReadFileBytes(path);
  if (!bytes) return Status::NotFound(what + " file " + path + " not found or unreadable: train one with `" + retrain + "`");
  const std::string_view file(*bytes);

  // Fixed fields: magic and version.
  if (file.size() < kFixedBytes || file.substr(0, 8) != kind.magic) {
    return Status::Corruption("file " + path + " is not a " + what + " (no " + std::string(kind.magic) + " magic)");
  }
  const uint64_t version = ReadLittleEndian(file, 8, 4);
  if (version != kind.version) {
    return Status::Corruption(what + " file " + path + " has format version " + std::to_string(version) +
                              ", but this build reads only version " + std::to_string(kind.version) +
                              ": retrain it with `" + retrain + "`");
  }

  // Lengths and checksum, before anything is parsed.
  const uint64_t header_length = ReadLittleEndian(file, 12, 8);
  if (header_length > file.size() - kFixedBytes) return Status::Corruption(what + " file " + path + " is truncated (header)");
  const size_t payload_at = 20 + header_length + 8;
  const uint64_t payload_length = ReadLittleEndian(file, 20 + header_length, 8);
  if (payload_length != file.size() - kFixedBytes - header_length) {
    return Status::Corruption(what + " file " + path + " is truncated or has trailing bytes (payload)");
  }
  const size_t checksum_at = payload_at + payload_length;
  const uint64_t checksum = ReadLittleEndian(file, checksum_at, 8);
  if (Fnv1a64(file.substr(0, checksum_at)) != checksum) {
    return Status::Corruption(what + " file " + path + " fails its checksum: the file is damaged, retrain or copy it again");
  }
  return ModelFileParts{std::string(file.substr(20, header_length)), std::string(file.substr(payload_at, payload_length)),
                        checksum};
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  std::error_code error;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), error);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file.flush()) return Status::IoError("cannot write " + temporary + ": check the folder exists and is writable");
  }
  fs::rename(temporary, target, error);
  if (error) return Status::IoError("cannot rename " + temporary + " to " + path + ": " + error.message());
  return Status::Ok();
}

}  // namespace tessera
