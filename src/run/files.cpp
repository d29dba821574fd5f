// Files that are never seen half-written, and the checks made before creating any (files.h).
#include "latentlab/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "latentlab/error.h"

namespace latentlab {

namespace {

// Crash tests set LATENTLAB_KILL_IN_WRITE=<file name>:<n> to have the process SIGKILLed half-way
// through the n-th write of that file, leaving a half-written temporary file behind.
size_t kill_point(const std::string& path) {
  static const char* spec = std::getenv("LATENTLAB_KILL_IN_WRITE");
  static std::atomic<int> seen{0};
  if (!spec) return SIZE_MAX;
  std::string s = spec;
  auto colon = s.rfind(':');
  if (colon == std::string::npos || std::filesystem::path(path).filename() != s.substr(0, colon)) return SIZE_MAX;
  return ++seen == std::atoi(s.c_str() + colon + 1) ? 1 : SIZE_MAX;
}

}  // namespace

void append_line(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw Error("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

void atomic_write(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".part";
  {
    // missing folders above the file are created, as for a run folder
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) std::filesystem::create_directories(parent, ec);
  }
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
  size_t done = 0;
  bool kill_half_way = kill_point(path) != SIZE_MAX;
  while (done < bytes.size()) {
    if (kill_half_way && done >= bytes.size() / 2) {
      ::fsync(fd);
      ::raise(SIGKILL);
    }
    ssize_t n = ::write(fd, bytes.data() + done, std::min(bytes.size() - done, kill_half_way ? bytes.size() / 2 + 1 : bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write " + path + ": " + std::strerror(err) + " (the previous version is kept)");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + std::strerror(err) + " (the previous version is kept)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  // the rename itself reaches the disk only with the folder's entry
  std::string parent = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void check_can_create(const std::string& path, const std::string& flag, bool folder) {
  namespace fs = std::filesystem;
  require(!path.empty(), flag + ": the path is empty");
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  require(!ec, flag + " " + path + ": not a usable path (" + ec.message() + ")");
  const bool is_dir = fs::is_directory(p, ec);
  if (folder)
    require(is_dir || !fs::exists(p, ec), flag + " " + path + ": is a file, not a folder; choose another " + flag);
  else
    require(!is_dir, flag + " " + path + ": is a folder; give a file name");
  fs::path dir = folder && is_dir ? p : p.parent_path();
  while (!dir.empty() && !fs::exists(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  require(fs::is_directory(dir, ec), flag + " " + path + ": " + dir.string() + " is a file, not a folder");
  require(::access(dir.c_str(), W_OK | X_OK) == 0,
          flag + " " + path + ": cannot write into " + dir.string() + " (" + std::strerror(errno) + "); choose another " + flag);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace latentlab
