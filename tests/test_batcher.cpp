// In-memory batching: coverage of every image, seeded shuffling, conversion to [0, 1].
#include <ATen/CPUGeneratorImpl.h>

#include "common.h"
#include "latentlab/data.h"

namespace latentlab::test {

class BatcherTest : public Seeded {
 protected:
  Dataset make(int64_t n) {
    Dataset d;
    d.name = "synthetic";
    d.images = torch::arange(n, torch::kInt64).remainder(256).to(torch::kUInt8).reshape({n, 1, 1, 1}).expand({n, 1, 2, 2}).contiguous();
    d.labels = torch::arange(n, torch::kInt64);
    return d;
  }
};

TEST_F(BatcherTest, CoversEveryImageOnceWithALastPartialBatch) {
  auto d = make(10);
  Batcher b(d, 4, true);
  b.start_epoch(at::detail::createCPUGenerator(3));
  ASSERT_EQ(b.batches(), 3);
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < b.batches(); ++i) {
    auto x = b.batch(i);
    auto y = b.labels(i);
    EXPECT_EQ(x.size(0), i < 2 ? 4 : 2);
    EXPECT_EQ(x.dtype(), torch::kFloat32);
    // the pixel value encodes the index, so images and labels must travel together
    EXPECT_TRUE(torch::allclose(x.select(1, 0).select(1, 0).select(1, 0), y.to(torch::kFloat32) / 255.0));
    for (int64_t k = 0; k < y.size(0); ++k) seen.push_back(y[k].item<int64_t>());
  }
  std::sort(seen.begin(), seen.end());
  for (int64_t k = 0; k < 10; ++k) EXPECT_EQ(seen[k], k);
}

TEST_F(BatcherTest, SameSeedSameOrderOtherSeedOtherOrder) {
  auto d = make(100);
  Batcher a(d, 100, true), b(d, 100, true), c(d, 100, true);
  a.start_epoch(at::detail::createCPUGenerator(5));
  b.start_epoch(at::detail::createCPUGenerator(5));
  c.start_epoch(at::detail::createCPUGenerator(6));
  EXPECT_TRUE(torch::equal(a.labels(0), b.labels(0)));
  EXPECT_FALSE(torch::equal(a.labels(0), c.labels(0)));
  EXPECT_FALSE(torch::equal(a.labels(0), torch::arange(100, torch::kInt64))) << "not shuffled";
}

TEST_F(BatcherTest, UnshuffledKeepsOrderAndScalesToUnitRange) {
  auto d = make(300);
  Batcher b(d, 256, false);
  b.start_epoch(at::detail::createCPUGenerator(1));
  EXPECT_TRUE(torch::equal(b.labels(1), torch::arange(256, 300, torch::kInt64)));
  auto x = b.batch(0);
  EXPECT_FLOAT_EQ(x.max().item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(x.min().item<float>(), 0.0f);
}

TEST_F(BatcherTest, BatchesEqualToFloatOfTheSelectedImages) {
  // the reused buffer holds exactly to_float's values of the selected images, also for a
  // non-contiguous image tensor
  Dataset d;
  d.name = "random";
  d.images = torch::randint(0, 256, {50, 1, 3, 5}, torch::kUInt8);
  d.labels = torch::zeros({50}, torch::kInt64);
  Dataset strided = d;
  strided.images = torch::randint(0, 256, {50, 1, 5, 3}, torch::kUInt8).transpose(2, 3);
  for (const Dataset* data : {&d, &strided}) {
    Batcher b(*data, 16, true);
    b.start_epoch(at::detail::createCPUGenerator(7));
    for (int64_t i = 0; i < b.batches(); ++i) {
      auto expected = to_float(data->images.index_select(0, b.indices(i)));
      auto x = b.batch(i);
      ASSERT_EQ(x.sizes(), expected.sizes());
      EXPECT_TRUE(torch::equal(x, expected)) << "batch " << i;
    }
  }
}

TEST_F(BatcherTest, RejectsBadSizes) {
  auto d = make(10);
  EXPECT_ERROR_WITH(Batcher(d, 0, true), "--batch-size");
  Dataset empty;
  empty.name = "e";
  empty.images = torch::empty({0, 1, 2, 2}, torch::kUInt8);
  empty.labels = torch::empty({0}, torch::kInt64);
  EXPECT_ERROR_WITH(Batcher(empty, 4, true), "empty");
}

TEST_F(BatcherTest, DropLastLeavesOutThePartialBatchAndRefusesTooFewImages) {
  auto d = make(300);
  Batcher b(d, 256, true);
  EXPECT_EQ(b.batches(), 2);
  b.drop_last(true);
  EXPECT_EQ(b.batches(), 1);  // floor(300 / 256), as DataLoader(drop_last=True)
  b.start_epoch(at::detail::getDefaultCPUGenerator());
  EXPECT_EQ(b.batch(0).size(0), 256);
  b.drop_last(false);
  EXPECT_EQ(b.batches(), 2);
  Batcher sharded(d, 100, true);
  sharded.shard(1, 2);  // 200 images per step: one full step of 300
  sharded.drop_last(true);
  EXPECT_EQ(sharded.batches(), 1);
  Batcher small(make(10), 16, false);
  EXPECT_ERROR_WITH(small.drop_last(true), "--drop-last: the 10 training images do not fill one batch of 16");
}

}  // namespace latentlab::test
