/* The report as Prometheus metrics (the text exposition format 0.0.4),
 * for node_exporter's textfile collector: a fleet's monitoring answers
 * "which nodes run on CPU only", "which nodes' cuda_v13 is not loaded, and
 * why", "what changed after the upgrade" without reading a report per node.
 *
 * Only names, verdicts, reasons, counts and times: no argv, environment
 * values or program output (the device names the server stated excepted),
 * so the file can be world-readable.  vgpu-run(1), METRICS, documents
 * every family. */
#pragma once

#include <stddef.h>

#include "report/report.h"

/* R rendered as metrics into a new buffer (*RET, free it); -ENOMEM. */
int report_metrics_render(const Report *r, char **ret, size_t *ret_len);
