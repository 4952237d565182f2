#include "core/version.h"

#include "hone_git_rev.h"  // generated in the build dir on every build (cmake/git_revision.cmake)

namespace hone {
const char* version_string() { return HONE_VERSION; }
const char* git_revision() { return HONE_GIT_REV; }
}  // namespace hone
