// Weights files (weights.h): the safetensors writer and reader of latentlab's files, and the reader of
// format 1 (LibTorch archives) through a forked probe.
#include "latentlab/weights.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "latentlab/build_config.h"
#include "latentlab/error.h"

namespace latentlab {

WeightsWriter::WeightsWriter(const std::string& kind)
    : metadata{{"format", "pt"}, {"latentlab_format", std::to_string(kWeightsFormat)}, {"kind", kind}} {}

void WeightsWriter::add_module(const std::string& prefix, const torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) tensors.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers()) tensors.emplace_back(prefix + b.key(), b.value());
}

std::string WeightsWriter::bytes() const { return safetensors_bytes(tensors, metadata); }

namespace {
// Sanitizer runtimes (ASan under -DLATENTLAB_SANITIZE, libFuzzer's) report a crash through a death
// callback that would write a crash artifact from the probing child; the child clears it. Weak: null
// in a normal build.
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

// In the probing child: a crash of LibTorch's reader must end this process quietly with a signal,
// not run the parent's handlers (libFuzzer's, a sanitizer's report) as if the parent had crashed.
void quiet_crash_handling() {
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) std::signal(sig, SIG_DFL);
  int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) ::dup2(null, STDERR_FILENO);
}

// In the probing child: caps the address space at what it uses now plus what a file of `file_bytes`
// can reasonably need, so that a mutated storage size makes LibTorch's allocation fail instead of
// taking gigabytes (found by fuzzing: 4 GB for a 62 KB file). Not under AddressSanitizer, whose shadow
// memory needs a huge address space (the sanitizer build caps single allocations instead).
void cap_memory(size_t file_bytes) {
#if !LATENTLAB_UNDER_ASAN
  unsigned long vm_pages = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu", &vm_pages) != 1) vm_pages = 0;
    std::fclose(f);
  }
  if (vm_pages == 0) return;
  rlim_t cap = static_cast<rlim_t>(vm_pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) +
               std::max<rlim_t>(rlim_t(512) << 20, rlim_t(16) * file_bytes);
  struct rlimit lim;
  if (::getrlimit(RLIMIT_AS, &lim) == 0 && (lim.rlim_max == RLIM_INFINITY || cap < lim.rlim_max)) {
    lim.rlim_cur = cap;
    ::setrlimit(RLIMIT_AS, &lim);
  }
#else
  (void)file_bytes;
#endif
}
}  // namespace

void load_archive(torch::serialize::InputArchive& archive, const std::string& bytes, const std::string& path) {
  // LibTorch's archive reader can crash (SEGV) on a malformed file instead of throwing (found by
  // fuzz/fuzz_model.cpp), and it leaks when it throws. A forked child reads the bytes first and sends
  // back LibTorch's error text: this process reads the bytes itself only when the child read them
  // cleanly, so a bad file is an error here, never a crash or a leak.
  std::fflush(nullptr);
  int fds[2];
  require(::pipe(fds) == 0, path + ": cannot load (pipe: " + std::string(std::strerror(errno)) + ")");
  pid_t pid = ::fork();
  // The child exits 0 (read) or 3 (LibTorch threw; its message comes through the pipe); a signal or
  // any other status (a sanitizer turns a crash into exit status 1) is a crash.
  constexpr int kRead = 0, kThrew = 3;
  if (pid == 0) {
    ::close(fds[0]);
    quiet_crash_handling();
    cap_memory(bytes.size());
    int code = kRead;
    try {
      torch::serialize::InputArchive probe;
      probe.load_from(bytes.data(), bytes.size());
    } catch (const std::exception& e) {
      std::string what = std::string(e.what()).substr(0, 300);
      if (what.find("allocate") != std::string::npos || dynamic_cast<const std::bad_alloc*>(&e))
        what = "it asks for more memory than a file of " + std::to_string(bytes.size()) + " bytes can hold: " + what;
      [[maybe_unused]] ssize_t sent = ::write(fds[1], what.data(), what.size());  // if it fails, the parent says less
      code = kThrew;
    } catch (...) {
      code = kThrew;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    throw Error(path + ": cannot load (fork: " + std::string(std::strerror(errno)) + ")");
  }
  std::string message;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) message.append(buf, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  bool exited = WIFEXITED(status);
  require(exited && (WEXITSTATUS(status) == kRead || WEXITSTATUS(status) == kThrew),
          path + ": cannot load (the file is malformed: LibTorch's archive reader crashed on it" +
              (WIFSIGNALED(status) ? " with signal " + std::to_string(WTERMSIG(status)) : std::string()) +
              ")");
  if (WEXITSTATUS(status) == kThrew) {
    // the first line that says something (LibTorch appends a C++ stack trace; 2.x may start with a newline)
    std::istringstream lines(message);
    std::string first;
    while (std::getline(lines, first) && first.find_first_not_of(" \t\r") == std::string::npos) {
    }
    throw Error(path + ": cannot load (" + (first.empty() ? std::string("LibTorch cannot read it as an archive") : first) + ")");
  }
  archive.load_from(bytes.data(), bytes.size());
}

namespace {
// The scalars of a format-1 archive, as the strings format 2 keeps in its metadata.
std::map<std::string, std::string> archive_scalars(torch::serialize::InputArchive& a) {
  std::map<std::string, std::string> out;
  for (const char* key : {"latentlab_format", "kind", "config", "shape", "epoch", "world_size", "partial", "dataset", "accuracy"}) {
    c10::IValue v;
    if (!a.try_read(key, v)) continue;
    if (v.isString()) out[key] = v.toStringRef();
    else if (v.isInt()) out[key] = std::to_string(v.toInt());
    else if (v.isDouble()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.toDouble());
      out[key] = buf;
    } else if (v.isIntList()) {
      out[key] = nlohmann::json(v.toIntVector()).dump();
    }
  }
  return out;
}

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, '.')) parts.push_back(part);
  return parts;
}
}  // namespace

namespace {
// A whole number written as at most 9 decimal digits, or -1.
int64_t parse_count(const std::string& v) {
  return !v.empty() && v.size() < 10 && v.find_first_not_of("0123456789") == std::string::npos ? std::stoll(v) : -1;
}
}  // namespace

WeightsFile WeightsFile::read(const std::string& bytes, const std::string& path) {
  WeightsFile f;
  f.path_ = path;
  if (looks_like_safetensors(bytes)) {
    f.file_ = parse_safetensors(bytes, path);
    const std::string v = f.file_.meta("latentlab_format");
    f.format_ = std::max<int64_t>(0, parse_count(v));
    return f;
  }
  f.archive_ = std::make_shared<torch::serialize::InputArchive>();
  load_archive(*f.archive_, bytes, path);
  try {
    f.archive_meta_ = archive_scalars(*f.archive_);
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load (" + std::string(e.what()).substr(0, 300) + ")");
  }
  const std::string v = f.meta("latentlab_format");
  f.format_ = v.empty() ? (f.archive_meta_.count("kind") ? 1 : 0) : std::max<int64_t>(0, parse_count(v));
  return f;
}

WeightsFile WeightsFile::read_kind(const std::string& bytes, const std::string& path, const std::vector<std::string>& kinds,
                                   const std::string& what) {
  WeightsFile f = read(bytes, path);
  const std::string kind = f.meta("kind");
  require(f.format() > 0, path + ": not a latentlab " + what);
  require(f.format() <= kWeightsFormat, path + ": written by a newer latentlab (format " + std::to_string(f.format()) +
                                            "); this build reads formats 1 to " + std::to_string(kWeightsFormat));
  require(!kind.empty(), path + ": not a latentlab " + what);
  require(std::find(kinds.begin(), kinds.end(), kind) != kinds.end(), path + ": holds a " + kind + ", not a " + what);
  return f;
}

int64_t WeightsFile::meta_count(const std::string& key, int64_t fallback) const {
  const std::string v = meta(key);
  if (v.empty()) return fallback;
  const int64_t n = parse_count(v);
  require(n >= 0, path_ + ": malformed " + key + " '" + v.substr(0, 20) + "'");
  return n;
}

std::string WeightsFile::meta(const std::string& key) const {
  if (archive_) {
    auto it = archive_meta_.find(key);
    return it == archive_meta_.end() ? "" : it->second;
  }
  return file_.meta(key);
}

torch::Tensor WeightsFile::tensor(const std::string& name) const {
  if (!archive_) {
    const torch::Tensor* t = file_.find(name);
    return t ? *t : torch::Tensor();
  }
  // format 1: "model.a.b.w" is tensor w of sub-archive model/a/b; "optimizer.<phase>.x" is x of
  // sub-archive optimizer_<phase> (its step an integer); "rng.<r>" is partial_rng(_<r>)
  auto parts = split_dots(name);
  if (parts.size() < 2) return {};
  try {
    if (parts[0] == "rng") {
      torch::Tensor t;
      const std::string key = parts[1] == "0" ? "partial_rng" : "partial_rng_" + parts[1];
      return archive_->try_read(key, t) ? t : torch::Tensor();
    }
    std::vector<std::string> path = parts;
    if (parts[0] == "optimizer" && parts.size() == 3) path = {"optimizer_" + parts[1], parts[2]};
    torch::serialize::InputArchive at;
    torch::serialize::InputArchive* cur = archive_.get();
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      torch::serialize::InputArchive sub;
      if (!cur->try_read(path[i], sub)) return {};
      at = std::move(sub);
      cur = &at;
    }
    if (parts[0] == "optimizer" && path.back() == "step") {
      c10::IValue v;
      return cur->try_read("step", v) && v.isInt() ? torch::tensor(v.toInt(), torch::kInt64) : torch::Tensor();
    }
    torch::Tensor t;
    return cur->try_read(path.back(), t) ? t : torch::Tensor();
  } catch (const std::exception& e) {
    throw Error(path_ + ": cannot load (" + std::string(e.what()).substr(0, 300) + ")");
  }
}

std::vector<std::string> WeightsFile::names_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (const auto& [n, t] : file_.tensors)
    if (n.compare(0, prefix.size(), prefix) == 0) out.push_back(n);
  return out;
}

void load_weights(torch::nn::Module& module, const WeightsFile& file, const std::string& prefix) {
  auto describe = [](const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "] " + std::string(c10::toString(t.scalar_type()));
  };
  std::vector<std::pair<std::string, torch::Tensor>> mine;
  for (const auto& p : module.named_parameters()) mine.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers()) mine.emplace_back(b.key(), b.value());
  std::vector<torch::Tensor> found;
  for (const auto& [name, t] : mine) {
    torch::Tensor v = file.tensor(prefix + name);
    require(v.defined(), file.path() + ": holds no tensor '" + prefix + name + "', which this model (as its settings describe it) "
                         "has; the weights belong to another model or configuration");
    require(v.sizes() == t.sizes() && v.scalar_type() == t.scalar_type(),
            file.path() + ": tensor '" + prefix + name + "' is " + describe(v) + " in the file, but this model (as its settings "
            "describe it) has " + describe(t) + "; the weights belong to another model or configuration");
    found.push_back(v);
  }
  for (const auto& n : file.names_with_prefix(prefix)) {
    bool known = std::any_of(mine.begin(), mine.end(), [&](const auto& m) { return prefix + m.first == n; });
    require(known, file.path() + ": holds a tensor '" + n + "' that this model (as its settings describe it) does not have; "
                   "the weights belong to another model or configuration");
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < mine.size(); ++i) mine[i].second.copy_(found[i]);
}

}  // namespace latentlab
