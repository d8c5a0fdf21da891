/*
 * shim-common.c - mode selection, real-driver loading, logging and VGPU_SHIM_*
 * parsing shared by cuda-shim.c and nvml-shim.c.  See README.md.
 *
 * Nothing here runs at load time: the shims call shim_init() from
 * pthread_once() on their first exported call, so merely loading a shim
 * (e.g. a scanner doing dlopen + dlsym) has no side effects.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shim-common.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Defaults for the virtual device; README.md lists them too. */
#define DEF_NAME      "vgpu-run virtual GPU"
#define DEF_CC_MAJOR  9
#define DEF_CC_MINOR  0
#define DEF_MEMORY    (80ULL << 30)
#define DEF_PCI       "00000000:01:00.0"
#define DEF_UUID      "GPU-76677075-2d72-756e-2d73-68696d000000" /* "vgpu-run-shim" */
#define DEF_CUDA_VER  13000
#define DEF_DRV_VER   "580.00.00"

const char *shim_mode_name(enum shim_mode m)
{
	return m == SHIM_MODE_PASSTHROUGH ? "passthrough" : "virtual";
}

/*
 * secure_getenv: a shim that dlopen()s a path taken from the environment
 * must not do so in a setuid/setgid program.  Empty counts as unset.
 */
static const char *env(const char *name)
{
	const char *v = secure_getenv(name);
	return (v && *v) ? v : NULL;
}

void shim_log(const struct shim_state *st, const char *fmt, ...)
{
	if (st->log_fd < 0)
		return;
	int saved_errno = errno;
	char line[1024];
	int n = snprintf(line, sizeof line, "%s %ld %s ", st->soname,
			 (long)getpid(), shim_mode_name(st->mode));
	if (n < 0 || (size_t)n >= sizeof line - 2)
		goto out;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		goto out;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2; /* truncated: still one whole line */
	/* Caller-supplied strings (symbol names...) must not split the line. */
	for (size_t i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	/*
	 * One write() per line on an O_APPEND fd: concurrent processes and
	 * threads append whole lines instead of interleaving fragments.
	 */
	ssize_t w;
	do
		w = write(st->log_fd, line, len);
	while (w < 0 && errno == EINTR);
out:
	errno = saved_errno;
}

int shim_parse_memory(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	/* Accept "80G", "80GB", "80GiB" (all binary units), or plain bytes. */
	if (shift && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0')
		return -1;
	if (shift && v > (~0ULL >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int shim_parse_uuid(const char *s, unsigned char out[16])
{
	if (strncmp(s, "GPU-", 4) == 0)
		s += 4;
	int nib = 0;
	for (; *s; s++) {
		if (*s == '-')
			continue;
		if (!isxdigit((unsigned char)*s) || nib >= 32)
			return -1;
		int d = isdigit((unsigned char)*s) ? *s - '0'
						   : tolower((unsigned char)*s) - 'a' + 10;
		if (nib % 2 == 0)
			out[nib / 2] = (unsigned char)(d << 4);
		else
			out[nib / 2] |= (unsigned char)d;
		nib++;
	}
	return nib == 32 ? 0 : -1;
}

void shim_dev_uuid(const struct shim_device_cfg *d, int i, unsigned char out[16])
{
	memcpy(out, d->uuid, 16);
	out[15] = (unsigned char)(out[15] + i); /* distinct per device */
}

void shim_dev_uuid_string(const struct shim_device_cfg *d, int i, char *buf,
			  unsigned len)
{
	unsigned char u[16];
	shim_dev_uuid(d, i, u);
	snprintf(buf, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

unsigned shim_dev_bus(const struct shim_device_cfg *d, int i)
{
	return d->bus + (unsigned)i;
}

/* Parse VGPU_SHIM_*; a bad value is logged and replaced by its default. */
static void parse_device_cfg(struct shim_state *st)
{
	struct shim_device_cfg *d = &st->dev;
	const char *v;

	d->count = 1;
	if ((v = env("VGPU_SHIM_DEVICE_COUNT"))) {
		char *end;
		long c = strtol(v, &end, 10);
		if (*end || c < 0 || c > SHIM_MAX_DEVICES)
			shim_log(st, "config VGPU_SHIM_DEVICE_COUNT=%s invalid, using 1", v);
		else
			d->count = (int)c;
	}

	snprintf(d->name, sizeof d->name, "%s", (v = env("VGPU_SHIM_DEVICE_NAME")) ? v : DEF_NAME);

	d->cc_major = DEF_CC_MAJOR;
	d->cc_minor = DEF_CC_MINOR;
	if ((v = env("VGPU_SHIM_CC"))) {
		int a, b, used = 0;
		if (sscanf(v, "%d.%d%n", &a, &b, &used) == 2 && v[used] == '\0' &&
		    a > 0 && a < 100 && b >= 0 && b < 10) {
			d->cc_major = a;
			d->cc_minor = b;
		} else {
			shim_log(st, "config VGPU_SHIM_CC=%s invalid, using %d.%d", v,
				 DEF_CC_MAJOR, DEF_CC_MINOR);
		}
	}

	d->memory = DEF_MEMORY;
	if ((v = env("VGPU_SHIM_MEMORY")) && shim_parse_memory(v, &d->memory) != 0) {
		d->memory = DEF_MEMORY;
		shim_log(st, "config VGPU_SHIM_MEMORY=%s invalid, using %llu", v, d->memory);
	}

	const char *pci = env("VGPU_SHIM_PCI_BUS_ID");
	int ok = 0;
	if (pci) {
		int used = 0;
		ok = sscanf(pci, "%x:%x:%x.%x%n", &d->domain, &d->bus, &d->device,
			    &d->function, &used) == 4 && pci[used] == '\0' &&
		     d->bus + (unsigned)(d->count ? d->count - 1 : 0) <= 0xff &&
		     d->device <= 0x1f && d->function <= 7;
		if (!ok)
			shim_log(st, "config VGPU_SHIM_PCI_BUS_ID=%s invalid, using %s", pci, DEF_PCI);
	}
	if (!ok)
		sscanf(DEF_PCI, "%x:%x:%x.%x", &d->domain, &d->bus, &d->device, &d->function);

	v = env("VGPU_SHIM_UUID");
	if (!v || shim_parse_uuid(v, d->uuid) != 0) {
		if (v)
			shim_log(st, "config VGPU_SHIM_UUID=%s invalid, using %s", v, DEF_UUID);
		shim_parse_uuid(DEF_UUID, d->uuid);
	}

	d->driver_version_cuda = DEF_CUDA_VER;
	if ((v = env("VGPU_SHIM_CUDA_VERSION"))) {
		char *end;
		long c = strtol(v, &end, 10);
		if (*end || c < 1000 || c > 99990)
			shim_log(st, "config VGPU_SHIM_CUDA_VERSION=%s invalid, using %d", v, DEF_CUDA_VER);
		else
			d->driver_version_cuda = (int)c;
	}
	snprintf(d->driver_version, sizeof d->driver_version, "%s",
		 (v = env("VGPU_SHIM_DRIVER_VERSION")) ? v : DEF_DRV_VER);

	char uuid[48];
	shim_dev_uuid_string(d, 0, uuid, sizeof uuid);
	shim_log(st, "config devices=%d name=\"%s\" cc=%d.%d memory=%llu pci=%08x:%02x:%02x.%x uuid=%s",
		 d->count, d->name, d->cc_major, d->cc_minor, d->memory, d->domain,
		 d->bus, d->device, d->function, uuid);
}

/*
 * Open the real driver named by the absolute path in real_env.  Returns NULL
 * and sets *why when the path must be refused.  Never dlopen()s by name: the
 * shim is itself loaded under the driver's SONAME, so glibc would hand the
 * shim back (and every forwarded call would recurse into itself).
 */
static void *open_real(const char *path, const char *probe,
		       const void *self_addr, char *why, size_t whylen)
{
	struct stat rs, ss;
	Dl_info self;

	if (path[0] != '/') {
		snprintf(why, whylen, "path is not absolute");
		return NULL;
	}
	if (stat(path, &rs) != 0) {
		snprintf(why, whylen, "stat failed: %s", strerror(errno));
		return NULL;
	}
	/* stat() follows symlinks, so a link to the shim is caught as well. */
	if (dladdr(self_addr, &self) && self.dli_fname && stat(self.dli_fname, &ss) == 0 &&
	    ss.st_dev == rs.st_dev && ss.st_ino == rs.st_ino) {
		snprintf(why, whylen, "same file as this shim (%s)", self.dli_fname);
		return NULL;
	}
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, whylen, "dlopen failed: %s", e ? e : "?");
		return NULL;
	}
	/*
	 * Belt and braces: if the probe symbol resolves into this very object
	 * (e.g. dladdr gave a path we could not stat), forwarding would recurse.
	 */
	void *p = dlsym(h, probe);
	Dl_info pi;
	if (!p) {
		snprintf(why, whylen, "real library has no symbol %s", probe);
	} else if (dladdr(p, &pi) && dladdr(self_addr, &self) &&
		   pi.dli_fbase == self.dli_fbase) {
		snprintf(why, whylen, "%s resolves to this shim", probe);
	} else {
		return h;
	}
	dlclose(h);
	return NULL;
}

void shim_init(struct shim_state *st, const char *soname, const char *real_env,
	       const char *real_probe, const void *self_addr)
{
	st->soname = soname;
	st->real_env = real_env;
	st->real = NULL;
	st->log_fd = -1;

	const char *logp = env("VGPU_SHIM_LOG");
	if (logp)
		st->log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	const char *real = env(real_env);
	const char *m = env("VGPU_SHIM_MODE");
	st->mode = real ? SHIM_MODE_PASSTHROUGH : SHIM_MODE_VIRTUAL;
	if (m && strcmp(m, "passthrough") == 0)
		st->mode = SHIM_MODE_PASSTHROUGH;
	else if (m && strcmp(m, "virtual") == 0)
		st->mode = SHIM_MODE_VIRTUAL;
	else if (m)
		shim_log(st, "config VGPU_SHIM_MODE=%s unknown, using %s", m,
			 shim_mode_name(st->mode));

	if (st->mode == SHIM_MODE_VIRTUAL) {
		parse_device_cfg(st);
		shim_log(st, "start real=(none)");
		return;
	}

	char why[PATH_MAX + 128];
	if (!real) {
		snprintf(why, sizeof why, "%s is not set", real_env);
	} else {
		snprintf(st->real_path, sizeof st->real_path, "%s", real);
		st->real = open_real(real, real_probe, self_addr, why, sizeof why);
	}
	if (!st->real) {
		shim_log(st, "refused real=%s reason=%s", real ? real : "(unset)", why);
		shim_log(st, "start real=(none)");
	} else {
		shim_log(st, "start real=%s", st->real_path);
	}
}

void *shim_real_sym(const struct shim_state *st, const char *name)
{
	return st->real ? dlsym(st->real, name) : NULL;
}
