#include "latentlab/model.h"

namespace latentlab {

void register_vae();
void register_ae();

void link_builtin_models() {
  static const bool once = [] {
    register_vae();
    register_ae();
    return true;
  }();
  (void)once;
}

}  // namespace latentlab
