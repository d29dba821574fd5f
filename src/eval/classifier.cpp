#include "latentlab/classifier.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "latentlab/error.h"
#include "latentlab/progress.h"
#include "latentlab/files.h"
#include "latentlab/train.h"
#include "latentlab/weights.h"

namespace fs = std::filesystem;

namespace latentlab {

ClassifierImpl::ClassifierImpl(ClassifierOptions o) : options(o) {
  TORCH_CHECK(o.size() >= 8 && o.classes() >= 2, "classifier: images of at least 8 pixels and at least 2 classes");
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), 32, 5).padding(2)));
  conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 5).padding(2)));
  int64_t s = o.size() / 4;
  fc1 = register_module("fc1", torch::nn::Linear(64 * s * s, o.features()));
  fc2 = register_module("fc2", torch::nn::Linear(o.features(), o.classes()));
  dropout = register_module("dropout", torch::nn::Dropout(0.3));
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& x) {
  auto h = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
  h = torch::max_pool2d(torch::relu(conv2->forward(h)), 2);
  return torch::relu(fc1->forward(h.flatten(1)));
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& x) { return fc2->forward(dropout->forward(features(x))); }

namespace {

double accuracy(Classifier& net, const Dataset& d) {
  torch::NoGradGuard g;
  net->eval();
  Batcher b(d, 1000, false);
  int64_t right = 0;
  for (int64_t i = 0; i < b.batches(); ++i)
    right += (net->forward(b.batch(i)).argmax(1) == b.labels(i)).sum().item<int64_t>();
  return double(right) / double(d.size());
}

std::string sanitize(std::string s) {
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  return s;
}

}  // namespace

TrainedClassifier train_classifier(const Splits& data, const std::string& name, const ClassifierTrainOptions& o,
                                   std::FILE* log) {
  const Dataset& tr = data.train;
  require(tr.height() == tr.width(), "classifier: square images needed");
  int64_t classes = tr.labels.max().item<int64_t>() + 1;
  require(classes >= 2, "classifier: " + name + " has a single label; the classifier scores need labelled data (sub-folders of an image folder)");
  torch::manual_seed(o.seed);
  TrainedClassifier out;
  out.net = Classifier(ClassifierOptions(tr.channels(), tr.height(), classes));
  out.dataset = name;
  torch::optim::Adam opt(out.net->parameters(), torch::optim::AdamOptions(o.lr));
  Batcher batches(tr, o.batch_size, true);
  auto gen = at::detail::createCPUGenerator(o.seed);
  for (int64_t e = 1; e <= o.epochs; ++e) {
    for (auto& g : opt.param_groups())
      static_cast<torch::optim::AdamOptions&>(g.options()).lr(o.lr * std::pow(0.3, std::max<int64_t>(0, e - 2)));
    out.net->train();
    batches.start_epoch(gen);
    TaskProgress progress(log, "classifier " + name + ": epoch " + std::to_string(e) + "/" + std::to_string(o.epochs),
                          batches.batches(), "batches");
    for (int64_t b = 0; b < batches.batches(); ++b) {
      auto loss = torch::cross_entropy_loss(out.net->forward(batches.batch(b)), batches.labels(b));
      opt.zero_grad();
      loss.backward();
      opt.step();
      progress.update(b + 1);
    }
    out.test_accuracy = accuracy(out.net, data.test);
    char buf[64];
    std::snprintf(buf, sizeof buf, "test accuracy %.4f", out.test_accuracy);
    progress.finish(buf);
  }
  out.net->eval();
  return out;
}

std::string classifier_path(const std::string& name, int64_t channels, int64_t size) {
  fs::path dir;
  if (const char* c = std::getenv("LATENTLAB_CACHE"))
    dir = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"))
    dir = fs::path(x) / "latentlab";
  else if (const char* h = std::getenv("HOME"))
    dir = fs::path(h) / ".cache" / "latentlab";
  else
    dir = fs::temp_directory_path() / "latentlab";
  // The version names the training recipe: a change to it must not reuse an old cached classifier.
  const char* version = "-v2";
  return (dir / ("classifier-" + sanitize(name) + "-" + std::to_string(channels) + "x" + std::to_string(size) + version)).string();
}

void save_classifier(const TrainedClassifier& c, const std::string& path) {
  WeightsWriter w("classifier");
  w.metadata["dataset"] = c.dataset;
  w.metadata["accuracy"] = nlohmann::json(c.test_accuracy).dump();
  const auto& o = c.net->options;
  w.metadata["shape"] = nlohmann::json(std::vector<int64_t>{o.channels(), o.size(), o.classes(), o.features()}).dump();
  w.add_module("net.", *c.net);
  fs::create_directories(fs::path(path).parent_path());
  atomic_write(path, w.bytes());
}

TrainedClassifier load_classifier(const std::string& path) {
  const std::string retrain = "; it is not a usable classifier: delete it to retrain";
  std::string bytes = read_file(path);
  try {
    std::optional<WeightsFile> read;
    try {
      read = WeightsFile::read_kind(bytes, path, {"classifier"}, "classifier");
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + retrain);
    }
    const WeightsFile& f = *read;
    TrainedClassifier c;
    c.dataset = f.meta("dataset");
    auto accuracy = nlohmann::json::parse(f.meta("accuracy"), nullptr, false);
    require(accuracy.is_number(), path + ": malformed classifier accuracy" + retrain);
    c.test_accuracy = accuracy.get<double>();
    auto s = nlohmann::json::parse(f.meta("shape"), nullptr, false);
    bool ok = s.is_array() && s.size() == 4 && std::all_of(s.begin(), s.end(), [](const auto& v) { return v.is_number_integer(); });
    require(ok && s[0] >= 1 && s[0] <= 4 && s[1] >= 8 && s[1] <= 4096 && s[2] >= 2 && s[2] <= 100000 && s[3] >= 1 && s[3] <= 65536,
            path + ": malformed classifier shape" + retrain);
    c.net = Classifier(ClassifierOptions(s[0].get<int64_t>(), s[1].get<int64_t>(), s[2].get<int64_t>()).features(s[3].get<int64_t>()));
    load_weights(*c.net, f, "net.");
    c.net->eval();
    c.path = path;
    return c;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load the classifier (" + std::string(e.what()).substr(0, 200) + "); delete it to retrain");
  }
}

TrainedClassifier classifier_for(const TrainConfig& c, const Splits& data, std::FILE* log) {
  std::string name = is_folder_dataset(c) ? fs::absolute(folder_path(c)).string() : c.dataset;
  std::string path = classifier_path(name, data.train.channels(), data.train.height());
  if (fs::exists(path)) return load_classifier(path);
  std::fprintf(log, "training the evaluation classifier for %s (once; cached in %s)\n", name.c_str(), path.c_str());
  auto t = train_classifier(data, name, {}, log);
  save_classifier(t, path);
  t.path = path;
  return t;
}

double frechet_distance(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  auto a = a_in.to(torch::kFloat64), b = b_in.to(torch::kFloat64);
  auto mu1 = a.mean(0), mu2 = b.mean(0);
  auto cov = [](const torch::Tensor& x, const torch::Tensor& mu) {
    auto c = x - mu;
    return c.t().mm(c) / double(std::max<int64_t>(1, x.size(0) - 1));
  };
  auto s1 = cov(a, mu1), s2 = cov(b, mu2);
  // tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2), a symmetric positive semi-definite matrix
  auto eig = torch::linalg_eigh(s1);
  auto sqrt_s1 = std::get<1>(eig).mm(torch::diag(std::get<0>(eig).clamp_min(0).sqrt())).mm(std::get<1>(eig).t());
  auto m = sqrt_s1.mm(s2).mm(sqrt_s1);
  m = (m + m.t()) / 2;
  auto tr_sqrt = torch::linalg_eigvalsh(m).clamp_min(0).sqrt().sum();
  auto fd = (mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * tr_sqrt;
  return std::max(0.0, fd.item<double>());  // rounding can leave a tiny negative value for equal sets
}

torch::Tensor classifier_features(Classifier& net, const torch::Tensor& x) {
  torch::NoGradGuard g;
  net->eval();
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < x.size(0); s += 1000) out.push_back(net->features(x.slice(0, s, std::min(x.size(0), s + 1000))));
  return torch::cat(out);
}

nlohmann::json evaluate_images(const torch::Tensor& images, TrainedClassifier& cls, const Dataset& test,
                               const torch::Tensor& intended) {
  torch::NoGradGuard g;
  auto f_gen = classifier_features(cls.net, images);
  auto f_test = classifier_features(cls.net, to_float(test.images));
  std::vector<torch::Tensor> probs;
  for (int64_t s = 0; s < images.size(0); s += 1000)
    probs.push_back(torch::softmax(cls.net->forward(images.slice(0, s, std::min(images.size(0), s + 1000))), 1));
  auto p = torch::cat(probs);
  int64_t classes = p.size(1);
  auto pred = p.argmax(1);
  auto hist = torch::bincount(pred, {}, classes).to(torch::kFloat64) / double(p.size(0));
  auto nz = hist.clamp_min(1e-300);
  nlohmann::json j;
  j["classifier_frechet_distance"] = frechet_distance(f_gen, f_test);
  j["fd_images"] = images.size(0);
  j["classes_covered"] = (hist >= 0.01).sum().item<int64_t>();
  j["label_entropy"] = -(hist * nz.log()).sum().item<double>();
  j["label_entropy_max"] = std::log(double(classes));
  j["mean_confidence"] = std::get<0>(p.max(1)).mean().item<double>();
  std::vector<double> h(hist.data_ptr<double>(), hist.data_ptr<double>() + classes);
  j["label_histogram"] = h;
  j["classifier_test_accuracy"] = cls.test_accuracy;
  if (intended.defined()) {  // a conditional model's samples: how often the classifier agrees with the class asked for
    TORCH_CHECK(intended.numel() == images.size(0), "evaluate_images: one intended label per image is needed");
    auto want = intended.to(torch::kCPU).to(torch::kLong).reshape({-1});
    auto hit = (pred.to(torch::kCPU) == want).to(torch::kFloat64);
    const int64_t k = std::max(classes, want.max().item<int64_t>() + 1);
    auto count = torch::bincount(want, {}, k).to(torch::kFloat64), right = torch::bincount(want, hit, k);
    std::vector<double> acc;
    std::vector<int64_t> asked;
    double lo = 1;
    for (int64_t c = 0; c < k; ++c) {
      const double n = count[c].item<double>();
      acc.push_back(n > 0 ? right[c].item<double>() / n : 0.0);
      asked.push_back(static_cast<int64_t>(n));
      if (n > 0) lo = std::min(lo, acc.back());
    }
    j["class_accuracy"] = acc;  // per class: share of its samples the classifier calls that class
    j["class_samples"] = asked;
    j["class_accuracy_min"] = lo;
    j["class_accuracy_mean"] = (right.sum() / count.sum()).item<double>();
  }
  return j;
}

}  // namespace latentlab
