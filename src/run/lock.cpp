#include "latentlab/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "latentlab/error.h"
#include "latentlab/run_folder.h"

namespace fs = std::filesystem;

namespace latentlab {

namespace {

std::string lock_path(const std::string& run_dir) { return run_folder::file(run_dir, run_folder::kLock); }

RunLock::Holder read_holder(int fd) {
  RunLock::Holder h;
  char buf[256] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n > 0) {
    long long pid = 0;
    char started[128] = {};
    if (std::sscanf(buf, "pid %lld started %127[^\n]", &pid, started) >= 1) {
      h.pid = pid;
      h.started = started;
    }
  }
  return h;
}

}  // namespace

RunLock::RunLock(const std::string& run_dir) {
  std::string path = lock_path(run_dir);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    Holder h = read_holder(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(run_dir + " is being written by process " + (h.pid ? std::to_string(h.pid) : std::string("(unknown)")) +
                  (h.started.empty() ? std::string() : " (started " + h.started + ")") +
                  "; wait for it or choose another --out");
    throw Error("cannot lock " + path + ": " + std::strerror(err));
  }
  char when[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  std::string text = "pid " + std::to_string(::getpid()) + " started " + when + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    // the lock holds without its note; readers then name no process
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

std::optional<RunLock::Holder> RunLock::holder(const std::string& run_dir) {
  int fd = ::open(lock_path(run_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // never written by a version that locks, or not a run
  std::optional<Holder> out;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0)
    out = read_holder(fd);
  else
    ::flock(fd, LOCK_UN);
  ::close(fd);
  return out;
}

}  // namespace latentlab
