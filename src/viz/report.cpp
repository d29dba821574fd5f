#include "latentlab/report.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "latentlab/build_config.h"
#include "latentlab/error.h"
#include "latentlab/io.h"

namespace fs = std::filesystem;

namespace latentlab {
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      // compare the numbers by value: without leading zeros, the longer one is larger
      std::string x = a.substr(i, ie - i), y = b.substr(j, je - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size()));
      y.erase(0, std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

namespace {

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string cell(const nlohmann::json& v) {
  if (v.is_number_float()) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v.get<double>());
    return b;
  }
  return escape(v.is_string() ? v.get<std::string>() : v.dump());
}

std::string table(const nlohmann::json& obj) {
  std::string h = "<table>";
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it.value().is_object())
      h += "<tr><th colspan=2>" + escape(it.key()) + "</th></tr><tr><td colspan=2>" + table(it.value()) + "</td></tr>";
    else
      h += "<tr><td>" + escape(it.key()) + "</td><td>" + cell(it.value()) + "</td></tr>";
  }
  return h + "</table>";
}

}  // namespace

nlohmann::json thin_steps(std::vector<nlohmann::json> lines, size_t most) {
  nlohmann::json out = nlohmann::json::array();
  const size_t stride = (lines.size() + most - 1) / std::max<size_t>(most, 1);
  for (size_t i = 0; i < lines.size(); ++i)
    if (stride <= 1 || i % stride == 0 || i + 1 == lines.size()) out.push_back(std::move(lines[i]));
  return out;
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

// Chart.js as compiled in (the generated chart_js.cpp; empty when the build was configured before
// scripts/fetch_data.sh installed data/web/chart.umd.js).
std::string_view embedded_chart_js();

std::string chart_js_source(const std::string& path, const std::string& who) {
  std::string file = path;
  if (file.empty()) {
    if (const char* p = std::getenv("LATENTLAB_CHART_JS")) file = p;
    else if (!embedded_chart_js().empty()) return std::string(embedded_chart_js());
    else file = (fs::path(default_data_root()) / "web" / "chart.umd.js").string();
  }
  std::error_code ec;
  require(fs::is_regular_file(file, ec), who + ": Chart.js not found at " + file +
                                             "; run `bash scripts/fetch_data.sh` (installs data/web/chart.umd.js) or pass --chart-js");
  return read_file(file);
}

std::string make_report(const std::string& run_dir, const std::string& chart_js_path) {
  fs::path run(run_dir);
  require(fs::exists(run / run_folder::kConfig), "report: " + run_dir + " has no config.json; is it a latentlab run folder?");
  const std::string chart_js = chart_js_source(chart_js_path, "report");
  auto config = nlohmann::json::parse(read_file((run / run_folder::kConfig).string()), nullptr, false);
  require(!config.is_discarded() && config.is_object(),
          "report: " + (run / run_folder::kConfig).string() + " is not a JSON object of settings; is it a latentlab run folder?");
  // any field may have any type in a hand-edited or damaged file: read them as JSON, never converted
  auto field = [](const nlohmann::json& obj, const char* key) { return obj.contains(key) ? obj[key] : nlohmann::json(); };
  int64_t skipped = 0;
  auto metrics = read_metrics((run / run_folder::kMetrics).string(), &skipped);
  // every phase's loss against the step, from steps.jsonl (--log-every)
  nlohmann::json step_series = nlohmann::json::object();
  for (const auto& line : thin_steps(read_metrics((run / run_folder::kSteps).string())))
    if (line.contains("step") && line["step"].is_number())
      for (auto it = line.begin(); it != line.end(); ++it)
        if (it.value().is_number() && it.key() != "step" && it.key() != "epoch" && it.key() != "batch")
          step_series[it.key()].push_back({{"x", line["step"]}, {"y", it.value()}});
  // one chart per metric, train_ and test_ versions of a term together
  std::vector<std::string> keys;
  for (const auto& m : metrics)
    for (auto it = m.begin(); it != m.end(); ++it)
      if (it.value().is_number() && it.key() != "epoch" && std::find(keys.begin(), keys.end(), it.key()) == keys.end())
        keys.push_back(it.key());
  nlohmann::json series = nlohmann::json::object(), epochs = nlohmann::json::array();
  for (const auto& m : metrics) epochs.push_back(field(m, "epoch"));
  for (const auto& k : keys) {
    nlohmann::json v = nlohmann::json::array();
    for (const auto& m : metrics) v.push_back(m.contains(k) ? m[k] : nlohmann::json());
    std::string group = k.rfind("train_", 0) == 0 ? k.substr(6) : k.rfind("test_", 0) == 0 ? k.substr(5) : k;
    series[group][k] = v;
  }
  std::string h = "<!doctype html><html><head><meta charset=utf-8><title>latentlab report: " + escape(run_dir) +
                  "</title><style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
                  "margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:left}"
                  ".charts{display:flex;flex-wrap:wrap}.chart{width:380px;height:260px;margin:8px}img{image-rendering:"
                  "pixelated;max-width:100%;margin:4px;border:1px solid #ddd}</style><script>" +
                  chart_js + "</script></head><body>";
  h += "<h1>latentlab run " + escape(run.filename().string()) + "</h1><p>model <b>" + cell(field(config, "model")) +
       "</b> on " + cell(field(config, "dataset")) + ", " + std::to_string(metrics.size()) + " epoch(s) recorded; report by latentlab " +
       LATENTLAB_VERSION + "</p>";
  h += "<h2>Curves</h2><div class=charts id=charts></div>";
  h += "<h2>Metrics</h2>";
  if (skipped)
    h += "<p class=\"note\">metrics.jsonl: " + std::to_string(skipped) + " line" + (skipped == 1 ? "" : "s") +
         " could not be read (a half-written last line while the run writes, or a damaged file) and " +
         (skipped == 1 ? "is" : "are") + " left out below</p>";
  h += "<table><tr><th>epoch</th>";
  for (const auto& k : keys) h += "<th>" + escape(k) + "</th>";
  h += "</tr>";
  for (const auto& m : metrics) {
    h += "<tr><td>" + cell(field(m, "epoch")) + "</td>";
    for (const auto& k : keys) h += "<td>" + (m.contains(k) ? cell(m[k]) : std::string()) + "</td>";
    h += "</tr>";
  }
  h += "</table>";
  if (fs::exists(run / run_folder::kEval)) {
    auto ev = nlohmann::json::parse(read_file((run / run_folder::kEval).string()), nullptr, false);
    h += "<h2>Evaluation (eval.json)</h2>" + (ev.is_discarded() ? std::string("<p>eval.json is not valid JSON</p>") : table(ev));
  }
  h += "<h2>Configuration</h2>" + table(config);
  h += "<h2>Images</h2>";
  std::vector<fs::path> images;
  for (const auto& e : fs::directory_iterator(run))
    if (e.is_regular_file() && e.path().extension() == ".png") images.push_back(e.path());
  std::sort(images.begin(), images.end(), [](const fs::path& a, const fs::path& b) {
    return natural_less(a.filename().string(), b.filename().string());
  });
  for (const auto& p : images)
    h += "<figure><figcaption>" + escape(p.filename().string()) + "</figcaption><img src=\"data:image/png;base64," +
         base64(read_file(p.string())) + "\"></figure>";
  h += "<script>const steps=" + step_series.dump() +
       ";if(Object.keys(steps).length){const d=document.createElement('div');d.className='chart';d.dataset.group='steps';"
       "const c=document.createElement('canvas');d.appendChild(c);document.getElementById('charts').appendChild(d);"
       "new Chart(c,{type:'line',data:{datasets:Object.entries(steps).map(([k,v])=>({label:k,data:v,pointRadius:0,"
       "borderWidth:1}))},options:{animation:false,maintainAspectRatio:false,plugins:{title:{display:true,text:"
       "'loss per step (steps.jsonl)'}},scales:{x:{type:'linear',title:{display:true,text:'step'}}}}});}</script>";
  h += "<script>const epochs=" + epochs.dump() + ";const series=" + series.dump() +
       ";for(const [group,lines] of Object.entries(series)){const d=document.createElement('div');d.className='chart';"
       "const c=document.createElement('canvas');d.appendChild(c);document.getElementById('charts').appendChild(d);"
       "new Chart(c,{type:'line',data:{labels:epochs,datasets:Object.entries(lines).map(([k,v])=>({label:k,data:v,"
       "spanGaps:true}))},options:{animation:false,maintainAspectRatio:false,plugins:{title:{display:true,text:group}},"
       "scales:{x:{title:{display:true,text:'epoch'}}}}});}</script></body></html>\n";
  return h;
}

}  // namespace latentlab
