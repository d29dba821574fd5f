#pragma once
// The real command-line tool in child processes, for the crash and data-parallel tests.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "paths.h"

extern char** environ;

namespace latentlab::test {

/// Starts latentlab with `args`, `env` ("NAME=value") added to the environment and stdout and stderr
/// appended to `log`. `prefix` runs first when given (for example {"ip", "netns", "exec", "a"}).
inline pid_t spawn_latentlab(const std::vector<std::string>& args, const std::vector<std::string>& env,
                             const std::string& log, const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> all = prefix;
  all.push_back(LATENTLAB_EXE);
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_copy = env;
  for (auto& e : env_copy) envp.push_back(e.data());
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawnp(&pid, all[0].c_str(), &fa, nullptr, argv.data(), envp.data()), 0) << all[0];
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

/// Exit status, or 128 + signal.
inline int wait_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Like wait_status, but gives up after `limit` (killing the process): -1.
inline int wait_status_within(pid_t pid, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

}  // namespace latentlab::test
