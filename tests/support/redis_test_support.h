// A redis-server process for tests: bound to 127.0.0.1 on a free port, with its files in a
// folder the test owns, and stopped when the object is destroyed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/redis_client.h"

namespace tessera::testing_support {

// A TCP port on 127.0.0.1 that was free when this returned.
inline int FreeRedisPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

// redis-server with the append-only file synced before every reply (appendfsync always), as
// docs/scaling-redis.md requires in production, and no RDB snapshots.
class RedisServerProcess {
 public:
  RedisServerProcess(std::filesystem::path dir, int port) : dir_(std::move(dir)), port_(port) {}
  ~RedisServerProcess() { Stop(SIGKILL); }
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  // Starts the server and waits up to 10 s until it replies to PING. Returns false when it does not.
  bool Start() {
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args = {"redis-server", "--bind",       "127.0.0.1",     "--port",     std::to_string(port_),
                                     "--dir",        dir_.string(),  "--appendonly",  "yes",        "--appendfsync",
                                     "always",       "--save",       "",              "--logfile",  (dir_ / "redis.log").string(),
                                     "--protected-mode", "yes"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // SIGKILL when the test process ends, so that no server outlives a killed test.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    RedisOptions options;
    options.port = port_;
    options.min_retry_delay = std::chrono::milliseconds(1);
    options.max_retry_delay = std::chrono::milliseconds(1);
    RedisClient client(options);
    for (int attempt = 0; attempt < 200; ++attempt) {
      Result<RedisReply> pong = client.Command({"PING"});
      if (pong.ok() && pong->text == "PONG") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Sends `signal` (SIGKILL by default, a crash) and waits for the process to end.
  void Stop(int signal = SIGKILL) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Sends `signal` without waiting, e.g. SIGSTOP and SIGCONT to stall the server and resume it.
  void Signal(int signal) const {
    if (pid_ > 0) kill(pid_, signal);
  }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace tessera::testing_support
