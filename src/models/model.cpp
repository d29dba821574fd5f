#include "latentlab/model.h"
#include "latentlab/nn.h"

#include <map>

#include "latentlab/data.h"
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

torch::Tensor ModelImpl::decode(const torch::Tensor& z) {
  return uses_labels() ? decode_for(z, default_labels(z.size(0), z.device())) : decode_classes(z, {});
}

torch::Tensor ModelImpl::decode_for(const torch::Tensor& z, const torch::Tensor& labels) {
  if (!uses_labels()) {
    require(!labels.defined(), "model " + kind() + " is not conditioned on labels (train it with --conditional); generate without --label/--labels");
    return decode(z);
  }
  require(labels.defined(), "model " + kind() + " is conditioned on labels; give the classes to generate (--label/--labels)");
  return decode_classes(z, class_vector(labels, classes(), z.options(), true));
}

torch::Tensor ModelImpl::decode_classes(const torch::Tensor&, const torch::Tensor&) {
  throw Error("model " + kind() + " cannot decode codes");
}

torch::Tensor ModelImpl::classes_of(const Batch& b, const std::string& what) const {
  return uses_labels() ? batch_classes(b, classes(), kind() + " " + what) : torch::Tensor();
}

torch::Tensor ModelImpl::default_labels(int64_t n, const torch::Device& device) const {
  return torch::arange(n, torch::TensorOptions(torch::kLong).device(device)).remainder(std::max<int64_t>(1, classes()));
}

std::vector<Setting> conditional_settings() {
  return {
      {"conditional", "condition the model on the data's class labels (MNIST's digits, an image folder's sub-folders): "
                      "the label enters the encoder, the decoder or generator and a GAN's discriminator; sample and "
                      "generate take --label/--labels", {}, false},
      {"classes", "number of classes of a --conditional model (0: the data's)", {}, int64_t(0), nullptr, {},
       [](const TrainConfig& c) {
         const int64_t k = c.get<int64_t>("classes");
         require(k >= 0 && k <= 100000, "--classes must be in [0, 100000] (0: the data's number of classes)");
         require(k == 0 || c.get<bool>("conditional"), "--classes applies to --conditional models; add --conditional or leave it out");
       }},
  };
}

bool is_conditional(const TrainConfig& c) {
  for (const auto& s : ModelRegistry::entry(c.model).settings)
    if (s.key == "conditional") return c.get<bool>("conditional");
  return false;
}

int64_t conditional_classes(const TrainConfig& c) {
  if (!is_conditional(c)) return 0;
  require(c.get<int64_t>("classes") > 0,
          "--conditional: the number of classes is not known (training takes it from the data; pass --classes N)");
  return c.get<int64_t>("classes");
}

void resolve_classes(TrainConfig& c, int64_t data_classes, const std::string& dataset) {
  if (!is_conditional(c)) return;
  require(data_classes >= 2, "--conditional needs labelled data with at least two classes; " + dataset + " has " +
                                 std::to_string(data_classes) +
                                 " (an image folder's classes are its sub-folders: put each class's images in a sub-folder "
                                 "of its own, or train without --conditional)");
  const int64_t given = c.get<int64_t>("classes");
  require(given == 0 || given >= data_classes, "--classes " + std::to_string(given) + " is below the " +
                                                   std::to_string(data_classes) + " classes of " + dataset +
                                                   "; leave --classes out to take the data's");
  if (given == 0) c.set("classes", data_classes);
}

torch::Tensor class_vector(const torch::Tensor& labels, int64_t classes, const torch::TensorOptions& opts, bool check) {
  TORCH_CHECK(labels.defined() && classes > 0, "class_vector: labels and a class count are needed");
  if (labels.is_floating_point()) {
    TORCH_CHECK(labels.dim() == 2 && labels.size(1) == classes, "class_vector: class mixtures must be [b, ", classes, "]");
    return labels.to(opts);
  }
  if (check && labels.numel() > 0) {
    const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    const int64_t bad = lo < 0 ? lo : hi;
    require(lo >= 0 && hi < classes, "label " + std::to_string(bad) + " is outside this model's classes 0.." +
                                         std::to_string(classes - 1));
  }
  return torch::one_hot(labels.to(opts.device()).to(torch::kLong), classes).to(opts);
}

torch::Tensor batch_classes(const Batch& b, int64_t classes, const std::string& what) {
  require(b.labels.defined(), what + ": this model is conditioned on labels and the images came without them");
  return class_vector(b.labels, classes, b.images.options());
}

Batch batch_for(const ModelImpl& model, Batcher& batcher, int64_t i) {
  torch::Tensor x = batcher.batch(i);
  return {x, model.uses_labels() ? batcher.labels(i).to(x.device()) : torch::Tensor()};
}

torch::Tensor ModelImpl::reconstruct(const Batch&) {
  throw Error("model " + kind() + " does not reconstruct images (it has no encoder)");
}

torch::Tensor ModelImpl::code(const Batch&) {
  throw Error("model " + kind() + " has no encoder, so it has no codes");
}

torch::Tensor ModelImpl::code_jacobian_sq(const torch::Tensor&) {
  throw Error("model " + kind() + " has no MLP encoder whose Jacobian latentlab computes");
}

torch::Tensor ModelImpl::log_importance_weights(const Batch&, int64_t) {
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
