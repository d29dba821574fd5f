#pragma once
// Images drawn from a generator, optionally ranked by its critic (the seeds' generate(); eval/generate.cpp).
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "latentlab/model.h"

namespace latentlab {

/// The device of the model's parameters (the CPU for a model without any).
torch::Device model_device(ModelImpl& model);

/// Images drawn from a generator, best first when ranked.
struct Generated {
  torch::Tensor images;   ///< [n, C, H, W] in [0, 1]
  torch::Tensor scores;   ///< [n] critic scores (empty when not ranked)
  torch::Tensor indices;  ///< [n] index of each kept image among the drawn ones (empty when not ranked)
  torch::Tensor codes;    ///< the codes the kept images were decoded from, [n, ...] as the prior draws them
};

/// The seeds' generate(): draws `search` codes (prior draws * std + mean, which is N(mean, std^2) for a
/// Gaussian prior), decodes them, scores them with the model's critic and keeps the `n` best, highest
/// score first. search == 0 draws n images without scoring. Seeded by `seed`; works in chunks of 256.
/// `log`: where progress goes (nullptr: silent).
Generated generate_images(ModelImpl& model, int64_t n, int64_t search, double mean, double std, uint64_t seed,
                          std::FILE* log = nullptr);

}  // namespace latentlab
