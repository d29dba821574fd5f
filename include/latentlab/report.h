#pragma once
// latentlab report: one self-contained HTML file per run folder, with the configuration, the
// metrics table, loss curves drawn by Chart.js (inlined), eval.json and every image of the run
// (inlined as data URIs), viewable with no network.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "latentlab/run_folder.h"

namespace latentlab {

/// Chart.js's source for `report` and `serve`: the file `path` when one is given (--chart-js), else
/// $LATENTLAB_CHART_JS's file, else the copy compiled into the library (data/web/chart.umd.js as
/// scripts/fetch_data.sh installs it, embedded when the build is configured), else that file at
/// run time. Throws latentlab::Error naming `who`, the file and the command that installs it.
std::string chart_js_source(const std::string& path, const std::string& who);

/// The report of a run folder as an HTML string. Throws latentlab::Error naming the run folder when
/// it has no config.json, or the Chart.js file (and the command that installs it) when it is missing
/// (chart_js_source).
std::string make_report(const std::string& run_dir, const std::string& chart_js_path = "");

/// At most `most` of `lines` (steps.jsonl), evenly spread, the first and the last kept, for charts.
nlohmann::json thin_steps(std::vector<nlohmann::json> lines, size_t most = 2000);

/// Base64 of bytes (RFC 4648, with padding), for data URIs.
std::string base64(const std::string& bytes);

/// Orders names with their numbers by value: samples-2.png before samples-10.png.
bool natural_less(const std::string& a, const std::string& b);

}  // namespace latentlab
