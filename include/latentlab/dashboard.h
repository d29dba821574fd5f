#pragma once
// latentlab serve: a read-only web dashboard over a folder of run folders, like the seeds' visdom.
// The page (embedded in the binary) polls a small JSON API and draws every metric of metrics.jsonl
// with Chart.js (served from data/web, no internet), the image grids of each epoch, the
// configuration and eval.json. Nothing is ever written; only files inside the runs folder are
// served.
//
//   GET /                       the page
//   GET /static/<name>          dashboard.js, dashboard.css, chart.umd.js
//   GET /api/runs               list_runs()
//   GET /api/runs/<name>        run_details()
//   GET /files/<run>/<file>     a file of a run folder (resolve_run_file())
//
// Beyond loopback every route requires a token (Jupyter-style): the first visit carries it as
// ?token=<hex>, which sets an HttpOnly cookie and redirects to the same path without it; later
// requests send the cookie. Anything else gets 401.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace latentlab {

struct DashboardOptions {
  /// Folder whose sub-folders are run folders (default "runs").
  std::string runs_dir = "runs";
  /// Address to bind (default "127.0.0.1": loopback only).
  std::string host = "127.0.0.1";
  /// Port (default 8097, visdom's); 0 picks a free one.
  int port = 8097;
  /// Chart.js UMD file; empty: the built-in copy (chart_js_source).
  std::string chart_js;
  /// Worker threads, each serving one connection at a time (default 128).
  int threads = 128;
  /// Who may read: "auto" (default: a token is required when `host` is not a loopback address),
  /// "token" (always required), "none" (never; --no-auth).
  std::string auth = "auto";
  /// The token when one is required; empty: 32 random bytes in hex, made at start.
  std::string token;
};

/// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

/// 32 random bytes from the kernel, in hex (64 characters).
std::string random_token();

/// a == b in time that depends only on their lengths.
bool constant_time_equal(const std::string& a, const std::string& b);

/// One entry per run folder directly inside `runs_dir` (a folder with a config.json), sorted by
/// name: {name, model, dataset, status, epoch, epochs, best_test_loss, updated, stamp}. `status` is
/// "running" (a process holds the run's lock; runs from before the lock: a file changed in the last 5
/// minutes), "finished" (a model file), "stopped" (a
/// checkpoint to --resume from) or "incomplete"; `stamp` changes whenever the run's files do. Files
/// that are missing, unreadable or half-written leave their fields out; nothing throws.
nlohmann::json list_runs(const std::string& runs_dir);

/// Everything the page shows of one run: the list_runs() fields plus config, metrics (every
/// metrics.jsonl line that parses; `skipped_lines` counts the rest), eval (eval.json or null) and
/// images: {group: [{file, epoch, mtime}]} sorted by epoch, where reconstruction-3.png is group
/// "reconstruction", epoch 3 and samples-latest.png has epoch null. Throws latentlab::Error when
/// `name` is not a run folder inside `runs_dir`.
nlohmann::json run_details(const std::string& runs_dir, const std::string& name);

/// The regular file that the URL path `relative` (percent-decoded, below the runs folder) names,
/// or nullopt when it is not one inside `runs_dir`: empty, absolute, with "..", "." or empty
/// components, backslashes or NUL bytes, missing, not a regular file, or reached through a
/// symbolic link that points outside the folder.
std::optional<std::filesystem::path> resolve_run_file(const std::string& runs_dir, const std::string& relative);

class Dashboard {
 public:
  /// Checks the options: throws latentlab::Error naming the runs folder when it is not a folder,
  /// or the Chart.js file (and how to install it) when it is missing.
  explicit Dashboard(DashboardOptions options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  /// Binds the address and serves on a background thread; returns the port. Throws
  /// latentlab::Error naming host and port when they cannot be bound.
  int start();
  /// Blocks until stop() is called (from another thread).
  void wait();
  void stop();
  /// http://<host>:<port>/ once started.
  std::string url() const;
  /// The token every request must carry (as ?token= once, then the cookie), or "" when none is required.
  std::string token() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latentlab
