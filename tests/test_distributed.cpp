// Data-parallel training on c10d: the job's environment, the sharded batcher, and the real tool in
// 2 and 3 processes on the loopback (--nproc, or RANK/WORLD_SIZE as torchrun sets them) and in two
// network namespaces: results against one process, failures, resume and bad input.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <ATen/CPUGeneratorImpl.h>

#include <map>

#include "common.h"
#include "latentlab/config.h"
#include "latentlab/distributed.h"
#include "latentlab/io.h"
#include "latentlab/report.h"
#include "latentlab/train.h"
#include "processes.h"

namespace latentlab::test {
namespace {

DistEnv env_of(const std::map<std::string, std::string>& vars) {
  return dist_env_from_environment([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

// A port on the loopback with nothing listening (as launch_local picks one).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::FILE* quiet() {
  static std::FILE* f = std::fopen("/dev/null", "w");
  return f;
}

// A job of `world` ranks simulated in one process, step by step as the trainer runs it: a model replica,
// optimisers and batcher shard per rank, the same shuffle, each rank's own random stream, BatchNorm
// buffers from rank 0 at each epoch start, and the gradients summed (each weighted by the rank's share
// of the batch) as the allreduce sums them. Returns rank 0's parameters after c.epochs.
std::vector<torch::Tensor> simulate_job(TrainConfig c, int64_t world) {
  apply_model_defaults(c);
  Splits data = load_splits(c, quiet());
  ImageShape shape{data.train.channels(), data.train.height(), data.train.width()};
  struct Rank {
    Model model;
    std::vector<Phase> phases;
    std::vector<std::unique_ptr<FlatAdam>> optims;
    std::unique_ptr<Batcher> batches;
    torch::Tensor rng;
  };
  std::vector<Rank> ranks(world);
  for (int64_t r = 0; r < world; ++r) {
    Rank& k = ranks[r];
    torch::manual_seed(c.seed);
    k.model = ModelRegistry::create(c, shape);
    k.phases = k.model->phases();
    std::set<const void*> owned;
    for (auto& p : k.phases) {
      bool shared = false;
      for (auto& t : p.parameters) shared |= !owned.insert(t.unsafeGetTensorImpl()).second;
      k.optims.push_back(std::make_unique<FlatAdam>(p.parameters, FlatAdamOptions(c.lr).beta1(c.beta1).alias(!shared)));
    }
    k.batches = std::make_unique<Batcher>(data.train, c.batch_size, true);
    k.batches->shard(r, world);
  }
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
    for (int64_t r = 0; r < world; ++r) {
      Rank& k = ranks[r];
      torch::manual_seed(epoch_seed(c.seed, epoch));
      k.model->set_epoch(epoch);
      k.batches->start_epoch(gen);
      torch::manual_seed(rank_seed(c.seed, epoch, r));
      k.rng = gen.get_state();
      auto b0 = ranks[0].model->buffers(), bk = k.model->buffers();
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < bk.size(); ++i) bk[i].copy_(b0[i]);
      k.model->train();
    }
    for (int64_t b = 0; b < ranks[0].batches->batches(); ++b)
      for (size_t p = 0; p < ranks[0].phases.size(); ++p) {
        if (b % ranks[0].phases[p].every != 0) continue;
        torch::Tensor sum;
        for (auto& k : ranks) {
          gen.set_state(k.rng);
          k.optims[p]->zero_grad();
          torch::Tensor x = k.batches->batch(b);
          if (x.size(0) > 0) k.model->losses_and_gradients(p, x);
          k.rng = gen.get_state();
          k.optims[p]->collect();
          torch::Tensor g = k.optims[p]->grad_buffer() * (static_cast<double>(x.size(0)) / k.batches->batch_total(b));
          sum = sum.defined() ? sum + g : g;
        }
        for (auto& k : ranks) {
          k.optims[p]->grad_buffer().copy_(sum);
          k.optims[p]->step();
        }
      }
  }
  return ranks[0].model->parameters();
}

// Largest difference between two parameter lists, relative to the largest value.
double max_rel_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>() / std::max(1e-6, a[i].abs().max().item<double>()));
  return worst;
}

}  // namespace

TEST(DistEnvTest, ReadsTorchrunAndSlurmVariables) {
  DistEnv none = env_of({});
  EXPECT_FALSE(none.distributed());
  DistEnv t = env_of({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                      {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "29400"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  EXPECT_TRUE(t.distributed());
  EXPECT_EQ(t.rank, 3);
  EXPECT_EQ(t.world_size, 8);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.local_world_size, 2);
  EXPECT_EQ(t.master_addr, "10.0.0.5");
  EXPECT_EQ(t.master_port, 29400);
  EXPECT_TRUE(t.agent_store);
  DistEnv s = env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "2"}, {"SLURM_NTASKS_PER_NODE", "3(x2)"},
                      {"MASTER_ADDR", "node1"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(s.rank, 5);
  EXPECT_EQ(s.world_size, 6);
  EXPECT_EQ(s.local_rank, 2);
  EXPECT_EQ(s.local_world_size, 3);
  EXPECT_FALSE(s.agent_store);
  // one process needs no master
  EXPECT_FALSE(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}}).distributed());
}

TEST(DistEnvTest, BadValuesNameTheVariable) {
  const std::map<std::string, std::string> ok = {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  auto with = [&](const std::string& k, const std::string& v) {
    auto m = ok;
    if (v.empty())
      m.erase(k);
    else
      m[k] = v;
    return m;
  };
  EXPECT_ERROR_WITH(env_of(with("WORLD_SIZE", "0")), "WORLD_SIZE=0");
  EXPECT_ERROR_WITH(env_of(with("RANK", "2")), "ranks run from 0 to 1");
  EXPECT_ERROR_WITH(env_of(with("RANK", "-1")), "RANK=-1");
  EXPECT_ERROR_WITH(env_of(with("MASTER_PORT", "http")), "MASTER_PORT=http");
  EXPECT_ERROR_WITH(env_of(with("MASTER_PORT", "70000")), "MASTER_PORT=70000");
  EXPECT_ERROR_WITH(env_of(with("MASTER_ADDR", "")), "MASTER_ADDR is not set");
  EXPECT_ERROR_WITH(env_of(with("MASTER_PORT", "")), "MASTER_PORT is not set");
  EXPECT_ERROR_WITH(env_of(with("WORLD_SIZE", "")), "WORLD_SIZE is not");
  EXPECT_ERROR_WITH(env_of(with("RANK", "")), "RANK is not set");
  EXPECT_ERROR_WITH(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"},
                            {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
                    "LOCAL_RANK=2");
}

TEST(DistEnvTest, RankStreamsDiffer) {
  EXPECT_NE(rank_seed(1, 1, 0), rank_seed(1, 1, 1));
  EXPECT_NE(rank_seed(1, 1, 0), rank_seed(1, 2, 0));
  EXPECT_NE(rank_seed(1, 1, 0), epoch_seed(1, 1));
}

TEST(BatcherShard, ShardsPartitionEachBatchOfTheSingleProcessEpoch) {
  Dataset d{"t", torch::arange(50, torch::kUInt8).view({50, 1, 1, 1}), torch::zeros({50}, torch::kInt64)};
  Batcher whole(d, 12, true);  // 5 batches of 12, 12, 12, 12, 2
  std::vector<std::unique_ptr<Batcher>> parts;
  for (int r = 0; r < 3; ++r) {
    parts.push_back(std::make_unique<Batcher>(d, 4, true));
    parts.back()->shard(r, 3);
  }
  for (int epoch = 0; epoch < 2; ++epoch) {
    torch::manual_seed(9 + epoch);
    whole.start_epoch(at::detail::getDefaultCPUGenerator());
    for (auto& p : parts) {
      torch::manual_seed(9 + epoch);
      p->start_epoch(at::detail::getDefaultCPUGenerator());
    }
    ASSERT_EQ(parts[0]->batches(), whole.batches());
    for (int64_t b = 0; b < whole.batches(); ++b) {
      std::vector<torch::Tensor> pieces;
      for (auto& p : parts) {
        pieces.push_back(p->indices(b));
        EXPECT_EQ(p->batch_total(b), whole.indices(b).size(0));
        EXPECT_EQ(p->batch(b).size(0), pieces.back().size(0));
      }
      EXPECT_TRUE(torch::equal(torch::cat(pieces), whole.indices(b))) << "batch " << b;
    }
  }
  // the last batch (2 images) leaves ranks 1 and 2 none
  EXPECT_EQ(parts[0]->indices(4).size(0), 2);
  EXPECT_EQ(parts[1]->indices(4).size(0), 0);
  EXPECT_EQ(parts[2]->batch(4).size(0), 0);
}

class Distributed : public Seeded {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    // 308 images: with 16 per rank the last batch leaves 2 ranks 16 and 4 images, 3 ranks 16, 4 and 0
    write_tiny_mnist(dir / "data", 308, 64);
  }
  std::vector<std::string> train(const std::string& model, const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::pair<std::string, std::string>> defaults = {
        {"--epochs", "2"}, {"--threads", "1"}, {"--seed", "5"}, {"--grid-images", "16"}, {"--preview-every", "0"},
        {"--dist-timeout", "30"}, {"--batch-size", "16"}, {"--latent", model == "dcgan" ? "8" : "4"}};
    if (model == "dcgan")
      defaults.insert(defaults.end(), {{"--ngf", "8"}, {"--ndf", "8"}});
    else
      defaults.push_back({"--hidden", "32"});
    std::vector<std::string> a = {"train", "--model", model, "--data-dir", (dir / "data").string(), "--out", path(out)};
    for (const auto& [flag, value] : defaults)
      if (std::find(extra.begin(), extra.end(), flag) == extra.end()) a.insert(a.end(), {flag, value});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  int run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return wait_status_within(spawn_latentlab(args, env, path("log")), std::chrono::seconds(300));
  }
  std::string log() { return read_file(path("log")); }
  std::vector<std::string> rank_env(int64_t rank, int64_t world, int port, const std::string& addr = "127.0.0.1") {
    return {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world), "LOCAL_RANK=" + std::to_string(rank),
            "LOCAL_WORLD_SIZE=" + std::to_string(world), "MASTER_ADDR=" + addr, "MASTER_PORT=" + std::to_string(port)};
  }
  std::vector<torch::Tensor> weights(const std::string& out) { return load_run(path(out)).model->parameters(); }
  std::vector<nlohmann::json> metrics(const std::string& out) { return read_metrics(path(out + "/metrics.jsonl")); }
};

TEST_F(Distributed, TwoAndThreeProcessesTrainTheAutoencoderAsOneProcessWithTheWholeBatch) {
  // the autoencoder draws no noise: 2 x 16 and 3 x 16 images per step equal one process with 32 and 48
  ASSERT_EQ(run(train("ae", "one32", {"--batch-size", "32"})), 0) << log();
  ASSERT_EQ(run(train("ae", "two", {"--nproc", "2"})), 0) << log();
  ASSERT_EQ(run(train("ae", "one48", {"--batch-size", "48"})), 0) << log();
  ASSERT_EQ(run(train("ae", "three", {"--nproc", "3"})), 0) << log();
  EXPECT_LT(max_rel_diff(weights("one32"), weights("two")), 1e-4);
  EXPECT_LT(max_rel_diff(weights("one48"), weights("three")), 1e-4);
  auto a = metrics("one32"), b = metrics("two");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_NEAR(a[e]["train_loss"].get<double>(), b[e]["train_loss"].get<double>(), 1e-4 * a[e]["train_loss"].get<double>());
    EXPECT_NEAR(a[e]["test_loss"].get<double>(), b[e]["test_loss"].get<double>(), 1e-4 * a[e]["test_loss"].get<double>());
    EXPECT_EQ(b[e]["world_size"], 2);
    EXPECT_GE(b[e]["allreduce_seconds"].get<double>(), 0);
  }
  // only rank 0 wrote: one run folder, nothing else in the test folder
  EXPECT_TRUE(fs::exists(dir / "two" / "model"));
  EXPECT_TRUE(fs::exists(dir / "two" / "samples-2.png"));
}

// The job's weights against the same job simulated in one process. Two ranks' gradients add up to the
// same float sum in either order, so the job must match the simulation bit for bit. Three ranks' sum
// depends on the order Gloo's ring adds them in, which the simulation cannot know: float rounding
// (1e-7) differs, and Adam turns a gradient's rounding into a step of up to the learning rate wherever
// the gradient is near zero (the DCGAN's BatchNorm biases), which the GAN's two players then carry
// further. Measured on LibTorch 2.6: after 12 DCGAN steps 6e-7, after 15 or 20 steps 1e-2 (relative to
// each tensor's largest value). So three ranks are compared over 6 steps for the DCGAN.
TEST_F(Distributed, VaeAndDcganMatchTheJobSimulatedInOneProcess) {
  for (const std::string model : {"vae", "dcgan"})
    for (int world : {2, 3}) {
      const std::string out = model + std::to_string(world);
      std::vector<std::string> extra = {"--nproc", std::to_string(world)};
      if (model == "dcgan" && world == 3) extra.insert(extra.end(), {"--epochs", "1", "--train-images", "96"});
      ASSERT_EQ(run(train(model, out, extra)), 0) << log();
      auto expected = simulate_job(load_config(path(out + "/config.json")), world);
      if (world == 2)
        EXPECT_EQ(max_rel_diff(expected, weights(out)), 0) << out;
      else
        EXPECT_LT(max_rel_diff(expected, weights(out)), 1e-4) << out;
    }
}

TEST_F(Distributed, CtrlCStopsEveryRankWithACheckpointThatResumesExactly) {
  write_tiny_mnist(dir / "data", 2048, 64);
  ASSERT_EQ(run(train("vae", "ref", {"--nproc", "2", "--epochs", "3"})), 0) << log();
  int interrupted = 0;
  for (int attempt = 0; attempt < 10 && interrupted < 2; ++attempt) {
    const std::string out = "cut" + std::to_string(attempt);
    pid_t pid = spawn_latentlab(train("vae", out, {"--nproc", "2", "--epochs", "3"}), {}, path("log"));
    // Ctrl-C once the job has started (rank 0 wrote the run's config), at a later moment each attempt: a
    // fixed delay from the spawn lands before the start or after the end when the machine is busy.
    const auto t0 = std::chrono::steady_clock::now();
    while (!fs::exists(dir / out / "config.json") && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    ::kill(pid, SIGINT);
    int code = wait_status_within(pid, std::chrono::seconds(120));
    ASSERT_TRUE(code == 130 || code == 0) << code << "\n" << log();
    if (code == 130 && !fs::exists(dir / out / "config.json")) continue;  // stopped before it had started
    if (code == 130) {
      ++interrupted;
      ASSERT_TRUE(fs::exists(dir / out / "checkpoint")) << log();
      ASSERT_EQ(run({"train", "--resume", path(out), "--nproc", "2"}), 0) << log();
    }
    EXPECT_EQ(max_rel_diff(weights("ref"), weights(out)), 0) << out;
  }
  EXPECT_GT(interrupted, 0) << "no attempt was interrupted before the run ended";
}

TEST_F(Distributed, AKilledRankStopsTheOthersNamingItAndTheRunResumes) {
  write_tiny_mnist(dir / "data", 2048, 64);
  ASSERT_EQ(run(train("vae", "ref", {"--nproc", "2", "--epochs", "4"})), 0) << log();
  const int port = free_port();
  pid_t r0 = spawn_latentlab(train("vae", "run", {"--epochs", "4"}), rank_env(0, 2, port), path("log"));
  pid_t r1 = spawn_latentlab(train("vae", "run", {"--epochs", "4"}), rank_env(1, 2, port), path("log1"));
  auto t0 = std::chrono::steady_clock::now();
  while (!fs::exists(dir / "run" / "checkpoint") && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(dir / "run" / "checkpoint")) << log();
  ::kill(r1, SIGKILL);
  wait_status(r1);
  auto killed = std::chrono::steady_clock::now();
  int code = wait_status_within(r0, std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  if (code == 0) GTEST_SKIP() << "rank 0 finished before rank 1 was killed";
  EXPECT_EQ(code, 1) << log();
  EXPECT_LT(seconds, 30) << "rank 0 must stop within --dist-timeout";
  EXPECT_NE(log().find("rank 1 (127.0.0.1) is gone"), std::string::npos) << log();
  ASSERT_EQ(run({"train", "--resume", path("run"), "--nproc", "2"}), 0) << log();
  EXPECT_EQ(max_rel_diff(weights("ref"), weights("run")), 0);
}

TEST_F(Distributed, BadInputEndsEveryRankWithAMessage) {
  auto expect_error = [&](const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& needle) {
    fs::remove(path("log"));
    EXPECT_EQ(run(args, env), 1) << log();
    EXPECT_NE(log().find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << log();
  };
  expect_error(train("vae", "a"), {"WORLD_SIZE=0", "RANK=0"}, "WORLD_SIZE=0");
  expect_error(train("vae", "a"), rank_env(2, 2, 29500), "ranks run from 0 to 1");
  expect_error(train("vae", "a"), {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=abc"}, "MASTER_PORT=abc");
  expect_error(train("vae", "a", {"--nproc", "2"}), rank_env(0, 2, 29500), "--nproc cannot be used inside a job");
  expect_error(train("vae", "a", {"--nproc", "2", "--device", "cuda"}), {}, "--device cuda");
  EXPECT_FALSE(fs::exists(dir / "a"));
  // ranks started with different settings: both stop, naming the setting
  {
    fs::remove(path("log"));
    const int port = free_port();
    pid_t a = spawn_latentlab(train("vae", "b", {"--lr", "0.001"}), rank_env(0, 2, port), path("log"));
    pid_t b = spawn_latentlab(train("vae", "b", {"--lr", "0.002"}), rank_env(1, 2, port), path("log"));
    EXPECT_EQ(wait_status_within(a, std::chrono::seconds(60)), 1);
    EXPECT_EQ(wait_status_within(b, std::chrono::seconds(60)), 1);
    EXPECT_NE(log().find("rank 1 has lr = 0.002 where rank 0 has 0.001"), std::string::npos) << log();
    EXPECT_FALSE(fs::exists(dir / "b" / "config.json"));
  }
  // the store's port is taken
  {
    fs::remove(path("log"));
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::listen(fd, 1);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    expect_error(train("vae", "c"), rank_env(0, 2, ntohs(sa.sin_port)), "cannot serve the store");
    ::close(fd);
  }
  // no rank 0: rank 1 gives up after --dist-timeout
  {
    auto t0 = std::chrono::steady_clock::now();
    expect_error(train("vae", "c", {"--dist-timeout", "2"}), rank_env(1, 2, free_port()), "cannot reach rank 0's store");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  }
  // resuming with another number of processes
  ASSERT_EQ(run(train("vae", "d", {"--nproc", "2", "--epochs", "1"})), 0) << log();
  expect_error({"train", "--resume", path("d"), "--epochs", "2"}, {}, "trained by 2 processes and is resumed by 1");
}

TEST_F(Distributed, TwoGpus) {
  // NCCL where LibTorch has it (else Gloo on CUDA tensors); LOCAL_RANK picks each rank's GPU
  if (!torch::cuda::is_available() || torch::cuda::device_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  ASSERT_EQ(run(train("vae", "gpu", {"--nproc", "2", "--device", "cuda"})), 0) << log();
  EXPECT_NE(log().find(LATENTLAB_HAVE_NCCL ? "(nccl)" : "(gloo)"), std::string::npos) << log();
  auto m = metrics("gpu");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_LT(m[1]["train_loss"].get<double>(), m[0]["train_loss"].get<double>());
  EXPECT_TRUE(fs::exists(dir / "gpu" / "model"));
}

TEST_F(Distributed, RanksJoinTheStoreOfTorchrunsAgent) {
  // torchrun (c10d rendezvous) serves the store itself and sets TORCHELASTIC_USE_AGENT_STORE=True: every
  // rank, rank 0 included, is then a client. PyTorch's own TCPStore plays the agent here.
  if (std::system("/usr/bin/python3 -c 'import torch.distributed' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no python3-torch to serve the store";
  ASSERT_EQ(run(train("vae", "launched", {"--nproc", "2"})), 0) << log();
  const int port = free_port();
  // use_libuv=False where the keyword exists (2.4+; Debian builds PyTorch without libuv)
  const std::string serve = "import torch.distributed as d, time; kw = {'use_libuv': False} if 'use_libuv' in "
                            "(d.TCPStore.__init__.__doc__ or '') else {}; s = d.TCPStore('127.0.0.1', " + std::to_string(port) + ", 3, True, **kw); time.sleep(120)";
  pid_t agent = ::fork();
  if (agent == 0) {
    ::execl("/usr/bin/python3", "python3", "-c", serve.c_str(), (char*)nullptr);
    ::_exit(127);
  }
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r) {
    auto env = rank_env(r, 2, port);
    env.push_back("TORCHELASTIC_USE_AGENT_STORE=True");
    ranks.push_back(spawn_latentlab(train("vae", "agent"), env, path("log")));
  }
  for (pid_t p : ranks) EXPECT_EQ(wait_status_within(p, std::chrono::seconds(120)), 0) << log();
  ::kill(agent, SIGKILL);
  waitpid(agent, nullptr, 0);
  EXPECT_EQ(max_rel_diff(weights("launched"), weights("agent")), 0);
}

TEST_F(Distributed, TwoHostsInNetworkNamespaces) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  const std::string a = "llA" + std::to_string(::getpid()), b = "llB" + std::to_string(::getpid());
  const std::string va = "vA" + std::to_string(::getpid() % 100000), vb = "vB" + std::to_string(::getpid() % 100000);
  auto sh = [](const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; };
  struct Cleanup {
    std::string a, b;
    ~Cleanup() { (void)!std::system(("ip netns del " + a + " 2>/dev/null; ip netns del " + b + " 2>/dev/null").c_str()); }
  } cleanup{a, b};
  if (!sh("ip netns add " + a) || !sh("ip netns add " + b) ||
      !sh("ip link add " + va + " type veth peer name " + vb) || !sh("ip link set " + va + " netns " + a) ||
      !sh("ip link set " + vb + " netns " + b) ||
      !sh("ip -n " + a + " addr add 10.200.0.1/24 dev " + va) || !sh("ip -n " + b + " addr add 10.200.0.2/24 dev " + vb) ||
      !sh("ip -n " + a + " link set " + va + " up") || !sh("ip -n " + b + " link set " + vb + " up") ||
      !sh("ip -n " + a + " link set lo up") || !sh("ip -n " + b + " link set lo up"))
    GTEST_SKIP() << "cannot make network namespaces and a veth pair here";
  ASSERT_EQ(run(train("vae", "loopback", {"--nproc", "2"})), 0) << log();
  const int port = 29517;
  pid_t r0 = spawn_latentlab(train("vae", "hosts"), rank_env(0, 2, port, "10.200.0.1"), path("log"), {"ip", "netns", "exec", a});
  pid_t r1 = spawn_latentlab(train("vae", "hosts"), rank_env(1, 2, port, "10.200.0.1"), path("log"), {"ip", "netns", "exec", b});
  EXPECT_EQ(wait_status_within(r0, std::chrono::seconds(120)), 0) << log();
  EXPECT_EQ(wait_status_within(r1, std::chrono::seconds(120)), 0) << log();
  // the same job over a veth pair as over the loopback
  EXPECT_EQ(max_rel_diff(weights("loopback"), weights("hosts")), 0);
}

}  // namespace latentlab::test
