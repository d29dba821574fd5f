// The job a process belongs to, read from the variables torchrun or srun set.
#include <cstdlib>
#include <string>

#include "latentlab/distributed.h"
#include "latentlab/error.h"
#include "latentlab/train.h"

namespace latentlab {
namespace {

// A whole number in [lo, hi] from variable `name`, or the error naming it.
int64_t number(const char* name, const char* text, int64_t lo, int64_t hi, const std::string& what) {
  std::string s = text;
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  require(!s.empty() && used == s.size() && v >= lo && v <= hi,
          std::string(name) + "=" + s + ": " + what + " must be a whole number from " + std::to_string(lo) + " to " +
              std::to_string(hi));
  return v;
}

}  // namespace

DistEnv dist_env_from_environment(const std::function<const char*(const char*)>& getenv_in) {
  auto get = [&](const char* name) -> const char* {
    const char* v = getenv_in ? getenv_in(name) : std::getenv(name);
    return v && *v ? v : nullptr;
  };
  DistEnv e;
  // torchrun's names first; srun's when those are absent
  const char* rank_var = get("RANK") ? "RANK" : get("SLURM_PROCID") ? "SLURM_PROCID" : nullptr;
  const char* size_var = get("WORLD_SIZE") ? "WORLD_SIZE" : get("SLURM_NTASKS") ? "SLURM_NTASKS" : nullptr;
  if (!rank_var && !size_var) return e;
  if (!size_var) throw Error(std::string(rank_var) + " is set but WORLD_SIZE is not: a job needs both (torchrun and srun set them)");
  e.world_size = number(size_var, get(size_var), 1, 65536, "the number of processes");
  if (!rank_var) {
    require(e.world_size == 1, std::string(size_var) + "=" + get(size_var) + " but RANK is not set: every process needs its rank");
    return e;
  }
  e.rank = number(rank_var, get(rank_var), 0, 65535, "the rank");
  require(e.rank < e.world_size, std::string(rank_var) + "=" + std::to_string(e.rank) + " but " + size_var + "=" +
                                     std::to_string(e.world_size) + ": ranks run from 0 to " + std::to_string(e.world_size - 1));
  const bool slurm = std::string(rank_var) == "SLURM_PROCID";
  const char* local_var = get(slurm ? "SLURM_LOCALID" : "LOCAL_RANK") ? (slurm ? "SLURM_LOCALID" : "LOCAL_RANK") : nullptr;
  e.local_rank = local_var ? number(local_var, get(local_var), 0, 65535, "the local rank") : e.rank;
  const char* lsize_var = slurm ? "SLURM_NTASKS_PER_NODE" : "LOCAL_WORLD_SIZE";
  if (const char* v = get(lsize_var)) {
    std::string s = v;  // srun may write "4(x2)"
    if (slurm) s = s.substr(0, s.find('('));
    e.local_world_size = number(lsize_var, s.c_str(), 1, 65536, "the number of processes on this machine");
  } else {
    e.local_world_size = local_var ? e.world_size : 1;
  }
  require(e.local_rank < e.local_world_size, std::string(local_var ? local_var : "LOCAL_RANK") + "=" + std::to_string(e.local_rank) +
                                                 " but " + lsize_var + "=" + std::to_string(e.local_world_size) +
                                                 ": local ranks run from 0 to " + std::to_string(e.local_world_size - 1));
  if (const char* a = get("MASTER_ADDR")) e.master_addr = a;
  else require(e.world_size == 1, "MASTER_ADDR is not set: every process must know the host of rank 0 (torchrun sets it; "
                                  "with srun, export MASTER_ADDR=<first host of the job>)");
  if (const char* p = get("MASTER_PORT")) e.master_port = number("MASTER_PORT", p, 1, 65535, "the port of rank 0's store");
  else require(e.world_size == 1, "MASTER_PORT is not set: every process must know the port of rank 0's store (torchrun sets it; "
                                  "with srun, export MASTER_PORT=29500 or another free port)");
  if (const char* v = get("TORCHELASTIC_USE_AGENT_STORE")) e.agent_store = std::string(v) == "True";
  return e;
}

uint64_t rank_seed(uint64_t seed, int64_t epoch, int64_t rank) {
  // a different stream per rank, derived like the epoch's own (SplitMix64's odd constant spreads ranks)
  return epoch_seed(seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(rank + 1)), epoch);
}

bool launched_by_latentlab() {
  const char* v = std::getenv("LATENTLAB_LAUNCHED");
  return v && std::string(v) == "1";
}

}  // namespace latentlab
