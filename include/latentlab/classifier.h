#pragma once
// The evaluation classifier: a small CNN that latentlab trains once per dataset and caches, whose
// penultimate features give the "classifier Frechet distance" between generated and test images
// (the same formula as FID, but in this classifier's feature space, not Inception's: the numbers
// are not comparable with published FIDs), and whose labels measure which classes samples cover.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <functional>
#include <string>

#include "latentlab/config.h"
#include "latentlab/data.h"

namespace latentlab {

struct ClassifierOptions {
  ClassifierOptions(int64_t channels, int64_t size, int64_t classes) : channels_(channels), size_(size), classes_(classes) {}
  /// Image channels.
  TORCH_ARG(int64_t, channels);
  /// Image height = width (at least 8).
  TORCH_ARG(int64_t, size);
  /// Number of classes.
  TORCH_ARG(int64_t, classes);
  /// Size of the feature layer. Default: 128.
  TORCH_ARG(int64_t, features) = 128;
};

/// conv 5x5 (32) - ReLU - maxpool 2 - conv 5x5 (64) - ReLU - maxpool 2 - linear (features) - ReLU -
/// dropout 0.3 - linear (classes). Inputs are images in [0, 1].
class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(ClassifierOptions options);
  torch::Tensor features(const torch::Tensor& x);  ///< [b, features]
  torch::Tensor forward(const torch::Tensor& x);   ///< logits [b, classes]
  ClassifierOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Classifier);

struct TrainedClassifier {
  Classifier net{nullptr};
  double test_accuracy = 0;
  std::string dataset, path;
};

struct ClassifierTrainOptions {
  /// Epochs; the learning rate is lr for the first two, then falls by 0.3 per epoch.
  int64_t epochs = 5;
  int64_t batch_size = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
};

/// Trains the classifier on data.train and measures its accuracy on data.test.
TrainedClassifier train_classifier(const Splits& data, const std::string& dataset_name,
                                   const ClassifierTrainOptions& o = {}, std::FILE* log = stderr);

/// Where the classifier of a dataset is cached: $LATENTLAB_CACHE, else $XDG_CACHE_HOME/latentlab,
/// else ~/.cache/latentlab; file classifier-<dataset>-<C>x<S>-v<recipe version>.
std::string classifier_path(const std::string& dataset_name, int64_t channels, int64_t size);

void save_classifier(const TrainedClassifier& c, const std::string& path);
/// Throws latentlab::Error naming the file when it is not a classifier of this shape.
TrainedClassifier load_classifier(const std::string& path);

/// The cached classifier of the run's dataset, trained (and cached) first when missing.
TrainedClassifier classifier_for(const TrainConfig& c, const Splits& data, std::FILE* log = stderr);

/// Frechet distance between Gaussians fitted to two feature sets [n, d] (float64 internally).
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

/// Classifier features of every image of x, in batches.
torch::Tensor classifier_features(Classifier& net, const torch::Tensor& images_float);

/// Scores n images against the test set with the classifier: the classifier Frechet distance, the
/// label histogram (classes covered by at least 1% of the images, entropy in nats) and the mean
/// top-class confidence. `images` are floats in [0, 1], [n, C, H, W]. With `intended` (int64 [n], the
/// classes a conditional model was asked for), also per class the share of its images that the
/// classifier assigns to it (class_accuracy, class_samples, class_accuracy_min, class_accuracy_mean).
nlohmann::json evaluate_images(const torch::Tensor& images, TrainedClassifier& cls, const Dataset& test,
                               const torch::Tensor& intended = {});

}  // namespace latentlab
