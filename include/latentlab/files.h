#pragma once
// Files that are never seen half-written: everything is written to a temporary file beside the
// target, flushed, and renamed over it; lines are appended with one write. Used by the run folder
// (trainer, checkpoints, metrics), eval, serve, the classifier cache and the image writers (io.h).
#include <string>

namespace latentlab {

/// Writes `bytes` to `path` atomically (temp file + fsync + rename). Throws latentlab::Error naming
/// the file and the reason (for example a full disk).
void atomic_write(const std::string& path, const std::string& bytes);

/// Throws latentlab::Error naming `flag` unless `path` can be written, before any work: nothing of the
/// other kind is in the way (a folder where a file is wanted, or a file where a folder is), and the
/// nearest existing folder at or above it is writable (missing folders are created on writing).
/// Creates nothing.
void check_can_create(const std::string& path, const std::string& flag, bool folder = false);

/// Appends `line` (which ends in '\n') to `path` with one write (O_APPEND), creating the file. A
/// reader may see the line's end missing while it is written, or after a kill: line readers skip a
/// line that does not parse. Throws latentlab::Error naming the file and the reason.
void append_line(const std::string& path, const std::string& line);

/// Reads a whole file; throws latentlab::Error naming it when it cannot.
std::string read_file(const std::string& path);

}  // namespace latentlab
