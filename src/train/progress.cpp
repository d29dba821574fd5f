#include "latentlab/progress.h"

#include <unistd.h>

#include <cmath>

namespace latentlab {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  long t = std::lround(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

Progress::Progress(std::FILE* out, int tty) : out_(out), tty_(tty < 0 ? ::isatty(fileno(out)) != 0 : tty != 0) {}

void Progress::start_epoch(int64_t epoch, int64_t epochs, int64_t batches, int64_t batch_size) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  batch_size_ = batch_size;
  next_plain_ = batches / 4;
  start_ = last_draw_ = clock::now();
}

void Progress::update(int64_t batch, const std::function<double()>& loss) {
  auto now = clock::now();
  int64_t done = batch + 1;
  bool draw = tty_ ? (now - last_draw_ > std::chrono::milliseconds(200) || done == batches_)
                   : (done >= next_plain_ && done < batches_ && next_plain_ > 0);
  if (!draw) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double ips = secs > 0 ? done * batch_size_ / secs : 0;
  double eta = done > 0 ? secs / done * (batches_ - done) : 0;
  if (tty_) {
    int width = 24, filled = static_cast<int>(width * done / std::max<int64_t>(1, batches_));
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f  %.0f img/s  ETA %s", (long long)epoch_,
                 (long long)epochs_, bar.c_str(), (long long)done, (long long)batches_, loss(), ips,
                 format_duration(eta).c_str());
  } else {
    next_plain_ += std::max<int64_t>(1, batches_ / 4);
    std::fprintf(out_, "epoch %lld/%lld batch %lld/%lld loss %.4f %.0f img/s eta %s\n", (long long)epoch_,
                 (long long)epochs_, (long long)done, (long long)batches_, loss(), ips, format_duration(eta).c_str());
  }
  std::fflush(out_);
}

void Progress::end_epoch(const std::string& summary) {
  if (tty_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s\n", summary.c_str());
  std::fflush(out_);
}

TaskProgress::TaskProgress(std::FILE* out, std::string what, int64_t total, std::string unit, int tty)
    : out_(out), what_(std::move(what)), unit_(std::move(unit)), total_(std::max<int64_t>(1, total)),
      next_plain_(std::max<int64_t>(1, total / 4)), tty_(out && (tty < 0 ? ::isatty(fileno(out)) != 0 : tty != 0)) {
  start_ = last_draw_ = clock::now();
}

void TaskProgress::update(int64_t done) {
  if (!out_) return;
  auto now = clock::now();
  bool draw = tty_ ? now - last_draw_ > std::chrono::milliseconds(200) : (done >= next_plain_ && done < total_);
  if (!draw) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double eta = done > 0 ? secs / static_cast<double>(done) * static_cast<double>(total_ - done) : NAN;
  if (tty_) {
    int width = 24, filled = static_cast<int>(width * std::min(done, total_) / total_);
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    std::fprintf(out_, "\r\033[K%s [%s] %lld/%lld %s  ETA %s", what_.c_str(), bar.c_str(), (long long)done,
                 (long long)total_, unit_.c_str(), format_duration(eta).c_str());
    drawn_ = true;
  } else {
    while (next_plain_ <= done) next_plain_ += std::max<int64_t>(1, total_ / 4);
    std::fprintf(out_, "%s: %lld/%lld %s, eta %s\n", what_.c_str(), (long long)done, (long long)total_, unit_.c_str(),
                 format_duration(eta).c_str());
  }
  std::fflush(out_);
}

void TaskProgress::finish(const std::string& summary) {
  if (!out_) return;
  double secs = std::chrono::duration<double>(clock::now() - start_).count();
  if (drawn_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s: %s (%s)\n", what_.c_str(), summary.c_str(), format_duration(secs).c_str());
  std::fflush(out_);
}

}  // namespace latentlab
