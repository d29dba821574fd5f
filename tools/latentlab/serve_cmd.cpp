// latentlab serve: the live dashboard over a runs folder (see latentlab/dashboard.h).
#include "commands.h"
#include "latentlab/dashboard.h"

namespace latentlab::cli {

void add_dashboard_flags(CLI::App& cmd, DashboardOptions& o) {
  cmd.add_option("--host", o.host, "address to listen on; anything but 127.0.0.1 exposes the runs to the network")
      ->capture_default_str();
  cmd.add_option("--port", o.port, "port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd.add_option("--chart-js", o.chart_js, "Chart.js UMD file (default: the copy built into latentlab)");
  cmd.add_option("--token", o.token, "access token required beyond loopback (default: 32 random bytes, printed once)");
  auto* no_auth = cmd.add_flag_callback("--no-auth", [&o] { o.auth = "none"; },
                                        "serve beyond loopback without a token (anyone who reaches the port reads every run)");
  no_auth->excludes(cmd.get_option("--token"));
}

int start_dashboard(Dashboard& d, const DashboardOptions& o) {
  int port = d.start();
  // the one line that holds the token: the full address to open
  std::string token = d.token();
  std::fprintf(stderr, "latentlab serve: dashboard of %s at %s%s\n", o.runs_dir.c_str(), d.url().c_str(),
               token.empty() ? "" : ("?token=" + token).c_str());
  if (is_loopback_host(o.host))
    std::fprintf(stderr, "latentlab serve: listening on %s only (this machine); --host 0.0.0.0 would open it to the network\n",
                 o.host.c_str());
  else if (!token.empty())
    std::fprintf(stderr, "latentlab serve: listening on %s; every request needs the token above (open that address once)\n",
                 o.host.c_str());
  else
    std::fprintf(stderr, "latentlab serve: warning: listening on %s without a token (--no-auth): anyone who can reach this "
                 "machine can read the runs\n", o.host.c_str());
  std::fflush(stderr);
  return port;
}

void add_serve(CLI::App& app) {
  auto o = std::make_shared<DashboardOptions>();
  auto* cmd = app.add_subcommand("serve", "serve a live dashboard of the runs in a folder (curves, images, config, eval)");
  cmd->add_option("--runs", o->runs_dir, "folder of run folders")->capture_default_str();
  add_dashboard_flags(*cmd, *o);
  cmd->add_option("--threads", o->threads, "worker threads")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->callback([o] {
    Dashboard d(*o);
    start_dashboard(d, *o);
    d.wait();
  });
}

}  // namespace latentlab::cli
