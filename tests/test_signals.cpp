// SIGINT and SIGTERM go to one waiting thread (signals.h): never to a thread that computes, whose stack
// pointer may be borrowed by a JIT kernel (issue 23), and the default action without a handler.
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common.h"
#include "latentlab/signals.h"

namespace latentlab::test {

namespace {
bool blocked_here(int sig) {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}
}  // namespace

TEST(Signals, WithoutAHandlerTheSignalEndsTheProcessAsItsDefaultAction) {
  // in a child process of its own, so that this one's signal thread is not involved
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    take_signals();
    ::kill(::getpid(), SIGTERM);
    for (int i = 0; i < 500; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::_exit(0);  // not reached: the signal thread ends the process
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(Signals, HeldSignalsWaitForTheHandler) {
  // a --nproc worker: a Ctrl-C during its start reaches the train command's handler once it is there
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    take_signals(/*hold=*/true);
    ::kill(::getpid(), SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // still alive: held
    std::atomic<int> got{0};
    on_signal([&](int sig) {
      got = sig;
      return true;
    });
    ::_exit(got.load() == SIGINT ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the held SIGINT did not reach the handler";
}

TEST(Signals, EveryThreadBlocksThemAndTheSignalThreadCallsTheHandler) {
  take_signals();
  take_signals();  // idempotent
  EXPECT_TRUE(blocked_here(SIGINT));
  EXPECT_TRUE(blocked_here(SIGTERM));
  std::atomic<int> got{0}, calls{0};
  std::atomic<bool> on_worker{false}, stop{false};
  std::thread::id main_id = std::this_thread::get_id(), worker_id;
  bool worker_blocks = false;
  std::thread worker([&] {  // a computation started after take_signals inherits the mask
    worker_blocks = blocked_here(SIGINT) && blocked_here(SIGTERM);
    volatile double x = 0;
    while (!stop.load()) x = x * 0.5 + 1;
  });
  worker_id = worker.get_id();
  auto before = on_signal([&](int sig) {
    on_worker = std::this_thread::get_id() == worker_id || std::this_thread::get_id() == main_id;
    got = sig;
    ++calls;
    return true;
  });
  EXPECT_FALSE(before) << "no handler before";
  ::kill(::getpid(), SIGINT);
  for (int i = 0; i < 500 && calls.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(::getpid(), SIGTERM);
  for (int i = 0; i < 500 && calls.load() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  worker.join();
  EXPECT_TRUE(worker_blocks);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(got.load(), SIGTERM);
  EXPECT_FALSE(on_worker.load()) << "the handler ran on a thread that computes";
  auto mine = on_signal(nullptr);
  EXPECT_TRUE(static_cast<bool>(mine));
}

}  // namespace latentlab::test
