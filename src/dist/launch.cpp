// train --nproc N: N worker processes of this program on this machine, like torchrun --standalone.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "latentlab/distributed.h"
#include "latentlab/error.h"
#include "latentlab/signals.h"

namespace latentlab {
namespace {

std::vector<pid_t> g_workers;        // read by the signal handler
std::atomic<int> g_forward_signal{0};

// The first SIGINT or SIGTERM is passed on (each worker stops after its batch with a checkpoint); a
// second one kills them.
void forward(int sig) {
  const bool again = g_forward_signal.exchange(sig) != 0;
  for (pid_t p : g_workers)
    if (p > 0) ::kill(p, again ? SIGKILL : sig);
}

// A TCP port on the loopback that nothing listens on now (rank 0's store binds it next).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  require(fd >= 0, std::string("--nproc: cannot open a socket to find a free port (") + std::strerror(errno) + ")");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  require(ok, std::string("--nproc: cannot find a free port on 127.0.0.1 (") + std::strerror(errno) + ")");
  return ntohs(a.sin_port);
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

}  // namespace

int launch_local(int64_t nproc, const std::vector<std::string>& argv, std::chrono::milliseconds timeout, std::FILE* log) {
  require(nproc >= 1 && nproc <= 1024, "--nproc " + std::to_string(nproc) + ": the number of worker processes must be from 1 to 1024");
  require(!std::getenv("RANK") && !std::getenv("WORLD_SIZE"),
          "--nproc cannot be used inside a job that torchrun or srun started (RANK/WORLD_SIZE are set); drop --nproc");
  const std::string port = std::to_string(free_port());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  g_workers.assign(nproc, 0);  // before the handler that reads it
  g_forward_signal.store(0);
  // the signal thread (take_signals) forwards; without it, a handler on the main thread does
  auto previous = on_signal([](int sig) {
    forward(sig);
    return true;
  });
  struct sigaction sa {}, old_int{}, old_term{};
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  for (int64_t r = 0; r < nproc; ++r) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the launcher, which passes it on once
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      // held (pending) until the worker has installed its handler, which then stops it cleanly: a Ctrl-C
      // during a worker's start must not kill it while the others wait for it
      sigset_t held;
      sigemptyset(&held);
      sigaddset(&held, SIGINT);
      sigaddset(&held, SIGTERM);
      ::sigprocmask(SIG_BLOCK, &held, nullptr);
      auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
      set("RANK", std::to_string(r));
      set("LOCAL_RANK", std::to_string(r));
      set("WORLD_SIZE", std::to_string(nproc));
      set("LOCAL_WORLD_SIZE", std::to_string(nproc));
      set("MASTER_ADDR", "127.0.0.1");
      set("MASTER_PORT", port);
      set("LATENTLAB_LAUNCHED", "1");
      ::execv("/proc/self/exe", args.data());
      std::fprintf(stderr, "latentlab --nproc: cannot start worker %lld: %s\n", (long long)r, std::strerror(errno));
      ::_exit(127);
    }
    require(pid > 0, std::string("--nproc: cannot start a worker process (") + std::strerror(errno) + ")");
    g_workers[r] = pid;
  }
  int result = 0, running = static_cast<int>(nproc), interrupted = 0;
  bool failed = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        for (pid_t p : g_workers)
          if (p > 0) ::kill(p, SIGKILL);
        deadline = std::chrono::steady_clock::time_point::max();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    int64_t rank = -1;
    for (int64_t r = 0; r < nproc; ++r)
      if (g_workers[r] == pid) rank = r;
    if (rank < 0) continue;
    g_workers[rank] = 0;
    --running;
    int code = exit_code(status);
    if (code == 130) ++interrupted;
    if (code != 0 && code != 130 && !failed) {
      failed = true;
      result = code;
      std::fprintf(log, "latentlab --nproc: rank %lld (pid %d) %s; the other ranks stop\n", (long long)rank, (int)pid, describe(status).c_str());
      // the others notice through their collectives; those that do not within the timeout are killed
      deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(10);
    }
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  on_signal(previous);
  g_workers.clear();
  if (failed) return result;
  return interrupted > 0 ? 130 : 0;
}

}  // namespace latentlab
