/* vgpu-run's own signals: end the way the command ended.  (Forwarding
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT to the command is the tracer's job:
 * TracerConfig.forward_signals.) */
#pragma once

/* Die of SIG like the command did: default action, no core dump.  Returns
 * only if SIG does not kill (then the caller exits 128+SIG). */
void signals_reraise(int sig);
