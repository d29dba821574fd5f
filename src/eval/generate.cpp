#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/progress.h"

namespace latentlab {

torch::Device model_device(ModelImpl& model) {
  auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params[0].device();
}

std::vector<int64_t> classes_to_generate(const ModelImpl& model, const std::vector<int64_t>& given, const std::string& flag) {
  if (!model.uses_labels()) {
    require(given.empty(), flag + ": model " + model.kind() + " is not conditioned on labels (train it with --conditional); leave " +
                               flag + " out");
    return {};
  }
  const int64_t k = model.classes();
  for (int64_t c : given)
    require(c >= 0 && c < k, flag + " " + std::to_string(c) + ": this model's classes are 0.." + std::to_string(k - 1));
  if (!given.empty()) return given;
  std::vector<int64_t> all(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c) all[static_cast<size_t>(c)] = c;
  return all;
}

torch::Tensor class_rows(const std::vector<int64_t>& classes, int64_t n, int64_t per_row) {
  if (classes.empty()) return {};
  TORCH_CHECK(per_row >= 1, "class_rows: per_row must be positive");
  auto list = torch::tensor(classes, torch::kLong);
  return list.index_select(0, torch::arange(n, torch::kLong).div(per_row, "floor").remainder(list.size(0)));
}

Generated generate_images(ModelImpl& model, int64_t n, int64_t search, double mean, double std, uint64_t seed,
                          std::FILE* log, const torch::Tensor& labels) {
  require(n >= 1, "generate: -n must be at least 1");
  require(search == 0 || search >= n, "generate: --search " + std::to_string(search) + " must be at least -n (" +
                                          std::to_string(n) + "), or 0 to keep every sample");
  require(std > 0 && std::isfinite(std) && std::isfinite(mean), "generate: --std must be positive and --mean finite");
  require(search == 0 || model.has_critic(), "generate --search: model " + model.kind() +
                                                 " has no discriminator to rank samples with; drop --search");
  torch::NoGradGuard no_grad;
  model.eval();
  torch::manual_seed(seed);
  const int64_t total = search ? search : n;
  require(!labels.defined() || model.uses_labels(), "model " + model.kind() + " is not conditioned on labels; generate without labels");
  require(!labels.defined() || labels.numel() == total, "generate: one label per drawn image is needed");
  auto device = model_device(model);
  auto z = model.sample_prior(total, torch::TensorOptions(torch::kFloat32)).mul_(std).add_(mean).to(device);
  const torch::Tensor y = !model.uses_labels() ? torch::Tensor()
                          : labels.defined()   ? labels.to(torch::kLong).to(device)
                                               : model.default_labels(total, device);
  std::vector<torch::Tensor> images, scores;
  TaskProgress progress(log, search ? "generate (ranking by the discriminator)" : "generate", total, "images");
  for (int64_t start = 0; start < total; start += 256) {
    progress.update(start);
    const int64_t end = std::min(total, start + 256);
    auto x = y.defined() ? model.decode_for(z.slice(0, start, end), y.slice(0, start, end)) : model.decode(z.slice(0, start, end));
    if (search) scores.push_back(model.critic_score(x).reshape({-1}));
    images.push_back(x);
  }
  progress.finish(std::to_string(total) + " images drawn");
  Generated g;
  g.images = torch::cat(images);
  g.codes = z;
  if (y.defined()) g.labels = y.cpu();
  if (!search) return g;
  auto all = torch::cat(scores);
  auto top = all.topk(n);
  g.scores = std::get<0>(top);
  g.indices = std::get<1>(top);
  g.images = g.images.index_select(0, g.indices);
  g.codes = z.index_select(0, g.indices.to(z.device()));
  return g;
}

}  // namespace latentlab
