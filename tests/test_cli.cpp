// The command-line tool end to end: validation errors, a tiny training run, sample and reconstruct.
#include <sys/wait.h>

#include <array>

#include "common.h"
#include "test_paths.h"
#include "latentlab/io.h"

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
  r = run_cli("reconstruct " + path("ae") + " -n 4 -o " + path("r.png"));
  EXPECT_EQ(r.code, 0) << r.output;

  r = run_cli("eval " + path("ae") + " --noise gaussian:0.2 --fd-images 64");
  ASSERT_EQ(r.code, 0) << r.output;
  auto ev = nlohmann::json::parse(read_file(path("ae/eval.json")));
  EXPECT_GT(ev["reconstruction"]["pca_test_mse"].get<double>(), 0);
  EXPECT_TRUE(ev["generator"].contains("classifier_frechet_distance")) << ev.dump();
  EXPECT_TRUE(ev["codes"].contains("linear_probe_accuracy")) << ev.dump();
  EXPECT_FALSE(ev.contains("likelihood")) << "an AE has no likelihood";
  EXPECT_TRUE(fs::exists(dir / "cache")) << "the classifier was cached";
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

TEST_F(Cli, MissingRunFolder) {
  auto r = run_cli("sample " + path("nothing"));
  EXPECT_NE(r.code, 0);
  r = run_cli("models");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("vae"), std::string::npos);
}

}  // namespace latentlab::test
