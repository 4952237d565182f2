#include "core/version.h"

namespace hone {
const char* version_string() { return HONE_VERSION; }
const char* git_revision() { return HONE_GIT_REV; }
}  // namespace hone
