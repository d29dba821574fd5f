#pragma once
// The run folder's format in one place: the names of its files (what each holds: README, "The run
// folder"), the path of a file in it, and the reader of its JSON-lines logs (metrics.jsonl,
// steps.jsonl). Used by the trainer, eval, serve, report and the command-line tool.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace latentlab {
namespace run_folder {

inline constexpr const char* kConfig = "config.json";        ///< the resolved settings
inline constexpr const char* kMetrics = "metrics.jsonl";     ///< one object per epoch
inline constexpr const char* kSteps = "steps.jsonl";         ///< every --log-every batches
inline constexpr const char* kCheckpoint = "checkpoint";     ///< the latest checkpoint (weights.h)
inline constexpr const char* kModel = "model";               ///< the final model (weights.h)
inline constexpr const char* kEval = "eval.json";            ///< latentlab eval's results
inline constexpr const char* kReport = "report.html";        ///< latentlab report's page
inline constexpr const char* kLock = ".lock";                ///< held by the one writer (run_lock.h)

/// <run_dir>/<name>.
std::string file(const std::string& run_dir, const std::string& name);
/// checkpoint-<epoch>, a checkpoint kept by --keep-checkpoints.
std::string kept_checkpoint(int64_t epoch);
/// The epochs of the checkpoint-<epoch> files in a run folder, ascending.
std::vector<int64_t> kept_checkpoint_epochs(const std::string& run_dir);

}  // namespace run_folder

/// The lines of a JSON-lines file (metrics.jsonl, steps.jsonl) that parse as JSON objects, in order.
/// Blank lines are ignored; other lines that do not parse (a line still being written, a corrupt one)
/// are skipped and counted in `skipped`. A missing file gives no lines.
std::vector<nlohmann::json> read_metrics(const std::string& path, int64_t* skipped = nullptr);

}  // namespace latentlab
