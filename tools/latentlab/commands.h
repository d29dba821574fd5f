#pragma once
// Each subcommand lives in its own file and adds itself to the app; main() only dispatches.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "latentlab/dashboard.h"

namespace latentlab::cli {

/// Thrown by a command that stopped on request (Ctrl-C) after saving its work: exit status 130.
struct Interrupted {};
/// Thrown by a command whose exit status is already decided (train --nproc passes on its workers').
struct ExitStatus {
  int code;
};
/// The program's arguments as main() received them (train --nproc starts its workers with them).
void set_command_line(int argc, char** argv);
const std::vector<std::string>& command_line();

void add_train(CLI::App& app);
void add_sample(CLI::App& app);
void add_generate(CLI::App& app);
void add_reconstruct(CLI::App& app);
void add_models(CLI::App& app);
void add_eval(CLI::App& app);
void add_pca(CLI::App& app);
void add_scatter(CLI::App& app);
void add_report(CLI::App& app);
void add_interpolate(CLI::App& app);
void add_manifold(CLI::App& app);
void add_classifier(CLI::App& app);
void add_encode(CLI::App& app);
void add_serve(CLI::App& app);
void add_export(CLI::App& app);

/// --epoch [0]: use the run's checkpoint-<epoch> (kept by train --keep-checkpoints) instead of its model.
void add_epoch_flag(CLI::App& cmd, int64_t& epoch);
/// --threads [0]: CPU threads of a command that computes.
void add_threads_flag(CLI::App& cmd, int64_t& threads);
/// --label N and --labels A,B,C (the same list): the classes a conditional model generates, one row each.
void add_label_flags(CLI::App& cmd, std::vector<int64_t>& labels);
/// check_can_create (io.h) plus the image outputs' checks: .png or .npy, and a PNG grid of n images of
/// height x width with nrow per row within PNG's limits.
void check_image_file(const std::string& path, int64_t n, int64_t height, int64_t width, int64_t nrow);

/// --host, --port and --chart-js of the dashboard (serve, train --dashboard).
void add_dashboard_flags(CLI::App& cmd, DashboardOptions& o);
/// Starts the dashboard and says where, and whether it is reachable from other machines.
int start_dashboard(Dashboard& d, const DashboardOptions& o);

}  // namespace latentlab::cli
