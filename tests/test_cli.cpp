// The command-line tool end to end: validation errors, a tiny training run, sample and reconstruct.
#include <sys/wait.h>

#include <array>

#include "common.h"
#include "latentlab/io.h"
#include "latentlab/safetensors.h"
#include "latentlab/train.h"
#include "paths.h"

namespace latentlab::test {

struct Result {
  int code;
  std::string output;
};

Result run_cli(const std::string& args) {
  std::string cmd = std::string(LATENTLAB_EXE) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class Cli : public Seeded {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    ::setenv("LATENTLAB_CACHE", path("cache").c_str(), 1);  // the evaluation classifier is cached here
  }
};

TEST_F(Cli, InvalidFlagsFailWithAMessageAndNoRunFolder) {
  struct Case {
    std::string args, needle;
  };
  std::vector<Case> cases = {
      {"train --epochs 0", "--epochs must be at least 1"},
      {"train --batch-size -3", "--batch-size"},
      {"train --lr -1", "--lr must be"},
      {"train --model gan --d-every 0", "--d-every"},
      {"train --model aae --prior uniform", "choose gaussian or mixture"},
      {"train --model dcgan --image-size 64", "28x28"},
      {"train --dataset folder:" + path("nowhere"), "does not exist"},
      {"train --posterior sigma", "relu-sigma"},
      {"train --model nope", "unknown model"},
      {"train --dataset cifar", "unknown dataset"},
      {"train --device tpu", "choose cpu or cuda"},
      {"train --epochs ten", "--epochs"},
      {"train --frobnicate 1", "frobnicate"},
      {"train --data-dir /nonexistent/dir", "fetch_data.sh"},
      {"train --model ae --noise pink:0.1", "unknown noise"},
      {"train --model ae --contractive 0.1 --dropout 0.1", "cannot be combined"},
      {"train --sparsity 2:1", "rho must be in (0, 1)"},
      {"train --loss hinge", "choose bce or mse"},
      {"train --beta -1", "--beta"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(c.args + " --out " + path("run"));
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(path("run/checkpoint")));
}

TEST_F(Cli, ConfigFileSettingsAndFlagOverrides) {
  write_bytes(path("bad.json"), "{\"epochs\": 2, \"colour\": 1}");
  auto r = run_cli("train --config " + path("bad.json"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown setting 'colour'"), std::string::npos) << r.output;
  write_bytes(path("broken.json"), "{\"epochs\": ");
  r = run_cli("train --config " + path("broken.json"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("not valid JSON"), std::string::npos) << r.output;
}

TEST_F(Cli, TrainSampleReconstructResume) {
  write_tiny_mnist(dir / "data", 256, 64);
  std::string common = "--data-dir " + path("data") + " --batch-size 64 --hidden 32 --latent 4 --threads 1";
  write_bytes(path("cfg.json"), "{\"epochs\": 1, \"lr\": 0.002}");
  auto r = run_cli("train --config " + path("cfg.json") + " " + common + " --out " + path("run"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto cfg = nlohmann::json::parse(read_file(path("run/config.json")));
  EXPECT_EQ(cfg["epochs"], 1);
  EXPECT_DOUBLE_EQ(cfg["lr"].get<double>(), 0.002);
  EXPECT_EQ(cfg["latent"], 4);
  // plain progress lines when the output is not a terminal
  EXPECT_NE(r.output.find("epoch 1/1"), std::string::npos) << r.output;

  r = run_cli("sample " + path("run") + " -n 10 -o " + path("s.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto npy = read_file(path("s.npy"));
  EXPECT_EQ(npy.substr(1, 5), "NUMPY");
  EXPECT_NE(npy.find("'shape': (10,1,28,28)"), std::string::npos);
  EXPECT_EQ(npy.size() % 64, (10 * 784 * 4) % 64);
  r = run_cli("sample " + path("run") + " -n 10 -o " + path("s.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_file(path("s.png")).substr(1, 3), "PNG");
  r = run_cli("reconstruct " + path("run") + " -n 8 -o " + path("r.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("r.npy")).find("'shape': (8,1,28,28)"), std::string::npos);
  r = run_cli("sample " + path("run") + " -o " + path("s.jpg"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("must end in .png"), std::string::npos) << r.output;
  // the codes beside the images, and the weights as safetensors for PyTorch
  r = run_cli("sample " + path("run") + " -n 6 -o " + path("c.npy") + " --codes " + path("z.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("z.npy")).find("'shape': (6,4)"), std::string::npos);
  r = run_cli("sample " + path("run") + " --codes " + path("z.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--codes " + path("z.png") + ": name a .npy file"), std::string::npos) << r.output;
  r = run_cli("export " + path("run") + " -o " + path("w.safetensors"));
  ASSERT_EQ(r.code, 0) << r.output;
  TensorFile w = parse_safetensors(read_file(path("w.safetensors")), "w");
  EXPECT_EQ(w.meta("model"), "vae");
  EXPECT_EQ(w.meta("kind"), "export");
  EXPECT_NE(w.find("decoder.fc0.weight"), nullptr) << "PyTorch's state_dict names, no prefix";
  EXPECT_EQ(w.find("model.decoder.fc0.weight"), nullptr);
  r = run_cli("export " + path("run") + " -o " + path("x.bin"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--out " + path("x.bin") + ": name the file <name>.safetensors"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("x.bin")));

  r = run_cli("train --resume " + path("run") + " --lr 0.1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("cannot change when resuming"), std::string::npos) << r.output;
  r = run_cli("train --resume " + path("run") + " --epochs 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming"), std::string::npos);
  EXPECT_TRUE(fs::exists(path("run/samples-2.png")));
}

TEST_F(Cli, AutoencoderWithRegularisersEndToEnd) {
  write_tiny_mnist(dir / "data", 128, 32);
  auto r = run_cli("train --model ae --epochs 1 --threads 1 --noise salt-pepper:0.1 --l1 0.001 --data-dir " + path("data") +
                   " --out " + path("ae"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto cfg = nlohmann::json::parse(read_file(path("ae/config.json")));
  EXPECT_EQ(cfg["batch_size"], 32) << "the model's default is saved concretely";
  EXPECT_EQ(cfg["hidden"], (std::vector<int64_t>{256, 64}));
  auto m = nlohmann::json::parse(read_file(path("ae/metrics.jsonl")));
  EXPECT_TRUE(m.contains("train_l1") && m.contains("test_mse")) << m.dump();
  EXPECT_TRUE(m.contains("test_l1")) << "the test loss carries the same penalty as the training loss: " << m.dump();
  r = run_cli("reconstruct " + path("ae") + " -n 4 -o " + path("r.png"));
  EXPECT_EQ(r.code, 0) << r.output;
  // the TF seed's 2x10 figure: 10 inputs in one row above their 10 reconstructions
  r = run_cli("reconstruct " + path("ae") + " -n 10 --nrow 10 -o " + path("r10.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string png = read_file(path("r10.png"));
  auto be32 = [&](size_t at) { return (uint8_t(png[at]) << 24) | (uint8_t(png[at + 1]) << 16) | (uint8_t(png[at + 2]) << 8) | uint8_t(png[at + 3]); };
  EXPECT_EQ(be32(16), 10u * 30 + 2) << "width: 10 images of 28 with 2 pixels between";
  EXPECT_EQ(be32(20), 2u * 30 + 2) << "height: the inputs' row over the reconstructions' row";

  r = run_cli("eval " + path("ae") + " --noise gaussian:0.2 --fd-images 64");
  ASSERT_EQ(r.code, 0) << r.output;
  auto ev = nlohmann::json::parse(read_file(path("ae/eval.json")));
  EXPECT_GT(ev["reconstruction"]["pca_test_mse"].get<double>(), 0);
  EXPECT_TRUE(ev["generator"].contains("classifier_frechet_distance")) << ev.dump();
  EXPECT_TRUE(ev["codes"].contains("linear_probe_accuracy")) << ev.dump();
  EXPECT_FALSE(ev.contains("likelihood")) << "an AE has no likelihood";
  EXPECT_TRUE(fs::exists(dir / "cache")) << "the classifier was cached";
  // classifier score: images made elsewhere, scored as `classifier baseline` scores the training images
  {
    TrainConfig c;
    c.data_dir = path("data");
    apply_model_defaults(c);
    write_npy(path("train64.npy"), load_splits(c).train.images.slice(0, 0, 64));
  }
  auto s = run_cli("classifier score " + path("train64.npy") + " --data-dir " + path("data") + " -o " + path("score.json"));
  ASSERT_EQ(s.code, 0) << s.output;
  auto score = nlohmann::json::parse(read_file(path("score.json")));
  s = run_cli("classifier baseline -n 64 --data-dir " + path("data"));
  ASSERT_EQ(s.code, 0) << s.output;
  const size_t fd_at = s.output.find("classifier_frechet_distance");
  ASSERT_NE(fd_at, std::string::npos) << s.output;
  const double baseline_fd = std::stod(s.output.substr(fd_at + 28));
  EXPECT_NEAR(score["classifier_frechet_distance"].get<double>(), baseline_fd, 1e-4 + 1e-4 * baseline_fd) << s.output;
  s = run_cli("classifier score " + path("r.png") + " --data-dir " + path("data"));
  EXPECT_EQ(s.code, 1);
  EXPECT_NE(s.output.find("r.png: not a NumPy .npy file"), std::string::npos) << s.output;
  EXPECT_NE(r.output.find("noisy_test_mse"), std::string::npos) << r.output;
  r = run_cli("eval " + path("ae") + " --parts likelihood");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("has no likelihood"), std::string::npos) << r.output;
  r = run_cli("eval " + path("ae") + " --noise pink:1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown noise"), std::string::npos) << r.output;

  r = run_cli("encode " + path("ae") + " -o " + path("codes.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("codes.npy")).find("'shape': (32,20)"), std::string::npos);
  EXPECT_NE(read_file(path("codes-labels.npy")).find("'descr': '<i8', 'fortran_order': False, 'shape': (32,)"),
            std::string::npos);
  r = run_cli("encode " + path("ae") + " -o " + path("codes.txt"));
  EXPECT_NE(r.code, 0);

  r = run_cli("pca --data-dir " + path("data") + " --dim 5 -o " + path("pca.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("test_mse"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(path("pca.png")).substr(1, 3), "PNG");
  r = run_cli("pca --data-dir " + path("data") + " --dim 0");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--dim must be in"), std::string::npos) << r.output;
}

TEST_F(Cli, GanTrainGenerateWithSearchAndSample) {
  write_tiny_mnist(dir / "data", 128, 32);
  auto r = run_cli("train --model dcgan --ngf 8 --ndf 8 --epochs 1 --threads 1 --save-every 1 --data-dir " + path("data") +
                   " --out " + path("gan"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto cfg = nlohmann::json::parse(read_file(path("gan/config.json")));
  EXPECT_EQ(cfg["lr"], 2e-4);
  EXPECT_EQ(cfg["beta1"], 0.5);
  EXPECT_EQ(cfg["latent"], 100);
  EXPECT_EQ(cfg["arch"], "conv");
  r = run_cli("generate " + path("gan") + " -n 8 --search 32 --mean 0 --std 0.8 -o " + path("best.png"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("kept the 8 best of 32"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(path("best.png")).substr(1, 3), "PNG");
  r = run_cli("generate " + path("gan") + " -n 8 --search 4");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("must be at least -n"), std::string::npos) << r.output;
  r = run_cli("sample " + path("gan") + " -n 4 -o " + path("s.npy"));
  EXPECT_EQ(r.code, 0) << r.output;
  r = run_cli("reconstruct " + path("gan"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("does not reconstruct"), std::string::npos) << r.output;
}

TEST_F(Cli, PresetIsALayerUnderConfigAndFlags) {
  write_tiny_mnist(dir / "data", 64, 16);
  write_bytes(path("cfg.json"), "{\"latent\": 8}");
  auto r = run_cli("train --preset ae-tf --config " + path("cfg.json") + " --epochs 1 --batch-size 16 --threads 1 --data-dir " +
                   path("data") + " --out " + path("tf"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto cfg = nlohmann::json::parse(read_file(path("tf/config.json")));
  EXPECT_EQ(cfg["model"], "ae");
  EXPECT_EQ(cfg["activation"], "leaky_relu");
  EXPECT_EQ(cfg["hidden"], (std::vector<int64_t>{256, 128}));
  EXPECT_EQ(cfg["latent"], 8) << "the config file overrides the preset";
  EXPECT_EQ(cfg["batch_size"], 16) << "flags override both";
  r = run_cli("train --preset nope --out " + path("x"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown preset"), std::string::npos) << r.output;
  r = run_cli("train --resume " + path("tf") + " --preset ae-tf");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--preset cannot be given with --resume"), std::string::npos) << r.output;
}

TEST_F(Cli, ServeRefusesBadFlagsWithAMessage) {
  for (auto [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"serve --runs " + path("nowhere"), "nowhere does not exist or is not a folder"},
           {"serve --port 70000", "--port"},
           {"serve --runs " + dir.string() + " --chart-js " + path("none.js"), "Chart.js not found"},
           {"serve --runs " + dir.string() + " --host 256.1.1.1 --port 0", "cannot listen on 256.1.1.1"}}) {
    auto r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.output.find(needle), std::string::npos) << args << "\n" << r.output;
  }
}

// The findings of a new user's trial (issue 24), each as the user met it.
TEST_F(Cli, NewcomerTrialFindings) {
  write_tiny_mnist(dir / "data", 256, 64);
  std::string common = "--data-dir " + path("data") + " --batch-size 64 --hidden 32 --latent 4 --threads 1";
  // settings that mean nothing for the model or dataset; negative seeds; fractional epochs
  for (auto [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"train --model gan --contractive 1", "--contractive does not apply to --model gan; it applies to ae, vae"},
           {"train --model gan --noise gaussian:0.3", "--noise does not apply to --model gan"},
           {"train --model vae --prior mixture", "--prior does not apply to --model vae; it applies to aae"},
           {"train --model gan --posterior relu-sigma", "--posterior does not apply"},
           {"train --holdout 1.5", "--holdout applies to image folders"},
           {"train --seed -1", "--seed"},
           {"trian", "unknown command 'trian'; did you mean 'train'?"},
           {"eval " + path("nothing") + " --zero-tolerance -1", "--zero-tolerance must be a positive number"},
           {"train --activation gelu", "choose relu, leaky_relu, elu, tanh, sigmoid or identity"}}) {
    auto r = run_cli(args + " --out " + path("bad"));
    EXPECT_EQ(r.code, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(path("bad"))) << args;
  }
  write_bytes(path("frac.json"), "{\"epochs\": 1.5}");
  auto r = run_cli("train --config " + path("frac.json") + " --out " + path("bad"));
  EXPECT_NE(r.output.find("setting 'epochs' must be a whole number (got 1.5)"), std::string::npos) << r.output;
  // a bare latentlab prints the help
  r = run_cli("");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("Subcommands:"), std::string::npos) << r.output;
  // a failed start (no data) leaves no run folder; --out where nothing can be created is our message
  r = run_cli("train --data-dir " + path("nodata") + " --out " + path("bad"));
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(fs::exists(path("bad")));
  r = run_cli("train " + common + " --out /proc/latentlab-x");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--out /proc/latentlab-x"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("filesystem error"), std::string::npos) << r.output;

  {
    auto here = fs::current_path();
    fs::current_path(dir);
    r = run_cli("train " + common + " --epochs 2 --out run");  // a relative --out, as typed
    fs::current_path(here);
  }
  ASSERT_EQ(r.code, 0) << r.output;
  // resume: fewer epochs and --config are refused, config.json keeps its epochs and out
  r = run_cli("train --resume " + path("run") + " --epochs 1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("has finished 2 epochs"), std::string::npos) << r.output;
  r = run_cli("train --resume " + path("run") + " --config " + path("frac.json"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--config cannot be given with --resume"), std::string::npos) << r.output;
  auto cfg = nlohmann::json::parse(read_file(path("run/config.json")));
  EXPECT_EQ(cfg["epochs"], 2);
  EXPECT_EQ(cfg["out"], "run");
  r = run_cli("train --resume " + path("run") + " --epochs 3");
  ASSERT_EQ(r.code, 0) << r.output;
  cfg = nlohmann::json::parse(read_file(path("run/config.json")));
  EXPECT_EQ(cfg["epochs"], 3);
  EXPECT_EQ(cfg["out"], "run") << "the recorded out is kept, not the path --resume was typed with";

  // a grid too large for a PNG is refused before any work, naming .npy and --nrow
  r = run_cli("sample " + path("run") + " -n 40000 --nrow 1 -o " + path("tall.png"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("write a .npy array instead, or choose --nrow near 200"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("libpng"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("generate"), std::string::npos) << "refused before drawing:\n" << r.output;
  EXPECT_FALSE(fs::exists(path("tall.png")));
  // -o into a missing folder is created, as --out is
  r = run_cli("sample " + path("run") + " -n 4 --threads 1 -o " + path("new/dir/s.png"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(path("new/dir/s.png")));
  r = run_cli("manifold " + path("run") + " -n 0 -o " + path("m.png"));
  EXPECT_NE(r.output.find("manifold: -n must be in [2, 100]"), std::string::npos) << r.output;

  // eval: sections of separate calls are merged, each with its settings and data; -o; --iw-images
  r = run_cli("eval " + path("run") + " --parts likelihood --iw-samples 2 --iw-images 8 --threads 1");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("eval " + path("run") + " --parts reconstruction --threads 1");
  ASSERT_EQ(r.code, 0) << r.output;
  auto ev = nlohmann::json::parse(read_file(path("run/eval.json")));
  ASSERT_TRUE(ev.contains("likelihood")) << ev.dump();
  ASSERT_TRUE(ev.contains("reconstruction")) << ev.dump();
  EXPECT_EQ(ev["likelihood"]["settings"]["iw_samples"], 2);
  EXPECT_EQ(ev["likelihood"]["settings"]["data_dir"], fs::absolute(path("data")).string());
  r = run_cli("eval " + path("run") + " --parts likelihood --iw-images -5");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--iw-images must be 0"), std::string::npos) << r.output;
  r = run_cli("eval " + path("run") + " --parts likelihood --iw-samples 2 --iw-images 4 -o " + path("elsewhere/ev.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(path("elsewhere/ev.json")));
  if (::geteuid() != 0) {  // root writes anywhere
    fs::permissions(path("run"), fs::perms::owner_write, fs::perm_options::remove);
    r = run_cli("eval " + path("run") + " --parts likelihood");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("cannot write into"), std::string::npos) << r.output;
    fs::permissions(path("run"), fs::perms::owner_write, fs::perm_options::add);
  }
  // a run without its final model says so when its checkpoint is used
  fs::remove(path("run/model"));
  r = run_cli("sample " + path("run") + " -n 4 --threads 1 -o " + path("c.png"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("using the weights of its last checkpoint"), std::string::npos) << r.output;
}

// A malformed PNG in a folder is reported in latentlab's words only: libpng's own complaint
// ("libpng error: PNG unsigned integer out of range") does not reach the user.
TEST_F(Cli, ImageLibrariesDoNotPrintTheirOwnErrors) {
  fs::create_directories(dir / "imgs");
  write_png_grid(path("imgs/good.png"), torch::rand({1, 3, 16, 16}), 1);
  std::string png = read_file(path("imgs/good.png"));
  write_bytes(path("imgs/bad.png"), png.substr(0, 16) + std::string("\xff\xff\xff\xff", 4) + png.substr(20));
  write_bytes(path("imgs/truncated.png"), png.substr(0, 60));
  auto r = run_cli("train --model ae --hidden 8 --latent 2 --threads 1 --image-size 16 --epochs 1 --holdout 0 --dataset folder:" +
                   path("imgs") + " --out " + path("run"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped 2 file(s) that could not be decoded"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("libpng"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--holdout 0 trains on all 1 image;"), std::string::npos) << r.output;
}

// train --help and models --verbose come from the settings table and the registries.
TEST_F(Cli, HelpAndModelsListComeFromTheRegistries) {
  auto r = run_cli("train --help");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* needle : {"weight of the KL term (beta-VAE); applies to vae; default: 1.0",
                             "aae 100, ae 32, dcgan 64, gan 64, vae 128, others 128", "--no-shuffle", "--g-fresh-noise",
                             "--hidden N,N,...", "--keep-checkpoints INT|all", "ae mean, vae image",
                             "Model settings"})
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << "\n" << r.output;
  r = run_cli("models --verbose");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* needle : {"--posterior", "--prior", "fashion-mnist", "folder:<path>", "default folder: "})
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << "\n" << r.output;
  r = run_cli("train --model gan --ngf 0 --out " + path("bad"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--ngf must be in [1, 4096]"), std::string::npos) << r.output;
  r = run_cli("train --hidden 64,x --out " + path("bad"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--hidden 64,x: expected a whole number"), std::string::npos) << r.output;
}

TEST_F(Cli, MissingRunFolder) {
  auto r = run_cli("sample " + path("nothing"));
  EXPECT_NE(r.code, 0);
  r = run_cli("models");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("vae"), std::string::npos);
}

}  // namespace latentlab::test

namespace latentlab::test {

TEST_F(Cli, KeptCheckpointsServeEveryCommandThatReadsARun) {
  write_tiny_mnist(dir / "data", 256, 64);
  const std::string common = "--data-dir " + path("data") + " --batch-size 64 --hidden 32 --latent 4 --threads 1 --seed 2";
  auto r = run_cli("train " + common + " --epochs 3 --save-every 1 --keep-checkpoints all --out " + path("all"));
  ASSERT_EQ(r.code, 0) << r.output;
  for (int e = 1; e <= 3; ++e) EXPECT_TRUE(fs::exists(dir / "all" / ("checkpoint-" + std::to_string(e)))) << e;
  EXPECT_EQ(run_folder::kept_checkpoint_epochs(path("all")), (std::vector<int64_t>{1, 2, 3}));
  // each kept file holds its own epoch's weights: the last one is the final model's
  auto final_w = load_run(path("all")).model->parameters(), third = load_run(path("all"), 3).model->parameters(),
       second = load_run(path("all"), 2).model->parameters();
  for (size_t i = 0; i < final_w.size(); ++i) EXPECT_TRUE(torch::equal(final_w[i], third[i]));
  EXPECT_FALSE(torch::equal(second[0], third[0]));
  ASSERT_EQ(run_cli("sample " + path("all") + " --epoch 2 -n 4 -o " + path("e2.npy")).code, 0);
  ASSERT_EQ(run_cli("sample " + path("all") + " --epoch 3 -n 4 -o " + path("e3.npy")).code, 0);
  EXPECT_NE(read_file(path("e2.npy")), read_file(path("e3.npy")));
  ASSERT_EQ(run_cli("reconstruct " + path("all") + " --epoch 1 -n 4 -o " + path("r1.png")).code, 0);
  r = run_cli("eval " + path("all") + " --epoch 2 --parts reconstruction");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "all" / "eval-epoch2.json"));
  EXPECT_FALSE(fs::exists(dir / "all" / "eval.json"));
  r = run_cli("generate " + path("all") + " --epoch 7 -n 4 -o " + path("g.png"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--epoch 7: " + path("all") + " keeps no checkpoint of that epoch; it keeps epochs 1, 2, 3"), std::string::npos)
      << r.output;
  // --keep-checkpoints N keeps the last N; without it there are none, and --epoch says how to keep them
  ASSERT_EQ(run_cli("train " + common + " --epochs 3 --keep-checkpoints 2 --out " + path("two")).code, 0);
  EXPECT_EQ(run_folder::kept_checkpoint_epochs(path("two")), (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(run_cli("train " + common + " --epochs 1 --out " + path("none")).code, 0);
  EXPECT_TRUE(run_folder::kept_checkpoint_epochs(path("none")).empty());
  r = run_cli("sample " + path("none") + " --epoch 1 -o " + path("x.png"));
  EXPECT_NE(r.output.find("train with --keep-checkpoints N or all"), std::string::npos) << r.output;
  EXPECT_EQ(run_cli("train " + common + " --keep-checkpoints -2 --out " + path("bad")).code, 1);
  // resuming keeps the history and ends with the uninterrupted run's weights
  ASSERT_EQ(run_cli("train " + common + " --epochs 2 --save-every 1 --keep-checkpoints all --out " + path("cut")).code, 0);
  ASSERT_EQ(run_cli("train --resume " + path("cut") + " --epochs 3").code, 0);
  EXPECT_EQ(run_folder::kept_checkpoint_epochs(path("cut")), (std::vector<int64_t>{1, 2, 3}));
  auto resumed = load_run(path("cut")).model->parameters();
  for (size_t i = 0; i < final_w.size(); ++i) EXPECT_TRUE(torch::equal(final_w[i], resumed[i])) << i;
}

}  // namespace latentlab::test

namespace latentlab::test {

TEST_F(Cli, ConditionalRunsSampleChosenClassesAndRefuseBadLabels) {
  write_tiny_mnist(dir / "data", 128, 40);
  std::string common = "--data-dir " + path("data") + " --batch-size 64 --hidden 32 --latent 4 --threads 1 --epochs 1";
  auto r = run_cli("train --model vae --conditional " + common + " --out " + path("cvae"));
  ASSERT_EQ(r.code, 0) << r.output;
  // every class by default: one row of --nrow each
  r = run_cli("sample " + path("cvae") + " --nrow 4 -o " + path("all.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("all.npy")).find("'shape': (40,1,28,28)"), std::string::npos);
  r = run_cli("sample " + path("cvae") + " --labels 2,5 --nrow 3 -o " + path("two.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("two.npy")).find("'shape': (6,1,28,28)"), std::string::npos);
  r = run_cli("interpolate " + path("cvae") + " --from-class 1 --to-class 7 --steps 5 --rows 2 -o " + path("c.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("c.npy")).find("'shape': (10,1,28,28)"), std::string::npos);
  r = run_cli("interpolate " + path("cvae") + " --from 0 --to 3 --steps 4 -o " + path("i.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("reconstruct " + path("cvae") + " -n 4 -o " + path("r.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  // the conditional AAE the same way
  r = run_cli("train --model aae --conditional " + common + " --out " + path("caae"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("caae/config.json")).find("\"classes\": 10"), std::string::npos);
  r = run_cli("sample " + path("caae") + " --labels 0,9 --nrow 2 -o " + path("aae.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(read_file(path("aae.npy")).find("'shape': (4,1,28,28)"), std::string::npos);
  // refusals, before any output file is made
  r = run_cli("sample " + path("cvae") + " --label 11 -o " + path("bad.png"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--label 11: this model's classes are 0..9"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("bad.png")));
  r = run_cli("train --model ae --conditional " + common + " --out " + path("ae"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--conditional does not apply to --model ae"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("ae")));
  r = run_cli("train --model vae " + common + " --out " + path("plain"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("sample " + path("plain") + " --label 3 -o " + path("p.png"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("is not conditioned on labels"), std::string::npos) << r.output;
}

}  // namespace latentlab::test
