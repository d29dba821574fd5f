#pragma once
// Data-parallel training on c10d, PyTorch's own distributed engine (TCPStore + ProcessGroupGloo on
// the CPU, ProcessGroupNCCL on CUDA where LibTorch has it). Processes are launched the way PyTorch
// users launch them (torchrun, srun: RANK, WORLD_SIZE, MASTER_ADDR, ... in the environment) or by
// `train --nproc N` (launch_local). The trainer uses a ProcessGroup for DDP's semantics: parameters
// broadcast from rank 0, each rank a disjoint shard of every batch, one allreduce of each phase's flat
// gradient buffer, rank 0 the only writer of the run folder.
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace latentlab {

/// Where this process sits in a job.
struct DistEnv {
  int64_t rank = 0, world_size = 1;              ///< RANK, WORLD_SIZE
  int64_t local_rank = 0, local_world_size = 1;  ///< LOCAL_RANK, LOCAL_WORLD_SIZE (processes on this machine)
  std::string master_addr = "127.0.0.1";         ///< MASTER_ADDR: the host of rank 0, which holds the store
  int64_t master_port = 29500;                   ///< MASTER_PORT
  bool agent_store = false;  ///< TORCHELASTIC_USE_AGENT_STORE=True: torchrun already serves the store
  std::chrono::milliseconds timeout{60000};  ///< --dist-timeout: how long a collective or the start may wait
  bool distributed() const { return world_size > 1; }
};

/// Reads the job from environment variables, as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), else as Slurm's srun does (SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID, SLURM_NTASKS_PER_NODE; MASTER_ADDR/MASTER_PORT still needed for more than one task).
/// None of them set: a single process. Bad values (WORLD_SIZE 0, RANK >= WORLD_SIZE, a port that is not
/// a number in 1..65535, RANK without WORLD_SIZE) throw latentlab::Error naming the variable.
/// `getenv` is replaceable for tests.
DistEnv dist_env_from_environment(const std::function<const char*(const char*)>& getenv = nullptr);

/// The seed of rank `rank`'s random stream in epoch `epoch` (noise, dropout) of a run of more than one
/// process; the shuffle itself comes from epoch_seed and is the same on every rank.
uint64_t rank_seed(uint64_t seed, int64_t epoch, int64_t rank);

/// A c10d process group with the store it was formed through. Every collective throws
/// latentlab::Error on failure, naming the ranks (and their hosts) that are gone or did not answer.
class ProcessGroup {
 public:
  /// Joins the job: rank 0 serves the TCPStore at MASTER_ADDR:MASTER_PORT (unless torchrun's agent
  /// does), every rank connects and forms the group. Errors name the address and the cause (port in
  /// use, master unreachable, ranks missing after the timeout).
  ProcessGroup(const DistEnv& env, torch::Device device);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const;
  int64_t world_size() const;
  /// "gloo" or "nccl".
  std::string backend() const;
  /// Sums `t` (dense, contiguous) over the ranks in place.
  void allreduce_sum(const torch::Tensor& t);
  /// Copies rank `root`'s `t` into every rank's `t`.
  void broadcast(const torch::Tensor& t, int64_t root = 0);
  /// Copies rank 0's values of every tensor (parameters, buffers) into every rank's, in one broadcast.
  void broadcast_tensors(const std::vector<torch::Tensor>& tensors);
  /// Rank 0's bytes on every rank (`bytes` is read on rank 0 only).
  std::string broadcast_bytes(const std::string& bytes);
  /// Every rank calls it with whether its part succeeded. When one failed, each rank throws: the
  /// failed ones their own `message`, the others one that names the failed ranks and their messages.
  void agree(bool ok, const std::string& message);
  /// Every rank's string, in rank order, on every rank (through the store: for settings, metrics and
  /// generator states, a few kilobytes at the edges of an epoch, not for tensors of the inner loop).
  std::vector<std::string> allgather(const std::string& mine);
  /// Whether any rank passes true (one small allreduce).
  bool any(bool flag);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `train --nproc N`: runs N copies of this program (argv as given) with RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT set, and LATENTLAB_LAUNCHED=1 so they
/// train instead of launching. Workers start with SIGINT and SIGTERM blocked and keep them so (the
/// program's signal thread takes them: signals.h), so a signal during start-up is held, not fatal. Ctrl-C (SIGINT) and SIGTERM are passed on to every worker; a worker that
/// dies stops the job: the others end on their own (their collectives fail) and are killed if they have
/// not after `timeout` + 10 s. Returns the exit status: 0, 130 when every worker stopped on request, else
/// the first failure's (128 + signal for a killed worker). `log` receives one line per failed worker.
int launch_local(int64_t nproc, const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                 std::FILE* log = stderr);
/// Whether this process was started by launch_local.
bool launched_by_latentlab();

}  // namespace latentlab
