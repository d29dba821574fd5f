#include <cstdlib>
#include <deque>
#include <filesystem>

#include "latentlab/build_config.h"
#include "latentlab/data.h"
#include "latentlab/error.h"

namespace fs = std::filesystem;

namespace latentlab {
namespace {

struct IdxDatasetInfo {
  std::string name;
  std::string fetch_hint;
  std::string system_dir;  ///< where a Debian package installs it (empty: none)
};

const std::vector<IdxDatasetInfo>& idx_datasets() {
  static const std::vector<IdxDatasetInfo> infos = {
      {"mnist", "run `bash scripts/fetch_data.sh` (fetches MNIST into data/mnist)", ""},
      {"fashion-mnist", "run `apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist)",
       "/usr/share/datasets/fashion-mnist"},
  };
  return infos;
}

// A deque: an entry's address stays valid while more datasets register.
std::deque<DatasetEntry>& dataset_table() {
  static std::deque<DatasetEntry> t;
  return t;
}

std::string known_datasets() {
  std::string known;
  for (const auto* e : DatasetRegistry::entries())
    known += (known.empty() ? "" : ", ") + e->name + (e->name.back() == ':' ? "<path>" : "");
  return known;
}

const IdxDatasetInfo& find_info(const std::string& dataset) {
  for (const auto& i : idx_datasets())
    if (i.name == dataset) return i;
  throw Error("--dataset " + dataset + ": unknown dataset; choose one of " + known_datasets());
}

// The file for `base` in dir: plain or .gz, with the two spellings in circulation.
std::string find_idx_file(const std::string& dir, const std::string& base, const IdxDatasetInfo& info) {
  std::string dotted = base;
  dotted[dotted.find('-', dotted.find('-') + 1)] = '.';  // train-images-idx3-ubyte -> train-images.idx3-ubyte
  for (const auto& name : {base, base + ".gz", dotted, dotted + ".gz"}) {
    fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  throw Error(info.name + ": no " + base + " (or " + base + ".gz) in " + dir + "; " + info.fetch_hint +
              ", or point --data-dir at a folder holding the four IDX files");
}

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& i : idx_datasets()) n.push_back(i.name);
    return n;
  }();
  return names;
}

std::string default_data_dir(const std::string& dataset) {
  const auto& e = DatasetRegistry::find(dataset);
  require(e.default_dir != nullptr, "--dataset " + dataset + " names its own folder; it has no default data folder");
  return e.default_dir();
}

void register_folder_dataset();

// Registers the built-in datasets once, before any other look-up or registration (the registry is
// filled at start-up, from one thread).
void link_builtin_datasets() {
  static bool linked = false;
  if (linked) return;
  linked = true;
  for (const auto& info : idx_datasets())
      DatasetRegistry::add({info.name, "IDX files (plain or .gz): 60,000 training and 10,000 test images, 28x28 grayscale; " +
                                           info.fetch_hint,
                            [info] {
                              if (const char* env = std::getenv("LATENTLAB_DATA")) return (fs::path(env) / info.name).string();
                              if (!info.system_dir.empty()) return info.system_dir;
                              if (fs::exists(fs::path("data") / info.name)) return (fs::path("data") / info.name).string();
                              return (fs::path(default_data_root()) / info.name).string();
                            },
                            [name = info.name](const TrainConfig&, const std::string& dir, std::FILE*) {
                              Splits s;
                              s.train = load_idx_dataset(name, dir, Split::train);
                              s.test = load_idx_dataset(name, dir, Split::test);
                              return s;
                            }});
  register_folder_dataset();
}

bool DatasetRegistry::add(DatasetEntry entry) {
  link_builtin_datasets();  // the built-in ones come first, whoever registers first
  auto& t = dataset_table();
  for (auto& e : t)
    if (e.name == entry.name) {
      e = std::move(entry);
      return true;
    }
  t.push_back(std::move(entry));
  return true;
}

std::vector<const DatasetEntry*> DatasetRegistry::entries() {
  link_builtin_datasets();
  std::vector<const DatasetEntry*> out;
  for (const auto& e : dataset_table()) out.push_back(&e);
  return out;
}

const DatasetEntry& DatasetRegistry::find(const std::string& dataset) {
  for (const auto* e : entries()) {
    bool prefix = e->name.back() == ':';
    if (prefix ? dataset.rfind(e->name, 0) == 0 : dataset == e->name) {
      require(!prefix || dataset.size() > e->name.size(), "--dataset " + e->name + "<path>: the path is missing");
      return *e;
    }
  }
  throw Error("--dataset " + dataset + ": unknown dataset; choose one of " + known_datasets());
}

void check_dataset_name(const std::string& dataset) { DatasetRegistry::find(dataset); }

Dataset load_idx_dataset(const std::string& dataset, const std::string& dir_in, Split split) {
  const auto& info = find_info(dataset);
  std::string dir = dir_in.empty() ? default_data_dir(dataset) : dir_in;
  if (!fs::is_directory(dir))
    throw Error(info.name + ": data folder " + dir + " does not exist; " + info.fetch_hint +
                ", or point --data-dir at a folder holding the four IDX files");
  std::string prefix = split == Split::train ? "train" : "t10k";
  std::string img_path = find_idx_file(dir, prefix + "-images-idx3-ubyte", info);
  std::string lbl_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte", info);
  IdxArray img = read_idx(img_path);
  IdxArray lbl = read_idx(lbl_path);
  if (img.dims.size() != 3)
    throw Error(img_path + ": expected 3 dimensions (count, rows, columns), found " + std::to_string(img.dims.size()));
  if (lbl.dims.size() != 1)
    throw Error(lbl_path + ": expected 1 dimension (count), found " + std::to_string(lbl.dims.size()));
  if (img.dims[0] != lbl.dims[0])
    throw Error(img_path + " holds " + std::to_string(img.dims[0]) + " images but " + lbl_path + " holds " +
                std::to_string(lbl.dims[0]) + " labels; the counts must agree");
  Dataset d;
  d.name = dataset;
  d.images = img.data.unsqueeze(1);  // [N, 1, H, W]
  d.labels = lbl.data.to(torch::kInt64);
  return d;
}

torch::Tensor binarize_images(const torch::Tensor& images_u8, uint64_t seed) {
  TORCH_CHECK(images_u8.scalar_type() == torch::kUInt8, "binarize_images: uint8 images expected");
  auto gen = at::detail::createCPUGenerator(seed);
  // u < x / 255 as in eval's binarize(), compared in integers: floor(u * 255) < x
  auto u = torch::rand(images_u8.sizes(), gen, torch::TensorOptions(torch::kFloat32)).mul_(255.0).floor_();
  return u.lt(images_u8.to(torch::kFloat32)).to(torch::kUInt8).mul_(255);
}

int64_t class_count(const Splits& s) {
  if (!s.classes.empty()) return static_cast<int64_t>(s.classes.size());
  const auto& l = s.train.labels;
  return l.defined() && l.numel() > 0 ? l.max().item<int64_t>() + 1 : 0;
}

torch::Tensor to_float(const torch::Tensor& images_u8) {
  return images_u8.to(torch::kFloat32).mul_(1.0 / 255.0);
}

Batcher::Batcher(const Dataset& data, int64_t batch_size, bool shuffle, torch::Device device)
    : images_(data.images.to(device)), labels_(data.labels), batch_size_(batch_size), shuffle_(shuffle) {
  require(batch_size > 0, "--batch-size must be positive");
  require(data.size() > 0, "dataset " + data.name + " is empty");
  order_ = torch::arange(data.size(), torch::TensorOptions().dtype(torch::kInt64).device(device));
  buffer_ = torch::empty({0}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
}

void Batcher::start_epoch(at::Generator gen) {
  if (shuffle_) order_ = torch::randperm(images_.size(0), gen, torch::kInt64).to(images_.device());
}

void Batcher::shard(int64_t rank, int64_t world) {
  TORCH_CHECK(world >= 1 && rank >= 0 && rank < world, "Batcher::shard: rank out of range");
  rank_ = rank;
  world_ = world;
}

void Batcher::drop_last(bool drop) {
  drop_last_ = drop;
  require(!drop || images_.size(0) >= batch_size_ * world_,
          "--drop-last: the " + std::to_string(images_.size(0)) + " training images do not fill one batch of " +
              std::to_string(batch_size_ * world_) + "; lower --batch-size or leave out --drop-last");
}

int64_t Batcher::batches() const {
  const int64_t global = batch_size_ * world_;
  return drop_last_ ? images_.size(0) / global : (images_.size(0) + global - 1) / global;
}

int64_t Batcher::batch_total(int64_t i) const {
  const int64_t global = batch_size_ * world_;
  return std::min(global, images_.size(0) - i * global);
}

torch::Tensor Batcher::indices(int64_t i) const {
  TORCH_CHECK(i >= 0 && i < batches(), "batch index out of range");
  const int64_t n = images_.size(0);
  int64_t start = std::min(n, i * batch_size_ * world_ + rank_ * batch_size_);
  return order_.slice(0, start, std::min(start + batch_size_, n));
}

torch::Tensor Batcher::batch(int64_t i) {
  torch::Tensor idx = indices(i);
  std::vector<int64_t> shape = images_.sizes().vec();
  shape[0] = idx.size(0);
  buffer_.resize_(shape);
  buffer_.copy_(images_.index_select(0, idx)).mul_(1.0 / 255.0);
  return buffer_;
}

torch::Tensor Batcher::labels(int64_t i) const { return labels_.index_select(0, indices(i).cpu()); }

}  // namespace latentlab
