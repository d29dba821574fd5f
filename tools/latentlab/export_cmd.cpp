// latentlab export: a run's weights as one safetensors file that PyTorch users load.
#include "commands.h"
#include "latentlab/error.h"
#include "latentlab/files.h"
#include "latentlab/train.h"

namespace latentlab::cli {

void add_export(CLI::App& app) {
  struct Args {
    std::string run, out = "model.safetensors";
    int64_t epoch = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("export", "write a run's weights as a safetensors file under PyTorch's state_dict names");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-o,--out", a->out, "output file (.safetensors)")->capture_default_str();
  add_epoch_flag(*cmd, a->epoch);
  cmd->callback([a] {
    const std::string ext = ".safetensors";
    require(a->out.size() > ext.size() && a->out.compare(a->out.size() - ext.size(), ext.size(), ext) == 0,
            "--out " + a->out + ": name the file <name>.safetensors (the format it is written in)");
    check_can_create(a->out, "--out");
    auto run = load_run(a->run, a->epoch);
    atomic_write(a->out, export_model_bytes(run));
    std::fprintf(stderr, "wrote %s (%s, %zu tensors; load it in Python with safetensors.torch.load_file, "
                 "see examples/python/decode.py)\n", a->out.c_str(), run.model->kind().c_str(),
                 run.model->named_parameters().size() + run.model->named_buffers().size());
  });
}

}  // namespace latentlab::cli
