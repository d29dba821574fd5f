// What the dashboard reads from a runs folder: run summaries, one run's details, and the check that
// keeps every served file inside the folder. Every file may be missing, half-written or deleted
// while we read, so nothing here throws except run_details() on a name that is not a run.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>

#include "latentlab/dashboard.h"
#include "latentlab/error.h"
#include "latentlab/run_lock.h"
#include "latentlab/report.h"
#include "latentlab/run_folder.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace latentlab {
namespace {

constexpr double kRunningWindowSeconds = 300;

struct FileInfo {
  std::string name;
  double mtime = 0;  // seconds since the epoch
  uint64_t size = 0;
};

// The regular files directly in a run folder (symbolic links left out), sorted by name.
std::vector<FileInfo> scan(const fs::path& run) {
  std::vector<FileInfo> files;
  std::error_code ec;
  for (fs::directory_iterator it(run, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files.push_back({it->path().filename().string(), st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9,
                     static_cast<uint64_t>(st.st_size)});
  }
  std::sort(files.begin(), files.end(), [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
  return files;
}

const FileInfo* find(const std::vector<FileInfo>& files, const std::string& name) {
  for (const auto& f : files)
    if (f.name == name) return &f;
  return nullptr;
}

json read_json(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return nullptr;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

bool is_run_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(fs::symlink_status(p, ec)) && fs::is_regular_file(p / run_folder::kConfig, ec);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "running" while a process holds the run's lock (certain); runs written before the lock existed
// have no .lock file and count as running while a file changed in the last five minutes.
std::string status_of(const fs::path& run, const std::vector<FileInfo>& files, double updated) {
  std::error_code ec;
  bool lockable = fs::exists(run / run_folder::kLock, ec);
  if (lockable && RunLock::holder(run.string())) return "running";
  if (find(files, run_folder::kModel)) return "finished";
  if (!lockable && now_seconds() - updated < kRunningWindowSeconds) return "running";
  return find(files, run_folder::kCheckpoint) ? "stopped" : "incomplete";
}

json summary(const fs::path& run, const std::vector<FileInfo>& files, const json& config,
             const std::vector<json>& metrics) {
  json s;
  s["name"] = run.filename().string();
  if (config.is_object()) {
    for (const char* k : {"model", "dataset", "epochs"})
      if (config.contains(k)) s[k] = config[k];
  } else {
    s["error"] = "config.json is not valid JSON";
  }
  if (!metrics.empty() && metrics.back().contains("epoch")) s["epoch"] = metrics.back()["epoch"];
  double best = INFINITY;
  for (const auto& m : metrics)
    if (m.contains("test_loss") && m["test_loss"].is_number() && std::isfinite(m["test_loss"].get<double>()))
      best = std::min(best, m["test_loss"].get<double>());
  if (std::isfinite(best)) s["best_test_loss"] = best;
  double updated = 0;
  std::string stamp;
  for (const auto& f : files) {
    updated = std::max(updated, f.mtime);
    stamp += f.name + ":" + std::to_string(f.size) + ":" + std::to_string(static_cast<int64_t>(f.mtime * 1000)) + ";";
  }
  s["updated"] = updated;
  s["stamp"] = std::to_string(std::hash<std::string>{}(stamp));
  s["status"] = status_of(run, files, updated);
  return s;
}

// What changes when a run's summary can: the folder (the trainer renames every file into place) and
// the files that may also be appended to (steps.jsonl, while an epoch runs) or rewritten in place.
std::string change_key(const fs::path& run) {
  std::string key;
  for (const fs::path& p : {run, run / run_folder::kMetrics, run / run_folder::kConfig, run / run_folder::kSteps}) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0)
      key += std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size) + ";";
    else
      key += "-;";
  }
  return key;
}

// Summaries of unchanged runs are reused: the page asks for the list every second.
struct SummaryCache {
  struct Entry {
    std::string key;
    json summary;
    std::vector<FileInfo> files;
  };
  std::mutex mutex;
  std::map<std::string, Entry> entries;
};

bool safe_component(const std::string& c) {
  return !c.empty() && c != "." && c != ".." && c.find('\0') == std::string::npos &&
         c.find('\\') == std::string::npos;
}

}  // namespace

json list_runs(const std::string& runs_dir) {
  std::vector<fs::path> runs;
  std::error_code ec;
  for (fs::directory_iterator it(runs_dir, ec), end; !ec && it != end; it.increment(ec))
    if (is_run_dir(it->path())) runs.push_back(it->path());
  std::sort(runs.begin(), runs.end());
  static SummaryCache cache;
  json out = json::array();
  for (const auto& run : runs) {
    std::string key = change_key(run);
    {
      std::lock_guard<std::mutex> lock(cache.mutex);
      auto it = cache.entries.find(run.string());
      if (it != cache.entries.end() && it->second.key == key) {
        json s = it->second.summary;
        s["status"] = status_of(run, it->second.files, s["updated"].get<double>());
        out.push_back(std::move(s));
        continue;
      }
    }
    auto files = scan(run);
    json s = summary(run, files, read_json(run / run_folder::kConfig), read_metrics((run / run_folder::kMetrics).string()));
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (cache.entries.size() > 10000) cache.entries.clear();
    cache.entries[run.string()] = {key, s, std::move(files)};
    out.push_back(std::move(s));
  }
  return out;
}

json run_details(const std::string& runs_dir, const std::string& name) {
  fs::path run = fs::path(runs_dir) / name;
  require(safe_component(name) && name.find('/') == std::string::npos && is_run_dir(run),
          "no run folder named '" + name + "' in " + runs_dir);
  auto files = scan(run);
  json config = read_json(run / run_folder::kConfig);
  int64_t skipped = 0;
  auto metrics = read_metrics((run / run_folder::kMetrics).string(), &skipped);
  json d = summary(run, files, config, metrics);
  d["config"] = config;
  d["metrics"] = metrics;
  d["skipped_lines"] = skipped;
  d["steps"] = thin_steps(read_metrics((run / run_folder::kSteps).string()));
  d["eval"] = find(files, run_folder::kEval) ? read_json(run / run_folder::kEval) : json(nullptr);
  // image grids by group: reconstruction-3.png is group "reconstruction", epoch 3
  static const std::regex numbered(R"((.+)-(\d+|latest)\.png)");
  json images = json::object();
  for (const auto& f : files) {
    if (f.name.size() < 5 || f.name.compare(f.name.size() - 4, 4, ".png") != 0) continue;
    std::smatch m;
    json entry = {{"file", f.name}, {"mtime", f.mtime}, {"epoch", nullptr}};
    std::string group = f.name.substr(0, f.name.size() - 4);
    if (std::regex_match(f.name, m, numbered)) {
      group = m[1];
      if (m[2] != "latest") entry["epoch"] = std::stoll(m[2].str().substr(0, 15));
    }
    images[group].push_back(entry);
  }
  for (auto& [group, list] : images.items())
    std::stable_sort(list.begin(), list.end(), [](const json& a, const json& b) {
      // numbered epochs in order, "latest" last
      if (a["epoch"].is_null() != b["epoch"].is_null()) return b["epoch"].is_null();
      return !a["epoch"].is_null() && a["epoch"].get<int64_t>() < b["epoch"].get<int64_t>();
    });
  d["images"] = images;
  return d;
}

std::optional<fs::path> resolve_run_file(const std::string& runs_dir, const std::string& relative) {
  if (relative.empty() || relative.front() == '/') return std::nullopt;
  size_t start = 0;
  while (true) {
    size_t slash = relative.find('/', start);
    if (!safe_component(relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start)))
      return std::nullopt;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::error_code ec;
  fs::path root = fs::canonical(runs_dir, ec);
  if (ec) return std::nullopt;
  auto inside = [&root](const fs::path& p) {
    auto r = root.begin(), t = p.begin();
    for (; r != root.end(); ++r, ++t)
      if (t == p.end() || *r != *t) return false;
    return true;
  };
  // every step of the way, with its symbolic links followed, stays inside the folder
  fs::path walked = root, target;
  for (const auto& part : fs::path(relative)) {
    walked /= part;
    target = fs::canonical(walked, ec);
    if (ec || !inside(target)) return std::nullopt;
  }
  if (!fs::is_regular_file(target, ec)) return std::nullopt;
  return target;
}

}  // namespace latentlab
