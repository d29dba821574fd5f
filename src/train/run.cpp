// Run-folder I/O shared by the trainer and the later commands: model files, seeds, devices.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <filesystem>
#include <map>
#include <cstdlib>
#include <thread>

#include "latentlab/build_config.h"
#include "latentlab/error.h"
#include "latentlab/io.h"
#include "latentlab/train.h"

namespace latentlab {

std::string default_run_dir(const std::string& model) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&t));
  return "runs/" + model + "-" + buf;
}

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  // splitmix64 of the pair
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7fffffffffffffffULL;
}

int64_t apply_threads(int64_t threads) {
  int64_t n = threads;
  if (n <= 0) {
    // OMP_NUM_THREADS, where it is a positive count, as for any OpenMP program; else every core
    const char* env = std::getenv("OMP_NUM_THREADS");
    char* end = nullptr;
    long v = env ? std::strtol(env, &end, 10) : 0;
    n = (env && end != env && *end == '\0' && v > 0 && v <= 1024) ? v
                                                                   : std::max<int64_t>(1, std::thread::hardware_concurrency());
  }
  torch::set_num_threads(static_cast<int>(n));
  return n;
}

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    require(torch::cuda::is_available(), "--device cuda: no CUDA device is available to this LibTorch build; use --device cpu");
    return torch::kCUDA;
  }
  throw Error("--device " + name + ": choose cpu or cuda");
}

namespace {
constexpr int64_t kFormat = 1;
}  // namespace

std::string archive_bytes(torch::serialize::OutputArchive& a) {
  std::string bytes;
  a.save_to([&](const void* data, size_t n) {
    bytes.append(static_cast<const char*>(data), n);
    return n;
  });
  return bytes;
}

torch::serialize::OutputArchive model_archive(const std::string& kind, const TrainConfig& c, const ImageShape& shape,
                                              ModelImpl& model) {
  torch::serialize::OutputArchive a;
  a.write("latentlab_format", c10::IValue(kFormat));
  a.write("kind", c10::IValue(kind));
  a.write("config", c10::IValue(to_json(c).dump()));
  a.write("shape", c10::IValue(std::vector<int64_t>{shape.channels, shape.height, shape.width}));
  torch::serialize::OutputArchive m;
  model.save(m);
  a.write("model", m);
  return a;
}

std::string save_model_bytes(const TrainConfig& c, const ImageShape& shape, ModelImpl& model) {
  auto a = model_archive("model", c, shape, model);
  return archive_bytes(a);
}

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

void load_weights(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& source) {
  auto describe = [](const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "] " + std::string(c10::toString(t.scalar_type()));
  };
  std::vector<std::pair<std::string, std::string>> expected;
  for (const auto& p : module.named_parameters()) expected.emplace_back(p.key(), describe(p.value()));
  for (const auto& b : module.named_buffers()) expected.emplace_back(b.key(), describe(b.value()));
  module.load(archive);
  std::map<std::string, std::string> got;
  for (const auto& p : module.named_parameters()) got[p.key()] = describe(p.value());
  for (const auto& b : module.named_buffers()) got[b.key()] = describe(b.value());
  for (const auto& [name, shape] : expected)
    require(got[name] == shape, source + ": tensor '" + name + "' is " + got[name] + " in the file, but this model (as its settings "
                                "describe it) has " + shape + "; the weights belong to another model or configuration");
}

LoadedModel load_model_file(const std::string& path) {
  require(std::filesystem::is_regular_file(path), path + ": no such model file");
  std::string bytes = read_file(path);
  LoadedModel out;
  try {
    torch::serialize::InputArchive a;
    load_archive(a, bytes, path);
    c10::IValue v;
    require(a.try_read("latentlab_format", v) && v.isInt(), path + ": not a latentlab model or checkpoint file "
                                                                   "(a run folder's `model` or `checkpoint` was expected)");
    require(v.toInt() <= kFormat, path + ": written by a newer latentlab (format " + std::to_string(v.toInt()) +
                                      "); this build reads format " + std::to_string(kFormat));
    a.read("config", v);
    out.config = config_from_json(nlohmann::json::parse(v.toStringRef()), {}, path);
    a.read("shape", v);
    auto s = v.toIntVector();
    require(s.size() == 3, path + ": malformed image shape");
    out.shape = {s[0], s[1], s[2]};
    require(s[0] >= 1 && s[0] <= 4 && s[1] >= 1 && s[1] <= 1024 && s[2] >= 1 && s[2] <= 1024,  // as --image-size
            path + ": malformed image shape");
    validate(out.config);
    // the model is built (and its memory allocated) from the settings and shape before the weights are
    // checked, so a shape that disagrees with the settings is refused first (settings built in C++ may
    // leave channels and image size unstated, 0: those are not compared)
    const auto& cc = out.config;
    require((cc.channels == 0 || out.shape.channels == cc.channels) &&
                (cc.image_size == 0 || (out.shape.height == cc.image_size && out.shape.width == cc.image_size)),
            path + ": malformed file: its image shape " + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" +
                std::to_string(s[2]) + " disagrees with its settings (channels " + std::to_string(out.config.channels) +
                ", image size " + std::to_string(out.config.image_size) + ")");
    out.model = ModelRegistry::create(out.config, out.shape);
    torch::serialize::InputArchive m;
    a.read("model", m);
    load_weights(*out.model, m, path);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load (" + std::string(e.what()).substr(0, 300) + ")");
  }
  return out;
}

std::vector<int64_t> kept_checkpoint_epochs(const std::string& run_dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(run_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0) continue;
    const std::string digits = name.substr(11);
    if (!digits.empty() && digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos)
      out.push_back(std::stoll(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

LoadedModel load_run(const std::string& run_dir, int64_t epoch) {
  namespace fs = std::filesystem;
  require(fs::is_directory(run_dir), run_dir + ": no such run folder");
  if (epoch > 0) {
    fs::path kept = fs::path(run_dir) / ("checkpoint-" + std::to_string(epoch));
    if (fs::exists(kept)) return load_model_file(kept.string());
    std::string have;
    for (int64_t e : kept_checkpoint_epochs(run_dir)) have += (have.empty() ? "" : ", ") + std::to_string(e);
    throw Error("--epoch " + std::to_string(epoch) + ": " + run_dir + " keeps no checkpoint of that epoch; " +
                (have.empty() ? std::string("it keeps none (train with --keep-checkpoints N or all to keep them)")
                              : "it keeps epochs " + have));
  }
  fs::path model = fs::path(run_dir) / "model", checkpoint = fs::path(run_dir) / "checkpoint";
  if (fs::exists(model)) return load_model_file(model.string());
  if (fs::exists(checkpoint)) {
    auto m = load_model_file(checkpoint.string());
    std::fprintf(stderr, "note: %s has no final model file (training is unfinished or was interrupted); using the weights of "
                 "its last checkpoint\n", run_dir.c_str());
    return m;
  }
  throw Error(run_dir + ": holds neither a model nor a checkpoint file; is it a latentlab run folder?");
}

}  // namespace latentlab
