#include "latentlab/model.h"
#include "latentlab/nn.h"

#include <map>

#include "latentlab/error.h"

namespace latentlab {
namespace {
std::map<std::string, ModelEntry>& table() {
  static std::map<std::string, ModelEntry> t;
  return t;
}
}  // namespace

torch::Tensor ModelImpl::sample_prior(int64_t n, const torch::TensorOptions& opts) const {
  return torch::randn({n, latent_dim()}, opts);
}

LossTerms ModelImpl::losses_and_gradients(size_t phase, const Batch& batch) {
  LossTerms l = losses(phase, batch);
  l.loss.backward();
  return l;
}

torch::Tensor ModelImpl::decode_for(const torch::Tensor& z, const torch::Tensor& labels) {
  require(!labels.defined(), "model " + kind() + " is not conditioned on labels; generate without --label/--labels");
  return decode(z);
}

torch::Tensor ModelImpl::reconstruct(const torch::Tensor&) {
  throw Error("model " + kind() + " does not reconstruct images (it has no encoder)");
}

torch::Tensor ModelImpl::code(const torch::Tensor&) {
  throw Error("model " + kind() + " has no encoder, so it has no codes");
}

torch::Tensor ModelImpl::code_jacobian_sq(const torch::Tensor&) {
  throw Error("model " + kind() + " has no MLP encoder whose Jacobian latentlab computes");
}

torch::Tensor ModelImpl::log_importance_weights(const torch::Tensor&, int64_t) {
  throw Error("model " + kind() + " has no likelihood to estimate (VAEs have one)");
}

torch::Tensor ModelImpl::critic_score(const torch::Tensor&) {
  throw Error("model " + kind() + " has no discriminator to score images with; --search needs a GAN (gan, dcgan)");
}

bool ModelRegistry::add(ModelEntry entry) {
  TORCH_CHECK(entry.factory, "model ", entry.name, " registered without a factory");
  std::string name = entry.name;
  table()[name] = std::move(entry);
  return true;
}

const ModelEntry& ModelRegistry::entry(const std::string& name) {
  require(has(name), "--model " + name + ": unknown model; choose one of " + names_joined());
  return table().at(name);
}

std::vector<const ModelEntry*> ModelRegistry::entries() {
  link_builtin_models();
  std::vector<const ModelEntry*> out;
  for (const auto& [name, e] : table()) out.push_back(&e);
  return out;
}

bool ModelRegistry::has(const std::string& name) {
  link_builtin_models();
  return table().count(name) > 0;
}

Model ModelRegistry::create(const TrainConfig& c, const ImageShape& shape) {
  require(has(c.model), "--model " + c.model + ": unknown model; choose one of " + names_joined());
  TrainConfig filled = c;
  apply_model_defaults(filled);
  validate(filled);
  Model m = entry(c.model).factory(filled, shape);
  // every layer is built with PyTorch's default initialisation; another scheme replaces it
  if (filled.init != "default") init_parameters(*m, filled.init);
  return m;
}

double reduction_scale(const std::string& wanted, const std::string& native, int64_t n, int64_t pixels) {
  auto per_image = [&](const std::string& r) {  // the reduction's weight of one image's summed loss
    if (r == "image") return 1.0 / static_cast<double>(n);
    if (r == "sum") return 1.0;
    TORCH_CHECK(r == "mean", "unknown loss reduction ", r);
    return 1.0 / static_cast<double>(n * pixels);
  };
  return per_image(wanted) / per_image(native);
}

std::vector<std::pair<std::string, std::string>> ModelRegistry::list() {
  link_builtin_models();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, e] : table()) out.emplace_back(name, e.summary);
  return out;
}

std::string ModelRegistry::names_joined() {
  std::string s;
  for (const auto& [name, summary] : list()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

}  // namespace latentlab
