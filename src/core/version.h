// Version and git revision, compiled into one file only so that a new commit does not
// rebuild the whole library.
#pragma once

namespace hone {
const char* version_string();  // "0.1.0"
const char* git_revision();    // short hash of HEAD at the last build, or "unknown"
}  // namespace hone
