#pragma once
// The model interface every latentlab model implements, and the registry that maps --model names
// to factories. A model owns its forward pass and its loss terms; the trainer only sees phases
// (which parameters one optimiser steps) and the named losses each phase returns.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "latentlab/config.h"
#include "latentlab/settings.h"

namespace latentlab {

/// Shape of one input image.
struct ImageShape {
  int64_t channels = 1, height = 28, width = 28;
  int64_t pixels() const { return channels * height * width; }
};

/// What one phase of a training step returns.
struct LossTerms {
  torch::Tensor loss;                                        ///< scalar that the phase minimises
  std::vector<std::pair<std::string, torch::Tensor>> terms;  ///< named scalars (per image), for logging
};

/// One batch as a model sees it: the images, float [b, C, H, W] in [0, 1], and for a model that uses
/// them (ModelImpl::uses_labels()) their class labels, int64 [b] on the images' device; otherwise
/// `labels` is undefined. Built implicitly from the images alone.
struct Batch {
  Batch(torch::Tensor images, torch::Tensor labels = {}) : images(std::move(images)), labels(std::move(labels)) {}
  torch::Tensor images;
  torch::Tensor labels;
};

/// One optimiser and what it steps: the VAE has one phase, a GAN two (d, g), the AAE three.
struct Phase {
  std::string name;
  std::vector<torch::Tensor> parameters;
  int64_t every = 1;  ///< run this phase on batches whose index is a multiple of `every`
  double lr = 0;      ///< this phase's learning rate (a GAN's --lr-g, --lr-d); 0: the run's --lr
};

/// The factor that turns a loss reduced as `native` into one reduced as `wanted`, for a batch of n
/// images of `pixels` values each: "mean" (over every value of every image), "sum" (over every value
/// of every image) or "image" (summed over each image's values, averaged over the batch).
double reduction_scale(const std::string& wanted, const std::string& native, int64_t n, int64_t pixels);

class ModelImpl : public torch::nn::Module {
 public:
  /// The registered name (--model).
  virtual std::string kind() const = 0;
  /// The phases of one training step, in order.
  virtual std::vector<Phase> phases() = 0;
  /// Training losses of phase `phase` on a batch.
  virtual LossTerms losses(size_t phase, const Batch& batch) = 0;
  /// What the trainer calls: the losses of phase `phase`, with their gradients added into each of the
  /// phase's parameters' .grad, as autograd accumulates. The default runs losses() and backward();
  /// models with a hand-written backward (the MLP VAE and autoencoder) override it, and their terms
  /// then carry no autograd graph.
  virtual LossTerms losses_and_gradients(size_t phase, const Batch& batch);
  /// The factor by which the trainer multiplies the gradients of a batch of n images, so that the
  /// optimiser minimises the loss under the run's --loss-reduction while the terms the model reports
  /// (and the metrics) keep the model's own reduction. Default: 1.
  virtual double loss_scale(int64_t n) const { return 1.0; }
  /// Losses reported on the test set; `loss` is what test_loss means for this model.
  virtual LossTerms eval_losses(const Batch& batch) = 0;
  /// Whether the model is conditioned on class labels: the trainer then passes each batch's labels,
  /// and decode_for() generates for given classes. Default: classes() > 0.
  virtual bool uses_labels() const { return classes() > 0; }
  /// Number of classes a model that uses labels generates for. Default: 0.
  virtual int64_t classes() const { return 0; }
  /// Size of the code a generator draws from.
  virtual int64_t latent_dim() const = 0;
  /// Draws n codes from the prior.
  virtual torch::Tensor sample_prior(int64_t n, const torch::TensorOptions& opts) const;
  /// Decodes codes to images in [0, 1]. A model that uses labels decodes image i as class i mod
  /// classes() (default_labels). The default calls decode_classes(); a model overrides one of the two.
  virtual torch::Tensor decode(const torch::Tensor& z);
  /// Decodes codes to images of the classes `labels` (int64 [b], or class mixtures [b, classes()]):
  /// decode_classes() with their class vectors, after checking each label. A model that does not use
  /// labels decodes z when labels is undefined and throws latentlab::Error naming the model otherwise;
  /// one that does refuses undefined labels.
  torch::Tensor decode_for(const torch::Tensor& z, const torch::Tensor& labels);
  /// The labels a conditional model's decode(z) uses when none are given: image i gets class i mod
  /// classes(), so a batch of codes covers every class in turn.
  torch::Tensor default_labels(int64_t n, const torch::Device& device) const;
  /// Called by the trainer before each epoch (1-based), for schedules such as KL warm-up.
  virtual void set_epoch(int64_t epoch) {}
  /// Reconstructs images in [0, 1]; models that cannot throw latentlab::Error. A model that uses
  /// labels reads the batch's labels (and refuses a batch without them).
  virtual torch::Tensor reconstruct(const Batch& x);
  virtual bool can_reconstruct() const { return false; }
  /// Whether code() is available (models with an encoder).
  virtual bool has_codes() const { return can_reconstruct(); }
  /// The code of images x (the mean for a VAE), [b, latent_dim()]; models without an encoder throw.
  virtual torch::Tensor code(const Batch& x);
  /// Whether code_jacobian_sq() is available (MLP encoders).
  virtual bool has_encoder_jacobian() const { return false; }
  /// Per image, the squared Frobenius norm of d code / d x; models without an MLP encoder throw.
  virtual torch::Tensor code_jacobian_sq(const torch::Tensor& x);
  /// Whether log_importance_weights() is available (VAEs).
  virtual bool has_likelihood() const { return false; }
  /// For k draws z_i ~ q(z | x) per image, log p(x | z_i) + log p(z_i) - log q(z_i | x): [b, k].
  /// Their mean estimates the ELBO; logsumexp - log k is the importance-weighted bound on log p(x).
  virtual torch::Tensor log_importance_weights(const Batch& x, int64_t k);
  /// Whether critic_score() is available (GANs: the discriminator).
  virtual bool has_critic() const { return false; }
  /// The critic's score per image (higher: more real) for images in [0, 1]; models without one throw.
  virtual torch::Tensor critic_score(const torch::Tensor& x);

 protected:
  /// Images in [0, 1] of codes z for the class vectors y ([b, classes()], class_vector()); y is
  /// undefined for a model that does not use labels. What decode() and decode_for() call by default.
  virtual torch::Tensor decode_classes(const torch::Tensor& z, const torch::Tensor& y);
  /// The class vectors of a batch for a model that uses labels (refusing a batch without them: `what`
  /// names the operation in the error); undefined for one that does not.
  torch::Tensor classes_of(const Batch& b, const std::string& what) const;
};
using Model = std::shared_ptr<ModelImpl>;

/// Everything latentlab knows of a model, in one registry entry (the model's source file builds it
/// in its register_<name>() function; src/models/builtin.cpp calls those, one line per model).
struct ModelEntry {
  using Factory = std::function<Model(const TrainConfig&, const ImageShape&)>;
  std::string name;     ///< --model
  std::string summary;  ///< one line for `latentlab models`
  Factory factory;      ///< builds the model from settings whose defaults are filled in and checked
  /// Its values for the shared settings it leaves unset to the model (batch_size, hidden, loss, ...).
  nlohmann::json defaults = nlohmann::json::object();
  /// The shared model settings (members of TrainConfig that some model reads: arch, hidden, noise, ...)
  /// it reads; any other such setting given with this model is refused (check_settings_apply).
  std::vector<std::string> reads = {};
  /// Its own settings, kept in TrainConfig::model_settings; two models may declare the same row.
  std::vector<Setting> settings = {};
  /// Checks that span several settings (each row checks itself), run before anything is created.
  std::function<void(const TrainConfig&)> check = nullptr;
  /// Turns the model's settings whose default depends on others ("auto") into concrete values, after
  /// the defaults are filled in and before they are checked, so that config.json records what ran.
  std::function<void(TrainConfig&)> resolve = nullptr;
};

/// The settings of a model that can be conditioned on class labels (vae, aae, gan, dcgan declare them
/// in their entries): --conditional and --classes.
std::vector<Setting> conditional_settings();
/// Whether c's model is conditioned on labels (declares --conditional and has it on).
bool is_conditional(const TrainConfig& c);
/// The number of classes a factory builds c's model for: 0 when it is not conditional, else --classes
/// (refusing 0, which resolve_classes() replaces by the data's before a run's model is built).
int64_t conditional_classes(const TrainConfig& c);
/// Before a conditional run's model is built: sets --classes, where it is 0, to `data_classes`, the
/// number of classes in the data (`dataset` names it in errors), and refuses data with fewer than two
/// classes or a --classes below the data's. Does nothing for a model that is not conditional.
void resolve_classes(TrainConfig& c, int64_t data_classes, const std::string& dataset);
/// The class vectors a conditional network reads: labels int64 [b] become one-hot float [b, classes];
/// a float [b, classes] (class mixtures, as `interpolate --labels` makes) passes through. With `check`,
/// labels outside [0, classes) are a latentlab::Error naming the label (a host sync: not for training).
torch::Tensor class_vector(const torch::Tensor& labels, int64_t classes, const torch::TensorOptions& opts, bool check = false);
/// A conditional model's class vectors of a batch, refusing a batch without labels: `what` names the
/// operation in the error.
torch::Tensor batch_classes(const Batch& b, int64_t classes, const std::string& what);

class Batcher;  // data.h
/// Batch i of `batcher` as `model` takes it: the images, and their labels on the images' device for a
/// model that uses labels (copied only then).
Batch batch_for(const ModelImpl& model, Batcher& batcher, int64_t i);

/// Maps --model names to their entries.
class ModelRegistry {
 public:
  using Factory = ModelEntry::Factory;
  static bool add(ModelEntry entry);
  static bool has(const std::string& name);
  /// The entry of a registered model; throws latentlab::Error naming the known models otherwise.
  static const ModelEntry& entry(const std::string& name);
  static const std::vector<std::string>& reads(const std::string& name) { return entry(name).reads; }
  static const nlohmann::json& defaults(const std::string& name) { return entry(name).defaults; }
  /// Builds the model named by c.model (its defaults filled in); throws latentlab::Error for an unknown
  /// name or bad options.
  static Model create(const TrainConfig& c, const ImageShape& shape);
  static std::vector<std::pair<std::string, std::string>> list();  ///< names with one-line summaries
  static std::vector<const ModelEntry*> entries();                 ///< every entry, by name
  static std::string names_joined();
};

/// Registers the built-in models (idempotent; the registry calls it before every look-up).
void link_builtin_models();

}  // namespace latentlab
