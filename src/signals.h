/* vgpu-run's own signal handling: pass termination signals on to the
 * traced command, and end the way the command ended. */
#pragma once

#include "tracer.h"

/* Forward SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to vgpu-run by another
 * process (kill(1), systemd) to the command.  Signals from the terminal are
 * not forwarded: the kernel already sent them to the whole foreground
 * process group, the command included.  Returns 0 or -errno. */
int signals_forward_to(Tracer *t);

/* Die of SIG like the command did: default action, no core dump.  Returns
 * only if SIG does not kill (then the caller exits 128+SIG). */
void signals_reraise(int sig);
