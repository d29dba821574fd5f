// One thread takes SIGINT and SIGTERM (signals.h).
#include "latentlab/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <thread>
#include <vector>

namespace latentlab {
namespace {

std::mutex g_mutex;
std::function<bool(int)> g_handler;
std::once_flag g_started;
bool g_hold = false;
std::vector<int> g_pending;  // held signals (take_signals(true)) that came before any handler

sigset_t taken() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}

// The signal's default action: ends the process, which is then reported as killed by it.
[[noreturn]] void die_by(int sig) {
  ::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

}  // namespace

void take_signals(bool hold) {
  std::call_once(g_started, [hold] {
    g_hold = hold;
    sigset_t s = taken();
    ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
    std::thread([s] {
      for (;;) {
        int sig = 0;
        if (::sigwait(&s, &sig) != 0) continue;
        std::function<bool(int)> h;
        {
          std::lock_guard<std::mutex> lock(g_mutex);
          h = g_handler;
          if (!h && g_hold) {
            g_pending.push_back(sig);
            continue;
          }
        }
        if (!h || !h(sig)) die_by(sig);
      }
    }).detach();
  });
}

std::function<bool(int)> on_signal(std::function<bool(int)> fn) {
  std::vector<int> held;
  std::function<bool(int)> h;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::swap(g_handler, fn);
    h = g_handler;
    if (h) held.swap(g_pending);
  }
  for (int sig : held)  // what came while no handler was there
    if (!h(sig)) die_by(sig);
  return fn;
}

}  // namespace latentlab
