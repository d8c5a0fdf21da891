/*
 * nvml-shim.c - example vgpu-run shim standing in for libnvidia-ml.so.1.
 *
 * An example and test instrument, NOT a driver.  Same two modes as
 * cuda-shim.c: "virtual" answers from VGPU_SHIM_* (the same device that the
 * libcuda shim reports), "passthrough" forwards to the real library named by
 * the absolute path in VGPU_REAL_LIBNVIDIA_ML and logs each call.  NVML
 * types are declared here (no nvml.h needed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "shim-common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- NVML types (ABI-compatible subset) ---- */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
	unsigned int version; /* must be nvmlMemory_v2 */
	unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
#define nvmlMemory_v2 ((unsigned)(sizeof(nvmlMemory_v2_t) | (2u << 24)))

/* Layout of nvmlPciInfo_t as used by nvmlDeviceGetPciInfo_v3. */
typedef struct {
	char busIdLegacy[16];     /* "%04x:%02x:%02x.0" */
	unsigned int domain, bus, device;
	unsigned int pciDeviceId;    /* (device id << 16) | vendor id */
	unsigned int pciSubSystemId; /* (subsystem id << 16) | subvendor id */
	char busId[32];           /* "%08x:%02x:%02x.0" */
} nvmlPciInfo_t;

enum {
	NVML_SUCCESS = 0,
	NVML_ERROR_UNINITIALIZED = 1,
	NVML_ERROR_INVALID_ARGUMENT = 2,
	NVML_ERROR_NOT_SUPPORTED = 3,
	NVML_ERROR_INSUFFICIENT_SIZE = 7,
	NVML_ERROR_DRIVER_NOT_LOADED = 9,
	NVML_ERROR_FUNCTION_NOT_FOUND = 13,
	NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
};

static const struct { nvmlReturn_t code; const char *name, *desc; } errs[] = {
	{0, "NVML_SUCCESS", "Success"},
	{1, "NVML_ERROR_UNINITIALIZED", "Uninitialized"},
	{2, "NVML_ERROR_INVALID_ARGUMENT", "Invalid Argument"},
	{3, "NVML_ERROR_NOT_SUPPORTED", "Not Supported"},
	{4, "NVML_ERROR_NO_PERMISSION", "Insufficient Permissions"},
	{5, "NVML_ERROR_ALREADY_INITIALIZED", "Already Initialized"},
	{6, "NVML_ERROR_NOT_FOUND", "Not Found"},
	{7, "NVML_ERROR_INSUFFICIENT_SIZE", "Insufficient Size"},
	{8, "NVML_ERROR_INSUFFICIENT_POWER", "Insufficient External Power"},
	{9, "NVML_ERROR_DRIVER_NOT_LOADED", "Driver Not Loaded"},
	{10, "NVML_ERROR_TIMEOUT", "Timeout"},
	{12, "NVML_ERROR_LIBRARY_NOT_FOUND", "NVML Shared Library Not Found"},
	{13, "NVML_ERROR_FUNCTION_NOT_FOUND", "Function Not Found"},
	{15, "NVML_ERROR_GPU_IS_LOST", "GPU is lost"},
	{18, "NVML_ERROR_LIB_RM_VERSION_MISMATCH", "RM has detected an NVML/RM version mismatch."},
	{25, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", "Version mismatch between passed in argument and expected argument"},
	{999, "NVML_ERROR_UNKNOWN", "Unknown Error"},
};

static const char *err_name(nvmlReturn_t r)
{
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == r)
			return errs[i].name;
	return "NVML_ERROR_?";
}

/* ---- state ---- */
static struct shim_state S;
static pthread_once_t S_once = PTHREAD_ONCE_INIT;
static atomic_int v_refcount; /* virtual mode: nvmlInit minus nvmlShutdown */
/* Virtual handles are addresses in this array; nothing is behind them. */
static struct nvmlDevice_st { int index; } vdevs[SHIM_MAX_DEVICES];

SHIM_EXPORT nvmlReturn_t nvmlInit_v2(void);

static void init_once(void)
{
	shim_init(&S, "libnvidia-ml.so.1", "VGPU_REAL_LIBNVIDIA_ML", "nvmlInit_v2",
		  (const void *)nvmlInit_v2);
	for (int i = 0; i < SHIM_MAX_DEVICES; i++)
		vdevs[i].index = i;
}

static int passthrough(void)
{
	pthread_once(&S_once, init_once);
	return S.real != NULL;
}

/* Refused passthrough = driver not loaded; virtual wants nvmlInit first. */
static nvmlReturn_t ready(void)
{
	if (S.mode == SHIM_MODE_PASSTHROUGH || atomic_load(&v_refcount) <= 0)
		return NVML_ERROR_UNINITIALIZED;
	return NVML_SUCCESS;
}

/* Virtual handle -> index, or -1 when it is not one of ours. */
static int dev_index(nvmlDevice_t d)
{
	/* integer compare: the handle may point anywhere (or be garbage) */
	uintptr_t a = (uintptr_t)d, lo = (uintptr_t)&vdevs[0];
	if (a < lo || a >= (uintptr_t)&vdevs[S.dev.count] || (a - lo) % sizeof vdevs[0])
		return -1;
	return d->index;
}

static nvmlReturn_t ready_dev(nvmlDevice_t d, int *idx)
{
	nvmlReturn_t r = ready();
	if (r == NVML_SUCCESS && (*idx = dev_index(d)) < 0)
		r = NVML_ERROR_INVALID_ARGUMENT;
	return r;
}

#define FORWARD(r, name, proto, args) do {                                      \
	nvmlReturn_t (*fn_) proto = (nvmlReturn_t (*) proto)shim_real_sym(&S, #name); \
	if (fn_) {                                                               \
		(r) = fn_ args;                                                  \
	} else {                                                                 \
		shim_log(&S, "%s missing in real library", #name);               \
		(r) = NVML_ERROR_FUNCTION_NOT_FOUND;                             \
	}                                                                        \
} while (0)

#define LOGR(r, out, fmt, ...) \
	shim_log(&S, fmt " = %d %s%s", ##__VA_ARGS__, (r), err_name(r), (out))

/* Copy a string result the NVML way: too small a buffer is an error. */
static nvmlReturn_t put_str(char *buf, unsigned len, const char *s)
{
	if (!buf)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (strlen(s) + 1 > len)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(buf, s, strlen(s) + 1);
	return NVML_SUCCESS;
}

/* ---- init / shutdown ---- */
static nvmlReturn_t v_init(void)
{
	if (S.mode == SHIM_MODE_PASSTHROUGH)
		return NVML_ERROR_DRIVER_NOT_LOADED; /* refused real library */
	atomic_fetch_add(&v_refcount, 1);
	return NVML_SUCCESS;
}

SHIM_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	nvmlReturn_t r;
	if (passthrough())
		FORWARD(r, nvmlInit_v2, (void), ());
	else
		r = v_init();
	LOGR(r, "", "nvmlInit_v2()");
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlInit(void)
{
	nvmlReturn_t r;
	if (passthrough())
		FORWARD(r, nvmlInit, (void), ());
	else
		r = v_init();
	LOGR(r, "", "nvmlInit()");
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
	nvmlReturn_t r;
	if (passthrough())
		FORWARD(r, nvmlInitWithFlags, (unsigned int), (flags));
	else
		r = v_init(); /* flags (e.g. NO_GPUS) change nothing here */
	LOGR(r, "", "nvmlInitWithFlags(%u)", flags);
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlShutdown(void)
{
	nvmlReturn_t r;
	if (passthrough())
		FORWARD(r, nvmlShutdown, (void), ());
	else if ((r = ready()) == NVML_SUCCESS)
		atomic_fetch_sub(&v_refcount, 1);
	LOGR(r, "", "nvmlShutdown()");
	return r;
}

/* ---- system queries ---- */
SHIM_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int len)
{
	nvmlReturn_t r;
	char out[64] = "";
	if (passthrough())
		FORWARD(r, nvmlSystemGetDriverVersion, (char *, unsigned int), (version, len));
	else if ((r = ready()) == NVML_SUCCESS)
		r = put_str(version, len, S.dev.driver_version);
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " version=%.40s", version);
	LOGR(r, out, "nvmlSystemGetDriverVersion(%u)", len);
	return r;
}

static nvmlReturn_t v_cuda_version(int *v)
{
	nvmlReturn_t r = ready();
	if (r == NVML_SUCCESS && !v)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (r == NVML_SUCCESS)
		*v = S.dev.driver_version_cuda;
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v)
{
	nvmlReturn_t r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, nvmlSystemGetCudaDriverVersion, (int *), (v));
	else
		r = v_cuda_version(v);
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " version=%d", *v);
	LOGR(r, out, "nvmlSystemGetCudaDriverVersion()");
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
	nvmlReturn_t r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, nvmlSystemGetCudaDriverVersion_v2, (int *), (v));
	else
		r = v_cuda_version(v);
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " version=%d", *v);
	LOGR(r, out, "nvmlSystemGetCudaDriverVersion_v2()");
	return r;
}

/* ---- devices ---- */
static nvmlReturn_t v_count(unsigned int *c)
{
	nvmlReturn_t r = ready();
	if (r == NVML_SUCCESS && !c)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (r == NVML_SUCCESS)
		*c = (unsigned)S.dev.count;
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *c)
{
	nvmlReturn_t r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, nvmlDeviceGetCount_v2, (unsigned int *), (c));
	else
		r = v_count(c);
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " count=%u", *c);
	LOGR(r, out, "nvmlDeviceGetCount_v2()");
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *c)
{
	nvmlReturn_t r;
	char out[32] = "";
	if (passthrough())
		FORWARD(r, nvmlDeviceGetCount, (unsigned int *), (c));
	else
		r = v_count(c);
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " count=%u", *c);
	LOGR(r, out, "nvmlDeviceGetCount()");
	return r;
}

static nvmlReturn_t v_handle(unsigned int i, nvmlDevice_t *d)
{
	nvmlReturn_t r = ready();
	if (r == NVML_SUCCESS && (!d || i >= (unsigned)S.dev.count))
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (r == NVML_SUCCESS)
		*d = &vdevs[i];
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
	nvmlReturn_t r;
	if (passthrough())
		FORWARD(r, nvmlDeviceGetHandleByIndex_v2, (unsigned int, nvmlDevice_t *), (i, d));
	else
		r = v_handle(i, d);
	LOGR(r, "", "nvmlDeviceGetHandleByIndex_v2(%u)", i);
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int i, nvmlDevice_t *d)
{
	nvmlReturn_t r;
	if (passthrough())
		FORWARD(r, nvmlDeviceGetHandleByIndex, (unsigned int, nvmlDevice_t *), (i, d));
	else
		r = v_handle(i, d);
	LOGR(r, "", "nvmlDeviceGetHandleByIndex(%u)", i);
	return r;
}

/*
 * Device queries log the handle's index in virtual mode and the raw handle
 * in passthrough (a real handle means nothing to the shim).
 */
#define DEVARG(d) (S.real ? -2 : dev_index(d))

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len)
{
	nvmlReturn_t r;
	int i;
	char out[128] = "";
	if (passthrough())
		FORWARD(r, nvmlDeviceGetName, (nvmlDevice_t, char *, unsigned int), (d, name, len));
	else if ((r = ready_dev(d, &i)) == NVML_SUCCESS)
		r = put_str(name, len, S.dev.name);
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " name=\"%.96s\"", name);
	LOGR(r, out, "nvmlDeviceGetName(%d, %u)", DEVARG(d), len);
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int len)
{
	nvmlReturn_t r;
	int i;
	char out[96] = "", s[48];
	if (passthrough())
		FORWARD(r, nvmlDeviceGetUUID, (nvmlDevice_t, char *, unsigned int), (d, uuid, len));
	else if ((r = ready_dev(d, &i)) == NVML_SUCCESS) {
		shim_dev_uuid_string(&S.dev, i, s, sizeof s);
		r = put_str(uuid, len, s);
	}
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " uuid=%.64s", uuid);
	LOGR(r, out, "nvmlDeviceGetUUID(%d, %u)", DEVARG(d), len);
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
	nvmlReturn_t r;
	int i;
	char out[96] = "";
	if (passthrough())
		FORWARD(r, nvmlDeviceGetMemoryInfo, (nvmlDevice_t, nvmlMemory_t *), (d, m));
	else if ((r = ready_dev(d, &i)) == NVML_SUCCESS) {
		if (m) /* nothing runs on a virtual device: all memory is free */
			m->total = m->free = S.dev.memory, m->used = 0;
		else
			r = NVML_ERROR_INVALID_ARGUMENT;
	}
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " total=%llu free=%llu used=%llu", m->total, m->free, m->used);
	LOGR(r, out, "nvmlDeviceGetMemoryInfo(%d)", DEVARG(d));
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
	nvmlReturn_t r;
	int i;
	char out[128] = "";
	if (passthrough())
		FORWARD(r, nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t, nvmlMemory_v2_t *), (d, m));
	else if ((r = ready_dev(d, &i)) == NVML_SUCCESS) {
		if (!m)
			r = NVML_ERROR_INVALID_ARGUMENT;
		else if (m->version != nvmlMemory_v2)
			r = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
		else
			m->total = m->free = S.dev.memory, m->reserved = m->used = 0;
	}
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " total=%llu reserved=%llu free=%llu used=%llu",
			 m->total, m->reserved, m->free, m->used);
	LOGR(r, out, "nvmlDeviceGetMemoryInfo_v2(%d)", DEVARG(d));
	return r;
}

SHIM_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p)
{
	nvmlReturn_t r;
	int i;
	char out[80] = "";
	if (passthrough())
		FORWARD(r, nvmlDeviceGetPciInfo_v3, (nvmlDevice_t, nvmlPciInfo_t *), (d, p));
	else if ((r = ready_dev(d, &i)) == NVML_SUCCESS) {
		if (!p) {
			r = NVML_ERROR_INVALID_ARGUMENT;
		} else {
			memset(p, 0, sizeof *p);
			p->domain = S.dev.domain;
			p->bus = shim_dev_bus(&S.dev, i);
			p->device = S.dev.device;
			/* 10de = NVIDIA; 2330/16c1 = an H100 SXM, for realism only */
			p->pciDeviceId = 0x233010deu;
			p->pciSubSystemId = 0x16c110deu;
			snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "%04x:%02x:%02x.%x",
				 p->domain & 0xffff, p->bus, p->device, S.dev.function);
			snprintf(p->busId, sizeof p->busId, "%08x:%02x:%02x.%x",
				 p->domain, p->bus, p->device, S.dev.function);
		}
	}
	if (r == NVML_SUCCESS)
		snprintf(out, sizeof out, " busId=%.32s", p->busId);
	LOGR(r, out, "nvmlDeviceGetPciInfo_v3(%d)", DEVARG(d));
	return r;
}

/* Pure table look-up; forwarded in passthrough so real codes get real text. */
SHIM_EXPORT const char *nvmlErrorString(nvmlReturn_t result)
{
	const char *s = NULL;
	if (passthrough()) {
		const char *(*fn)(nvmlReturn_t) =
			(const char *(*)(nvmlReturn_t))shim_real_sym(&S, "nvmlErrorString");
		if (fn)
			s = fn(result);
	}
	for (size_t i = 0; !s && i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == result)
			s = errs[i].desc;
	if (!s)
		s = "Unknown Error";
	shim_log(&S, "nvmlErrorString(%d) = \"%s\"", result, s);
	return s;
}
