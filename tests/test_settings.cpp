// The settings table (settings.h) and the registries: a model added from one file with a setting of
// its own gets a flag, help with its default, config.json keys, checks and refusals without an edit
// anywhere else; every default the help prints is the one a run gets; a dataset is one entry.
#include "common.h"
#include "latentlab/data.h"
#include "latentlab/run_folder.h"
#include "latentlab/settings.h"
#include "paths.h"

namespace latentlab::test {
namespace {

// A linear autoencoder whose code size is its own setting, --widgets.
struct WidgetImpl : ModelImpl {
  WidgetImpl(int64_t pixels, int64_t widgets) {
    enc = register_module("enc", torch::nn::Linear(pixels, widgets));
    dec = register_module("dec", torch::nn::Linear(widgets, pixels));
  }
  std::string kind() const override { return "widget-test"; }
  std::vector<Phase> phases() override { return {{"widget", parameters(), 1}}; }
  LossTerms losses(size_t, const Batch& b) override { return eval_losses(b); }
  LossTerms eval_losses(const Batch& b) override {
    auto x = b.images.flatten(1);
    auto mse = (torch::sigmoid(dec(enc(x))) - x).square().mean();
    return {mse, {{"mse", mse}}};
  }
  int64_t latent_dim() const override { return enc->options.out_features(); }
  torch::Tensor decode(const torch::Tensor& z) override { return torch::sigmoid(dec(z)).view({-1, 1, 28, 28}); }
  torch::nn::Linear enc{nullptr}, dec{nullptr};
};

void register_widget() {
  ModelEntry e{"widget-test", "test only: a linear autoencoder",
               [](const TrainConfig& c, const ImageShape& s) -> Model {
                 return std::make_shared<WidgetImpl>(s.pixels(), c.get<int64_t>("widgets"));
               }};
  e.defaults = {{"batch_size", 32}};
  e.reads = {"hidden"};
  e.settings = {{"widgets", "code size of the widget model", {}, 3, nullptr, {},
                 [](const TrainConfig& c) { require(c.get<int64_t>("widgets") >= 1, "--widgets must be at least 1"); }},
                {"widget_colour", "what colour the widgets are", {}, "red", nullptr, {"red", "blue"}}};
  ModelRegistry::add(std::move(e));
}

}  // namespace

class Settings : public Seeded {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    register_widget();
  }
};

TEST_F(Settings, AModelsOwnSettingIsAFlagAKeyACheckAndARefusalElsewhere) {
  const Setting* s = find_setting("widgets");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->flag(), "--widgets");
  EXPECT_EQ(models_reading("widgets"), std::vector<std::string>{"widget-test"});
  std::string help = setting_help(*s);
  EXPECT_NE(help.find("code size of the widget model; applies to widget-test; default: 3"), std::string::npos) << help;
  EXPECT_NE(setting_help(*find_setting("widget_colour")).find("red | blue"), std::string::npos);

  // unset: the declared default; given: the value, in config.json too
  TrainConfig c;
  c.model = "widget-test";
  EXPECT_EQ(c.get<int64_t>("widgets"), 3);
  EXPECT_EQ(to_json(c)["widgets"], 3);
  c = config_from_json(nlohmann::json{{"model", "widget-test"}, {"widgets", 5}});
  EXPECT_EQ(c.get<int64_t>("widgets"), 5);
  EXPECT_EQ(config_from_json(to_json(c)).get<int64_t>("widgets"), 5);
  // the table's type and checks
  EXPECT_ERROR_WITH(config_from_json(nlohmann::json{{"widgets", 1.5}}), "setting 'widgets' must be a whole number (got 1.5)");
  EXPECT_ERROR_WITH(config_from_json(nlohmann::json{{"widgets", "many"}}), "setting 'widgets' has the wrong type");
  EXPECT_ERROR_WITH(validate(TrainConfig(c).set("widgets", 0)), "--widgets must be at least 1");
  EXPECT_ERROR_WITH(validate(TrainConfig(c).set("widget_colour", "green")), "--widget-colour green: choose red or blue");
  EXPECT_ERROR_WITH(c.get<int64_t>("gadgets"), "'gadgets' is not a setting any registered model declares");
  // given to another model: refused, naming the model it belongs to; the shared settings it does not
  // read are refused for it
  TrainConfig vae = TrainConfig().set("widgets", 4);
  EXPECT_ERROR_WITH(check_settings_apply(vae), "--widgets does not apply to --model vae; it applies to widget-test");
  EXPECT_NO_THROW(check_settings_apply(TrainConfig().set("widgets", 3)));  // the default is not a choice
  EXPECT_ERROR_WITH(check_settings_apply(TrainConfig(c).set("noise", "gaussian:0.1")),
                    "--noise does not apply to --model widget-test");
  EXPECT_NO_THROW(check_settings_apply(TrainConfig(c).set("hidden", std::vector<int64_t>{8})));
}

TEST_F(Settings, AModelFromOneFileTrainsAndItsSettingReachesTheModelAndConfigJson) {
  write_tiny_mnist(dir / "data", 128, 32);
  TrainConfig c;
  c.model = "widget-test";
  c.set("widgets", 5);
  c.data_dir = (dir / "data").string();
  c.epochs = 1;
  c.threads = 1;
  c.grid_images = 4;
  c.out = path("run");
  Trainer t(c, quiet());
  t.run();
  auto saved = load_config(run_folder::file(path("run"), run_folder::kConfig));
  EXPECT_EQ(saved.get<int64_t>("widgets"), 5);
  EXPECT_EQ(saved.batch_size, 32);  // the entry's default
  auto run = load_run(path("run"));
  EXPECT_EQ(run.model->latent_dim(), 5);
}

// What `train --help` and `models --verbose` print as each model's default is what a run gets.
TEST_F(Settings, TheDefaultsTheHelpPrintsAreTheOnesARunGets) {
  for (const ModelEntry* e : ModelRegistry::entries()) {
    TrainConfig c;
    c.model = e->name;
    apply_model_defaults(c);
    for (const Setting& s : all_settings()) {
      auto models = models_reading(s.key);
      if (!models.empty() && std::find(models.begin(), models.end(), e->name) == models.end()) continue;
      if (s.key == "model" || s.key == "image_size" || s.key == "channels") continue;  // IDX datasets fix the sizes
      // the value as the flag takes it: text bare, lists comma separated
      nlohmann::json v = setting_value(c, s);
      std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      if (v.is_array()) {
        text.clear();
        for (const auto& x : v) text += (text.empty() ? "" : ",") + x.dump();
      }
      // a default of "auto" is resolved from the other settings (ModelEntry::resolve): the help says how
      if (setting_default_for(s, e->name) == "auto" && e->resolve) {
        EXPECT_NE(s.help.find("auto ("), std::string::npos) << e->name << " " << s.key;
        continue;
      }
      EXPECT_EQ(text, setting_default_for(s, e->name)) << e->name << " " << s.key;
    }
    EXPECT_NO_THROW(validate(c)) << e->name;
  }
  TrainConfig c;
  c.model = "dcgan";
  apply_model_defaults(c);
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_EQ(c.init, "dcgan");
  EXPECT_EQ(c.get<int64_t>("ngf"), 64);
  EXPECT_NE(setting_help(*find_setting("batch_size")).find("aae 100, ae 32, dcgan 64, gan 64, vae 128"), std::string::npos)
      << setting_help(*find_setting("batch_size"));
}

TEST_F(Settings, FlagTextIsParsedByTheSettingsType) {
  EXPECT_EQ(setting_from_text(*find_setting("hidden"), "256,64"), nlohmann::json({256, 64}));
  EXPECT_EQ(setting_from_text(*find_setting("keep_checkpoints"), "all"), -1);
  EXPECT_EQ(setting_from_text(*find_setting("lr"), "2e-4"), 2e-4);
  EXPECT_EQ(setting_from_text(*find_setting("widgets"), "7"), 7);
  EXPECT_EQ(setting_from_text(*find_setting("posterior"), "relu-sigma"), "relu-sigma");
  EXPECT_ERROR_WITH(setting_from_text(*find_setting("epochs"), "ten"), "--epochs ten: expected a whole number");
  EXPECT_ERROR_WITH(setting_from_text(*find_setting("hidden"), "256,,64"), "--hidden 256,,64: expected a whole number");
  EXPECT_ERROR_WITH(setting_from_text(*find_setting("seed"), "-1"), "--seed must not be negative");
  EXPECT_ERROR_WITH(setting_from_text(*find_setting("lr"), "fast"), "--lr fast: expected a number");
  EXPECT_TRUE(find_setting("shuffle")->is_flag());
  EXPECT_TRUE(find_setting("g_fresh_noise")->is_flag());
}

TEST_F(Settings, ADatasetIsOneRegistryEntry) {
  DatasetRegistry::add({"ramp-test", "test only: 40 ramps", [] { return std::string("/nowhere"); },
                        [](const TrainConfig&, const std::string&, std::FILE*) {
                          Splits s;
                          s.train.name = s.test.name = "ramp-test";
                          s.train.images = torch::arange(40 * 784).remainder(256).to(torch::kUInt8).view({40, 1, 28, 28});
                          s.train.labels = torch::arange(40) % 10;
                          s.test.images = s.train.images.slice(0, 0, 8);
                          s.test.labels = s.train.labels.slice(0, 0, 8);
                          return s;
                        }});
  EXPECT_EQ(default_data_dir("ramp-test"), "/nowhere");
  TrainConfig c;
  c.dataset = "ramp-test";
  c.train_images = 30;
  EXPECT_NO_THROW(validate(TrainConfig(c).set("model", "vae")));
  Splits s = load_splits(c, nullptr);
  EXPECT_EQ(s.train.size(), 30);
  EXPECT_EQ(s.test.size(), 8);
  EXPECT_ERROR_WITH(check_dataset_name("cifar"), "choose one of mnist, fashion-mnist, folder:<path>, ramp-test");
  EXPECT_ERROR_WITH(check_dataset_name("folder:"), "--dataset folder:<path>: the path is missing");
  EXPECT_ERROR_WITH(default_data_dir("folder:/x"), "names its own folder");
}

}  // namespace latentlab::test
