#pragma once
// Each subcommand lives in its own file and adds itself to the app; main() only dispatches.
#include <CLI/CLI.hpp>

#include "latentlab/dashboard.h"

namespace latentlab::cli {

/// Thrown by a command that stopped on request (Ctrl-C) after saving its work: exit status 130.
struct Interrupted {};

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

/// --host, --port and --chart-js of the dashboard (serve, train --dashboard).
void add_dashboard_flags(CLI::App& cmd, DashboardOptions& o);
/// Starts the dashboard and says where, and whether it is reachable from other machines.
int start_dashboard(Dashboard& d, const DashboardOptions& o);

}  // namespace latentlab::cli
