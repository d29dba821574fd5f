#pragma once
// Shared test helpers: a seeded fixture with a private temporary folder, and small file writers.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "latentlab/build_config.h"
#include "latentlab/error.h"
#include "latentlab/model.h"
#include "latentlab/train.h"

namespace latentlab::test {

// Whether this build runs under AddressSanitizer (-DLATENTLAB_SANITIZE=ON), for the few checks whose
// outcome differs there.
inline constexpr bool kUnderAsan = LATENTLAB_UNDER_ASAN;

namespace fs = std::filesystem;

// What latentlab says about fuzz/corpus/model/libtorch-reader-segv: LibTorch 1.13's archive reader
// crashes on it (caught in the probing child); 2.x's reports it, and the first line of its report is
// passed on.
#if TORCH_VERSION_MAJOR < 2
inline constexpr const char* kMalformedArchiveMessage = "LibTorch's archive reader crashed on it";
#else
inline constexpr const char* kMalformedArchiveMessage = "libtorch-reader-segv: cannot load (";
#endif

// The bytes of a LibTorch archive, as latentlab's format 1 files were written.
inline std::string archive_bytes(torch::serialize::OutputArchive& a) {
  std::string bytes;
  a.save_to([&](const void* data, size_t n) {
    bytes.append(static_cast<const char*>(data), n);
    return n;
  });
  return bytes;
}

// A model file of format 1 (latentlab's first round: a LibTorch archive), as run folders made then hold.
inline std::string format1_model_bytes(const std::string& kind, const std::string& config_json, const std::vector<int64_t>& shape,
                                       torch::nn::Module& model) {
  torch::serialize::OutputArchive a, m;
  a.write("latentlab_format", c10::IValue(int64_t(1)));
  a.write("kind", c10::IValue(kind));
  a.write("config", c10::IValue(config_json));
  a.write("shape", c10::IValue(shape));
  model.save(m);
  a.write("model", m);
  return archive_bytes(a);
}

class Seeded : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(1234);
    torch::set_num_threads(1);
    auto info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = fs::temp_directory_path() / ("latentlab-test-" + std::string(info->test_suite_name()) + "-" + info->name() +
                                       "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (log_) std::fclose(log_);
    fs::remove_all(dir);
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  /// A log that discards what it is given (closed after the test).
  std::FILE* quiet() {
    if (!log_) log_ = std::fopen("/dev/null", "w");
    return log_;
  }
  fs::path dir;

 private:
  std::FILE* log_ = nullptr;
};

/// mlpack's CheckGradient: for `count` elements of `param` spread evenly over it (all with count <= 0),
/// the central difference (f() at p + h - f() at p - h) / 2h against `grad` at that element, to `tol`.
/// `f` evaluates the function at the parameters as they are; each element is restored after.
template <typename F>
void expect_gradient_matches_finite_differences(const torch::Tensor& param, const torch::Tensor& grad, F f, double h = 1e-6,
                                                double tol = 1e-6, int64_t count = 0, const std::string& what = "") {
  torch::NoGradGuard no_grad;
  auto flat = param.view(-1);
  auto g = grad.reshape(-1);
  const int64_t n = flat.numel(), want = count > 0 ? std::min(count, n) : n;
  for (int64_t i = 0; i < want; ++i) {
    const int64_t k = want == n ? i : i * n / want;
    const double old = flat[k].item<double>();
    flat[k] = old + h;
    const double up = f();
    flat[k] = old - h;
    const double down = f();
    flat[k] = old;
    EXPECT_NEAR(g[k].item<double>(), (up - down) / (2 * h), tol) << what << " element " << k;
  }
}

/// The uninterrupted run of expect_resume_matches_uninterrupted: its result and its trained model.
struct Uninterrupted {
  TrainResult result;
  Model model;
};

/// Trains `c` for `epochs` in one go (folder <name>-full under `dir`) and again for `split` epochs
/// followed by a resume to `epochs` (<name>-part), and expects the same parameters and buffers: equal
/// bit for bit (tol 0), or within tol (relative and absolute).
inline Uninterrupted expect_resume_matches_uninterrupted(TrainConfig c, const fs::path& dir, const std::string& name, int64_t epochs,
                                                       int64_t split, std::FILE* log, double tol = 0) {
  c.epochs = epochs;
  c.out = (dir / (name + "-full")).string();
  Trainer full(c, log);
  TrainResult r = full.run();
  c.epochs = split;
  c.out = (dir / (name + "-part")).string();
  Trainer(c, log).run();
  TrainConfig more = load_config(c.out + "/config.json");
  more.epochs = epochs;
  Trainer rest(more, log);
  TrainResult resumed = rest.run(true);
  EXPECT_EQ(resumed.metrics.size(), static_cast<size_t>(epochs));
  auto same = [&](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
      auto x = a[i].to(torch::kCPU), y = b[i].to(torch::kCPU);
      if (tol == 0)
        EXPECT_TRUE(torch::equal(x, y)) << what << " " << i << " of " << name;
      else
        EXPECT_TRUE(torch::allclose(x.to(torch::kFloat64), y.to(torch::kFloat64), tol, tol))
            << what << " " << i << " of " << name << " differs by " << (x.to(torch::kFloat64) - y.to(torch::kFloat64)).abs().max().item<double>();
    }
  };
  same(full.model()->parameters(), rest.model()->parameters(), "parameter");
  same(full.model()->buffers(), rest.model()->buffers(), "buffer");
  return {r, full.model()};
}

/// Copies of a model's parameters on the CPU, to compare weights before and after.
inline std::vector<torch::Tensor> weights(const Model& m) {
  std::vector<torch::Tensor> w;
  for (auto& p : m->parameters()) w.push_back(p.detach().to(torch::kCPU).clone());
  return w;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

/// The bytes of an unsigned-byte IDX file with the given dimensions and data.
inline std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& data, uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    s += static_cast<char>(d >> 24);
    s += static_cast<char>(d >> 16);
    s += static_cast<char>(d >> 8);
    s += static_cast<char>(d);
  }
  return s + data;
}

/// Writes a small MNIST-shaped dataset (n_train / n_test images of 28x28, labels 0..9) into dir.
inline void write_tiny_mnist(const fs::path& dir, uint32_t n_train, uint32_t n_test, bool gz = false) {
  fs::create_directories(dir);
  std::mt19937 rng(7);
  auto make = [&](const std::string& prefix, uint32_t n) {
    std::string img, lbl;
    for (uint32_t i = 0; i < n; ++i) {
      int label = static_cast<int>(i % 10);
      lbl += static_cast<char>(label);
      // A bright bar whose position depends on the label, plus noise: learnable structure.
      for (int r = 0; r < 28; ++r)
        for (int c = 0; c < 28; ++c) {
          bool on = (c / 3 == label) || (r == 14 && label % 2 == 0);
          img += static_cast<char>(on ? 200 + rng() % 56 : rng() % 30);
        }
    }
    auto w = [&](const std::string& name, const std::string& bytes) {
      if (gz)
        write_gz((dir / (name + ".gz")).string(), bytes);
      else
        write_bytes((dir / name).string(), bytes);
    };
    w(prefix + "-images-idx3-ubyte", idx_bytes({n, 28, 28}, img));
    w(prefix + "-labels-idx1-ubyte", idx_bytes({n}, lbl));
  };
  make("train", n_train);
  make("t10k", n_test);
}

/// A small DCGAN run (ngf = ndf = 8, code 16, batch 32, one thread, a 4-image grid) on the tiny MNIST of
/// write_tiny_mnist in `data_dir`, for training and resume tests.
inline TrainConfig tiny_dcgan(const fs::path& data_dir) {
  TrainConfig c;
  c.model = "dcgan";
  c.data_dir = data_dir.string();
  c.batch_size = 32;
  c.set("ngf", 8).set("ndf", 8);
  c.latent = 16;
  c.threads = 1;
  c.grid_images = 4;
  return c;
}

/// Asserts that `stmt` throws latentlab::Error whose message contains `needle`.
#define EXPECT_ERROR_WITH(stmt, needle)                                                   \
  do {                                                                                    \
    try {                                                                                 \
      stmt;                                                                               \
      ADD_FAILURE() << "expected latentlab::Error containing '" << (needle) << "'";       \
    } catch (const ::latentlab::Error& e) {                                               \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();       \
    }                                                                                     \
  } while (0)

/// A model's hand-written training step (losses_and_gradients) against autograd's (losses, backward)
/// in double precision: with the same seed both draw the same noise, so the loss, every term and every
/// gradient must agree.
inline void expect_fused_step_matches_autograd(const Model& m, const torch::Tensor& x, const std::string& what) {
  m->to(torch::kFloat64);
  m->train();
  auto xd = x.to(torch::kFloat64);
  auto params = m->parameters();
  torch::manual_seed(77);
  LossTerms ref = m->losses(0, xd);
  ref.loss.backward();
  std::vector<torch::Tensor> ref_grads;
  for (auto& p : params) {
    ref_grads.push_back(p.grad().clone());
    p.mutable_grad().zero_();
  }
  torch::manual_seed(77);
  LossTerms got = m->losses_and_gradients(0, xd);
  EXPECT_FALSE(got.loss.requires_grad()) << what;
  EXPECT_NEAR(got.loss.item<double>(), ref.loss.item<double>(), 1e-9 * std::abs(ref.loss.item<double>())) << what;
  ASSERT_EQ(got.terms.size(), ref.terms.size()) << what;
  for (size_t i = 0; i < got.terms.size(); ++i) {
    EXPECT_EQ(got.terms[i].first, ref.terms[i].first) << what;
    EXPECT_NEAR(got.terms[i].second.item<double>(), ref.terms[i].second.item<double>(), 1e-9) << what << " " << got.terms[i].first;
  }
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::allclose(params[i].grad(), ref_grads[i], 1e-9, 1e-12)) << what << ": gradient of parameter " << i;
  m->to(torch::kFloat32);  // Module::to leaves the gradients in double: drop them
  for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
}

}  // namespace latentlab::test
