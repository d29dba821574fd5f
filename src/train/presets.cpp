#include "latentlab/presets.h"

#include <map>

#include "latentlab/error.h"

namespace latentlab {
namespace {

struct Preset {
  std::string summary;
  nlohmann::json settings;
};

// Every setting a seed's code fixes, written out (tests/test_presets.cpp quotes the seed line of each).
// Where latentlab deliberately differs from a seed's code, README's "Presets and their seeds" says why.
const std::map<std::string, Preset>& table() {
  static const std::map<std::string, Preset> t = {
      {"ae-seed",
       {"seed 000's PyTorch AE: 784-256-64-20, ReLU (code included), sigmoid, MSE mean, Adam 1e-3, batch 32, "
        "shuffled, 1000 epochs",
        {{"model", "ae"}, {"hidden", {256, 64}}, {"latent", 20}, {"activation", "relu"}, {"loss", "mse"},
         {"loss_reduction", "mean"}, {"lr", 1e-3}, {"beta1", 0.9}, {"batch_size", 32}, {"shuffle", true},
         {"drop_last", false}, {"init", "default"}, {"epochs", 1000}}}},
      {"ae-tf",
       {"seed 003's TensorFlow AE: 784-256-128-64, leaky ReLU 0.2 (code included), sigmoid, MSE mean, Adam 1e-3, "
        "batch 128 in the files' order, partial batch dropped, Glorot-uniform weights, 10 epochs",
        {{"model", "ae"}, {"hidden", {256, 128}}, {"latent", 64}, {"activation", "leaky_relu"}, {"loss", "mse"},
         {"loss_reduction", "mean"}, {"lr", 1e-3}, {"beta1", 0.9}, {"batch_size", 128}, {"shuffle", false},
         {"drop_last", true}, {"init", "glorot"}, {"epochs", 10}}}},
      {"vae-sigma-seed",
       {"seed 000's PyTorch VAE: 784-256-64-20 (ReLU) split into mean and sigma 10+10, 10-64-256-784 sigmoid, "
        "MSE + KL divided by batch x 784, Adam 1e-3, batch 32, shuffled, 1000 epochs",
        {{"model", "vae"}, {"hidden", {256, 64}}, {"latent", 10}, {"activation", "relu"}, {"loss", "mse"},
         {"loss_reduction", "mean"}, {"output", "sigmoid"}, {"posterior", "relu-sigma"}, {"lr", 1e-3}, {"beta1", 0.9},
         {"batch_size", 32}, {"shuffle", true}, {"drop_last", false}, {"init", "default"}, {"epochs", 1000}}}},
      {"vae-examples",
       {"seed 004's VAE (pytorch/examples' shape): 784-400-(20, 20), 20-400-784 sigmoid, BCE + KL summed over the "
        "batch, Adam 3e-4, batch 128, shuffled, 20 epochs",
        {{"model", "vae"}, {"hidden", {400}}, {"latent", 20}, {"activation", "relu"}, {"loss", "bce"},
         {"loss_reduction", "sum"}, {"output", "sigmoid"}, {"posterior", "logvar"}, {"lr", 3e-4}, {"beta1", 0.9},
         {"batch_size", 128}, {"shuffle", true}, {"drop_last", false}, {"init", "default"}, {"epochs", 20}}}},
      {"vae-tanh-mse",
       {"seed 002's VAE: 784-400-(20, 20), 20-400-784 tanh on images scaled to [-1, 1], MSE + KL summed over the "
        "batch, Adam 1e-3 (batch 128 and 20 epochs: the seed states neither)",
        {{"model", "vae"}, {"hidden", {400}}, {"latent", 20}, {"activation", "relu"}, {"loss", "mse"},
         {"loss_reduction", "sum"}, {"output", "tanh"}, {"posterior", "logvar"}, {"lr", 1e-3}, {"beta1", 0.9},
         {"batch_size", 128}, {"shuffle", true}, {"drop_last", false}, {"init", "default"}, {"epochs", 20}}}},
      {"dcgan-seed",
       {"seed 004's anime DCGAN: 96x96 RGB folder, every image trained on, nz 100, ngf = ndf = 64, PyTorch's "
        "default init, Adam lr1 = lr2 = 2e-4 (beta1 0.5), batch 256 shuffled with drop_last, d_every 1, g_every 5 "
        "with fresh noise, losses every 20 batches, checkpoints kept every 10 epochs, 200 epochs",
        {{"model", "dcgan"}, {"image_size", 96}, {"channels", 3}, {"holdout", 0.0}, {"latent", 100}, {"ngf", 64},
         {"ndf", 64}, {"init", "default"}, {"lr", 2e-4}, {"lr_g", 2e-4}, {"lr_d", 2e-4}, {"beta1", 0.5},
         {"batch_size", 256}, {"shuffle", true}, {"drop_last", true}, {"d_every", 1}, {"g_every", 5},
         {"g_fresh_noise", true}, {"log_every", 20}, {"save_every", 10}, {"keep_checkpoints", -1}, {"epochs", 200}}}},
  };
  return t;
}

// Earlier names, kept working.
const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> a = {{"vae-seed", "vae-examples"}};
  return a;
}

}  // namespace

const nlohmann::json& preset(const std::string& given) {
  auto alias = aliases().find(given);
  const std::string& name = alias == aliases().end() ? given : alias->second;
  auto it = table().find(name);
  if (it == table().end()) {
    std::string names;
    for (const auto& [n, p] : table()) names += (names.empty() ? "" : ", ") + n;
    throw Error("--preset " + given + ": unknown preset; choose one of " + names);
  }
  return it->second.settings;
}

std::vector<std::pair<std::string, std::string>> presets() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [n, p] : table()) out.emplace_back(n, p.summary);
  for (const auto& [alias, n] : aliases()) out.emplace_back(alias, "the earlier name of " + n);
  return out;
}

}  // namespace latentlab
