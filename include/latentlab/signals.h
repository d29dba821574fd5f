#pragma once
// SIGINT and SIGTERM taken by one thread that waits for them, never delivered into a computation.
//
// A signal handler runs on the stack of whatever thread the kernel picks, at whatever instruction it
// is at. oneDNN's JIT matrix kernels (dnnl_sgemm, which the MLP models' fast path calls) point the
// stack pointer into a heap buffer while they run (valgrind: "client switching stacks? SP change:
// 0x1ffeffd7e8 --> 0x3f12e000", the start of a 16,640-byte block oneDNN allocated), so a signal that
// lands there writes its frame over the heap below that buffer: glibc later aborts with "corrupted size
// vs. prev_size while consolidating" (issue 23). With take_signals() every thread keeps the two signals
// blocked and one thread receives them with sigwait(), so no signal frame is ever pushed on a
// borrowed stack, and no system call of another thread fails with EINTR.
#include <functional>

namespace latentlab {

/// Blocks SIGINT and SIGTERM in the calling thread (threads started later inherit that) and starts the
/// thread that waits for them. Call it first in main(), before any other thread exists. Idempotent.
/// `hold`: a signal that arrives before on_signal() installs a handler waits for that handler instead
/// of ending the process (a worker of `train --nproc` must not die during its start while the others
/// wait for it).
void take_signals(bool hold = false);

/// What the signal thread does with SIGINT or SIGTERM: `fn(sig)` returns true when it has dealt with the
/// signal; false (or no handler: the default) ends the process as the signal's default action does.
/// Returns the previous handler. Without take_signals() the handler is never called.
std::function<bool(int)> on_signal(std::function<bool(int)> fn);

}  // namespace latentlab
