#pragma once
// One writer per run folder: `train` holds an exclusive flock on <run>/.lock for as long as it runs.
// The kernel releases it when the process ends, however it ends, so a killed run never leaves a
// stale lock; readers (sample, eval, serve, report) never take it.
#include <cstdint>
#include <optional>
#include <string>

namespace latentlab {

class RunLock {
 public:
  /// Takes the lock of `run_dir` (which must exist) or throws latentlab::Error:
  /// "<run_dir> is being written by process N (started <time>); wait for it or choose another --out".
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  /// Who writes `run_dir` now: the pid and start time of the holder, or nothing when no process does.
  struct Holder {
    int64_t pid = 0;
    std::string started;
  };
  static std::optional<Holder> holder(const std::string& run_dir);

 private:
  int fd_ = -1;
};

}  // namespace latentlab
