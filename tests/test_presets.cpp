// Presets reproduce the seeds' settings and build the seeds' networks.
#include "common.h"
#include "latentlab/losses.h"
#include "latentlab/models/vae.h"
#include "latentlab/models/ae.h"
#include "latentlab/presets.h"
#include "latentlab/io.h"
#include "latentlab/train.h"

namespace latentlab::test {

class Presets : public Seeded {
 protected:
  // The preset's settings once the model's defaults are filled in: what a run of it records.
  static nlohmann::json resolved(const std::string& name, const std::string& dataset = "mnist") {
    auto c = config_from_json(preset(name), {}, name);
    c.dataset = dataset;
    apply_model_defaults(c);
    validate(c);
    return to_json(c);
  }
  // Every key of `seed` (the seed's values) equals the resolved setting.
  static void expect_settings(const std::string& name, const nlohmann::json& seed, const std::string& dataset = "mnist") {
    auto got = resolved(name, dataset);
    for (const auto& [key, value] : seed.items()) {
      ASSERT_TRUE(got.contains(key)) << name << ": " << key;
      if (value.is_number_float())
        EXPECT_DOUBLE_EQ(got[key].get<double>(), value.get<double>()) << name << ": " << key;
      else
        EXPECT_EQ(got[key], value) << name << ": " << key;
    }
  }
};

// Seed 000 (PyTorch AE):
//   nn.Linear(784,256),nn.ReLU(),nn.Linear(256,64),nn.ReLU(),nn.Linear(64,20),nn.ReLU() ... nn.Linear(256,784),nn.Sigmoid()
//   DataLoader(mnist_train,batch_size=32,shuffle=True)   criteon = nn.MSELoss()
//   optim.Adam(model.parameters(),lr=1e-3)              for epoch in range(1000):
TEST_F(Presets, AeSeedIsSeed000sAutoencoder) {
  expect_settings("ae-seed", {{"model", "ae"}, {"hidden", {256, 64}}, {"latent", 20}, {"activation", "relu"},
                              {"loss", "mse"}, {"loss_reduction", "mean"}, {"batch_size", 32}, {"shuffle", true},
                              {"drop_last", false}, {"lr", 1e-3}, {"beta1", 0.9}, {"init", "default"}, {"epochs", 1000}});
}

// Seed 003 (TensorFlow AE):
//   lr = 1e-3  batch_size = 128  n_hidden1 = 256  n_hidden2 = 128  n_hidden3 = 64
//   tf.layers.dense(x_, n_hidden1, activation=tf.nn.leaky_relu) ... activation=tf.nn.sigmoid
//   loss = tf.losses.mean_squared_error(x_, decoder)   op = tf.train.AdamOptimizer(lr).minimize(loss)
//   epoch = 10   iteration = data_size // batch_size   start = j * batch_size   (no shuffle, partial batch dropped)
//   tf.layers.dense's kernel_initializer: glorot_uniform; bias_initializer: zeros
TEST_F(Presets, AeTfIsSeed003sTensorFlowAutoencoder) {
  expect_settings("ae-tf", {{"model", "ae"}, {"hidden", {256, 128}}, {"latent", 64}, {"activation", "leaky_relu"},
                            {"loss", "mse"}, {"loss_reduction", "mean"}, {"batch_size", 128}, {"shuffle", false},
                            {"drop_last", true}, {"lr", 1e-3}, {"beta1", 0.9}, {"init", "glorot"}, {"epochs", 10}});
}

// Seed 000 (PyTorch VAE):
//   nn.Linear(784,256),nn.ReLU(),nn.Linear(256,64),nn.ReLU(),nn.Linear(64,20),nn.ReLU()   mu,sigma = h_.chunk(2,dim=1)
//   nn.Linear(10,64),nn.ReLU(),nn.Linear(64,256),nn.ReLU(),nn.Linear(256,784),nn.Sigmoid()
//   kid = 0.5 * torch.sum(...)/(batchsz*28*28)   criteon = nn.MSELoss()   loss = -elbo
//   batch_size=32,shuffle=True   lr=1e-3   for epoch in range(1000):
TEST_F(Presets, VaeSigmaSeedIsSeed000sVae) {
  expect_settings("vae-sigma-seed", {{"model", "vae"}, {"hidden", {256, 64}}, {"latent", 10}, {"activation", "relu"},
                                     {"posterior", "relu-sigma"}, {"loss", "mse"}, {"loss_reduction", "mean"},
                                     {"output", "sigmoid"}, {"batch_size", 32}, {"shuffle", true}, {"drop_last", false},
                                     {"lr", 1e-3}, {"beta1", 0.9}, {"init", "default"}, {"epochs", 1000}});
}

// Seed 004 (VAE):
//   self.fc1 = nn.Linear(784, 400)  self.fc2_mean = nn.Linear(400, 20)  self.fc2_logvar = nn.Linear(400, 20)
//   return torch.sigmoid(self.fc4(h3))   BCE_loss = nn.BCELoss(reduction='sum')
//   KL_divergence = -0.5 * torch.sum(1+logvar-torch.exp(logvar)-mu**2)
//   DataLoader(trainset, batch_size=128, shuffle=True)   torch.optim.Adam(vae.parameters(), lr=0.0003)
//   for epoch in range(20):
TEST_F(Presets, VaeExamplesIsSeed004sVaeAndVaeSeedStillNamesIt) {
  const nlohmann::json seed = {{"model", "vae"}, {"hidden", {400}}, {"latent", 20}, {"activation", "relu"},
                               {"posterior", "logvar"}, {"loss", "bce"}, {"loss_reduction", "sum"}, {"output", "sigmoid"},
                               {"batch_size", 128}, {"shuffle", true}, {"drop_last", false}, {"lr", 3e-4},
                               {"beta1", 0.9}, {"init", "default"}, {"epochs", 20}};
  expect_settings("vae-examples", seed);
  expect_settings("vae-seed", seed);
}

// Seed 002 (VAE):
//   reconstruction_function = nn.MSELoss(size_average=False)   KLD = torch.sum(KLD_element).mul_(-0.5)
//   optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)   x = 0.5 * (x + 1.)  (to_img: inputs in [-1, 1])
//   self.fc1 = nn.Linear(784, 400) ... self.fc21/fc22 = nn.Linear(400, 20) ... return F.tanh(self.fc4(h3))
TEST_F(Presets, VaeTanhMseIsSeed002sVae) {
  expect_settings("vae-tanh-mse", {{"model", "vae"}, {"hidden", {400}}, {"latent", 20}, {"activation", "relu"},
                                   {"posterior", "logvar"}, {"loss", "mse"}, {"loss_reduction", "sum"}, {"output", "tanh"},
                                   {"lr", 1e-3}, {"beta1", 0.9}, {"init", "default"}});
}

// Seed 004 (anime DCGAN), class Config:
//   batch_size = 256  max_epoch = 200  lr1 = 2e-4  lr2 = 2e-4  beta1 = 0.5  nz = 100  ngf = 64  ndf = 64
//   plot_every = 20  d_every = 1  g_every = 5  save_every = 10   image_size = 96
//   DataLoader(dataset, batch_size=opt.batch_size, shuffle=True, num_workers=..., drop_last=True)   (ImageFolder: every image)
//   noises.data.copy_(t.randn(opt.batch_size, opt.nz, 1, 1))  before the G step (fresh noise)
//   t.save(netd.state_dict(), 'checkpoints/netd_%s.pth' % epoch)  (every save_every epochs, all kept)
//   no weights_init: PyTorch's default initialisation
TEST_F(Presets, DcganSeedIsSeed004sAnimeDcgan) {
  expect_settings("dcgan-seed", {{"model", "dcgan"}, {"image_size", 96}, {"channels", 3}, {"holdout", 0.0},
                                 {"latent", 100}, {"ngf", 64}, {"ndf", 64}, {"batch_size", 256}, {"shuffle", true},
                                 {"drop_last", true}, {"lr", 2e-4}, {"lr_g", 2e-4}, {"lr_d", 2e-4}, {"beta1", 0.5},
                                 {"d_every", 1}, {"g_every", 5}, {"g_fresh_noise", true}, {"log_every", 20},
                                 {"save_every", 10}, {"keep_checkpoints", -1}, {"init", "default"}, {"epochs", 200}},
                  "folder:/anime");
}

TEST_F(Presets, TensorFlowSeedAutoencoder) {
  auto c = config_from_json(preset("ae-tf"));
  validate(c);
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(c.activation, "leaky_relu");
  auto m = std::dynamic_pointer_cast<AutoencoderImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  ASSERT_TRUE(m);
  const auto& enc = m->codec.mlp_encoder->layers;
  ASSERT_EQ(enc.size(), 3u);
  EXPECT_EQ(enc[0]->weight.sizes(), (std::vector<int64_t>{256, 784}));
  EXPECT_EQ(enc[1]->weight.sizes(), (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(enc[2]->weight.sizes(), (std::vector<int64_t>{64, 128}));
  // leaky ReLU on the code, as tf.layers.dense(..., activation=tf.nn.leaky_relu)
  auto code = m->encode(torch::rand({64, 1, 28, 28}));
  EXPECT_LT(code.min().item<float>(), 0.0f);
}

TEST_F(Presets, EveryPresetIsValidAndUnknownNamesAreListed) {
  for (const auto& [name, summary] : presets()) {
    auto c = config_from_json(preset(name), {}, name);
    ImageShape shape{1, 28, 28};
    if (c.image_size) {  // an image-folder preset
      c.dataset = "folder:/some/images";
      shape = {c.channels, c.image_size, c.image_size};
    }
    EXPECT_NO_THROW(validate(c)) << name;
    EXPECT_NO_THROW(ModelRegistry::create(c, shape)) << name;
  }
  EXPECT_ERROR_WITH(preset("ae-keras"), "choose one of ae-seed, ae-tf, dcgan-seed, vae-examples, vae-sigma-seed, vae-tanh-mse");
}

TEST_F(Presets, FirstSeedsVaeSplitsAnActivatedCodeIntoMeanAndSigma) {
  auto c = config_from_json(preset("vae-sigma-seed"), {}, "vae-sigma-seed");
  auto m = std::dynamic_pointer_cast<VaeImpl>(ModelRegistry::create(c, ImageShape{1, 28, 28}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->latent_dim(), 10);
  auto x = torch::rand({16, 1, 28, 28});
  auto [mu, logvar] = m->encode(x);
  EXPECT_EQ(mu.sizes(), (std::vector<int64_t>{16, 10}));
  // ReLU on the encoder's output: mean and sigma are non-negative; log-variance is log(1e-8 + sigma^2)
  EXPECT_GE(mu.min().item<float>(), 0.0f);
  auto h = torch::relu(m->codec.encode(x)).chunk(2, 1)[1];
  EXPECT_TRUE(torch::allclose(logvar, (h * h + 1e-8).log()));
  // the seed's KL: 0.5 * sum(mu^2 + sigma^2 - log(1e-8 + sigma^2) - 1)
  auto kl_seed = 0.5 * (mu.pow(2) + h.pow(2) - (1e-8 + h.pow(2)).log() - 1).sum(1);
  EXPECT_TRUE(torch::allclose(kl_std_normal_per_image(mu, logvar), kl_seed, 1e-4, 1e-3));
}

TEST_F(Presets, DcganSeedTrainsOnEveryImageOfAFolderInFullBatches) {
  // 300 images: the seed's ImageFolder + drop_last=True gives floor(300 / 256) = 1 batch per epoch
  fs::create_directories(dir / "anime" / "faces");
  for (int i = 0; i < 300; ++i)
    write_png_grid(path("anime/faces/" + std::to_string(i) + ".png"), torch::rand({1, 3, 12, 12}), 1);
  auto c = config_from_json(preset("dcgan-seed"), {}, "dcgan-seed");
  c.dataset = "folder:" + path("anime");
  c.epochs = 1;
  c.set("ngf", 8).set("ndf", 8);  // small nets: the settings under test are the data's
  c.threads = 1;
  c.out = path("run");
  std::string log_path = path("log.txt");
  std::FILE* log = std::fopen(log_path.c_str(), "w");
  auto r = Trainer(c, log).run();
  std::fclose(log);
  std::string text = read_file(log_path);
  EXPECT_NE(text.find("300 train and 300 test images"), std::string::npos) << text;
  EXPECT_NE(text.find("--holdout 0 trains on all 300 images"), std::string::npos) << text;
  EXPECT_NE(text.find("--drop-last: 1 full batch of 256 per epoch; the last 44 images of each epoch's order are left out"),
            std::string::npos) << text;
  ASSERT_EQ(r.metrics.size(), 1u);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoint-1")) << "the seed keeps every saved epoch";
  auto saved = load_config(path("run/config.json"));
  EXPECT_EQ(saved.init, "default");
  EXPECT_TRUE(saved.get<bool>("g_fresh_noise"));
}

}  // namespace latentlab::test
