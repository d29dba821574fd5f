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
  torch::Tensor labels;   ///< a conditional model's: the class of each image, int64 [n] (empty otherwise)
};

/// The classes to generate for a model: `given` (checked: each in [0, classes), `flag` names the option
/// in errors), or every class when it is empty. For a model that does not use labels: empty, and
/// `given` must be empty too.
std::vector<int64_t> classes_to_generate(const ModelImpl& model, const std::vector<int64_t>& given, const std::string& flag);
/// Labels of n images in rows of `per_row`, one class per row: image i gets classes[(i / per_row) mod
/// classes.size()] (a class grid: one row per class). Empty `classes`: an undefined tensor.
torch::Tensor class_rows(const std::vector<int64_t>& classes, int64_t n, int64_t per_row);

/// The seeds' generate(): draws `search` codes (prior draws * std + mean, which is N(mean, std^2) for a
/// Gaussian prior), decodes them, scores them with the model's critic and keeps the `n` best, highest
/// score first. search == 0 draws n images without scoring. Seeded by `seed`; works in chunks of 256.
/// `log`: where progress goes (nullptr: silent). A conditional model draws image i of class labels[i]
/// (int64 [n]; undefined: every class in turn, decode()'s default); others refuse labels.
Generated generate_images(ModelImpl& model, int64_t n, int64_t search, double mean, double std, uint64_t seed,
                          std::FILE* log = nullptr, const torch::Tensor& labels = {});

}  // namespace latentlab
