#include <algorithm>
#include <chrono>

#include "latentlab/classifier.h"
#include "latentlab/error.h"
#include "latentlab/eval.h"

namespace latentlab {

nlohmann::json evaluate_run(ModelImpl& model, const TrainConfig& c, const Splits& data, const RunEvalOptions& o,
                            std::FILE* log) {
  static const std::vector<std::string> known = {"reconstruction", "likelihood", "generator", "codes"};
  for (const auto& p : o.parts)
    require(std::find(known.begin(), known.end(), p) != known.end(),
            "--parts " + p + ": unknown section; choose from reconstruction, likelihood, generator, codes");
  auto wanted = [&](const std::string& p) { return o.parts.empty() || std::find(o.parts.begin(), o.parts.end(), p) != o.parts.end(); };
  auto explicitly = [&](const std::string& p) { return std::find(o.parts.begin(), o.parts.end(), p) != o.parts.end(); };
  nlohmann::json j;
  j["model"] = c.model;
  j["dataset"] = c.dataset;
  // Each section records what it measured: the data it read and its own settings, so that sections
  // measured by separate calls can sit side by side in one eval.json.
  auto timed = [&](const std::string& name, nlohmann::json settings, auto&& f) {
    std::fprintf(log, "eval: %s ...\n", name.c_str());
    auto t0 = std::chrono::steady_clock::now();
    nlohmann::json r = f();
    r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    settings["dataset"] = c.dataset;
    settings["data_dir"] = o.data_dir;
    r["settings"] = settings;
    j[name] = r;
    std::fprintf(log, "eval: %s done in %.1fs\n", name.c_str(), r["seconds"].get<double>());
  };
  if (wanted("reconstruction")) {
    if (model.can_reconstruct())
      timed("reconstruction",
            {{"noise", o.reconstruction.noise.empty() ? c.noise : o.reconstruction.noise},
             {"zero_tolerance", o.reconstruction.zero_tolerance},
             {"seed", o.reconstruction.seed}},
            [&] { return evaluate_autoencoder(model, c, data.train, data.test, o.reconstruction); });
    else
      require(!explicitly("reconstruction"), "eval --parts reconstruction: model " + c.model + " does not reconstruct images");
  }
  if (wanted("likelihood")) {
    if (model.has_likelihood())
      timed("likelihood",
            {{"iw_samples", o.likelihood.samples}, {"iw_images", o.likelihood.images}, {"binarize", o.likelihood.binarize},
             {"seed", o.likelihood.seed}},
            [&] { return evaluate_likelihood(model, data.test, o.likelihood, log); });
    else
      require(!explicitly("likelihood"), "eval --parts likelihood: model " + c.model + " has no likelihood (VAEs have one)");
  }
  bool labelled = data.train.labels.numel() > 0 && data.train.labels.max().item<int64_t>() >= 1;
  if (wanted("generator")) {
    if (labelled) {
      nlohmann::json settings = {{"fd_images", o.fd_images}, {"seed", o.seed}};
      if (model.uses_labels()) settings["labels"] = classes_to_generate(model, o.labels, "eval --labels");
      timed("generator", settings, [&] {
        auto cls = classifier_for(c, data, log);
        // a conditional model: the requested classes (all by default) in turn, so each gets fd_images / count
        auto labels = class_rows(classes_to_generate(model, o.labels, "eval --labels"), o.fd_images, 1);
        auto g = generate_images(model, o.fd_images, 0, 0, 1, o.seed, log, labels);
        return evaluate_images(g.images.cpu(), cls, data.test, g.labels);
      });
    } else {
      require(!explicitly("generator"), "eval --parts generator: the data has a single label; the classifier scores need labelled data");
    }
  }
  if (wanted("codes")) {
    if (model.has_codes() && labelled)
      timed("codes", nlohmann::json::object(), [&] { return evaluate_codes(model, data.train, data.test); });
    else
      require(!explicitly("codes"), "eval --parts codes: model " + c.model + " has no encoder, or the data no labels");
  }
  return j;
}

nlohmann::json merge_eval(const nlohmann::json& earlier, const nlohmann::json& now) {
  nlohmann::json out = earlier.is_object() ? earlier : nlohmann::json::object();
  for (auto it = now.begin(); it != now.end(); ++it) out[it.key()] = it.value();
  return out;
}

}  // namespace latentlab
