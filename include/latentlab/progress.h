#pragma once
// Progress of long work: a redrawn bar on a terminal (epoch, batch, loss, images/s, ETA), plain lines
// in logs.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

namespace latentlab {

class Progress {
 public:
  /// `tty` -1: detect from the stream; 0/1: force plain lines / bar.
  explicit Progress(std::FILE* out = stderr, int tty = -1);
  void start_epoch(int64_t epoch, int64_t epochs, int64_t batches, int64_t batch_size);
  /// Called after every batch; `loss` is only called (a host read) when the line is redrawn.
  void update(int64_t batch, const std::function<double()>& loss);
  /// Prints the epoch's closing line.
  void end_epoch(const std::string& summary);
  bool is_tty() const { return tty_; }

 private:
  using clock = std::chrono::steady_clock;
  std::FILE* out_;
  bool tty_;
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0, batch_size_ = 0, next_plain_ = 0;
  clock::time_point start_, last_draw_;
};

/// Progress of any counted task (classifier epochs, sample drawing, evaluation passes): a bar on a
/// terminal, a plain line at each quarter in logs, and a closing line.
class TaskProgress {
 public:
  /// `what` names the task ("classifier epoch 1/3"), `total` counts `unit`s ("images", "batches");
  /// `out` nullptr: silent.
  TaskProgress(std::FILE* out, std::string what, int64_t total, std::string unit, int tty = -1);
  /// `done` units so far (cheap when nothing is drawn).
  void update(int64_t done);
  /// Prints "<what>: <summary> (<seconds>)".
  void finish(const std::string& summary = "done");

 private:
  using clock = std::chrono::steady_clock;
  std::FILE* out_;
  std::string what_, unit_;
  int64_t total_, next_plain_;
  bool tty_, drawn_ = false;
  clock::time_point start_, last_draw_;
};

/// "1m05s" style durations.
std::string format_duration(double seconds);

}  // namespace latentlab
