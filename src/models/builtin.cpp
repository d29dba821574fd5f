#include "latentlab/model.h"

namespace latentlab {

void register_vae();

void link_builtin_models() {
  static const bool once = [] {
    register_vae();
    return true;
  }();
  (void)once;
}

}  // namespace latentlab
