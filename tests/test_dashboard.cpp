// The dashboard: run summaries and details from real files (including broken ones), the path checks
// that keep every served file inside the runs folder, and each HTTP endpoint over a real socket.
// The browser side is tested by tests/e2e/dashboard.mjs.
#define CPPHTTPLIB_OPENSSL_SUPPORT  // as Debian's libcpp-httplib is built (see src/serve/server.cpp)
#define CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "latentlab/dashboard.h"

namespace latentlab::test {

class RunsFolder : public Seeded {
 protected:
  void SetUp() override {
    Seeded::SetUp();
    runs = dir / "runs";
    fs::create_directories(runs);
    // a finished VAE run: three epochs, one half-written line, images of two epochs
    make_run("vae1", R"({"model":"vae","dataset":"mnist","epochs":3})",
             "{\"epoch\":1,\"train_loss\":150.5,\"test_loss\":120.25}\n"
             "{\"epoch\":2,\"train_loss\":120.5,\"test_loss\":110.0}\n"
             "this is not json\n"
             "{\"epoch\":3,\"train_loss\":110.5,\"test_loss\":111.5}\n"
             "{\"epoch\":4,\"train_lo");
    write_bytes((runs / "vae1" / "model").string(), "weights");
    for (const char* f : {"reconstruction-2.png", "reconstruction-10.png", "samples-1.png", "samples-latest.png", "scatter.png"})
      write_bytes((runs / "vae1" / f).string(), std::string("\x89PNG fake ") + f);
    write_bytes((runs / "vae1" / "eval.json").string(), R"({"reconstruction":{"test_mse":0.02}})");
    // a run stopped long ago with a checkpoint, and one whose config.json is broken
    make_run("gan-old", R"({"model":"gan","dataset":"mnist","epochs":5})", "{\"epoch\":1,\"train_d\":1.2}\n");
    write_bytes((runs / "gan-old" / "checkpoint").string(), "ckpt");
    for (const auto& e : fs::directory_iterator(runs / "gan-old"))
      fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(2));
    make_run("broken", "{\"model\": ", "");
    fs::create_directories(runs / "not-a-run");
    // a secret beside the runs folder, and links that lead to it
    write_bytes(path("secret.txt"), "SECRET");
    fs::create_symlink(dir / "secret.txt", runs / "vae1" / "link-out.png");
    fs::create_symlink(dir, runs / "escape");
    fs::create_symlink(runs / "vae1" / "samples-1.png", runs / "vae1" / "link-in.png");
  }
  void make_run(const std::string& name, const std::string& config, const std::string& metrics) {
    fs::create_directories(runs / name);
    write_bytes((runs / name / "config.json").string(), config);
    if (!metrics.empty()) write_bytes((runs / name / "metrics.jsonl").string(), metrics);
  }
  fs::path runs;
};

TEST_F(RunsFolder, ListRunsReadsWhatItCanOfEachRun) {
  auto list = list_runs(runs.string());
  ASSERT_EQ(list.size(), 3u);  // not-a-run (no config.json) and the symlink are left out
  EXPECT_EQ(list[0]["name"], "broken");
  EXPECT_EQ(list[0]["error"], "config.json is not valid JSON");
  EXPECT_EQ(list[0]["status"], "running");  // just written
  EXPECT_EQ(list[1]["name"], "gan-old");
  EXPECT_EQ(list[1]["status"], "stopped");
  EXPECT_EQ(list[1]["epoch"], 1);
  EXPECT_FALSE(list[1].contains("best_test_loss"));
  const auto& v = list[2];
  EXPECT_EQ(v["name"], "vae1");
  EXPECT_EQ(v["model"], "vae");
  EXPECT_EQ(v["status"], "finished");
  EXPECT_EQ(v["epoch"], 3);
  EXPECT_EQ(v["epochs"], 3);
  EXPECT_DOUBLE_EQ(v["best_test_loss"].get<double>(), 110.0);
  EXPECT_TRUE(list_runs((dir / "nowhere").string()).empty());
}

TEST_F(RunsFolder, StampChangesWhenAMetricsLineIsAppended) {
  std::string before = list_runs(runs.string())[2]["stamp"];
  std::ofstream(runs / "vae1" / "metrics.jsonl", std::ios::app) << "0}\n";
  EXPECT_NE(list_runs(runs.string())[2]["stamp"].get<std::string>(), before);
}

TEST_F(RunsFolder, RunDetailsGroupImagesByEpochAndCountBadLines) {
  auto d = run_details(runs.string(), "vae1");
  EXPECT_EQ(d["metrics"].size(), 3u);
  EXPECT_EQ(d["skipped_lines"], 2);
  EXPECT_DOUBLE_EQ(d["eval"]["reconstruction"]["test_mse"].get<double>(), 0.02);
  EXPECT_EQ(d["config"]["model"], "vae");
  const auto& img = d["images"];
  ASSERT_EQ(img["reconstruction"].size(), 2u);
  EXPECT_EQ(img["reconstruction"][0]["epoch"], 2);  // numeric order, not 10 before 2
  EXPECT_EQ(img["reconstruction"][1]["epoch"], 10);
  ASSERT_EQ(img["samples"].size(), 2u);
  EXPECT_EQ(img["samples"][0]["epoch"], 1);
  EXPECT_TRUE(img["samples"][1]["epoch"].is_null());  // samples-latest.png comes last
  EXPECT_EQ(img["scatter"][0]["file"], "scatter.png");
  EXPECT_FALSE(img.contains("link-out")) << "symbolic links are not listed";
  EXPECT_TRUE(run_details(runs.string(), "gan-old")["eval"].is_null());
  for (const char* bad : {"nope", "not-a-run", "..", ".", "", "vae1/..", "escape"})
    EXPECT_THROW(run_details(runs.string(), bad), Error) << bad;
}

TEST_F(RunsFolder, ResolveRunFileKeepsEveryPathInsideTheRunsFolder) {
  auto ok = resolve_run_file(runs.string(), "vae1/samples-1.png");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, fs::canonical(runs / "vae1" / "samples-1.png"));
  EXPECT_TRUE(resolve_run_file(runs.string(), "vae1/link-in.png")) << "a link that stays inside is fine";
  for (const std::string& bad : std::vector<std::string>{"", "/etc/passwd", (dir / "secret.txt").string(), "../secret.txt", "vae1/../../secret.txt",
                          "vae1/../vae1/model", "./vae1/model", "vae1//model", "vae1/./model", "vae1\\model", "vae1",
                          "vae1/", "vae1/missing.png", "vae1/link-out.png", "escape/secret.txt", "escape/runs/vae1/model",
                          std::string("vae1/model\0.png", 16)})
    EXPECT_FALSE(resolve_run_file(runs.string(), bad)) << bad;
}

// One raw HTTP/1.1 request, sent byte for byte (no client-side normalisation); returns the response.
std::string raw_get(int port, const std::string& target, const std::string& headers = "") {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return "connect failed";
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + headers + "\r\n";
  EXPECT_EQ(::send(s, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(s, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(s);
  return out;
}

class DashboardServer : public RunsFolder {
 protected:
  void SetUp() override {
    RunsFolder::SetUp();
    write_bytes(path("chart.js"), "/* chart stand-in */");
    DashboardOptions o;
    o.runs_dir = runs.string();
    o.port = 0;
    o.chart_js = path("chart.js");
    o.threads = 4;
    server = std::make_unique<latentlab::Dashboard>(o);
    port = server->start();
    client = std::make_unique<httplib::Client>("127.0.0.1", port);
  }
  void TearDown() override {
    client.reset();
    server.reset();
    RunsFolder::TearDown();
  }
  std::unique_ptr<latentlab::Dashboard> server;
  std::unique_ptr<httplib::Client> client;
  int port = 0;
};

TEST_F(DashboardServer, ServesThePageScriptsAndApi) {
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(port) + "/");
  auto page = client->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("static/dashboard.js"), std::string::npos);
  for (const char* p : {"/static/dashboard.js", "/static/dashboard.css"}) {
    auto r = client->Get(p);
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->status, 200) << p;
    EXPECT_GT(r->body.size(), 500u) << p;
  }
  EXPECT_EQ(client->Get("/static/chart.umd.js")->body, "/* chart stand-in */");
  auto runs_json = nlohmann::json::parse(client->Get("/api/runs")->body);
  EXPECT_EQ(runs_json.size(), 3u);
  auto d = client->Get("/api/runs/vae1");
  EXPECT_EQ(d->status, 200);
  EXPECT_EQ(d->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(d->body)["metrics"].size(), 3u);
  auto missing = client->Get("/api/runs/nope");
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(nlohmann::json::parse(missing->body)["error"].get<std::string>().find("no run folder named 'nope'"), std::string::npos);
  auto png = client->Get("/files/vae1/samples-1.png");
  EXPECT_EQ(png->status, 200);
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(png->body, std::string("\x89PNG fake samples-1.png"));
  EXPECT_EQ(client->Get("/nowhere")->status, 404);
}

TEST_F(DashboardServer, NoRequestReadsOutsideTheRunsFolder) {
  for (const char* target :
       {"/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/%2E%2E%2Fsecret.txt", "/files/vae1/..%2f..%2fsecret.txt",
        "/files/vae1/%2e%2e/%2e%2e/secret.txt", "/files/%252e%252e/secret.txt", "/files//etc/passwd", "/files/%2fetc%2fpasswd",
        "/files/vae1/link-out.png", "/files/escape/secret.txt", "/files/vae1/model%00.png", "/files/vae1%5c..%5c..%5csecret.txt",
        "/../secret.txt", "/api/runs/..", "/api/runs/%2e%2e", "/api/runs/escape", "/static/../../secret.txt"}) {
    std::string r = raw_get(port, target);
    EXPECT_TRUE(r.rfind("HTTP/1.1 404", 0) == 0 || r.rfind("HTTP/1.1 403", 0) == 0 || r.rfind("HTTP/1.1 400", 0) == 0)
        << target << "\n" << r.substr(0, 200);
    EXPECT_EQ(r.find("SECRET"), std::string::npos) << target;
  }
  EXPECT_EQ(raw_get(port, "/files/vae1/link-in.png").rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(DashboardServer, SurvivesRunsDeletedAndHalfWrittenWhileServing) {
  std::ofstream(runs / "vae1" / "metrics.jsonl", std::ios::app) << "{\"epoch\":5,";
  EXPECT_EQ(client->Get("/api/runs/vae1")->status, 200);
  fs::remove_all(runs / "vae1");
  EXPECT_EQ(client->Get("/api/runs/vae1")->status, 404);
  EXPECT_EQ(client->Get("/files/vae1/samples-1.png")->status, 404);
  auto list = nlohmann::json::parse(client->Get("/api/runs")->body);
  EXPECT_EQ(list.size(), 2u);
  fs::remove_all(runs);
  auto empty = client->Get("/api/runs");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 200);
  EXPECT_EQ(empty->body, "[]");
}

TEST_F(RunsFolder, RefusesAMissingRunsFolderChartJsAndABusyPort) {
  DashboardOptions o;
  o.runs_dir = path("nowhere");
  EXPECT_ERROR_WITH(latentlab::Dashboard{o}, "nowhere does not exist");
  o.runs_dir = runs.string();
  o.chart_js = path("no-chart.js");
  EXPECT_ERROR_WITH(latentlab::Dashboard{o}, "fetch_data.sh");
  write_bytes(path("chart.js"), "x");
  o.chart_js = path("chart.js");
  o.port = 0;
  latentlab::Dashboard first(o);
  o.port = first.start();
  latentlab::Dashboard second(o);
  EXPECT_ERROR_WITH(second.start(), "cannot listen on 127.0.0.1:" + std::to_string(o.port));
}

// Beyond loopback every route needs the token: over a raw socket, no route answers without it, a
// wrong token of the right length is refused, the right one sets an HttpOnly cookie that then
// opens every route, and the token appears in no response to a refused request.
TEST_F(RunsFolder, BeyondLoopbackEveryRouteNeedsTheToken) {
  write_bytes(path("chart.js"), "/* chart stand-in */");
  EXPECT_TRUE(is_loopback_host("127.0.0.1") && is_loopback_host("127.3.2.1") && is_loopback_host("::1") &&
              is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0") || is_loopback_host("10.0.0.1") || is_loopback_host("::"));
  auto t1 = random_token(), t2 = random_token();
  EXPECT_EQ(t1.size(), 64u);
  EXPECT_NE(t1, t2);
  EXPECT_TRUE(constant_time_equal(t1, t1));
  EXPECT_FALSE(constant_time_equal(t1, t2));
  EXPECT_FALSE(constant_time_equal(t1, t1.substr(1)));

  DashboardOptions o;
  o.runs_dir = runs.string();
  o.port = 0;
  o.chart_js = path("chart.js");
  o.threads = 4;
  o.host = "0.0.0.0";  // all interfaces; the test talks to it over loopback only
  latentlab::Dashboard d(o);
  int port = d.start();
  const std::string token = d.token();
  ASSERT_EQ(token.size(), 64u) << "a token is made when none is given";
  std::string wrong = token;
  wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
  for (const std::string route : {"/", "/static/dashboard.js", "/static/chart.umd.js", "/api/runs", "/api/runs/vae1",
                                  "/files/vae1/config.json", "/nonexistent"}) {
    for (const std::string& target : {route, route + "?token=" + wrong, route + "?token="}) {
      auto r = raw_get(port, target);
      EXPECT_EQ(r.rfind("HTTP/1.1 401", 0), 0u) << target << "\n" << r.substr(0, 200);
      EXPECT_EQ(r.find(token), std::string::npos) << target;
    }
    auto r = raw_get(port, route, "Cookie: latentlab_token=" + wrong + "\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 401", 0), 0u) << route;
  }
  // the right token: a cookie (HttpOnly) and a redirect that drops it from the address
  auto r = raw_get(port, "/api/runs?token=" + token);
  EXPECT_EQ(r.rfind("HTTP/1.1 303", 0), 0u) << r.substr(0, 300);
  EXPECT_NE(r.find("Set-Cookie: latentlab_token=" + token + "; HttpOnly"), std::string::npos) << r.substr(0, 300);
  EXPECT_NE(r.find("Location: /api/runs"), std::string::npos) << r.substr(0, 300);
  for (const std::string route : {"/", "/api/runs", "/files/vae1/config.json"}) {
    r = raw_get(port, route, "Cookie: other=1; latentlab_token=" + token + "\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << route << "\n" << r.substr(0, 200);
  }
  d.stop();

  // a given token; --no-auth serves beyond loopback without one; loopback needs none by default
  o.token = "my-own-token-of-some-length";
  latentlab::Dashboard given(o);
  EXPECT_EQ(given.token(), o.token);
  o.token = "short";
  EXPECT_ERROR_WITH(latentlab::Dashboard{o}, "--token must be at least 16 characters");
  o.token.clear();
  o.auth = "none";
  EXPECT_EQ(latentlab::Dashboard(o).token(), "");
  o.auth = "auto";
  o.host = "127.0.0.1";
  EXPECT_EQ(latentlab::Dashboard(o).token(), "");
}

}  // namespace latentlab::test
