// The fixture's binding to the real ggml backend registry, modelled on
// Ollama 0.16.3 ml/backend/ggml/ggml/src/ggml.go (OnceLoad, the `system`
// line) and ml/backend/ggml/ggml.go (BackendDevices).
//
// Ollama compiles the registry (ggml-backend-reg.cpp) into its binary;
// the fixture instead dlopens LibOllamaPath/libggml.v0.5.0.so with
// RTLD_NOW|RTLD_GLOBAL and calls the registry through function pointers
// found with dlsym, so no ggml header or import library is needed at build
// time. Every handle is opaque: the fixture never reads a ggml struct
// except the public {name, value} feature pairs, and never relies on the
// numbering of enum ggml_backend_dev_type. Devices are classified by
// their backend's registry name instead ("CPU" and "BLAS" are not GPUs).
// The registry has no built-in CPU backend here, unlike Ollama's.
package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stddef.h>

typedef void *dev_t_;
typedef void *reg_t_;
struct feature_ { const char *name; const char *value; };

static void *fn_load_all, *fn_dev_count, *fn_dev_get, *fn_dev_name,
	*fn_dev_description, *fn_dev_memory, *fn_dev_reg, *fn_reg_name,
	*fn_reg_proc;

static const char *sym_names[] = {
	"ggml_backend_load_all_from_path", "ggml_backend_dev_count",
	"ggml_backend_dev_get", "ggml_backend_dev_name",
	"ggml_backend_dev_description", "ggml_backend_dev_memory",
	"ggml_backend_dev_backend_reg", "ggml_backend_reg_name",
	"ggml_backend_reg_get_proc_address",
};

// ggml_open dlopens the registry and resolves every function; it returns
// NULL or the dlerror text.
static const char *ggml_open(const char *path) {
	void **slots[] = { &fn_load_all, &fn_dev_count, &fn_dev_get, &fn_dev_name,
		&fn_dev_description, &fn_dev_memory, &fn_dev_reg, &fn_reg_name,
		&fn_reg_proc };
	void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL)
		return dlerror();
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		*slots[i] = dlsym(h, sym_names[i]);
		if (*slots[i] == NULL)
			return dlerror();
	}
	return NULL;
}

static void load_all_from_path(const char *dir) {
	((void (*)(const char *))fn_load_all)(dir);
}
static size_t dev_count(void) { return ((size_t (*)(void))fn_dev_count)(); }
static dev_t_ dev_get(size_t i) { return ((dev_t_ (*)(size_t))fn_dev_get)(i); }
static const char *dev_name(dev_t_ d) {
	return ((const char *(*)(dev_t_))fn_dev_name)(d);
}
static const char *dev_description(dev_t_ d) {
	return ((const char *(*)(dev_t_))fn_dev_description)(d);
}
static void dev_memory(dev_t_ d, size_t *free, size_t *total) {
	((void (*)(dev_t_, size_t *, size_t *))fn_dev_memory)(d, free, total);
}
static reg_t_ dev_reg(dev_t_ d) { return ((reg_t_ (*)(dev_t_))fn_dev_reg)(d); }
static const char *reg_name(reg_t_ r) {
	return ((const char *(*)(reg_t_))fn_reg_name)(r);
}
static struct feature_ *reg_features(reg_t_ r) {
	void *fn = ((void *(*)(reg_t_, const char *))fn_reg_proc)(r, "ggml_backend_get_features");
	if (fn == NULL)
		return NULL;
	return ((struct feature_ *(*)(reg_t_))fn)(r);
}
static const char *feature_name(struct feature_ *f, size_t i) { return f[i].name; }
static const char *feature_value(struct feature_ *f, size_t i) { return f[i].value; }
*/
import "C"

import (
	"errors"
	"path/filepath"
	"strconv"
	"unsafe"
)

// registryName is the ggml registry library of the npm builds.
const registryName = "libggml.v0.5.0.so"

// ggmlOpen loads the registry from LibOllamaPath.
func ggmlOpen() error {
	cpath := C.CString(filepath.Join(libOllamaPath, registryName))
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.ggml_open(cpath); msg != nil {
		return errors.New(C.GoString(msg))
	}
	return nil
}

// ggmlLoadAllFromPath runs the real loader on one directory; it prints its
// own `load_backend: loaded ...` lines.
func ggmlLoadAllFromPath(dir string) {
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	C.load_all_from_path(cdir)
}

// ggmlDevice is what the fixture reads of one registered device.
type ggmlDevice struct {
	backend     string
	name        string
	description string
	free, total uint64
}

func ggmlDevices() []ggmlDevice {
	var devs []ggmlDevice
	n := C.dev_count()
	for i := C.size_t(0); i < n; i++ {
		d := C.dev_get(i)
		var free, total C.size_t
		C.dev_memory(d, &free, &total)
		devs = append(devs, ggmlDevice{
			backend:     C.GoString(C.reg_name(C.dev_reg(d))),
			name:        C.GoString(C.dev_name(d)),
			description: C.GoString(C.dev_description(d)),
			free:        uint64(free),
			total:       uint64(total),
		})
	}
	return devs
}

// ggmlSystem is the value of Ollama's `system` line: the features of the
// backend of every registered device, as <backend>.<n>.<feature>=<value>.
func ggmlSystem() group {
	var g group
	names := map[string]int{}
	n := C.dev_count()
	for i := C.size_t(0); i < n; i++ {
		r := C.dev_reg(C.dev_get(i))
		f := C.reg_features(r)
		if f == nil {
			continue
		}
		var fs group
		for j := C.size_t(0); C.feature_name(f, j) != nil; j++ {
			fs = append(fs, C.GoString(C.feature_name(f, j)), C.GoString(C.feature_value(f, j)))
		}
		name := C.GoString(C.reg_name(r))
		g = append(g, name+"."+strconv.Itoa(names[name]), fs)
		names[name]++
	}
	return append(g, "compiler", "cgo(gcc)")
}
