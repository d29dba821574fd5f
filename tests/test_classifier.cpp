// The evaluation classifier (training, caching, loading), the Frechet distance, the label
// histogram of generated images, and the linear-probe and k-NN accuracies of codes.
#include "common.h"
#include "paths.h"
#include "latentlab/classifier.h"
#include "latentlab/eval.h"

namespace latentlab::test {

using ClassifierTest = Seeded;

TEST_F(ClassifierTest, FrechetDistanceOfAnAffineCopyHasAClosedForm) {
  auto a = torch::randn({500, 6}, torch::kFloat64) * torch::linspace(0.5, 2, 6, torch::kFloat64) + 0.3;
  EXPECT_NEAR(frechet_distance(a, a), 0.0, 1e-6);
  // b = 2a + 1: cov_b = 4 cov_a, so FD = |mu_a + 1|^2 + tr(cov_a + 4 cov_a - 2 * 2 cov_a) = |mu_a + 1|^2 + tr(cov_a)
  auto b = 2 * a + 1;
  auto mu = a.mean(0);
  auto c = a - mu;
  double expected = (mu + 1).pow(2).sum().item<double>() + (c.t().mm(c) / 499).trace().item<double>();
  EXPECT_NEAR(frechet_distance(a, b), expected, 1e-6 * expected);
}

TEST_F(ClassifierTest, TrainsCachesAndReloads) {
  write_tiny_mnist(dir / "data", 600, 100);
  TrainConfig c;
  c.data_dir = (dir / "data").string();
  Splits data = load_splits(c, quiet());
  ClassifierTrainOptions o;
  o.epochs = 2;
  auto t = train_classifier(data, "tiny", o, quiet());
  EXPECT_GT(t.test_accuracy, 0.95) << "the bars of the tiny dataset are easy to tell apart";
  save_classifier(t, path("cls"));
  auto l = load_classifier(path("cls"));
  EXPECT_DOUBLE_EQ(l.test_accuracy, t.test_accuracy);
  auto x = to_float(data.test.images.slice(0, 0, 5));
  torch::NoGradGuard g;
  t.net->eval();
  EXPECT_TRUE(torch::allclose(l.net->forward(x), t.net->forward(x)));
  // scores of the test set against itself: distance 0, every class covered
  auto j = evaluate_images(to_float(data.test.images), l, data.test);
  EXPECT_NEAR(j["classifier_frechet_distance"].get<double>(), 0.0, 1e-4);
  EXPECT_EQ(j["classes_covered"].get<int64_t>(), 10);
  EXPECT_NEAR(j["label_entropy"].get<double>(), std::log(10.0), 0.05);
  // uniform noise is far away
  auto noise = evaluate_images(torch::rand({100, 1, 28, 28}), l, data.test);
  EXPECT_GT(noise["classifier_frechet_distance"].get<double>(), 1.0);
  write_bytes(path("junk"), "not an archive");
  EXPECT_ERROR_WITH(load_classifier(path("junk")), path("junk") + ": cannot load (");
  EXPECT_ERROR_WITH(load_classifier(path("junk")), "it is not a usable classifier: delete it to retrain");
  // a file that crashes LibTorch's own archive reader (found by fuzzing the model loader)
  EXPECT_ERROR_WITH(load_classifier(LATENTLAB_SOURCE_DIR + "/fuzz/corpus/model/libtorch-reader-segv"),
                    kMalformedArchiveMessage);
  ::setenv("LATENTLAB_CACHE", path("cache").c_str(), 1);
  EXPECT_EQ(classifier_path("mnist", 1, 28), path("cache/classifier-mnist-1x28-v2"));
  EXPECT_EQ(classifier_path("/a b/c", 3, 64), path("cache/classifier-_a_b_c-3x64-v2"));
}

TEST_F(ClassifierTest, ProbesSeparateSeparableCodesAndNotRandomLabels) {
  auto y = torch::arange(600, torch::kInt64) % 3;
  auto x = torch::randn({600, 4}) * 0.3 + torch::nn::functional::one_hot(y, 4).to(torch::kFloat32) * 3;
  auto yt = torch::arange(300, torch::kInt64) % 3;
  auto xt = torch::randn({300, 4}) * 0.3 + torch::nn::functional::one_hot(yt, 4).to(torch::kFloat32) * 3;
  EXPECT_GT(linear_probe_accuracy(x, y, xt, yt), 0.99);
  EXPECT_GT(knn_accuracy(x, y, xt, yt, 5), 0.99);
  auto noise_y = torch::randint(0, 3, {300}, torch::kInt64);
  EXPECT_LT(knn_accuracy(x, y, xt, noise_y, 5), 0.5);
}

}  // namespace latentlab::test
