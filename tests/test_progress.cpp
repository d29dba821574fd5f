// Progress output: a redrawn bar on a terminal, plain lines in logs.
#include "common.h"
#include "latentlab/io.h"
#include "latentlab/progress.h"

namespace latentlab::test {

class ProgressTest : public Seeded {
 protected:
  std::string capture(int tty, int64_t batches) {
    std::FILE* f = std::fopen(path("out").c_str(), "w");
    Progress p(f, tty);
    p.start_epoch(2, 5, batches, 32);
    int reads = 0;
    for (int64_t b = 0; b < batches; ++b) p.update(b, [&] { ++reads; return 1.5; });
    p.end_epoch("epoch 2/5 done");
    std::fclose(f);
    reads_ = reads;
    return read_file(path("out"));
  }
  int reads_ = 0;
};

TEST_F(ProgressTest, PlainLinesInLogsReadTheLossOnlyWhenPrinting) {
  std::string out = capture(0, 400);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find("\033["), std::string::npos);
  EXPECT_NE(out.find("epoch 2/5 batch 100/400 loss 1.5000"), std::string::npos) << out;
  EXPECT_NE(out.find("img/s eta"), std::string::npos) << out;
  EXPECT_NE(out.find("epoch 2/5 done\n"), std::string::npos);
  EXPECT_EQ(reads_, 3) << "the loss is read once per printed line, not per batch";
}

TEST_F(ProgressTest, TerminalBarShowsEpochBatchLossSpeedAndEta) {
  std::string out = capture(1, 10);
  EXPECT_NE(out.find("\r\033[Kepoch 2/5 ["), std::string::npos) << out;
  EXPECT_NE(out.find("10/10 loss 1.5000"), std::string::npos) << out;
  EXPECT_NE(out.find("img/s  ETA"), std::string::npos) << out;
  EXPECT_NE(out.find("epoch 2/5 done\n"), std::string::npos);
}

TEST(FormatDuration, Units) {
  EXPECT_EQ(format_duration(2.25), "2.2s");
  EXPECT_EQ(format_duration(65), "1m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace latentlab::test
