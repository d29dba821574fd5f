#include "latentlab/regularizers.h"

#include <cmath>

#include "latentlab/error.h"

namespace latentlab {
namespace {

// "name:value" -> value, with the flag named in errors.
double parse_amount(const std::string& spec, const std::string& flag) {
  auto colon = spec.find(':');
  require(colon != std::string::npos, flag + " " + spec + ": expected <kind>:<value>");
  try {
    size_t used = 0;
    double v = std::stod(spec.substr(colon + 1), &used);
    require(used == spec.size() - colon - 1 && std::isfinite(v), flag + " " + spec + ": not a number after ':'");
    return v;
  } catch (const std::logic_error&) {
    throw Error(flag + " " + spec + ": not a number after ':'");
  }
}

}  // namespace

Noise parse_noise(const std::string& spec) {
  Noise n;
  if (spec.empty() || spec == "none") return n;
  std::string kind = spec.substr(0, spec.find(':'));
  n.amount = parse_amount(spec, "--noise");
  if (kind == "gaussian") {
    n.kind = Noise::Kind::gaussian;
    require(n.amount > 0, "--noise " + spec + ": sigma must be positive");
  } else if (kind == "masking" || kind == "salt-pepper") {
    n.kind = kind == "masking" ? Noise::Kind::masking : Noise::Kind::salt_pepper;
    require(n.amount > 0 && n.amount < 1, "--noise " + spec + ": the probability must be in (0, 1)");
  } else {
    throw Error("--noise " + spec + ": unknown noise; use gaussian:<sigma>, masking:<p> or salt-pepper:<p>");
  }
  return n;
}

torch::Tensor corrupt(const torch::Tensor& x, const Noise& n) {
  switch (n.kind) {
    case Noise::Kind::none: return x;
    case Noise::Kind::gaussian: return (x + torch::randn_like(x) * n.amount).clamp_(0, 1);
    case Noise::Kind::masking: return x * (torch::rand_like(x) >= n.amount);
    case Noise::Kind::salt_pepper: {
      auto hit = torch::rand_like(x) < n.amount;
      auto salt = (torch::rand_like(x) < 0.5).to(x.dtype());
      return torch::where(hit, salt, x);
    }
  }
  return x;
}

Sparsity parse_sparsity(const std::string& spec) {
  Sparsity s;
  if (spec.empty()) return s;
  auto colon = spec.find(':');
  require(colon != std::string::npos, "--sparsity " + spec + ": expected <rho>:<weight>, e.g. 0.05:0.1");
  s.weight = parse_amount(spec, "--sparsity");
  try {
    s.rho = std::stod(spec.substr(0, colon));
  } catch (const std::logic_error&) {
    throw Error("--sparsity " + spec + ": rho is not a number");
  }
  require(s.rho > 0 && s.rho < 1, "--sparsity " + spec + ": rho must be in (0, 1)");
  require(s.weight >= 0, "--sparsity " + spec + ": the weight must be non-negative");
  return s;
}

torch::Tensor kl_sparsity(const torch::Tensor& code, double rho) {
  // activation 1 - exp(-|c|): 0 for a silent unit (a ReLU code's zeros), toward 1 as |c| grows, so any
  // target rho in (0, 1) is reachable (a sigmoid of a ReLU code is never below 0.5)
  auto rho_hat = (1 - torch::exp(-code.abs())).mean(0).clamp(1e-6, 1 - 1e-6);
  return (rho * (rho / rho_hat).log() + (1 - rho) * ((1 - rho) / (1 - rho_hat)).log()).sum();
}

Regularizers::Regularizers(const TrainConfig& c)
    : noise(parse_noise(c.noise)), sparsity(parse_sparsity(c.sparsity)), l1(c.l1), contractive(c.contractive) {}

void Regularizers::add_penalties(LossTerms& l, const torch::Tensor& code, const torch::Tensor& jacobian_sq) const {
  if (l1 > 0) {
    auto t = code.abs().sum(1).mean();
    l.loss = l.loss + l1 * t;
    l.terms.emplace_back("l1", t);
  }
  if (sparsity.weight > 0) {
    auto t = kl_sparsity(code, sparsity.rho);
    l.loss = l.loss + sparsity.weight * t;
    l.terms.emplace_back("sparsity", t);
  }
  if (jacobian_sq.defined()) {
    l.loss = l.loss + contractive * jacobian_sq;
    l.terms.emplace_back("contractive", jacobian_sq);
  }
}

}  // namespace latentlab
