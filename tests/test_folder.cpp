// Image folders: PNG (grayscale, RGB, RGBA), JPEG and BMP files written by the test, a corrupt
// file, a non-image file; resizing and cropping, channels, labels from sub-folders, the holdout
// split, --strict, and the errors for missing, empty and undecodable folders.
#include <opencv2/imgcodecs.hpp>

#include "common.h"
#include "latentlab/data.h"
#include "latentlab/train.h"

namespace latentlab::test {

class FolderTest : public Seeded {
 protected:
  // A w x h image whose left half is one colour and right half another (BGR order for OpenCV).
  static cv::Mat two_tone(int w, int h, int type, cv::Scalar left, cv::Scalar right) {
    cv::Mat m(h, w, type, right);
    m(cv::Rect(0, 0, w / 2, h)).setTo(left);
    return m;
  }
  void write_mixed_folder() {
    fs::create_directories(dir / "img" / "cats");
    fs::create_directories(dir / "img" / "dogs" / "deep");
    // RGB PNG, wider than tall: red left half, blue right half
    cv::imwrite(path("img/cats/rgb.png"), two_tone(40, 20, CV_8UC3, {0, 0, 255}, {255, 0, 0}));
    // grayscale PNG
    cv::imwrite(path("img/cats/gray.png"), cv::Mat(16, 16, CV_8UC1, cv::Scalar(100)));
    // RGBA PNG: green, half transparent (alpha dropped)
    cv::imwrite(path("img/dogs/rgba.png"), cv::Mat(16, 16, CV_8UC4, cv::Scalar(0, 255, 0, 128)));
    // JPEG and BMP
    cv::imwrite(path("img/dogs/deep/photo.JPG"), cv::Mat(24, 24, CV_8UC3, cv::Scalar(200, 200, 200)));
    cv::imwrite(path("img/dogs/pic.bmp"), cv::Mat(8, 8, CV_8UC3, cv::Scalar(10, 20, 30)));
    // a corrupt PNG and a file that is not an image
    write_bytes(path("img/dogs/broken.png"), "\x89PNG\r\n\x1a\nthis is not really a png");
    write_bytes(path("img/notes.txt"), "hello");
  }
  FolderOptions opts(int64_t channels = 3, int64_t size = 8) {
    FolderOptions o;
    o.path = path("img");
    o.channels = channels;
    o.image_size = size;
    o.holdout = 0;
    return o;
  }
};

TEST_F(FolderTest, DecodesEveryFormatAndSkipsTheCorruptFile) {
  write_mixed_folder();
  auto s = load_image_folder(opts(), quiet());
  EXPECT_EQ(s.skipped, 1);
  ASSERT_EQ(s.train.size(), 5);  // rgb, gray, rgba, photo, pic; notes.txt ignored
  EXPECT_EQ(s.train.images.sizes(), (std::vector<int64_t>{5, 3, 8, 8}));
  EXPECT_EQ(s.train.images.dtype(), torch::kUInt8);
  // sorted: cats/gray.png, cats/rgb.png, dogs/deep/photo.JPG, dogs/pic.bmp, dogs/rgba.png
  EXPECT_EQ(s.classes, (std::vector<std::string>{"cats", "dogs", "dogs/deep"}));
  auto labels = s.train.labels.contiguous();
  EXPECT_EQ(std::vector<int64_t>(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + 5),
            (std::vector<int64_t>{0, 0, 2, 1, 1}));
}

TEST_F(FolderTest, ResizesTheShorterSideCentreCropsAndKeepsRgbOrder) {
  write_mixed_folder();
  auto s = load_image_folder(opts(3, 8), quiet());
  auto rgb = s.train.images[1];  // 40x20 -> 16x8 -> centre 8x8: columns 4..11, left half red
  EXPECT_EQ(rgb[0][0][0].item<int>(), 255);  // R of the left part
  EXPECT_EQ(rgb[2][0][0].item<int>(), 0);
  EXPECT_EQ(rgb[0][0][7].item<int>(), 0);    // right part is blue
  EXPECT_EQ(rgb[2][0][7].item<int>(), 255);
  auto gray = s.train.images[0];  // grayscale expanded to three equal channels
  EXPECT_EQ(gray[0][3][3].item<int>(), 100);
  EXPECT_EQ(gray[2][3][3].item<int>(), 100);
  auto rgba = s.train.images[4];  // alpha dropped: plain green
  EXPECT_EQ(rgba[1][3][3].item<int>(), 255);
  EXPECT_EQ(rgba[0][3][3].item<int>(), 0);
  auto one = load_image_folder(opts(1, 12), quiet());
  EXPECT_EQ(one.train.images.sizes(), (std::vector<int64_t>{5, 1, 12, 12}));
}

TEST_F(FolderTest, StrictStopsAtTheCorruptFile) {
  write_mixed_folder();
  auto o = opts();
  o.strict = true;
  EXPECT_ERROR_WITH(load_image_folder(o, quiet()), "broken.png: cannot be decoded");
}

TEST_F(FolderTest, HoldoutSplitsEvenlyAndTinyFoldersReuseTheTrainingSet) {
  fs::create_directories(dir / "img");
  for (int i = 0; i < 20; ++i)
    cv::imwrite(path("img/" + std::to_string(100 + i) + ".png"), cv::Mat(8, 8, CV_8UC1, cv::Scalar(i * 10)));
  auto o = opts(1, 8);
  o.holdout = 0.1;
  auto s = load_image_folder(o, quiet());
  EXPECT_EQ(s.train.size(), 18);
  EXPECT_EQ(s.test.size(), 2);
  o.holdout = 0.01;
  auto t = load_image_folder(o, quiet());
  EXPECT_EQ(t.train.size(), 20);
  EXPECT_EQ(t.test.size(), 20);
}

TEST_F(FolderTest, ClearErrorsForBadFolders) {
  auto o = opts();
  EXPECT_ERROR_WITH(load_image_folder(o, quiet()), "does not exist");
  fs::create_directories(dir / "img");
  write_bytes(path("img/readme.md"), "x");
  EXPECT_ERROR_WITH(load_image_folder(o, quiet()), "no PNG, JPEG or BMP images");
  write_bytes(path("img/a.png"), "garbage");
  EXPECT_ERROR_WITH(load_image_folder(o, quiet()), "none of the 1 image files could be decoded");
  write_bytes(path("file.png"), "x");
  o.path = path("file.png");
  EXPECT_ERROR_WITH(load_image_folder(o, quiet()), "not a folder");
}

TEST_F(FolderTest, TrainsAConvAutoencoderAndADcganOnAnRgbFolder) {
  fs::create_directories(dir / "img");
  for (int i = 0; i < 40; ++i)
    cv::imwrite(path("img/" + std::to_string(i) + ".png"),
                two_tone(40, 36, CV_8UC3, {double(i * 6), 50, 200}, {30, double(250 - i * 5), 90}));
  for (std::string model : {"ae", "dcgan"}) {
    TrainConfig c;
    c.model = model;
    c.dataset = "folder:" + path("img");
    c.arch = "conv";
    c.image_size = 32;
    c.epochs = 1;
    c.batch_size = 16;
    c.set("ngf", 8);
    c.set("ndf", 8);
    c.latent = 8;
    c.threads = 1;
    c.grid_images = 4;
    c.out = path("run-" + model);
    Trainer t(c, quiet());
    auto r = t.run();
    EXPECT_TRUE(std::isfinite(r.metrics[0]["train_loss"].get<double>())) << model;
    EXPECT_TRUE(fs::exists(dir / ("run-" + model) / "samples-1.png"));
    auto loaded = load_run(path("run-" + model));
    EXPECT_EQ(loaded.shape.channels, 3);
    EXPECT_EQ(loaded.shape.height, 32);
  }
}

TEST_F(FolderTest, ImageSizeAndChannelsAreCheckedForIdxDatasets) {
  TrainConfig c;
  c.image_size = 64;
  EXPECT_ERROR_WITH(validate(c), "28x28");
  c.image_size = 0;
  c.channels = 3;
  EXPECT_ERROR_WITH(validate(c), "grayscale");
}

}  // namespace latentlab::test
