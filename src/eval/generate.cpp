#include "latentlab/error.h"
#include "latentlab/eval.h"
#include "latentlab/progress.h"

namespace latentlab {

torch::Device model_device(ModelImpl& model) {
  auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params[0].device();
}

Generated generate_images(ModelImpl& model, int64_t n, int64_t search, double mean, double std, uint64_t seed,
                          std::FILE* log) {
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
  auto device = model_device(model);
  auto z = model.sample_prior(total, torch::TensorOptions(torch::kFloat32)).mul_(std).add_(mean).to(device);
  std::vector<torch::Tensor> images, scores;
  TaskProgress progress(log, search ? "generate (ranking by the discriminator)" : "generate", total, "images");
  for (int64_t start = 0; start < total; start += 256) {
    progress.update(start);
    auto x = model.decode(z.slice(0, start, std::min(total, start + 256)));
    if (search) scores.push_back(model.critic_score(x).reshape({-1}));
    images.push_back(x);
  }
  progress.finish(std::to_string(total) + " images drawn");
  Generated g;
  g.images = torch::cat(images);
  g.codes = z;
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
