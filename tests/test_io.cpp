// NumPy .npy files: read_npy against write_npy and numpy.save's own bytes, read_images_npy's checks.
#include "common.h"
#include "latentlab/io.h"

namespace latentlab::test {

class Npy : public Seeded {
 protected:
  // A .npy file as numpy.save writes it: magic, version, header length, the dict padded to 64, data.
  std::string numpy_file(const std::string& dict, const std::string& data, int major = 1) {
    std::string header = dict;
    const size_t prefix = major == 1 ? 10 : 12;
    header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\0';
    const size_t n = header.size();
    for (size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) bytes += static_cast<char>((n >> (8 * b)) & 0xff);
    return bytes + header + data;
  }
  std::string write(const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
};

TEST_F(Npy, ReadsWhatWriteNpyAndNumpyWrite) {
  for (auto t : {torch::rand({3, 1, 4, 5}), torch::arange(7, torch::kLong), torch::randint(0, 255, {2, 3}).to(torch::kUInt8)}) {
    write_npy(path("a.npy"), t);
    auto back = read_npy(path("a.npy"));
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
    EXPECT_TRUE(torch::equal(back, t));
  }
  // numpy.save's bytes for np.arange(6, dtype='<f8').reshape(2, 3), in format 1.0 and 2.0
  std::string data;
  for (int i = 0; i < 6; ++i) {
    double v = i;
    data.append(reinterpret_cast<const char*>(&v), 8);
  }
  for (int major : {1, 2}) {
    auto t = read_npy(write("f8.npy", numpy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data, major)));
    EXPECT_EQ(t.scalar_type(), torch::kFloat64);
    EXPECT_TRUE(torch::equal(t, torch::arange(6, torch::kFloat64).view({2, 3}))) << major;
  }
  // a scalar and an empty array
  EXPECT_EQ(read_npy(write("s.npy", numpy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", data.substr(0, 8)))).dim(), 0);
  EXPECT_EQ(read_npy(write("e.npy", numpy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 28, 28), }", ""))).numel(), 0);
}

TEST_F(Npy, ErrorsNameTheFileAndTheFault) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string eight(8, '\0');
  EXPECT_ERROR_WITH(read_npy(path("missing.npy")), "missing.npy: cannot open the file");
  EXPECT_ERROR_WITH(read_npy(write("png.npy", "\x89PNG\r\n\x1a\n0000")), "png.npy: not a NumPy .npy file");
  EXPECT_ERROR_WITH(read_npy(write("short.npy", numpy_file(ok, eight).substr(0, 30))), "short.npy: the .npy file is truncated in its header");
  EXPECT_ERROR_WITH(read_npy(write("data.npy", numpy_file(ok, eight.substr(0, 5)))),
                    "data.npy: the .npy file holds 5 bytes of data where its shape (2,) needs 8");
  EXPECT_ERROR_WITH(read_npy(write("f2.npy", numpy_file("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", "0000"))),
                    "f2.npy: .npy dtype '<f2' is not supported");
  EXPECT_ERROR_WITH(read_npy(write("be.npy", numpy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", eight))),
                    ".npy dtype '>f4' is not supported");
  EXPECT_ERROR_WITH(read_npy(write("f.npy", numpy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", eight))),
                    "f.npy: the array is stored in Fortran order");
  EXPECT_ERROR_WITH(read_npy(write("shape.npy", numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", eight))),
                    "is not a tuple of sizes");
  EXPECT_ERROR_WITH(read_npy(write("huge.npy", numpy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000000), }", eight))),
                    "is too large");
  EXPECT_ERROR_WITH(read_npy(write("v9.npy", numpy_file(ok, eight, 9))), "format version 9");
  EXPECT_ERROR_WITH(read_npy(write("nodescr.npy", numpy_file("{'fortran_order': False, 'shape': (2,), }", eight))), "its header has no 'descr'");
}

TEST_F(Npy, ImagesAreCheckedAgainstTheDatasetsShapeAndRange) {
  write_npy(path("x.npy"), torch::rand({5, 1, 28, 28}));
  EXPECT_EQ(read_images_npy(path("x.npy"), 1, 28, 28).sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
  write_npy(path("hw.npy"), torch::rand({5, 28, 28}));
  EXPECT_EQ(read_images_npy(path("hw.npy"), 1, 28, 28).sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
  write_npy(path("u8.npy"), torch::full({2, 1, 28, 28}, 255, torch::kUInt8));
  auto u8 = read_images_npy(path("u8.npy"), 1, 28, 28);
  EXPECT_EQ(u8.scalar_type(), torch::kFloat32);
  EXPECT_EQ(u8.max().item<float>(), 1.0f);
  EXPECT_ERROR_WITH(read_images_npy(path("hw.npy"), 3, 28, 28), "hw.npy: holds an array of shape 5x28x28; expected images n x 3x28x28");
  EXPECT_ERROR_WITH(read_images_npy(path("x.npy"), 1, 32, 32), "expected images n x 1x32x32 (the dataset's) or n x 32x32");
  EXPECT_ERROR_WITH(read_images_npy(path("x.npy"), 1, 28, 28, 10), "holds 5 images; at least 10 are needed");
  write_npy(path("tanh.npy"), torch::rand({2, 1, 28, 28}) * 2 - 1);
  EXPECT_ERROR_WITH(read_images_npy(path("tanh.npy"), 1, 28, 28), "images must be in [0, 1] (map a tanh generator's");
  write_npy(path("i8.npy"), torch::zeros({2, 1, 28, 28}, torch::kLong));
  EXPECT_ERROR_WITH(read_images_npy(path("i8.npy"), 1, 28, 28), "holds int64 values");
}

}  // namespace latentlab::test
