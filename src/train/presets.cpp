#include "latentlab/presets.h"

#include <map>

#include "latentlab/error.h"

namespace latentlab {
namespace {

struct Preset {
  std::string summary;
  nlohmann::json settings;
};

const std::map<std::string, Preset>& table() {
  static const std::map<std::string, Preset> t = {
      {"ae-seed",
       {"the PyTorch seed's AE: 784-256-64-20, ReLU (code included), sigmoid, MSE, Adam 1e-3, batch 32",
        {{"model", "ae"}, {"hidden", {256, 64}}, {"latent", 20}, {"activation", "relu"}, {"loss", "mse"},
         {"lr", 1e-3}, {"batch_size", 32}}}},
      {"ae-tf",
       {"the TensorFlow seed's AE: 784-256-128-64, leaky ReLU (code included), sigmoid, MSE, Adam 1e-3, batch 128",
        {{"model", "ae"}, {"hidden", {256, 128}}, {"latent", 64}, {"activation", "leaky_relu"}, {"loss", "mse"},
         {"lr", 1e-3}, {"batch_size", 128}, {"epochs", 10}}}},
      {"vae-sigma-seed",
       {"the first PyTorch seed's VAE: 784-256-64-20 (ReLU) split into mean and sigma 10+10, 10-64-256-784 sigmoid, "
        "MSE + KL (the seed divides both by batch x 784), Adam 1e-3, batch 32",
        {{"model", "vae"}, {"hidden", {256, 64}}, {"latent", 10}, {"activation", "relu"}, {"loss", "mse"},
         {"posterior", "relu-sigma"}, {"lr", 1e-3}, {"batch_size", 32}}}},
      {"dcgan-seed",
       {"the seed's anime DCGAN: 96x96 RGB folder, nz 100, ngf = ndf = 64, Adam 2e-4 (beta1 0.5), batch 256, "
        "d_every 1, g_every 5, checkpoints every 10 epochs",
        {{"model", "dcgan"}, {"image_size", 96}, {"channels", 3}, {"latent", 100}, {"ngf", 64}, {"ndf", 64},
         {"lr", 2e-4}, {"beta1", 0.5}, {"batch_size", 256}, {"d_every", 1}, {"g_every", 5}, {"save_every", 10},
         {"epochs", 200}}}},
      {"vae-seed",
       {"the seeds' VAE: 784-400-(20, 20), 20-400-784, BCE + KL, Adam 1e-3, batch 128",
        {{"model", "vae"}, {"hidden", {400}}, {"latent", 20}, {"activation", "relu"}, {"loss", "bce"},
         {"lr", 1e-3}, {"batch_size", 128}}}},
  };
  return t;
}

}  // namespace

const nlohmann::json& preset(const std::string& name) {
  auto it = table().find(name);
  if (it == table().end()) {
    std::string names;
    for (const auto& [n, p] : table()) names += (names.empty() ? "" : ", ") + n;
    throw Error("--preset " + name + ": unknown preset; choose one of " + names);
  }
  return it->second.settings;
}

std::vector<std::pair<std::string, std::string>> presets() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [n, p] : table()) out.emplace_back(n, p.summary);
  return out;
}

}  // namespace latentlab
