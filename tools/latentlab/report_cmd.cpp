// latentlab report: a self-contained HTML report of a run folder.
#include <filesystem>

#include "commands.h"
#include "latentlab/files.h"
#include "latentlab/report.h"
#include "latentlab/run_folder.h"

namespace latentlab::cli {

void add_report(CLI::App& app) {
  struct Args {
    std::string run, out, chart_js;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("report", "write one self-contained HTML file: config, metrics, curves, eval, images");
  cmd->add_option("run", a->run, "run folder")->required();
  cmd->add_option("-o,--out", a->out, "output file (default: <run>/report.html)");
  cmd->add_option("--chart-js", a->chart_js, "Chart.js UMD file to inline (default: the copy built into latentlab)");
  cmd->callback([a] {
    std::string out = a->out.empty() ? run_folder::file(a->run, run_folder::kReport) : a->out;
    std::string html = make_report(a->run, a->chart_js);
    atomic_write(out, html);
    std::fprintf(stderr, "wrote %s (%.1f KiB)\n", out.c_str(), html.size() / 1024.0);
  });
}

}  // namespace latentlab::cli
