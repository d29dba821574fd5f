#include <ATen/Parallel.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "latentlab/data.h"
#include "latentlab/error.h"

namespace fs = std::filesystem;

namespace latentlab {
namespace {

// Sends file descriptor 2 to /dev/null for its lifetime.
class QuietStderr {
 public:
  QuietStderr() {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ >= 0 && null >= 0) ::dup2(null, 2);
    if (null >= 0) ::close(null);
  }
  ~QuietStderr() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

bool is_image_name(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp";
}

// Decodes one file into out (uint8 [C, S, S]); false when OpenCV cannot decode it.
bool decode_into(const std::string& path, const FolderOptions& o, uint8_t* out) {
  cv::Mat img;
  try {
    img = cv::imread(path, o.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    return false;
  }
  if (img.empty() || img.rows < 1 || img.cols < 1) return false;
  const int s = static_cast<int>(o.image_size);
  double scale = double(s) / std::min(img.rows, img.cols);
  int w = std::max(s, int(std::lround(img.cols * scale))), h = std::max(s, int(std::lround(img.rows * scale)));
  cv::Mat resized;
  cv::resize(img, resized, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat crop = resized(cv::Rect((w - s) / 2, (h - s) / 2, s, s));
  if (o.channels == 3) cv::cvtColor(crop, crop, cv::COLOR_BGR2RGB);
  // HWC -> CHW
  const int c = static_cast<int>(o.channels);
  for (int y = 0; y < s; ++y) {
    const uint8_t* row = crop.ptr<uint8_t>(y);
    for (int x = 0; x < s; ++x)
      for (int k = 0; k < c; ++k) out[(int64_t(k) * s + y) * s + x] = row[x * c + k];
  }
  return true;
}

int64_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page : int64_t(1) << 34;
}

}  // namespace

Splits load_image_folder(const FolderOptions& o, std::FILE* log) {
  const std::string where = "--dataset folder:" + o.path;
  require(o.channels == 1 || o.channels == 3, where + ": --channels must be 1 or 3");
  require(o.image_size >= 1, where + ": --image-size must be positive");
  std::error_code ec;
  require(fs::exists(o.path, ec), where + ": the folder does not exist");
  require(fs::is_directory(o.path, ec), where + ": not a folder; point it at a folder of PNG, JPEG or BMP images");
  std::vector<std::string> files;
  int64_t others = 0;
  try {
    for (auto it = fs::recursive_directory_iterator(o.path, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file(ec)) continue;
      if (is_image_name(it->path()))
        files.push_back(it->path().string());
      else
        ++others;
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(where + ": cannot list the folder (" + std::string(e.what()) + ")");
  }
  require(!files.empty(), where + ": no PNG, JPEG or BMP images in this folder or below it" +
                              (others ? " (" + std::to_string(others) + " other files)" : std::string()));
  std::sort(files.begin(), files.end());
  const int64_t n = files.size(), s = o.image_size, per = o.channels * s * s;
  require(n * per < physical_memory() / 2,
          where + ": " + std::to_string(n) + " images of " + std::to_string(o.channels) + "x" + std::to_string(s) + "x" +
              std::to_string(s) + " need " + std::to_string(n * per >> 20) +
              " MiB, more than half of this machine's memory; lower --image-size or use a smaller folder");
  auto images = torch::empty({n, o.channels, s, s}, torch::kUInt8);
  std::vector<char> ok(n, 0);
  uint8_t* base = images.data_ptr<uint8_t>();
  {
    // The image libraries print their own complaints about a malformed file ("libpng error: ...")
    // on stderr; those files are reported below in our words, so their text is kept off the screen.
    QuietStderr quiet;
    at::parallel_for(0, n, 8, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ok[i] = decode_into(files[i], o, base + i * per);
    });
  }
  // Labels: the index of each file's sub-folder (relative to the root), sorted.
  std::map<std::string, int64_t> class_index;
  std::vector<std::string> rel_dirs(n);
  for (int64_t i = 0; i < n; ++i) {
    rel_dirs[i] = fs::path(files[i]).parent_path().lexically_relative(o.path).string();
    if (rel_dirs[i].empty()) rel_dirs[i] = ".";
    if (ok[i]) class_index.emplace(rel_dirs[i], 0);
  }
  Splits out;
  int64_t k = 0;
  for (auto& [name, idx] : class_index) {
    idx = k++;
    out.classes.push_back(name);
  }
  std::vector<int64_t> good, labels;
  std::string first_bad;
  for (int64_t i = 0; i < n; ++i) {
    if (!ok[i]) {
      if (first_bad.empty()) first_bad = files[i];
      ++out.skipped;
      require(!o.strict, files[i] + ": cannot be decoded as an image (--strict makes this an error; drop --strict to skip such files)");
      continue;
    }
    good.push_back(i);
    labels.push_back(class_index[rel_dirs[i]]);
  }
  require(!good.empty(), where + ": none of the " + std::to_string(n) + " image files could be decoded (first: " + first_bad + ")");
  if (out.skipped)
    std::fprintf(log, "warning: %s: skipped %lld file(s) that could not be decoded (first: %s)\n", where.c_str(),
                 (long long)out.skipped, first_bad.c_str());
  auto idx = torch::tensor(good, torch::kInt64);
  auto all_images = images.index_select(0, idx);
  auto all_labels = torch::tensor(labels, torch::kInt64);
  // Hold out an evenly spread share for the test split.
  std::vector<int64_t> train_idx, test_idx;
  const int64_t m = good.size();
  for (int64_t i = 0; i < m; ++i) {
    bool test = std::floor((i + 1) * o.holdout) > std::floor(i * o.holdout);
    (test ? test_idx : train_idx).push_back(i);
  }
  if (test_idx.empty() || train_idx.empty()) {
    if (o.holdout == 0)
      std::fprintf(log, "note: %s: --holdout 0 trains on all %lld image%s; the test figures are measured on %s too\n",
                   where.c_str(), (long long)m, m == 1 ? "" : "s", m == 1 ? "it" : "them");
    else
      std::fprintf(log, "note: %s: %lld image%s too few to hold out %g%%; the test split is the training set\n",
                   where.c_str(), (long long)m, m == 1 ? " is" : "s are", o.holdout * 100);
    train_idx.resize(m);
    for (int64_t i = 0; i < m; ++i) train_idx[i] = i;
    test_idx = train_idx;
  }
  auto pick = [&](const std::vector<int64_t>& v) {
    Dataset d;
    d.name = "folder:" + o.path;
    auto t = torch::tensor(v, torch::kInt64);
    d.images = all_images.index_select(0, t);
    d.labels = all_labels.index_select(0, t);
    return d;
  };
  out.train = pick(train_idx);
  out.test = pick(test_idx);
  return out;
}

void register_folder_dataset() {
  DatasetRegistry::add({"folder:",
                        "PNG, JPEG and BMP images under <path>, recursively; labels from the sub-folders; --image-size, "
                        "--channels, --holdout, --strict",
                        nullptr, [](const TrainConfig& c, const std::string&, std::FILE* log) {
                          FolderOptions o;
                          o.path = folder_path(c);
                          o.channels = c.channels ? c.channels : o.channels;
                          o.image_size = c.image_size ? c.image_size : o.image_size;
                          o.strict = c.strict;
                          o.holdout = c.holdout;
                          return load_image_folder(o, log);
                        }});
}

Splits load_splits(const TrainConfig& c, std::FILE* log, const std::string& data_dir) {
  Splits s = DatasetRegistry::find(c.dataset).load(c, data_dir.empty() ? c.data_dir : data_dir, log);
  if (c.train_images > 0 && c.train_images < s.train.size()) {
    s.train.images = s.train.images.slice(0, 0, c.train_images);
    s.train.labels = s.train.labels.slice(0, 0, c.train_images);
  }
  return s;
}

}  // namespace latentlab
