// latentlab_fuzz_replay: runs the fuzz targets without libFuzzer.
//   latentlab_fuzz_replay <target> <file or folder>...   every input once (ctest: the seed corpus)
//   latentlab_fuzz_replay --make-corpus <folder>         writes the seed corpus (fuzz/corpus)
// A finding crashes, as under libFuzzer; otherwise it prints how many inputs ran.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "fuzz.h"
#include "latentlab/config.h"
#include "latentlab/model.h"
#include "latentlab/safetensors.h"
#include "latentlab/train.h"

namespace fs = std::filesystem;
using latentlab::fuzz::targets;

namespace {

void put(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string idx(const std::vector<uint32_t>& dims, size_t payload, uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) s += static_cast<char>(d >> shift);
  for (size_t i = 0; i < payload; ++i) s += static_cast<char>(i * 37);
  return s;
}

// Arguments separated by NUL bytes, as the config target splits them.
std::string nul_joined(const std::vector<std::string>& args) {
  std::string s;
  for (size_t i = 0; i < args.size(); ++i) s += (i ? std::string(1, '\0') : std::string()) + args[i];
  return s;
}

std::string encode(const std::string& ext, int channels, int w, int h) {
  cv::Mat m(h, w, channels == 1 ? CV_8UC1 : channels == 3 ? CV_8UC3 : CV_8UC4);
  cv::randu(m, 0, 255);
  std::vector<uchar> buf;
  cv::imencode(ext, m, buf);
  return std::string(buf.begin(), buf.end());
}

void make_corpus(const fs::path& root) {
  // idx: the first byte picks plain (even) or gzip (odd)
  for (char mode : {'\0', '\1'}) {
    std::string m(1, mode);
    put(root / "idx" / (std::string("images-") + (mode ? "gz" : "plain")), m + idx({3, 4, 4}, 48));
    put(root / "idx" / (std::string("labels-") + (mode ? "gz" : "plain")), m + idx({5}, 5));
    put(root / "idx" / (std::string("truncated-") + (mode ? "gz" : "plain")), m + idx({3, 4, 4}, 20));
    put(root / "idx" / (std::string("float-type-") + (mode ? "gz" : "plain")), m + idx({2, 2}, 16, 0x0D));
  }
  put(root / "idx" / "huge-dims", std::string(1, '\0') + idx({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 8));
  put(root / "idx" / "empty", std::string(1, '\0'));
  // image: the first byte picks extension (bits 0-1), grayscale (bit 2), size 8 (bit 3), strict (bit 4)
  put(root / "image" / "rgb.png", std::string(1, '\0') + encode(".png", 3, 12, 9));
  put(root / "image" / "rgba.png", std::string(1, '\x04') + encode(".png", 4, 9, 12));
  put(root / "image" / "gray.jpg", std::string(1, '\x01') + encode(".jpg", 1, 16, 16));
  put(root / "image" / "rgb.bmp", std::string(1, '\x0A') + encode(".bmp", 3, 5, 7));
  put(root / "image" / "truncated.png", std::string(1, '\x10') + encode(".png", 3, 12, 9).substr(0, 40));
  // config: JSON settings, and NUL-separated command lines
  put(root / "config" / "vae.json", R"({"model":"vae","epochs":3,"hidden":[64,32],"latent":4,"loss":"mse"})");
  put(root / "config" / "gan.json", R"({"model":"dcgan","dataset":"folder:x","image_size":32,"channels":3,"g_every":2})");
  put(root / "config" / "bad-type.json", R"({"epochs":"ten"})");
  put(root / "config" / "cli-train", nul_joined({"train", "--model", "ae", "--hidden", "8,4", "--noise", "gaussian:0.3", "--epochs", "2"}));
  put(root / "config" / "cli-serve", nul_joined({"serve", "--port", "0", "--host", "::1"}));
  put(root / "config" / "cli-eval", nul_joined({"eval", "runs/x", "--parts", "codes", "--iw-samples", "-3"}));
  // model: a real model file and a checkpoint-shaped one
  latentlab::TrainConfig c;
  c.model = "ae";
  c.hidden = {8};
  c.latent = 2;
  latentlab::apply_model_defaults(c);
  latentlab::ImageShape shape{1, 28, 28};
  auto m = latentlab::ModelRegistry::create(c, shape);
  std::string bytes = latentlab::save_model_bytes(c, shape, *m);
  put(root / "model" / "ae-model", bytes);
  put(root / "model" / "ae-truncated", bytes.substr(0, bytes.size() / 2));
  // safetensors: a real file and the damage the reader must name
  put(root / "safetensors" / "ae-model", bytes);
  auto file_of = [](const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xff);
    return out + header + data;
  };
  const std::string f32 = R"("dtype":"F32","shape":[2],)";
  put(root / "safetensors" / "all-dtypes",
      latentlab::safetensors_bytes({{"f", torch::ones({2})}, {"d", torch::ones({1}, torch::kFloat64)}, {"h", torch::ones({1}, torch::kFloat16)},
                                    {"bf", torch::ones({1}, torch::kBFloat16)}, {"l", torch::ones({1}, torch::kInt64)},
                                    {"i", torch::ones({1}, torch::kInt32)}, {"s", torch::ones({1}, torch::kInt16)},
                                    {"c", torch::ones({1}, torch::kInt8)}, {"u", torch::ones({1}, torch::kUInt8)},
                                    {"b", torch::ones({1}, torch::kBool)}, {"z", torch::zeros({0})}},
                                   {{"kind", "model"}}));
  put(root / "safetensors" / "header-beyond-file", file_of("{}", "").substr(0, 8) + "{");
  put(root / "safetensors" / "overlap", file_of("{\"a\":{" + f32 + R"("data_offsets":[0,8]},"b":{)" + f32 + R"("data_offsets":[4,12]}})", "123456789012"));
  put(root / "safetensors" / "unknown-dtype", file_of(R"({"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", "12345678"));
  put(root / "safetensors" / "shape-overflows", file_of(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", "12345678"));
  put(root / "safetensors" / "truncated", bytes.substr(0, bytes.size() - 100));
  put(root / "safetensors" / "gap", file_of("{\"a\":{" + f32 + R"("data_offsets":[4,12]}})", "123456789012"));
  // metrics: lines as the trainer writes them, plus broken ones
  put(root / "metrics" / "vae.jsonl",
      "{\"epoch\":1,\"train_loss\":150.5,\"test_loss\":120.25,\"train_kl\":12.0}\n{\"epoch\":2,\"train_loss\":120.5,\"test_loss\":NaN}\n");
  put(root / "metrics" / "half.jsonl", "{\"epoch\":1,\"train_loss\":1}\n{\"epoch\":2,\"trai");
  put(root / "metrics" / "odd.jsonl", "\x01[1,2]\n\"x\"\n{\"epoch\":\"one\",\"test_loss\":null}\n{\"model\":\"vae\",\"epochs\":1e400}\n");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--make-corpus") {
    make_corpus(argv[2]);
    std::printf("wrote the seed corpus into %s\n", argv[2]);
    return 0;
  }
  if (argc < 3 || !targets().count(argv[1])) {
    std::fprintf(stderr, "usage: %s <target> <file or folder>... | --make-corpus <folder>\ntargets:", argv[0]);
    for (const auto& [name, t] : targets()) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  auto target = targets()[argv[1]];
  std::vector<fs::path> inputs;
  for (int i = 2; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (fs::is_regular_file(argv[i])) {
      inputs.push_back(argv[i]);
    } else {
      std::fprintf(stderr, "error: %s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& p : inputs) {
    std::string bytes = slurp(p);
    target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs replayed, no crash\n", argv[1], inputs.size());
  return inputs.empty() ? 1 : 0;
}
