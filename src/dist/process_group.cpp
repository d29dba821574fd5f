// ProcessGroup: c10d's TCPStore and ProcessGroupGloo (or ProcessGroupNCCL) behind latentlab's errors.
#define USE_C10D_GLOO 1
#include "latentlab/build_config.h"
#if LATENTLAB_HAVE_NCCL
#define USE_C10D_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <thread>

#include "latentlab/distributed.h"
#include "latentlab/error.h"

namespace latentlab {
namespace {

#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;  // 2.x: Gloo and NCCL are backends of a ProcessGroup
#else
using Collectives = c10d::ProcessGroup;
#endif

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

// The address of this machine's interface that reaches `host` (no packet is sent: a UDP "connect" only
// picks the route), so each rank's Gloo device listens where the others can reach it.
std::string local_address_towards(const std::string& host, int64_t port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  require(rc == 0 && res, "MASTER_ADDR=" + host + ": cannot resolve this host name (" + gai_strerror(rc) + ")");
  std::string out;
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_in me{};
    socklen_t len = sizeof me;
    char buf[INET_ADDRSTRLEN] = {};
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len) == 0 && inet_ntop(AF_INET, &me.sin_addr, buf, sizeof buf))
      out = buf;
  }
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  require(!out.empty(), "MASTER_ADDR=" + host + ": no network route from this machine to it");
  return out;
}

// Holds SIGINT and SIGTERM back while it lives: c10d's socket calls fail on EINTR instead of retrying,
// so a Ctrl-C in the middle of a store operation would look like a lost rank. The signal is delivered
// (and stops training at the next batch) when the guard ends. Threads started meanwhile (Gloo's, the
// store server's) keep them blocked for good. The command-line tool blocks them in every thread anyway
// (take_signals, signals.h); this guard serves library users who install a handler of their own.
class SignalsDeferred {
 public:
  SignalsDeferred() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s, &old_);
  }
  ~SignalsDeferred() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

std::vector<uint8_t> to_bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string from_bytes(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

struct ProcessGroup::Impl {
  DistEnv env;
  torch::Device device{torch::kCPU};
  std::string address;  // this rank's
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> group;
  std::string backend;
  int64_t agreements = 0, gathers = 0;

  std::string where() const { return "rank " + std::to_string(env.rank) + " (" + address + ")"; }

  // The error for a collective that failed: which ranks are gone, found through the store (each rank
  // that is still there says so); when the store itself is gone, rank 0 is.
  Error failure(const std::string& what, const std::exception& e) {
    SignalsDeferred deferred;
    std::string gone;
    try {
      store->set("alive/" + std::to_string(env.rank), to_bytes("1"));
      std::vector<int64_t> missing;
      for (int i = 0; i < 30; ++i) {  // 3 s for the others to notice the same failure
        missing.clear();
        for (int64_t r = 0; r < env.world_size; ++r)
          if (!store->check({"alive/" + std::to_string(r)})) missing.push_back(r);
        if (missing.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      for (int64_t r : missing) {
        std::string host = "?";
        if (store->check({"host/" + std::to_string(r)})) host = from_bytes(store->get("host/" + std::to_string(r)));
        gone += (gone.empty() ? "" : ", ") + ("rank " + std::to_string(r) + " (" + host + ")");
      }
    } catch (const std::exception&) {
      gone = "rank 0 (" + env.master_addr + ", which holds the store)";
    }
    std::string who = gone.empty() ? "a rank failed" : gone + (gone.find(',') == std::string::npos ? " is" : " are") + " gone or stopped answering";
    return Error(where() + ": " + what + " failed: " + who + " (" + first_line(e.what()) +
                 "). Every rank stops; the run folder keeps its last checkpoint: start the job again with --resume");
  }

  template <typename F>
  void run(const std::string& what, F&& f) {
    SignalsDeferred deferred;
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw failure(what, e);
    }
  }
};

ProcessGroup::ProcessGroup(const DistEnv& env, torch::Device device) : impl_(std::make_unique<Impl>()) {
  SignalsDeferred deferred;
  Impl& s = *impl_;
  s.env = env;
  s.device = device;
  const std::string endpoint = env.master_addr + ":" + std::to_string(env.master_port);
  s.address = local_address_towards(env.master_addr, env.master_port);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0 && !env.agent_store;
  so.numWorkers = static_cast<size_t>(env.world_size);
  so.waitWorkers = false;  // the group's own rendezvous below waits for every rank
  so.timeout = env.timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  so.useLibUV = false;  // 2.4+ defaults to libuv, which Debian's build leaves out
#endif
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    std::string cause = first_line(e.what());
    if (so.isServer)
      throw Error("rank 0: cannot serve the store at " + endpoint + " (" + cause +
                  "); is the port in use? Set MASTER_PORT to a free port (train --nproc picks one itself)");
    throw Error("rank " + std::to_string(env.rank) + ": cannot reach rank 0's store at " + endpoint + " within " +
                std::to_string(env.timeout.count() / 1000) + " s (" + cause +
                "); check that rank 0 runs, and MASTER_ADDR, MASTER_PORT and the firewall");
  }
  s.store = c10::make_intrusive<c10d::PrefixStore>("latentlab", tcp);
  s.store->set("host/" + std::to_string(env.rank), to_bytes(s.address));
  try {
    if (device.is_cuda()) {
#if LATENTLAB_HAVE_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = env.timeout;
      s.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(s.store, env.rank, env.world_size, opts);
      s.backend = "nccl";
#endif
    }
    if (!s.group) {
      auto opts = c10d::ProcessGroupGloo::Options::create(env.timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(s.address));
      s.group = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, env.rank, env.world_size, opts);
      s.backend = "gloo";
    }
  } catch (const std::exception& e) {
    std::string missing;
    for (int64_t r = 0; r < env.world_size; ++r)
      if (!s.store->check({"host/" + std::to_string(r)})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    throw Error(s.where() + ": cannot form the group of " + std::to_string(env.world_size) + " processes through " + endpoint +
                (missing.empty() ? "" : " (ranks " + missing + " did not join within " + std::to_string(env.timeout.count() / 1000) + " s)") +
                ": " + first_line(e.what()));
  }
}

ProcessGroup::~ProcessGroup() = default;

int64_t ProcessGroup::rank() const { return impl_->env.rank; }
int64_t ProcessGroup::world_size() const { return impl_->env.world_size; }
std::string ProcessGroup::backend() const { return impl_->backend; }

void ProcessGroup::allreduce_sum(const torch::Tensor& t) {
  impl_->run("an allreduce", [&] {
    std::vector<torch::Tensor> v{t};
    impl_->group->allreduce(v)->wait();
  });
}

void ProcessGroup::broadcast(const torch::Tensor& t, int64_t root) {
  impl_->run("a broadcast", [&] {
    std::vector<torch::Tensor> v{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->group->broadcast(v, o)->wait();
  });
}

void ProcessGroup::broadcast_tensors(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& t : tensors) flat_parts.push_back(t.detach().reshape({-1}));
  torch::Tensor flat = torch::cat(flat_parts);
  broadcast(flat);
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (const auto& t : tensors) {
    t.detach().copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
    off += t.numel();
  }
}

std::string ProcessGroup::broadcast_bytes(const std::string& bytes) {
  auto dev = torch::TensorOptions(impl_->device);
  torch::Tensor n = torch::tensor({static_cast<int64_t>(bytes.size())}).to(impl_->device);
  broadcast(n);
  int64_t size = n.item<int64_t>();
  torch::Tensor data = torch::empty({size}, dev.dtype(torch::kUInt8));
  if (rank() == 0) data.copy_(torch::from_blob(const_cast<char*>(bytes.data()), {size}, torch::kUInt8));
  broadcast(data);
  data = data.cpu();
  return std::string(reinterpret_cast<const char*>(data.data_ptr<uint8_t>()), size);
}

bool ProcessGroup::any(bool flag) {
  torch::Tensor f = torch::full({1}, flag ? 1.0f : 0.0f, torch::TensorOptions(impl_->device));
  allreduce_sum(f);
  return f.item<float>() > 0;
}

void ProcessGroup::agree(bool ok, const std::string& message) {
  Impl& s = *impl_;
  const std::string prefix = "error/" + std::to_string(s.agreements++) + "/";
  if (!ok) s.run("reporting an error", [&] { s.store->set(prefix + std::to_string(s.env.rank), to_bytes(message)); });
  if (!any(!ok)) return;
  if (!ok) throw Error(message);
  std::string failed;
  s.run("reading the other ranks' errors", [&] {
    for (int64_t r = 0; r < s.env.world_size; ++r)
      if (s.store->check({prefix + std::to_string(r)}))
        failed += (failed.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": " + from_bytes(s.store->get(prefix + std::to_string(r))));
  });
  throw Error(s.where() + ": stopping because another rank failed (" + failed + ")");
}

std::vector<std::string> ProcessGroup::allgather(const std::string& mine) {
  Impl& s = *impl_;
  const std::string prefix = "gather/" + std::to_string(s.gathers++) + "/";
  std::vector<std::string> all(s.env.world_size);
  s.run("exchanging settings and sums", [&] {
    s.store->set(prefix + std::to_string(s.env.rank), to_bytes(mine));
    for (int64_t r = 0; r < s.env.world_size; ++r)
      all[r] = r == s.env.rank ? mine : from_bytes(s.store->get(prefix + std::to_string(r)));
  });
  return all;
}

}  // namespace latentlab
