#include "latentlab/error.h"
#include "latentlab/eval.h"

namespace latentlab {

torch::Tensor codes_of(ModelImpl& model, const Dataset& d) {
  torch::NoGradGuard g;
  model.eval();
  auto device = model_device(model);
  Batcher b(d, 1000, false, device);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < b.batches(); ++i) out.push_back(model.code(batch_for(model, b, i)).cpu());
  return torch::cat(out);
}

double linear_probe_accuracy(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                             const torch::Tensor& test_y) {
  require(train_x.size(0) == train_y.size(0) && test_x.size(0) == test_y.size(0), "linear probe: codes and labels differ in count");
  auto mean = train_x.mean(0), std = train_x.std(0).clamp_min(1e-6);
  auto xs = ((train_x - mean) / std).detach(), xt = ((test_x - mean) / std).detach();
  int64_t classes = std::max(train_y.max().item<int64_t>(), test_y.max().item<int64_t>()) + 1;
  auto w = torch::zeros({xs.size(1), classes}, torch::requires_grad());
  auto b = torch::zeros({classes}, torch::requires_grad());
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0).max_iter(200).line_search_fn("strong_wolfe"));
  auto closure = [&] {
    opt.zero_grad();
    auto loss = torch::cross_entropy_loss(xs.mm(w) + b, train_y) + 1e-4 * w.pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  torch::NoGradGuard g;
  return (xt.mm(w) + b).argmax(1).eq(test_y).to(torch::kFloat64).mean().item<double>();
}

double knn_accuracy(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                    const torch::Tensor& test_y, int64_t k) {
  torch::NoGradGuard g;
  int64_t classes = std::max(train_y.max().item<int64_t>(), test_y.max().item<int64_t>()) + 1;
  int64_t right = 0;
  auto train_sq = train_x.pow(2).sum(1);
  for (int64_t s = 0; s < test_x.size(0); s += 500) {
    auto q = test_x.slice(0, s, std::min(test_x.size(0), s + 500));
    auto d = q.pow(2).sum(1, true) - 2 * q.mm(train_x.t()) + train_sq.unsqueeze(0);
    auto idx = std::get<1>(d.topk(k, 1, false));
    auto votes = torch::zeros({q.size(0), classes}).scatter_add_(1, train_y.index_select(0, idx.flatten()).view(idx.sizes()),
                                                                 torch::ones(idx.sizes()));
    right += votes.argmax(1).eq(test_y.slice(0, s, s + q.size(0))).sum().item<int64_t>();
  }
  return double(right) / double(test_x.size(0));
}

nlohmann::json evaluate_codes(ModelImpl& model, const Dataset& train, const Dataset& test) {
  auto tr = codes_of(model, train), te = codes_of(model, test);
  Pca pca = Pca::fit(to_float(train.images), tr.size(1));
  torch::Tensor ptr, pte;
  {
    torch::NoGradGuard g;
    ptr = pca.encode(to_float(train.images));
    pte = pca.encode(to_float(test.images));
  }
  nlohmann::json j;
  j["probe_code_dim"] = tr.size(1);
  j["linear_probe_accuracy"] = linear_probe_accuracy(tr, train.labels, te, test.labels);
  j["pca_linear_probe_accuracy"] = linear_probe_accuracy(ptr, train.labels, pte, test.labels);
  j["knn5_accuracy"] = knn_accuracy(tr, train.labels, te, test.labels, 5);
  j["pca_knn5_accuracy"] = knn_accuracy(ptr, train.labels, pte, test.labels, 5);
  return j;
}

}  // namespace latentlab
