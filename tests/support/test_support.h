// Helpers shared by the unit tests: a temporary folder, whole-file reads and shell commands.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace tessera::testing_support {

// A new folder under std::filesystem::temp_directory_path(), removed with all its contents when
// the object is destroyed.
class TempDir {
 public:
  // Creates the folder `<prefix>XXXXXX` with mkdtemp. When that fails, path() is empty and error()
  // contains the reason, so a fixture can assert on path() in SetUp.
  explicit TempDir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      error_ = "mkdtemp failed for " + pattern + ": " + std::strerror(errno);
      return;
    }
    path_ = pattern;
  }

  // Removes the folder. A failure to remove it is ignored, because a destructor must not throw.
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path path_;
  std::string error_;
};

// Reads the whole file as bytes. Returns an empty string when the file cannot be opened.
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Runs `command` with std::system, which passes it to /bin/sh. Returns the wait status from
// std::system, which is 0 exactly when the command exited with status 0.
inline int RunShell(const std::string& command) { return std::system(command.c_str()); }

// Builds a shell command line that runs `command` in `folder` with its standard error discarded.
// NOTE: `folder` is wrapped in single quotes, so it must not contain a single quote itself.
inline std::string CommandInFolder(const std::filesystem::path& folder, const std::string& command) {
  return "cd '" + folder.string() + "' && " + command + " 2>/dev/null";
}

// Returns true when `command -v <name>` succeeds in /bin/sh: `name` is a program on the PATH or
// a shell builtin.
inline bool HasProgram(const std::string& name) {
  return RunShell("command -v " + name + " >/dev/null 2>&1") == 0;
}

}  // namespace tessera::testing_support
