// The safetensors writer and our bounds-checked reader (safetensors.h): round trips of every dtype,
// the layout Python's safetensors package expects, and a clear error for every kind of damaged file.
#include <cstring>

#include "common.h"
#include "latentlab/safetensors.h"

namespace latentlab::test {

namespace {

// A file from a header written by hand and `data` bytes after it.
std::string file_of(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

}  // namespace

class SafetensorsTest : public Seeded {};

TEST_F(SafetensorsTest, EveryDtypeAndShapeRoundTripsWithItsMetadata) {
  std::vector<std::pair<std::string, torch::Tensor>> in = {
      {"f32", torch::randn({3, 4})},
      {"f64", torch::randn({2}, torch::kFloat64)},
      {"f16", torch::randn({5}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"i64", torch::arange(-3, 3, torch::kInt64)},
      {"i32", torch::arange(0, 4, torch::kInt32)},
      {"i16", torch::arange(0, 4, torch::kInt16)},
      {"i8", torch::arange(-2, 2, torch::kInt8)},
      {"u8", torch::arange(250, 256, torch::kInt64).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(7, torch::kInt64)},
      {"empty", torch::zeros({0, 3})},
      {"strided", torch::randn({4, 6}).t()},  // not contiguous: written as a contiguous copy
  };
  std::string bytes = safetensors_bytes(in, {{"kind", "model"}, {"config", "{\"a\": 1}"}});
  ASSERT_TRUE(looks_like_safetensors(bytes));
  TensorFile f = parse_safetensors(bytes, "x");
  EXPECT_EQ(f.meta("kind"), "model");
  EXPECT_EQ(f.meta("config"), "{\"a\": 1}");
  EXPECT_EQ(f.meta("absent", "fallback"), "fallback");
  ASSERT_EQ(f.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const torch::Tensor* got = f.find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got->sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(*got, t)) << name;
  }
  EXPECT_EQ(f.find("nothing"), nullptr);
}

TEST_F(SafetensorsTest, LayoutIsThePublishedFormat) {
  std::string bytes = safetensors_bytes({{"a", torch::tensor({1.0f, 2.0f})}, {"b", torch::tensor({int64_t(3)})}}, {{"k", "v"}});
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "the header is padded to 8 bytes";
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["k"], "v");
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({2}));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 8}));
  EXPECT_EQ(header["b"]["dtype"], "I64");
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json::array({8, 16}));
  ASSERT_EQ(bytes.size(), 8 + n + 16);
  float two;
  std::memcpy(&two, bytes.data() + 8 + n + 4, 4);
  EXPECT_EQ(two, 2.0f) << "raw little-endian data after the header";
  // a file as another writer lays it out: tensors in another order than the offsets, no metadata
  TensorFile f = parse_safetensors(
      file_of(R"({"y":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "\x05\x06"), "x");
  EXPECT_EQ(f.find("x")->item<int64_t>(), 5);
  EXPECT_EQ(f.find("y")->item<int64_t>(), 6);
  EXPECT_TRUE(f.metadata.empty());
}

TEST_F(SafetensorsTest, TheWriterRefusesNamesItCannotStore) {
  EXPECT_ERROR_WITH(safetensors_bytes({{"a", torch::ones({1})}, {"a", torch::ones({1})}}), "two tensors are named 'a'");
  EXPECT_ERROR_WITH(safetensors_bytes({{"__metadata__", torch::ones({1})}}), "cannot be named '__metadata__'");
  EXPECT_ERROR_WITH(safetensors_bytes({{"", torch::ones({1})}}), "cannot be named ''");
}

TEST_F(SafetensorsTest, EveryDamagedFileIsAClearErrorNamingIt) {
  const std::string f32 = R"("dtype":"F32","shape":[2],)";
  const std::string eight(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    std::string message;
  };
  std::vector<Case> cases = {
      {"truncated before the length", std::string("\x10\x00\x00", 3), "it is truncated (3 bytes; the header's length alone takes 8)"},
      {"a header longer than the file", file_of("{}", "").substr(0, 8) + "{", "its header claims 2 bytes but only 1 follow the length"},
      {"a header length of 2^64-1", std::string(8, '\xff') + "{}", "its header claims 18446744073709551615 bytes but only 2 follow"},
      {"not JSON", file_of("{nope", ""), "its header is not a JSON object"},
      {"not an object", file_of("[1]", ""), "its header does not start with '{'"},
      {"metadata not strings", file_of(R"({"__metadata__":{"a":1}})", ""), "__metadata__ 'a' is not a string"},
      {"an entry without offsets", file_of(R"({"a":{"dtype":"F32","shape":[2]}})", eight), "tensor 'a' lacks dtype, shape or data_offsets"},
      {"an unknown dtype", file_of(R"({"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", eight),
       "tensor 'a' has dtype 'F8_E4M3', which latentlab does not read (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)"},
      {"a negative size", file_of(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), "shape holds -2, not a size >= 0"},
      {"a shape whose product overflows",
       file_of(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight),
       "has more elements than any file can hold (the product overflows)"},
      {"bytes that overflow", file_of(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", eight),
       "needs more bytes than any file can hold"},
      {"offsets beyond the data", file_of("{\"a\":{" + f32 + R"("data_offsets":[0,8]}})", "1234"),
       "tensor 'a' lies at bytes 0..8 but the data holds 4 bytes (the file is truncated or its header is wrong)"},
      {"offsets that disagree with the shape", file_of("{\"a\":{" + f32 + R"("data_offsets":[0,4]}})", "1234"),
       "tensor 'a' takes 4 bytes but its dtype and shape need 8"},
      {"overlapping tensors",
       file_of("{\"a\":{" + f32 + R"("data_offsets":[0,8]},"b":{)" + f32 + R"("data_offsets":[4,12]}})", "123456789012"),
       "tensors 'a' and 'b' overlap (bytes 4..8)"},
      {"a gap", file_of("{\"a\":{" + f32 + R"("data_offsets":[4,12]}})", "123456789012"), "bytes 0..4 of the data belong to no tensor"},
      {"trailing bytes", file_of("{\"a\":{" + f32 + R"("data_offsets":[0,8]}})", "123456789"), "bytes 8..9 of the data belong to no tensor"},
      {"a BOOL byte of 2", file_of(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)),
       "tensor 'a' is BOOL but holds a byte other than 0 and 1"},
      {"too many dimensions", file_of(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", "x"),
       "shape is not an array of at most 16 sizes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_ERROR_WITH(parse_safetensors(c.bytes, "/runs/x/model"), "/runs/x/model: not a readable safetensors file: ");
    EXPECT_ERROR_WITH(parse_safetensors(c.bytes, "/runs/x/model"), c.message);
  }
  // a truncated real file: every prefix is refused, none crashes
  std::string good = safetensors_bytes({{"w", torch::randn({16})}, {"b", torch::randn({4})}}, {{"kind", "model"}});
  for (size_t n = 0; n < good.size(); n += 7) EXPECT_THROW(parse_safetensors(good.substr(0, n), "p"), Error) << n;
}

}  // namespace latentlab::test
