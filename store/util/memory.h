// How the process's heap is set up for mailkeep's batch work.
#pragma once

namespace mailkeep {

// glibc malloc tuned for a few long-lived worker threads that free what
// other threads allocated (messages parsed on one thread, indexed and freed
// on another): at most 2 arenas, and blocks from 128 KiB on mapped and
// unmapped on their own (a fixed threshold; glibc's default moves it up to
// 32 MiB, after which large message buffers are carved from the arenas and
// fragment them). Measured on imports of linux-mips (37,455 messages, a
// 2-core machine under a load of 10-20, so CPU times are rough): peak RSS
// 243-250 MB untuned, 232 MB with 2 arenas alone, 180 MB with both (and
// with a 1 MiB threshold); system CPU time rose from about 6 s to 15 s
// (mapping and trimming), user time within the noise (55-67 s). Call
// once at start, before threads exist; a no-op where malloc is not
// glibc's.
void TuneMalloc();

}  // namespace mailkeep
