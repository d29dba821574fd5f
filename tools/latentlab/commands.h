#pragma once
// Each subcommand lives in its own file and adds itself to the app; main() only dispatches.
#include <CLI/CLI.hpp>

namespace latentlab::cli {

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

}  // namespace latentlab::cli
