// The HTML report: self-contained (Chart.js and images inlined), every metric and setting present,
// a half-written metrics line tolerated, and clear errors for a missing run or Chart.js.
#include "common.h"
#include "latentlab/io.h"
#include "latentlab/report.h"

namespace latentlab::test {

class ReportTest : public Seeded {};

TEST_F(ReportTest, Base64MatchesRfc4648) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST_F(ReportTest, NamesWithNumbersSortByValue) {
  std::vector<std::string> v = {"samples-10.png", "samples-2.png", "reconstruction-1.png", "samples-1.png", "samples-02.png",
                                "samples-latest.png"};
  std::sort(v.begin(), v.end(), natural_less);
  EXPECT_EQ(v, (std::vector<std::string>{"reconstruction-1.png", "samples-1.png", "samples-2.png", "samples-02.png",
                                         "samples-10.png", "samples-latest.png"}));
}

TEST_F(ReportTest, InlinesChartsImagesMetricsAndSettings) {
  fs::create_directories(dir / "run");
  write_bytes(path("run/config.json"), "{\"model\": \"vae\", \"dataset\": \"mnist\", \"lr\": 0.001}");
  write_bytes(path("run/metrics.jsonl"),
              "{\"epoch\":1,\"train_loss\":120.5,\"test_loss\":110.25,\"train_kl\":3.5}\n"
              "{\"epoch\":2,\"train_loss\":105.5,\"test_loss\":104.75,\"train_kl\":4.5}\n{\"epoch\":3,\"train_lo");
  write_bytes(path("run/eval.json"), "{\"likelihood\": {\"log_likelihood\": -100.7}}");
  write_png_grid(path("run/samples-1.png"), torch::rand({4, 1, 8, 8}), 2);
  write_bytes(path("chart.js"), "window.Chart=function(){};/*CHARTJS-MARKER*/");
  std::string h = make_report(path("run"), path("chart.js"));
  EXPECT_NE(h.find("CHARTJS-MARKER"), std::string::npos) << "the library is inlined";
  EXPECT_EQ(h.find("src=\"http"), std::string::npos) << "nothing is fetched from the network";
  EXPECT_NE(h.find("data:image/png;base64,"), std::string::npos);
  EXPECT_NE(h.find("samples-1.png"), std::string::npos);
  for (const char* s : {"train_loss", "test_loss", "train_kl", "120.5", "104.75", "log_likelihood", "-100.7", "0.001"})
    EXPECT_NE(h.find(s), std::string::npos) << s;
  // the curves' data: epochs 1 and 2 only (the half-written third line is skipped)
  EXPECT_NE(h.find("const epochs=[1,2]"), std::string::npos);
  EXPECT_NE(h.find("metrics.jsonl: 1 line could not be read"), std::string::npos) << "and the report says so";
  EXPECT_NE(h.find("\"loss\":{\"test_loss\":[110.25,104.75],\"train_loss\":[120.5,105.5]}"), std::string::npos);
}

TEST_F(ReportTest, ClearErrors) {
  EXPECT_ERROR_WITH(make_report(path("nowhere"), path("chart.js")), "no config.json");
  fs::create_directories(dir / "run");
  write_bytes(path("run/config.json"), "{}");
  EXPECT_ERROR_WITH(make_report(path("run"), path("missing.js")), "fetch_data.sh");
  // found by fuzzing: settings that are valid JSON but not an object, and fields of unexpected types
  write_bytes(path("chart.js"), "//");
  write_bytes(path("run/config.json"), "1");
  EXPECT_ERROR_WITH(make_report(path("run"), path("chart.js")), "is not a JSON object of settings");
  write_bytes(path("run/config.json"), R"({"model": 3, "dataset": ["x"]})");
  write_bytes(path("run/metrics.jsonl"), "{\"epoch\": \"one\", \"train_loss\": 1}\n{\"train_loss\": 2}\n");
  EXPECT_NE(make_report(path("run"), path("chart.js")).find("train_loss"), std::string::npos);
}

}  // namespace latentlab::test
