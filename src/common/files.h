// Whole-file reads shared by the engine, the server and the command line.
#pragma once

#include <optional>
#include <string>

namespace tessera {

// Returns the bytes of the file at `path`, or std::nullopt when it cannot be opened.
std::optional<std::string> ReadFileBytes(const std::string& path);

}  // namespace tessera
