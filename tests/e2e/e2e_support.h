// Helpers of the end-to-end tests: the data folder, free loopback ports, shell commands, a
// `tessera serve` process on loopback, and setup prepared once per build.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace tessera::e2e {

namespace fs = std::filesystem;

inline fs::path DataDir() {
  const char* env = std::getenv("TESSERA_DATA_DIR");
  return fs::path(env != nullptr ? env : TESSERA_DATA_DIR);
}

inline int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

inline int RunCommand(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A server process on loopback, stopped with SIGTERM when destroyed unless stopped before.
// `serve_args` are added after `serve --host 127.0.0.1 --port PORT`.
class ServerProcess {
 public:
  ServerProcess(const fs::path& data_dir, int port, const fs::path& log, const std::vector<std::string>& serve_args = {})
      : port_(port) {
    const std::string port_text = std::to_string(port);
    const std::string synonyms = std::string(TESSERA_SOURCE_DIR) + "/config/synonyms/fashion.txt";
    std::vector<std::string> args = {TESSERA_BINARY, "--data-dir", data_dir.string(), "--synonyms", synonyms, "serve",
                                     "--host",       "127.0.0.1",  "--port",          port_text};
    args.insert(args.end(), serve_args.begin(), serve_args.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // SIGKILL when the thread that started the server ends, so a test killed midway (by a
      // timeout or a closed pipe) leaves no server behind.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      freopen(log.c_str(), "a", stdout);
      freopen(log.c_str(), "a", stderr);
      execv(TESSERA_BINARY, argv.data());
      _exit(127);
    }
  }
  ~ServerProcess() { Stop(); }

  pid_t pid() const { return pid_; }

  // Waits at most 60 s until /api/health responds.
  bool WaitReady() const {
    httplib::Client client("127.0.0.1", port_);
    for (int attempt = 0; attempt < 600; ++attempt) {
      if (auto res = client.Get("/api/health"); res && res->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Sends `signal` and returns the exit code once the process has ended: 0 after a graceful
  // shutdown on SIGTERM, -1 when the signal ended it (SIGKILL always does).
  int Stop(int signal = SIGTERM) {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

 private:
  int port_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Writes the first `rows` rows of the real styles.csv into `folder`, with links to the real photo
// folders, and returns `folder`.
inline fs::path MakeFashionSlice(const fs::path& folder, size_t rows) {
  const fs::path fashion = DataDir() / "fashion";
  fs::create_directories(folder);
  std::ifstream in(fashion / "styles.csv");
  std::ofstream out(folder / "styles.csv");
  std::string line;
  for (size_t row = 0; row <= rows && std::getline(in, line); ++row) out << line << "\n";
  out.close();
  fs::create_directory_symlink(fashion / "images", folder / "images");
  fs::create_directory_symlink(fashion / "hires", folder / "hires");
  return folder;
}

// Copies into `folder` the output of `prepare`, which runs only when the cache lacks it. CTest
// runs every test in its own process, so without the cache each test of a suite ingested its slice
// again (15-20 s per test in a plain build).
// The cache folder is TESSERA_TEST_CACHE_DIR/`key`; `key` names every input besides the binary.
// A stamp of `key` and the binary's size and mtime marks a finished preparation, and a file lock
// makes parallel tests wait for it. `prepare` writes into the cache folder, so paths it stores
// point there. Returns the exit code of `prepare`, or 0 when cached; failures are not cached.
inline int CopyPrepared(const std::string& key, const fs::path& folder, const std::function<int(const fs::path&)>& prepare) {
  const fs::path cache_root = TESSERA_TEST_CACHE_DIR;
  fs::create_directories(cache_root);
  const fs::path cached = cache_root / key;
  struct stat binary {};
  if (stat(TESSERA_BINARY, &binary) != 0) return -1;
  const std::string stamp = key + " " + std::to_string(binary.st_size) + " " + std::to_string(binary.st_mtim.tv_sec) +
                            "." + std::to_string(binary.st_mtim.tv_nsec) + "\n";

  const int lock = open((cache_root / (key + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) return -1;
  int exit_code = 0;
  if (ReadFile(cached / ".stamp") != stamp) {
    fs::remove_all(cached);
    fs::create_directories(cached);
    exit_code = prepare(cached);
    if (exit_code == 0) {
      std::ofstream(cached / ".stamp") << stamp;
    } else {
      // The logs stay for the test to show. Without the stamp, the next test prepares again.
      fs::remove(cached / ".stamp");
    }
  }
  std::error_code error;
  fs::remove_all(folder, error);
  fs::create_directories(folder);
  fs::copy(cached, folder, fs::copy_options::recursive | fs::copy_options::copy_symlinks, error);
  flock(lock, LOCK_UN);
  close(lock);
  if (error && exit_code == 0) return -1;
  return exit_code;
}

}  // namespace tessera::e2e
