// The dashboard's HTTP server (cpp-httplib): a page compiled into the binary, Chart.js from
// data/web, a JSON API over runs.cpp, and the files of run folders. Read-only.
// Debian's libcpp-httplib is built with these options (pkg-config cpp-httplib --cflags); the header
// must see the same ones or its classes would not match the library's.
#define CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#include <httplib.h>

#include <sys/random.h>

#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "latentlab/dashboard.h"
#include "latentlab/error.h"
#include "latentlab/io.h"
#include "latentlab/report.h"
#include "latentlab/web_assets.h"

namespace fs = std::filesystem;

namespace latentlab {
namespace {

const char* mime_type(const fs::path& p) {
  std::string e = p.extension().string();
  if (e == ".png") return "image/png";
  if (e == ".json") return "application/json";
  if (e == ".jsonl") return "application/x-ndjson";
  if (e == ".html") return "text/html; charset=utf-8";
  return "application/octet-stream";
}

// JSON out; file names that are not UTF-8 are replaced rather than thrown on.
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// httplib listens with a backlog of 5 connections, compiled into Debian's library: a burst of new
// connections overflows it and waits for SYN retransmits (1 s and more). listen() again on the
// bound socket raises the backlog; the socket is a protected member, hence the subclass.
class Server : public httplib::Server {
 public:
  void raise_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string random_token() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    require(n > 0, std::string("serve: cannot read random bytes for the access token: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

namespace {

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    size_t start = part.find_first_not_of(' ');
    if (start != std::string::npos && part.compare(start, name.size() + 1, name + "=") == 0)
      return part.substr(start + name.size() + 1);
    pos = end + 1;
  }
  return "";
}

constexpr const char* kCookie = "latentlab_token";

}  // namespace

struct Dashboard::Impl {
  DashboardOptions o;
  std::string token;  // required of every request when not empty
  std::string chart_js;
  Server server;
  std::thread thread;
  int port = 0;
  std::mutex mutex;
  std::condition_variable stopped_cv;
  bool stopped = false;

  static httplib::Server::HandlerResponse unauthorized(httplib::Response& r) {
    r.status = 401;
    r.set_content("401 unauthorized: open the address with ?token=... that `latentlab serve` printed when it started\n",
                  "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  }

  void routes() {
    auto& s = server;
    if (!token.empty())
      s.set_pre_routing_handler([this](const httplib::Request& q, httplib::Response& r) {
        if (q.has_param("token")) {
          if (!constant_time_equal(q.get_param_value("token"), token)) return unauthorized(r);
          // the token moves into a cookie, and the address bar and history lose it
          r.set_header("Set-Cookie", std::string(kCookie) + "=" + token + "; HttpOnly; SameSite=Strict; Path=/");
          r.set_redirect(q.path.empty() ? "/" : q.path, 303);
          return httplib::Server::HandlerResponse::Handled;
        }
        if (constant_time_equal(cookie_value(q.get_header_value("Cookie"), kCookie), token))
          return httplib::Server::HandlerResponse::Unhandled;
        return unauthorized(r);
      });
    s.new_task_queue = [n = o.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second server share
    // the port silently instead of failing with "address in use".
    s.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    s.set_tcp_nodelay(true);  // else Nagle and delayed ACKs add 40 ms to every response
    s.set_keep_alive_max_count(1000);
    s.set_keep_alive_timeout(5);
    s.set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});
    s.Get("/", [](const httplib::Request&, httplib::Response& r) { r.set_content(web::kDashboardHtml.data(), web::kDashboardHtml.size(), "text/html; charset=utf-8"); });
    s.Get("/static/dashboard.js", [](const httplib::Request&, httplib::Response& r) { r.set_content(web::kDashboardJs.data(), web::kDashboardJs.size(), "text/javascript"); });
    s.Get("/static/dashboard.css", [](const httplib::Request&, httplib::Response& r) { r.set_content(web::kDashboardCss.data(), web::kDashboardCss.size(), "text/css"); });
    s.Get("/static/chart.umd.js", [this](const httplib::Request&, httplib::Response& r) { r.set_content(chart_js, "text/javascript"); });
    s.Get("/api/runs", [this](const httplib::Request&, httplib::Response& r) {
      r.set_content(dump(list_runs(o.runs_dir)), "application/json");
    });
    s.Get(R"(/api/runs/([^/]+))", [this](const httplib::Request& q, httplib::Response& r) {
      try {
        r.set_content(dump(run_details(o.runs_dir, q.matches[1])), "application/json");
      } catch (const Error& e) {
        r.status = 404;
        r.set_content(dump({{"error", e.what()}}), "application/json");
      }
    });
    s.Get(R"(/files/(.+))", [this](const httplib::Request& q, httplib::Response& r) {
      auto path = resolve_run_file(o.runs_dir, q.matches[1]);
      std::string bytes;
      try {
        if (path) bytes = read_file(path->string());
      } catch (const Error&) {
        path.reset();  // deleted between the check and the read
      }
      if (!path) {
        r.status = 404;
        r.set_content("not found: no such file in the runs folder\n", "text/plain");
        return;
      }
      r.set_content(std::move(bytes), mime_type(*path));
    });
    s.set_error_handler([](const httplib::Request&, httplib::Response& r) {
      if (r.body.empty()) r.set_content(std::to_string(r.status) + "\n", "text/plain");
    });
    s.set_exception_handler([](const httplib::Request&, httplib::Response& r, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      r.status = 500;
      r.set_content(what + "\n", "text/plain");
    });
  }
};

Dashboard::Dashboard(DashboardOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->o = std::move(options);
  auto& o = impl_->o;
  std::error_code ec;
  require(fs::is_directory(o.runs_dir, ec), "serve: the runs folder " + o.runs_dir +
                                                " does not exist or is not a folder; train a model first or pass --runs <folder>");
  require(o.threads >= 1, "serve: threads must be at least 1 (got " + std::to_string(o.threads) + ")");
  require(o.port >= 0 && o.port <= 65535, "serve: --port must be 0..65535 (got " + std::to_string(o.port) + ")");
  impl_->chart_js = chart_js_source(o.chart_js, "serve");
  require(o.auth == "auto" || o.auth == "token" || o.auth == "none", "serve: auth must be auto, token or none");
  if (o.auth == "token" || (o.auth == "auto" && !is_loopback_host(o.host))) {
    require(o.token.empty() || o.token.size() >= 16, "serve: --token must be at least 16 characters");
    for (char c : o.token)
      require(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_',
              "serve: --token may hold letters, digits, '-' and '_' only");
    impl_->token = o.token.empty() ? random_token() : o.token;
  }
  impl_->routes();
}

Dashboard::~Dashboard() { stop(); }

int Dashboard::start() {
  auto& i = *impl_;
  require(!i.thread.joinable(), "serve: the dashboard is already running");
  i.port = i.o.port == 0 ? i.server.bind_to_any_port(i.o.host) : (i.server.bind_to_port(i.o.host, i.o.port) ? i.o.port : -1);
  require(i.port > 0, "serve: cannot listen on " + i.o.host + ":" + std::to_string(i.o.port) +
                          " (address in use or not this machine's?); pick another --port or --host");
  i.server.raise_backlog();
  i.thread = std::thread([&i] { i.server.listen_after_bind(); });
  // httplib's stop() does nothing until the accept loop runs: wait for it, so stop() always works
  for (int ms = 0; ms < 5000 && !i.server.is_running(); ++ms) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return i.port;
}

void Dashboard::wait() {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->stopped_cv.wait(lock, [this] { return impl_->stopped; });
}

void Dashboard::stop() {
  auto& i = *impl_;
  i.server.stop();
  if (i.thread.joinable()) i.thread.join();
  {
    std::lock_guard<std::mutex> lock(i.mutex);
    i.stopped = true;
  }
  i.stopped_cv.notify_all();
}

std::string Dashboard::token() const { return impl_->token; }

std::string Dashboard::url() const {
  const std::string& h = impl_->o.host;
  bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace latentlab
