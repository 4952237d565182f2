// LD_PRELOAD shim for tests/e2e/reliability: SIGKILL the process right after it renames a file whose
// new name ends in ".data". That is the one moment a random kill rarely hits when a model with
// external data is saved: its data file is in place, the model file that points into it is not yet.
// The output must then still be the old (model, data) pair or nothing, never old model + new data.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
int rename(const char* from, const char* to) {
  int (*real)(const char*, const char*) = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  int r = real(from, to);
  size_t n = strlen(to);
  if (r == 0 && n > 5 && strcmp(to + n - 5, ".data") == 0) raise(SIGKILL);
  return r;
}
