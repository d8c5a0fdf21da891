/*
 * shim-common.h - state, logging and configuration shared by the example
 * vgpu-run shims (libcuda.so.1 and libnvidia-ml.so.1).
 *
 * This is an example and test instrument, not a driver.  Both shims compile
 * shim-common.c into themselves; everything declared here is hidden
 * (-fvisibility=hidden plus SHIM_HIDDEN) so that when both shims are loaded
 * into one process neither interposes the other's helpers.
 */
#ifndef VGPU_SHIM_COMMON_H
#define VGPU_SHIM_COMMON_H

#include <limits.h>
#include <stdarg.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_HIDDEN __attribute__((visibility("hidden")))

/* Upper bound for VGPU_SHIM_DEVICE_COUNT; keeps per-device tables static. */
#define SHIM_MAX_DEVICES 64

enum shim_mode {
	SHIM_MODE_PASSTHROUGH,
	SHIM_MODE_VIRTUAL,
};

/* The virtual device(s), parsed from VGPU_SHIM_* (only in virtual mode). */
struct shim_device_cfg {
	int count;                  /* VGPU_SHIM_DEVICE_COUNT, 0..SHIM_MAX_DEVICES */
	char name[96];              /* VGPU_SHIM_DEVICE_NAME */
	int cc_major, cc_minor;     /* VGPU_SHIM_CC "major.minor" */
	unsigned long long memory;  /* VGPU_SHIM_MEMORY, bytes */
	unsigned domain, bus, device, function; /* VGPU_SHIM_PCI_BUS_ID */
	unsigned char uuid[16];     /* VGPU_SHIM_UUID */
	int driver_version_cuda;    /* VGPU_SHIM_CUDA_VERSION, e.g. 13000 */
	char driver_version[32];    /* VGPU_SHIM_DRIVER_VERSION, NVML string */
};

struct shim_state {
	const char *soname;      /* "libcuda.so.1": first field of every log line */
	const char *real_env;    /* "VGPU_REAL_LIBCUDA" */
	enum shim_mode mode;
	/*
	 * dlopen handle of the real driver; NULL in virtual mode and when the
	 * passthrough target was refused or failed to load ("no driver").
	 */
	void *real;
	char real_path[PATH_MAX];
	int log_fd;              /* -1: logging off */
	struct shim_device_cfg dev;
};

/*
 * Fill *st once (callers wrap this in pthread_once).  self_addr is any
 * function of the calling shim: dladdr() on it finds the shim's own file so
 * that a VGPU_REAL_* path naming the shim itself can be refused.
 * real_probe is a symbol the real library must export (e.g. "cuInit").
 */
SHIM_HIDDEN void shim_init(struct shim_state *st, const char *soname,
			   const char *real_env, const char *real_probe,
			   const void *self_addr);

/* Look a symbol up in the real driver; NULL when there is none. */
SHIM_HIDDEN void *shim_real_sym(const struct shim_state *st, const char *name);

/* "passthrough" / "virtual" */
SHIM_HIDDEN const char *shim_mode_name(enum shim_mode m);

/*
 * Append "SONAME PID MODE <formatted text>\n" to VGPU_SHIM_LOG with a single
 * write(2).  No-op when logging is off.  Preserves errno.
 */
SHIM_HIDDEN void shim_log(const struct shim_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parsers, exposed for the shims' own use; return 0 on success. */
SHIM_HIDDEN int shim_parse_memory(const char *s, unsigned long long *out);
SHIM_HIDDEN int shim_parse_uuid(const char *s, unsigned char out[16]);
/* Per-device derived values: device i gets bus+i and uuid[15]+i. */
SHIM_HIDDEN void shim_dev_uuid(const struct shim_device_cfg *d, int i,
			       unsigned char out[16]);
SHIM_HIDDEN void shim_dev_uuid_string(const struct shim_device_cfg *d, int i,
				      char *buf, unsigned len); /* "GPU-..." */
SHIM_HIDDEN unsigned shim_dev_bus(const struct shim_device_cfg *d, int i);

#endif
