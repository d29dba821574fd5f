#pragma once
// Evaluation of a run: every measurement that applies to its model in one call (evaluate_run, what
// `latentlab eval` writes to eval.json). The measurements themselves are in include/latentlab/eval/,
// which this header includes: reconstruction.h (PCA, reconstruction measures), likelihood.h (ELBO,
// log p(x)), generate.h (generation ranked by the critic), probe.h (linear probe and k-NN of codes),
// latent_pictures.h (interpolation, manifold).
#include <torch/torch.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "latentlab/eval/generate.h"
#include "latentlab/eval/latent_pictures.h"
#include "latentlab/eval/likelihood.h"
#include "latentlab/eval/probe.h"
#include "latentlab/eval/reconstruction.h"

namespace latentlab {

struct RunEvalOptions {
  AutoencoderEvalOptions reconstruction;
  LikelihoodOptions likelihood;
  /// Generated images scored by the classifier. Default: 10000.
  int64_t fd_images = 10000;
  /// Sections to compute (reconstruction, likelihood, generator, codes); empty: every one that applies.
  std::vector<std::string> parts;
  /// Seed of the generated images.
  uint64_t seed = 0;
  /// A conditional model's classes to generate for the generator section, in turn (empty: every class);
  /// the section then reports the classifier's accuracy per class.
  std::vector<int64_t> labels;
  /// The folder the data was read from, recorded in each section's settings.
  std::string data_dir;
};

/// Every measurement that applies to the model, as JSON with one object per section:
/// "reconstruction" (models that reconstruct), "likelihood" (VAEs), "generator" (every model: prior
/// samples scored by the dataset's classifier, trained and cached on first use; labelled data only),
/// "codes" (models with an encoder: linear probe and k-NN, PCA beside them).
/// Each section carries "settings": what it measured (data, sample counts, seeds).
nlohmann::json evaluate_run(ModelImpl& model, const TrainConfig& c, const Splits& data, const RunEvalOptions& o,
                            std::FILE* log = stderr);

/// An eval.json after a new call: the sections of `now` replace those of `earlier` of the same name,
/// the others are kept.
nlohmann::json merge_eval(const nlohmann::json& earlier, const nlohmann::json& now);

}  // namespace latentlab
