#include "latentlab/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>

#include "latentlab/error.h"

namespace latentlab {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; this reader copies it as it is");

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

// A header larger than this is refused before it is parsed (the reference implementation's limit).
constexpr uint64_t kMaxHeader = 100u << 20;
// More dimensions than any tensor of ours has; keeps a hostile header's shapes small.
constexpr size_t kMaxRank = 16;

struct Entry {
  std::string name;
  torch::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

}  // namespace

const torch::Tensor* TensorFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

std::string TensorFile::meta(const std::string& key, const std::string& fallback) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

std::string safetensors_dtype(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw Error(std::string("safetensors: no dtype name for ") + c10::toString(type));
}

std::string safetensors_bytes(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    require(!name.empty() && name != "__metadata__", "safetensors: a tensor cannot be named '" + name + "'");
    require(names.insert(name).second, "safetensors: two tensors are named '" + name + "'");
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t n = t.numel() * t.element_size();
    header[name] = {{"dtype", safetensors_dtype(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(std::move(t));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.reserve(8 + json.size() + offset);
  out += json;
  for (const auto& t : data) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

bool looks_like_safetensors(const std::string& bytes) {
  if (bytes.size() < 9) return false;
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return n >= 2 && n <= bytes.size() - 8 && bytes[8] == '{';
}

TensorFile parse_safetensors(const std::string& bytes, const std::string& path) {
  auto fail = [&](const std::string& what) { return Error(path + ": not a readable safetensors file: " + what); };
  if (bytes.size() < 8)
    throw fail("it is truncated (" + std::to_string(bytes.size()) + " bytes; the header's length alone takes 8)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  const uint64_t after = bytes.size() - 8;
  if (n > after)
    throw fail("its header claims " + std::to_string(n) + " bytes but only " + std::to_string(after) +
               " follow the length (the file is truncated or not a safetensors file)");
  if (n > kMaxHeader) throw fail("its header claims " + std::to_string(n) + " bytes, more than the format's limit of 100 MiB");
  if (n < 2 || bytes[8] != '{') throw fail("its header does not start with '{'");
  auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw fail("its header is not a JSON object");
  const uint64_t data_size = after - n;

  TensorFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw fail("__metadata__ is not an object of strings");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) throw fail("__metadata__ '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name.substr(0, 200) + "'";
    if (name.empty()) throw fail("a tensor has an empty name");
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
      throw fail(where + " lacks dtype, shape or data_offsets");
    const auto& d = value["dtype"];
    if (!d.is_string()) throw fail(where + ": dtype is not a string");
    Entry e{name, torch::kFloat32, {}, 0, 0};
    bool known = false;
    for (const auto& k : kDtypes)
      if (d.get<std::string>() == k.name) e.type = k.type, known = true;
    if (!known)
      throw fail(where + " has dtype '" + d.get<std::string>().substr(0, 40) + "', which latentlab does not read (" + known_dtypes() + ")");
    const auto& s = value["shape"];
    if (!s.is_array() || s.size() > kMaxRank) throw fail(where + ": shape is not an array of at most " + std::to_string(kMaxRank) + " sizes");
    uint64_t numel = 1;
    for (const auto& dim : s) {
      if (!dim.is_number_unsigned()) throw fail(where + ": shape holds " + dim.dump().substr(0, 40) + ", not a size >= 0");
      const uint64_t v = dim.get<uint64_t>();
      if (v > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, v, &numel))
        throw fail(where + ": its shape " + s.dump().substr(0, 100) + " has more elements than any file can hold (the product overflows)");
      e.shape.push_back(static_cast<int64_t>(v));
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(c10::elementSize(e.type)), &nbytes))
      throw fail(where + ": its shape " + s.dump().substr(0, 100) + " needs more bytes than any file can hold");
    const auto& o = value["data_offsets"];
    if (!o.is_array() || o.size() != 2 || !o[0].is_number_unsigned() || !o[1].is_number_unsigned())
      throw fail(where + ": data_offsets is not a pair of offsets >= 0");
    e.begin = o[0].get<uint64_t>();
    e.end = o[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      throw fail(where + " lies at bytes " + std::to_string(e.begin) + ".." + std::to_string(e.end) + " but the data holds " +
                 std::to_string(data_size) + " bytes (the file is truncated or its header is wrong)");
    if (e.end - e.begin != nbytes)
      throw fail(where + " takes " + std::to_string(e.end - e.begin) + " bytes but its dtype and shape need " + std::to_string(nbytes));
    entries.push_back(std::move(e));
  }
  // the tensors must tile the data: sorted by offset, each starts where the previous ended
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t at = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin < at)
      throw fail("tensors '" + entries[i - 1].name.substr(0, 200) + "' and '" + e.name.substr(0, 200) + "' overlap (bytes " +
                 std::to_string(e.begin) + ".." + std::to_string(at) + ")");
    if (e.begin > at) throw fail("bytes " + std::to_string(at) + ".." + std::to_string(e.begin) + " of the data belong to no tensor");
    at = e.end;
  }
  if (at != data_size)
    throw fail("bytes " + std::to_string(at) + ".." + std::to_string(data_size) + " of the data belong to no tensor");
  // only now, with every size known to lie within the file, is anything allocated
  const char* data = bytes.data() + 8 + n;
  for (const Entry& e : entries) {
    if (e.type == torch::kBool)
      for (uint64_t i = e.begin; i < e.end; ++i)
        if (static_cast<unsigned char>(data[i]) > 1) throw fail("tensor '" + e.name.substr(0, 200) + "' is BOOL but holds a byte other than 0 and 1");
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.type));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace latentlab
