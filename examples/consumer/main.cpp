// A program built against an installed latentlab (find_package(latentlab)): trains the seeds' VAE on
// MNIST for one epoch, then decodes 64 codes drawn from its prior into a grid.
//   consumer <mnist folder> <run folder>
#include <latentlab/latentlab.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <mnist folder> <run folder>\n", argv[0]);
    return 2;
  }
  try {
    latentlab::TrainConfig c;
    c.model = "vae";
    c.data_dir = argv[1];
    c.out = argv[2];
    c.epochs = 1;
    latentlab::Trainer(c).run();
    latentlab::LoadedModel run = latentlab::load_run(argv[2]);
    torch::manual_seed(0);
    torch::NoGradGuard no_grad;
    torch::Tensor images = run.model->decode(run.model->sample_prior(64, torch::kFloat32));
    latentlab::write_png_grid(std::string(argv[2]) + "/consumer-samples.png", images, 8);
    std::printf("wrote %s/consumer-samples.png: %lld images of %lldx%lld\n", argv[2],
                static_cast<long long>(images.size(0)), static_cast<long long>(images.size(2)),
                static_cast<long long>(images.size(3)));
  } catch (const latentlab::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
