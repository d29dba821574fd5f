#pragma once
// The one error type of latentlab: every message says what is wrong, where (file or flag) and what to do.
#include <stdexcept>
#include <string>

namespace latentlab {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws latentlab::Error with `message` when `cond` is false.
inline void require(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace latentlab
