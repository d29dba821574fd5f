#pragma once
// Datasets: the IDX reader (plain or gzip), MNIST/Fashion-MNIST loading, and the in-memory batcher.
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "latentlab/config.h"

namespace latentlab {

/// One IDX file: its dimensions and its raw bytes as a uint8 tensor of those dimensions.
struct IdxArray {
  std::vector<int64_t> dims;
  torch::Tensor data;  // uint8, shape = dims
};

/// Reads an IDX file with unsigned-byte elements, plain or gzip-compressed (detected by content).
/// Throws latentlab::Error naming the file for: unreadable, empty, not gzip (a .gz name without gzip
/// content), wrong magic, unsupported element type, truncated, trailing bytes.
IdxArray read_idx(const std::string& path);

/// A whole split in memory: images uint8 [N, C, H, W], labels int64 [N].
struct Dataset {
  std::string name;
  torch::Tensor images;
  torch::Tensor labels;
  int64_t size() const { return images.size(0); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  int64_t pixels() const { return images.numel() / std::max<int64_t>(1, size()); }
};

enum class Split { train, test };

/// Names of the IDX datasets --dataset accepts (mnist, fashion-mnist).
const std::vector<std::string>& dataset_names();

/// The folder a dataset is looked for in when --data-dir is not given.
std::string default_data_dir(const std::string& dataset);

/// Throws latentlab::Error naming the datasets --dataset accepts when `dataset` is none of them.
void check_dataset_name(const std::string& dataset);

/// Loads one split of an IDX dataset from `dir`, which holds the four standard file names
/// (train-images-idx3-ubyte, ..., each plain or with .gz). Checks that image and label counts agree.
/// A missing folder or file gets an error that names it and the command that fetches the data.
Dataset load_idx_dataset(const std::string& dataset, const std::string& dir, Split split);

/// An image folder (--dataset folder:<path>).
struct FolderOptions {
  std::string path;
  int64_t channels = 3;     ///< 1: grayscale; 3: RGB (alpha dropped, grayscale expanded)
  int64_t image_size = 64;  ///< shorter side resized to this, then center-cropped to a square
  bool strict = false;      ///< a file that cannot be decoded is an error instead of skipped
  double holdout = 0.1;     ///< share of the images (evenly spread over the sorted file list) held out for test
};

/// Both splits of a dataset.
struct Splits {
  Dataset train, test;
  int64_t skipped = 0;               ///< image folders: files with an image extension that did not decode
  std::vector<std::string> classes;  ///< image folders: the sub-folder of each label ("." for the top)
};

/// Every PNG, JPEG and BMP under `o.path` (recursively, in sorted order), decoded with OpenCV in
/// parallel, resized and cropped, held in memory as uint8. Labels are the index of each file's
/// sub-folder. With too few images for a holdout the test split is the training split (said on `log`).
/// Errors name the folder: missing, not a folder, no images, every file undecodable, too big for memory.
Splits load_image_folder(const FolderOptions& o, std::FILE* log = stderr);

/// One dataset --dataset accepts. The IDX datasets register in src/data/dataset.cpp, one line each;
/// image folders in src/data/folder.cpp. A name ending in ':' takes a path (folder:<path>).
struct DatasetEntry {
  std::string name;
  std::string help;  ///< one line for `latentlab models --verbose` and errors
  /// The folder used without --data-dir; null for datasets named by a path.
  std::function<std::string()> default_dir = nullptr;
  /// Both splits, from `data_dir` (empty: c.data_dir, then default_dir()).
  std::function<Splits(const TrainConfig& c, const std::string& data_dir, std::FILE* log)> load;
};

/// Maps --dataset names to their entries.
class DatasetRegistry {
 public:
  static bool add(DatasetEntry entry);
  /// The entry of `dataset` (for folder:<path>, the folder: entry); throws latentlab::Error naming the
  /// known datasets otherwise.
  static const DatasetEntry& find(const std::string& dataset);
  static std::vector<const DatasetEntry*> entries();
};

/// The number of classes of a dataset's labels: an image folder's sub-folders (its files at the top
/// count as one class), else the largest training label + 1 (0 without labels).
int64_t class_count(const Splits& s);

/// Both splits of the dataset a run's settings name (IDX dataset or image folder); --train-images
/// keeps the first N training images. `data_dir` overrides c.data_dir when not empty.
Splits load_splits(const TrainConfig& c, std::FILE* log = stderr, const std::string& data_dir = "");

/// Binarised uint8 images (0 or 255): each pixel is 255 with its grey level / 255 as probability, drawn
/// from a generator seeded by `seed` (the same images and seed give the same draw).
torch::Tensor binarize_images(const torch::Tensor& images_u8, uint64_t seed);

/// The seed of the fixed draw of a binarised test set (--binarize): one for every run, so that test
/// losses compare across runs and seeds.
constexpr uint64_t kBinarizedTestSeed = 0x7e57;

/// Shuffled mini-batches over an in-memory dataset, converted per batch to float in [0, 1]
/// into a reused buffer. The permutation comes from the given generator, so a seed fixes the order.
class Batcher {
 public:
  /// Keeps the images on `device` (one copy for CUDA, none for CPU).
  Batcher(const Dataset& data, int64_t batch_size, bool shuffle, torch::Device device = torch::kCPU);
  /// Starts an epoch: draws a new permutation from `gen` when shuffling.
  void start_epoch(at::Generator gen);
  /// Data-parallel training: this process takes part `rank` of `world` of every batch. A batch is then
  /// world x batch_size images of the epoch's order (the same on every rank), of which batch(i) returns
  /// this rank's batch_size (the last batch may leave a rank fewer, or none). Default: 0 of 1.
  void shard(int64_t rank, int64_t world);
  /// Drop the last batch when it holds fewer than world x batch_size images (PyTorch's drop_last).
  /// A dataset smaller than one batch is then an error (it would train on nothing).
  void drop_last(bool drop);
  /// Number of batches in one epoch.
  int64_t batches() const;
  /// Images in batch i over all ranks.
  int64_t batch_total(int64_t i) const;
  /// Batch i of the current epoch: float [b, C, H, W] in [0, 1] on the batcher's device.
  /// The returned tensor is a reused buffer, valid until the next call: clone it to keep it.
  torch::Tensor batch(int64_t i);
  /// Labels of batch i (int64 [b], on the CPU).
  torch::Tensor labels(int64_t i) const;
  /// The dataset indices that batch i uses in the current epoch.
  torch::Tensor indices(int64_t i) const;

 private:
  torch::Tensor images_, labels_;
  int64_t batch_size_;
  int64_t rank_ = 0, world_ = 1;
  bool shuffle_;
  bool drop_last_ = false;
  torch::Tensor order_;   // int64 [N]
  torch::Tensor buffer_;  // float, reused
};

/// Converts uint8 images to float in [0, 1].
torch::Tensor to_float(const torch::Tensor& images_u8);

}  // namespace latentlab
