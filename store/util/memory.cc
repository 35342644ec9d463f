#include "store/util/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mailkeep {

void TuneMalloc() {
#if defined(__GLIBC__)
  (void)::mallopt(M_ARENA_MAX, 2);
  (void)::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

}  // namespace mailkeep
