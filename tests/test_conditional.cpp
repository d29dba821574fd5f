// Conditional models (--conditional): the VAE and the GANs conditioned on class labels, class grids,
// class interpolation and the per-class accuracy of eval's generator section.
#include <opencv2/imgcodecs.hpp>

#include "common.h"
#include "latentlab/classifier.h"
#include "latentlab/eval.h"
#include "latentlab/models/aae.h"
#include "latentlab/models/gan.h"
#include "latentlab/models/vae.h"
#include "latentlab/weights.h"

namespace latentlab::test {

class Conditional : public Seeded {
 protected:
  static TrainConfig config(const std::string& model, int64_t classes = 10) {
    TrainConfig c;
    c.model = model;
    c.set("conditional", true).set("classes", classes);
    if (model == "dcgan") c.set("ngf", 8).set("ndf", 8);
    if (model != "vae") c.latent = 16;
    if (model == "gan" || model == "aae") c.hidden = {32, 64};
    return c;
  }
  static Model build(TrainConfig c) { return ModelRegistry::create(c, ImageShape{1, 28, 28}); }
  static Batch batch(int64_t n, int64_t classes = 10) {
    return {torch::rand({n, 1, 28, 28}), torch::arange(n, torch::kLong).remainder(classes)};
  }
};

TEST_F(Conditional, EveryConditionalModelReadsTheLabelsAndTrains) {
  for (std::string model : {"vae", "aae", "gan", "dcgan"})
    for (std::string arch : {"mlp", "conv"}) {
      if ((model == "dcgan" && arch == "mlp") || (model == "gan" && arch == "conv")) continue;
      TrainConfig c = config(model);
      c.arch = arch;
      Model m = build(c);
      SCOPED_TRACE(model + " " + arch);
      EXPECT_TRUE(m->uses_labels());
      EXPECT_EQ(m->classes(), 10);
      // the labels change what the decoder makes of one code
      m->eval();
      auto z = m->sample_prior(1, torch::kFloat32).repeat({2, 1});
      auto two = m->decode_for(z, torch::tensor({int64_t(3), int64_t(7)}));
      EXPECT_EQ(two.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
      EXPECT_GT((two[0] - two[1]).abs().max().item<double>(), 1e-6);
      // decode() without labels: class i mod 10
      auto by_default = m->decode(z.repeat({5, 1}));
      EXPECT_TRUE(torch::allclose(by_default[3], m->decode_for(z.slice(0, 0, 1), torch::tensor({int64_t(3)}))[0], 1e-5, 1e-6));
      // a training step of every phase changes its weights
      m->train();
      Batch b = batch(12);
      for (size_t p = 0; p < m->phases().size(); ++p) {
        auto params = m->phases()[p].parameters;
        std::vector<torch::Tensor> before;
        for (auto& t : params) before.push_back(t.detach().clone());
        torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-2));
        opt.zero_grad();
        LossTerms l = m->losses_and_gradients(p, b);
        EXPECT_TRUE(std::isfinite(l.loss.item<double>()));
        opt.step();
        int64_t changed = 0;
        for (size_t i = 0; i < params.size(); ++i) changed += !torch::equal(before[i], params[i].detach());
        EXPECT_EQ(changed, static_cast<int64_t>(params.size())) << "phase " << p;
      }
      // a batch without labels is refused with a message, not a crash
      EXPECT_ERROR_WITH(m->losses(0, Batch(b.images)), "conditioned on labels");
    }
}

TEST_F(Conditional, TheVaeEncodesAndScoresWithTheLabels) {
  Model m = build(config("vae"));
  auto& vae = dynamic_cast<VaeImpl&>(*m);
  m->eval();
  Batch b = batch(6);
  EXPECT_EQ(m->code(b).sizes(), (std::vector<int64_t>{6, 20}));
  EXPECT_EQ(m->reconstruct(b).sizes(), b.images.sizes());
  EXPECT_EQ(m->log_importance_weights(b, 3).sizes(), (std::vector<int64_t>{6, 3}));
  // another class gives another code and another likelihood
  Batch other(b.images, (b.labels + 1).remainder(10));
  EXPECT_GT((m->code(b) - m->code(other)).abs().max().item<double>(), 1e-6);
  // the importance weights decode each of the k draws with its own image's class: k = 1 draws match the
  // one-sample ELBO computed by hand from the same noise
  torch::manual_seed(5);
  auto lw = m->log_importance_weights(b, 1).squeeze(1);
  torch::manual_seed(5);
  auto y = class_vector(b.labels, 10, b.images.options());
  auto [mu, logvar] = vae.encode(b.images, y);
  auto eps = torch::randn({1, 6, 20});
  auto z = mu + (0.5 * logvar).exp() * eps[0];
  auto log_px = -torch::binary_cross_entropy_with_logits(vae.decode_logits(z, y), b.images, {}, {}, at::Reduction::None).flatten(1).sum(1);
  auto log_pz = -0.5 * (z.pow(2) + std::log(2 * M_PI)).sum(1), log_qz = -0.5 * (eps[0].pow(2) + std::log(2 * M_PI) + logvar).sum(1);
  EXPECT_TRUE(torch::allclose(lw, log_px + log_pz - log_qz, 1e-4, 1e-3));
  EXPECT_ERROR_WITH(m->reconstruct(b.images), "came without them");
  EXPECT_FALSE(m->has_encoder_jacobian());
}

// The conditional AAE: the class enters the encoder and the decoder; the code discriminator reads codes
// only, so every class's codes are matched to the one prior.
TEST_F(Conditional, TheAaeEncodesAndDecodesWithTheLabelsAndMatchesCodesToOnePrior) {
  for (std::string arch : {"mlp", "conv"}) {
    SCOPED_TRACE(arch);
    TrainConfig c = config("aae");
    c.arch = arch;
    Model m = build(c);
    auto& aae = dynamic_cast<AaeImpl&>(*m);
    m->eval();
    Batch b = batch(6);
    EXPECT_EQ(m->code(b).sizes(), (std::vector<int64_t>{6, 16}));
    Batch other(b.images, (b.labels + 1).remainder(10));
    EXPECT_GT((m->code(b) - m->code(other)).abs().max().item<double>(), 1e-6);
    // reconstruction decodes the code with the image's own class
    auto y = class_vector(b.labels, 10, b.images.options());
    EXPECT_TRUE(torch::allclose(m->reconstruct(b), torch::sigmoid(aae.codec.decode_logits(m->code(b), y)), 1e-5, 1e-6));
    EXPECT_ERROR_WITH(m->reconstruct(b.images), "came without them");
    // the discriminator's input is the code alone
    auto first = aae.discriminator->parameters()[0];
    EXPECT_EQ(first.size(1), 16);
    auto prior = m->sample_prior(4, torch::kFloat32);
    EXPECT_EQ(prior.sizes(), (std::vector<int64_t>{4, 16}));
  }
}

TEST_F(Conditional, TheProjectionDiscriminatorAddsTheClassEmbeddingsInnerProduct) {
  Model m = build(config("dcgan"));
  auto& gan = dynamic_cast<GanImpl&>(*m);
  ASSERT_TRUE(gan.projection);
  m->eval();
  auto x = torch::rand({4, 1, 28, 28}) * 2 - 1;
  auto y = class_vector(torch::tensor({int64_t(0), int64_t(1), int64_t(2), int64_t(9)}), 10, x.options());
  // D's layers up to its last convolution, by hand: convolutions, batch norms and LeakyReLU 0.2
  const size_t n = gan.discriminator->size();
  torch::Tensor h = x;
  for (size_t i = 0; i + 2 < n; ++i) {
    auto layer = gan.discriminator->ptr(i);
    if (auto conv = layer->as<torch::nn::Conv2d>())
      h = conv->forward(h);
    else if (auto bn = layer->as<torch::nn::BatchNorm2d>())
      h = bn->forward(h);
    else
      h = torch::leaky_relu(h, 0.2);
  }
  auto plain = gan.discriminator->ptr(n - 2)->as<torch::nn::Conv2d>()->forward(h).view({4});
  auto expected = plain + (y.matmul(gan.projection->weight.t()) * h.sum({2, 3})).sum(1);
  EXPECT_TRUE(torch::allclose(gan.discriminate(x, y), expected, 1e-5, 1e-5));
  // the projection is trained with D
  auto d = m->phases()[0].parameters;
  EXPECT_TRUE(std::any_of(d.begin(), d.end(), [&](const torch::Tensor& t) { return t.is_same(gan.projection->weight); }));
  EXPECT_ERROR_WITH(m->critic_score(x), "scores an image for a class");
}

TEST_F(Conditional, SamplingDrawsTheRequestedClassesRowByRow) {
  Model m = build(config("gan"));
  auto classes = classes_to_generate(*m, {3, 8}, "--labels");
  EXPECT_EQ(classes, (std::vector<int64_t>{3, 8}));
  EXPECT_EQ(classes_to_generate(*m, {}, "--labels").size(), 10u);
  auto labels = class_rows(classes, 8, 4);
  EXPECT_TRUE(torch::equal(labels, torch::tensor({3, 3, 3, 3, 8, 8, 8, 8}, torch::kLong)));
  auto g = generate_images(*m, 8, 0, 0, 1, 11, nullptr, labels);
  ASSERT_TRUE(g.labels.defined());
  EXPECT_TRUE(torch::equal(g.labels, labels));
  // each image is its code decoded for its row's class
  torch::NoGradGuard no_grad;
  m->eval();
  auto again = m->decode_for(g.codes, labels);
  EXPECT_TRUE(torch::allclose(g.images, again, 1e-5, 1e-6));
  auto wrong = m->decode_for(g.codes, torch::full({8}, 5, torch::kLong));
  EXPECT_GT((g.images - wrong).abs().max().item<double>(), 1e-5);
  // interpolating between classes keeps the code: both ends are the codes decoded for the two classes
  auto path = interpolate_classes(*m, 2, 6, 5, 3, 4);
  EXPECT_EQ(path.sizes(), (std::vector<int64_t>{15, 1, 28, 28}));
  torch::manual_seed(4);
  auto z = m->sample_prior(3, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(path[5], m->decode_for(z.slice(0, 1, 2), torch::tensor({int64_t(2)}))[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(path[9], m->decode_for(z.slice(0, 1, 2), torch::tensor({int64_t(6)}))[0], 1e-5, 1e-6));
}

TEST_F(Conditional, BadLabelsAndSettingsAreRefusedBeforeAnyWork) {
  Model m = build(config("gan"));
  EXPECT_ERROR_WITH(classes_to_generate(*m, {11}, "--label"), "--label 11: this model's classes are 0..9");
  EXPECT_ERROR_WITH(classes_to_generate(*m, {-1}, "--labels"), "--labels -1");
  EXPECT_ERROR_WITH(m->decode_for(torch::zeros({1, 16}), torch::tensor({int64_t(10)})), "label 10 is outside this model's classes 0..9");
  EXPECT_ERROR_WITH(interpolate_classes(*m, 0, 12, 4, 1, 0), "--to-class 12");
  TrainConfig plain;
  plain.model = "gan";
  plain.latent = 16;
  plain.hidden = {32};
  Model unconditional = build(plain);
  EXPECT_ERROR_WITH(classes_to_generate(*unconditional, {3}, "--label"), "is not conditioned on labels");
  EXPECT_ERROR_WITH(unconditional->decode_for(torch::zeros({1, 16}), torch::tensor({int64_t(1)})), "train it with --conditional");
  EXPECT_ERROR_WITH(interpolate_classes(*unconditional, 0, 1, 4, 1, 0), "not conditioned on labels");
  // settings
  EXPECT_ERROR_WITH(check_settings_apply(TrainConfig().set("model", "ae").set("conditional", true)),
                    "--conditional does not apply to --model ae");
  EXPECT_ERROR_WITH(validate(TrainConfig().set("classes", int64_t(5))), "--classes applies to --conditional models");
  TrainConfig c = config("vae", 0);
  EXPECT_ERROR_WITH(resolve_classes(c, 1, "folder:/x"), "an image folder's classes are its sub-folders");
  TrainConfig five = config("vae", 5);
  EXPECT_ERROR_WITH(resolve_classes(five, 10, "mnist"), "--classes 5 is below the 10 classes of mnist");
  resolve_classes(c, 10, "mnist");
  EXPECT_EQ(c.get<int64_t>("classes"), 10);
  EXPECT_ERROR_WITH(build(config("vae", 0)), "the number of classes is not known");
  EXPECT_ERROR_WITH(validate(config("vae").set("contractive", 0.1)), "--contractive is for models that are not --conditional");
}

TEST_F(Conditional, AConditionalRunTakesTheDataClassesGridsAClassPerRowAndResumesExactly) {
  write_tiny_mnist(dir / "data", 96, 40);
  TrainConfig c = tiny_dcgan(dir / "data");
  c.set("conditional", true);
  c.grid_images = 64;  // not used: a conditional model's grid is a row per class
  c.preview_every = 0;
  auto r = expect_resume_matches_uninterrupted(c, dir, "cdcgan", 2, 1, quiet());
  EXPECT_EQ(r.model->classes(), 10);
  auto saved = load_config((dir / "cdcgan-full" / "config.json").string());
  EXPECT_EQ(saved.get<int64_t>("classes"), 10);
  EXPECT_TRUE(saved.get<bool>("conditional"));
  // the sample grid: 8 columns, one row per class
  cv::Mat grid = cv::imread((dir / "cdcgan-full" / "samples-2.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(grid.empty());
  EXPECT_EQ(grid.rows, 10 * 28 + 11 * 2);
  EXPECT_EQ(grid.cols, 8 * 28 + 9 * 2);
  // the saved model loads as a conditional model, and eval's generator section reports per class
  auto loaded = load_run((dir / "cdcgan-full").string());
  EXPECT_TRUE(loaded.model->uses_labels());
  EXPECT_EQ(loaded.model->classes(), 10);
}

TEST_F(Conditional, AConditionalVaeOnAnImageFolderTakesItsSubFoldersAsClasses) {
  for (const char* cls : {"a", "b", "c"}) {
    fs::create_directories(dir / "img" / cls);
    for (int i = 0; i < 6; ++i)
      cv::imwrite((dir / "img" / cls / (std::to_string(i) + ".png")).string(),
                  cv::Mat(8, 8, CV_8UC1, cv::Scalar(cls[0] * 2 - 190 + i)));
  }
  TrainConfig c;
  c.model = "vae";
  c.dataset = "folder:" + (dir / "img").string();
  c.image_size = 8;
  c.channels = 1;
  c.epochs = 1;
  c.batch_size = 8;
  c.hidden = {16};
  c.latent = 2;
  c.threads = 1;
  c.set("conditional", true);
  c.out = path("run");
  Trainer t(c, quiet());
  t.run();
  EXPECT_EQ(load_config(path("run/config.json")).get<int64_t>("classes"), 3);
  // a folder without sub-folders has one class: refused before the run folder is made
  fs::create_directories(dir / "flat");
  for (int i = 0; i < 4; ++i) cv::imwrite((dir / "flat" / (std::to_string(i) + ".png")).string(), cv::Mat(8, 8, CV_8UC1, cv::Scalar(i)));
  c.dataset = "folder:" + (dir / "flat").string();
  c.out = path("flat-run");
  EXPECT_ERROR_WITH(Trainer(c, quiet()).run(), "has 1 (an image folder's classes are its sub-folders");
  EXPECT_FALSE(fs::exists(path("flat-run")));
}

TEST_F(Conditional, EvalReportsTheClassifiersAccuracyPerRequestedClass) {
  // an untrained classifier: its own verdicts on the images give the expected accuracies
  Splits data;
  data.test.images = torch::randint(0, 255, {20, 1, 28, 28}, torch::kLong).to(torch::kUInt8);
  data.test.labels = torch::arange(20, torch::kLong).remainder(4);
  TrainedClassifier cls;
  cls.net = Classifier(ClassifierOptions(1, 28, 4));
  auto intended = torch::tensor({0, 1, 2, 3, 0, 1, 2, 3}, torch::kLong);
  auto images = torch::rand({8, 1, 28, 28});
  torch::NoGradGuard g;
  cls.net->eval();
  auto pred = cls.net->forward(images).argmax(1);
  auto j = evaluate_images(images, cls, data.test, intended);
  ASSERT_TRUE(j.contains("class_accuracy"));
  auto acc = j["class_accuracy"].get<std::vector<double>>();
  ASSERT_EQ(acc.size(), 4u);
  for (int64_t c = 0; c < 4; ++c) {
    double hits = ((pred == c) & (intended == c)).sum().item<double>();
    EXPECT_DOUBLE_EQ(acc[c], hits / 2.0) << c;
  }
  EXPECT_EQ(j["class_samples"].get<std::vector<int64_t>>(), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_DOUBLE_EQ(j["class_accuracy_mean"].get<double>(), (pred == intended).sum().item<double>() / 8.0);
  EXPECT_FALSE(evaluate_images(images, cls, data.test).contains("class_accuracy"));
}

}  // namespace latentlab::test
