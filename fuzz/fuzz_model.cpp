// The model/checkpoint loader on arbitrary bytes: a malformed file is an error, never a crash.
#include "fuzz.h"
#include "latentlab/error.h"
#include "latentlab/train.h"

LATENTLAB_FUZZ_TARGET(model) {
  std::string path = latentlab::fuzz::scratch() + "/model";
  latentlab::fuzz::write_file(path, data, size);
  LATENTLAB_FUZZ_EXPECTED_ERRORS({
    auto m = latentlab::load_model_file(path);
    torch::NoGradGuard g;
    m.model->eval();
    m.model->decode(m.model->sample_prior(2, torch::kFloat32));  // what sample does next
  });
}
