// The IDX reader and dataset loading: every error case, plain and gzip.
#include "common.h"
#include "paths.h"
#include "latentlab/data.h"

namespace latentlab::test {

class Idx : public Seeded {};

TEST_F(Idx, ReadsPlainAndGzipIdentically) {
  std::string data = "\x01\x02\x03\x04\x05\x06";
  write_bytes(path("a"), idx_bytes({2, 3}, data));
  write_gz(path("a.gz"), idx_bytes({2, 3}, data));
  for (auto p : {path("a"), path("a.gz")}) {
    IdxArray a = read_idx(p);
    ASSERT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.data.dtype(), torch::kUInt8);
    EXPECT_EQ(a.data[1][2].item<int>(), 6);
    EXPECT_EQ(a.data.sum().item<int>(), 21);
  }
}

TEST_F(Idx, ErrorsNameTheFileAndTheProblem) {
  write_bytes(path("empty"), "");
  EXPECT_ERROR_WITH(read_idx(path("empty")), "empty file");
  EXPECT_ERROR_WITH(read_idx(path("missing")), "missing: cannot open");
  write_bytes(path("magic"), std::string("\x01\x02\x08\x01\x00\x00\x00\x01\x05", 9));
  EXPECT_ERROR_WITH(read_idx(path("magic")), "wrong magic");
  write_bytes(path("float"), idx_bytes({1}, "abcd", 0x0D));
  EXPECT_ERROR_WITH(read_idx(path("float")), "element type is float");
  write_bytes(path("unknown_type"), idx_bytes({1}, "a", 0x42));
  EXPECT_ERROR_WITH(read_idx(path("unknown_type")), "unknown IDX element type");
  write_bytes(path("short"), idx_bytes({4, 4}, "0123456789"));
  EXPECT_ERROR_WITH(read_idx(path("short")), "truncated: header promises 16 bytes");
  write_bytes(path("long"), idx_bytes({2}, "abc"));
  EXPECT_ERROR_WITH(read_idx(path("long")), "trailing bytes");
  write_bytes(path("header"), std::string("\x00\x00\x08\x03\x00\x00", 6));
  EXPECT_ERROR_WITH(read_idx(path("header")), "truncated IDX header");
  write_bytes(path("zero"), idx_bytes({0, 28}, ""));
  EXPECT_ERROR_WITH(read_idx(path("zero")), "IDX file is empty");
  write_bytes(path("fake.gz"), idx_bytes({1}, "a"));
  EXPECT_ERROR_WITH(read_idx(path("fake.gz")), "not gzip");
}

TEST_F(Idx, TruncatedGzipIsReported) {
  write_gz(path("t.gz"), idx_bytes({100, 28, 28}, std::string(100 * 784, '\x07')));
  auto bytes = std::string();
  {
    std::ifstream in(path("t.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_bytes(path("cut.gz"), bytes.substr(0, bytes.size() / 2));
  try {
    read_idx(path("cut.gz"));
    ADD_FAILURE() << "a truncated gzip file was accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cut.gz"), std::string::npos) << m;
    EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("corrupt gzip") != std::string::npos) << m;
  }
}

TEST_F(Idx, LoadsADatasetFolderPlainOrGzip) {
  for (bool gz : {false, true}) {
    auto d = dir / (gz ? "gz" : "plain");
    write_tiny_mnist(d, 50, 20, gz);
    Dataset train = load_idx_dataset("mnist", d.string(), Split::train);
    Dataset test = load_idx_dataset("mnist", d.string(), Split::test);
    EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{50, 1, 28, 28}));
    EXPECT_EQ(test.size(), 20);
    EXPECT_EQ(train.labels.dtype(), torch::kInt64);
    EXPECT_EQ(train.labels[13].item<int64_t>(), 3);
  }
}

TEST_F(Idx, DatasetErrors) {
  EXPECT_ERROR_WITH(load_idx_dataset("mnist", path("nowhere"), Split::train), "scripts/fetch_data.sh");
  EXPECT_ERROR_WITH(load_idx_dataset("fashion-mnist", path("nowhere"), Split::train), "dataset-fashion-mnist");
  EXPECT_ERROR_WITH(load_idx_dataset("cifar", path("x"), Split::train), "unknown dataset");
  write_tiny_mnist(dir / "d", 10, 10);
  fs::remove(dir / "d" / "t10k-labels-idx1-ubyte");
  EXPECT_ERROR_WITH(load_idx_dataset("mnist", (dir / "d").string(), Split::test), "no t10k-labels-idx1-ubyte");
  // counts that disagree
  write_bytes((dir / "d" / "t10k-labels-idx1-ubyte").string(), idx_bytes({9}, std::string(9, '\x01')));
  EXPECT_ERROR_WITH(load_idx_dataset("mnist", (dir / "d").string(), Split::test), "counts must agree");
  // labels with image dimensions
  write_bytes((dir / "d" / "t10k-labels-idx1-ubyte").string(), idx_bytes({10, 1}, std::string(10, '\x01')));
  EXPECT_ERROR_WITH(load_idx_dataset("mnist", (dir / "d").string(), Split::test), "expected 1 dimension");
}

TEST(Mnist, RealFilesLoadWhenPresent) {
  std::string dir = LATENTLAB_MNIST_DIR;
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte")) GTEST_SKIP() << "MNIST not fetched";
  auto t0 = std::chrono::steady_clock::now();
  Dataset train = load_idx_dataset("mnist", dir, Split::train);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.labels.max().item<int64_t>(), 9);
  // the first training label of MNIST is a 5
  EXPECT_EQ(train.labels[0].item<int64_t>(), 5);
  RecordProperty("load_seconds", std::to_string(secs));
}

}  // namespace latentlab::test
