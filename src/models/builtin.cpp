#include "latentlab/model.h"

namespace latentlab {

void register_vae();
void register_ae();
void register_gan();
void register_aae();

void link_builtin_models() {
  static const bool once = [] {
    register_vae();
    register_ae();
    register_gan();
    register_aae();
    return true;
  }();
  (void)once;
}

}  // namespace latentlab
