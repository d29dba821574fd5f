// metrics.jsonl (and config.json) as the report and the dashboard read them.
#include <filesystem>

#include "fuzz.h"
#include "latentlab/dashboard.h"
#include "latentlab/error.h"
#include "latentlab/report.h"

LATENTLAB_FUZZ_TARGET(metrics) {
  static bool chart = (latentlab::fuzz::write_file(latentlab::fuzz::scratch() + "/chart.js",
                                                   reinterpret_cast<const uint8_t*>("//"), 2), true);
  (void)chart;
  std::string runs = latentlab::fuzz::scratch() + "/runs";
  std::string run = runs + "/r";
  std::filesystem::create_directories(run);
  latentlab::fuzz::write_file(run + "/metrics.jsonl", data, size);
  // the same bytes as config.json too, half the time
  if (size && (data[0] & 1)) latentlab::fuzz::write_file(run + "/config.json", data, size);
  else latentlab::fuzz::write_file(run + "/config.json", reinterpret_cast<const uint8_t*>("{}"), 2);
  int64_t skipped = 0;
  auto lines = latentlab::read_metrics(run + "/metrics.jsonl", &skipped);
  for (const auto& l : lines)
    if (!l.is_object()) __builtin_trap();
  auto list = latentlab::list_runs(runs);
  LATENTLAB_FUZZ_EXPECTED_ERRORS({
    auto d = latentlab::run_details(runs, "r");
    d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
  list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  LATENTLAB_FUZZ_EXPECTED_ERRORS(latentlab::make_report(run, latentlab::fuzz::scratch() + "/chart.js"));
}
