// Settings from a config file (JSON -> TrainConfig -> defaults -> validation) and from the command
// line: the bytes are a config file, and split at NUL bytes they are a command line (train, sample,
// eval and serve flags).
#include <CLI/CLI.hpp>

#include "../tools/latentlab/commands.h"
#include "fuzz.h"
#include "latentlab/config.h"
#include "latentlab/error.h"

LATENTLAB_FUZZ_TARGET(config) {
  std::string text(reinterpret_cast<const char*>(data), size);
  LATENTLAB_FUZZ_EXPECTED_ERRORS({
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) {
      auto c = latentlab::config_from_json(j, {}, "fuzz");
      latentlab::apply_model_defaults(c);
      latentlab::validate(c);
      auto again = latentlab::config_from_json(latentlab::to_json(c), {}, "fuzz");  // round trip
      if (latentlab::to_json(again) != latentlab::to_json(c)) __builtin_trap();
    }
  });
  // the command line: every subcommand's flags, with the callbacks (the actual work) switched off
  std::vector<std::string> args = {"latentlab"};
  std::string cur;
  for (char ch : text) {
    if (ch == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  args.push_back(cur);
  CLI::App app{"fuzz"};
  latentlab::cli::add_train(app);
  latentlab::cli::add_sample(app);
  latentlab::cli::add_eval(app);
  latentlab::cli::add_serve(app);
  // After every option is parsed, converted and checked (and before any subcommand's action runs),
  // the main app's parse-complete callback stops the parse.
  struct ParsedOnly {};
  app.parse_complete_callback([] { throw ParsedOnly{}; });
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Error&) {
  } catch (const ParsedOnly&) {
  }
}
