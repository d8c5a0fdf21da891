/* vgpu-run's own signals: which ones it passes on to the command, and
 * ending the way the command ended.  (The passing on itself is the
 * tracer's job: TracerConfig.forward_signals.) */
#pragma once

#include <signal.h>
#include <stdbool.h>

/* The signals vgpu-run forwards to COMMAND (vgpu-run(1), SIGNALS): every
 * catchable one but SIGCHLD, the synchronous faults of vgpu-run itself,
 * and SIGUSR1 when REPORT_FILE (then it rewrites the report).  The
 * realtime ones glibc reserves (below SIGRTMIN) are not signals a program
 * can use, and are not in the set. */
void signals_forward_set(sigset_t *ret, bool report_file);

/* Die of SIG like the command did: default action, no core dump.  Returns
 * only if SIG does not kill (then the caller exits 128+SIG). */
void signals_reraise(int sig);
