/* --self-test: can vgpu-run work on this machine? */
#pragma once

#define SELFTEST_PROBE_ARG "--self-test-probe"
#define SELFTEST_PROBE_PATH "/nonexistent-vgpu-run-self-test/probe"

/* Print one line per check on stdout.  Returns 0 when tracing works here,
 * -ENOTSUP otherwise (exit 125). */
int selftest_run(const char *self_exe);

/* The traced side of the probe (argv[1] == SELFTEST_PROBE_ARG). */
int selftest_probe(void);
