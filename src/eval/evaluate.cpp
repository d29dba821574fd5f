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
  auto timed = [&](const std::string& name, auto&& f) {
    auto t0 = std::chrono::steady_clock::now();
    nlohmann::json r = f();
    r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    j[name] = r;
    std::fprintf(log, "eval: %s done in %.1fs\n", name.c_str(), r["seconds"].get<double>());
  };
  if (wanted("reconstruction")) {
    if (model.can_reconstruct())
      timed("reconstruction", [&] { return evaluate_autoencoder(model, c, data.train, data.test, o.reconstruction); });
    else
      require(!explicitly("reconstruction"), "eval --parts reconstruction: model " + c.model + " does not reconstruct images");
  }
  if (wanted("likelihood")) {
    if (model.has_likelihood())
      timed("likelihood", [&] { return evaluate_likelihood(model, data.test, o.likelihood); });
    else
      require(!explicitly("likelihood"), "eval --parts likelihood: model " + c.model + " has no likelihood (VAEs have one)");
  }
  bool labelled = data.train.labels.numel() > 0 && data.train.labels.max().item<int64_t>() >= 1;
  if (wanted("generator")) {
    if (labelled) {
      timed("generator", [&] {
        auto cls = classifier_for(c, data, log);
        auto images = generate_images(model, o.fd_images, 0, 0, 1, o.seed).images.cpu();
        return evaluate_images(images, cls, data.test);
      });
    } else {
      require(!explicitly("generator"), "eval --parts generator: the data has a single label; the classifier scores need labelled data");
    }
  }
  if (wanted("codes")) {
    bool has_code = true;
    try {
      torch::NoGradGuard g;
      model.code(to_float(data.test.images.slice(0, 0, 1)));
    } catch (const Error&) {
      has_code = false;
    }
    if (has_code && labelled)
      timed("codes", [&] { return evaluate_codes(model, data.train, data.test); });
    else
      require(!explicitly("codes"), "eval --parts codes: model " + c.model + " has no encoder, or the data no labels");
  }
  return j;
}

}  // namespace latentlab
