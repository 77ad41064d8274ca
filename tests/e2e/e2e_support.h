// Helpers of the end-to-end tests: the data folder, free loopback ports, shell commands and a
// `tessera serve` process on loopback.
#pragma once

#include <arpa/inet.h>
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

}  // namespace tessera::e2e
