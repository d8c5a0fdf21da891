// Server-side GPU discovery of the fixture, modelled on Ollama 0.16.3
// discover/runner.go (GPUDevices, filterOverlapByLibrary,
// bootstrapDevices, overrideWarnings) and discover/gpu.go (cudaJetpack);
// device.go holds the ml/device.go part.
//
// Reproduced: the glob, the map of candidate directories iterated in Go's
// random order, the filter chain with its log lines, sequential pass 1
// with a 30 s budget per directory, the parallel pass 2 for CUDA/ROCm
// devices sharing one 30 s budget, the overlap filter with its
// never-reset anyMissing quirk, the renumbering of numeric IDs, the
// duplicate-PCI drop, and the reset of libDirs. Omitted: the refresh path
// used after bootstrap, and the Windows-only incompatible-library check.
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// libDirs is discover.libDirs: the candidate directories, then, after
// bootstrap, those of the surviving devices.
var libDirs map[string]struct{}

// probeTimeout is the pass-1 budget per directory and the shared pass-2
// budget (30 s in Ollama). OLLAMA_FIXTURE_PROBE_TIMEOUT (a Go duration)
// shortens it for tests; real Ollama has no such knob.
func probeTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("OLLAMA_FIXTURE_PROBE_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// gpuDevices is discover.GPUDevices at bootstrap.
func gpuDevices(ctx context.Context) []deviceInfo {
	start := time.Now()
	defer func() { logDebug("GPU bootstrap discovery took", "duration", time.Since(start)) }()

	libDirs = map[string]struct{}{}
	exe, err := os.Executable()
	if err != nil {
		logError("unable to lookup executable path", "error", err)
		return nil
	}
	if eval, err := filepath.EvalSymlinks(exe); err == nil {
		exe = eval
	}
	files, err := filepath.Glob(filepath.Join(libOllamaPath, "*", "*ggml-*"))
	if err != nil {
		logDebug("unable to lookup runner library directories", "error", err)
	}
	for _, file := range files {
		libDirs[filepath.Dir(file)] = struct{}{}
	}
	if len(libDirs) == 0 {
		libDirs[""] = struct{}{}
	}

	logInfo("discovering available GPUs...")
	overrideWarnings()
	requested := envVar("OLLAMA_LLM_LIBRARY")
	jetpack := cudaJetpack()

	var devices []deviceInfo
	for dir := range libDirs {
		var dirs []string
		if dir != "" {
			if requested != "" && filepath.Base(dir) != requested {
				logDebug("skipping available library at user's request", "requested", requested, "libDir", dir)
				continue
			} else if jetpack != "" && filepath.Base(dir) != "cuda_"+jetpack {
				continue
			} else if jetpack == "" && strings.Contains(filepath.Base(dir), "cuda_jetpack") {
				logDebug("jetpack not detected (set JETSON_JETPACK or OLLAMA_LLM_LIBRARY to override), skipping", "libDir", dir)
				continue
			} else if !envBool("OLLAMA_VULKAN") && strings.Contains(filepath.Base(dir), "vulkan") {
				logInfo("experimental Vulkan support disabled.  To enable, set OLLAMA_VULKAN=1")
				continue
			}
			dirs = []string{libOllamaPath, dir}
		} else {
			dirs = []string{libOllamaPath}
		}
		ctx1, cancel := context.WithTimeout(ctx, probeTimeout())
		devices = append(devices, bootstrapDevices(ctx1, dirs, nil)...)
		cancel()
	}

	// Pass 2: deeper initialisation of CUDA/ROCm devices, in parallel.
	logDebug("evaluating which, if any, devices to filter out", "initial_count", len(devices))
	ctx2, cancel := context.WithTimeout(ctx, probeTimeout())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	needsDelete := make([]bool, len(devices))
	supported := map[string]map[string]map[string]int{}
	addSupported := func(i int) {
		mu.Lock()
		defer mu.Unlock()
		lib, dir := devices[i].Library, devices[i].libDir()
		if supported[lib] == nil {
			supported[lib] = map[string]map[string]int{}
		}
		if supported[lib][dir] == nil {
			supported[lib][dir] = map[string]int{}
		}
		supported[lib][dir][devices[i].ID] = i
	}
	for i := range devices {
		if !devices[i].needsInitValidation() {
			addSupported(i)
			continue
		}
		logDebug("verifying if device is supported", "library", devices[i].libDir(), "description", devices[i].Description, "compute", devices[i].compute(), "id", devices[i].ID, "pci_id", devices[i].PCIID)
		extra := visibleDevicesEnv(devices[i])
		extra["GGML_CUDA_INIT"] = "1"
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if len(bootstrapDevices(ctx2, devices[i].LibraryPath, extra)) == 0 {
				logDebug("filtering device which didn't fully initialize", "id", devices[i].ID, "libdir", devices[i].libDir(), "pci_id", devices[i].PCIID, "library", devices[i].Library)
				needsDelete[i] = true
			} else {
				addSupported(i)
			}
		}(i)
	}
	wg.Wait()
	logTrace("supported GPU library combinations before filtering", "supported", supported)

	filterOverlapByLibrary(supported, needsDelete)

	postFilteredID := map[string]int{}
	for i := 0; i < len(needsDelete); i++ {
		if needsDelete[i] {
			logTrace("removing unsupported or overlapping GPU combination", "libDir", devices[i].libDir(), "description", devices[i].Description, "compute", devices[i].compute(), "pci_id", devices[i].PCIID)
			devices = append(devices[:i], devices[i+1:]...)
			needsDelete = append(needsDelete[:i], needsDelete[i+1:]...)
			i--
			continue
		}
		if _, err := strconv.Atoi(devices[i].ID); err == nil {
			logDebug("adjusting filtering IDs", "FilterID", devices[i].ID, "new_ID", strconv.Itoa(postFilteredID[devices[i].Library]))
			devices[i].FilterID = devices[i].ID
			devices[i].ID = strconv.Itoa(postFilteredID[devices[i].Library])
		}
		postFilteredID[devices[i].Library]++
	}

	// Drop devices seen through two libraries, preferring CUDA/ROCm.
	for i := 0; i < len(devices); i++ {
		for j := i + 1; j < len(devices); j++ {
			switch devices[i].compare(devices[j]) {
			case sameBackendDevice:
				devices = append(devices[:j], devices[j+1:]...)
				j--
			case duplicateDevice:
				dropped := devices[i]
				if devices[i].preferredLibrary(devices[j]) {
					dropped = devices[j]
				} else {
					devices[i] = devices[j]
				}
				devices = append(devices[:j], devices[j+1:]...)
				j--
				logDebug("dropping duplicate device", "id", dropped.ID, "library", dropped.Library, "compute", dropped.compute(), "name", dropped.Name, "description", dropped.Description, "libdirs", strings.Join(dropped.LibraryPath, ","), "driver", dropped.driver(), "pci_id", dropped.PCIID, "type", dropped.typeString(), "total", humanBytes2(dropped.TotalMemory), "available", humanBytes2(dropped.FreeMemory))
			}
		}
	}

	// Only the directories of surviving devices are used again (refreshes
	// and model loads, which the fixture does not implement).
	libDirs = map[string]struct{}{}
	for _, dev := range devices {
		if dir := dev.libDir(); dir != libOllamaPath {
			libDirs[dir] = struct{}{}
		}
	}
	if len(libDirs) == 0 {
		libDirs[""] = struct{}{}
	}
	return devices
}

// filterOverlapByLibrary keeps, per library, the "newest" directory, with
// Ollama's quirk: anyMissing is never reset, so one mismatch makes the
// loop end on the lexically lowest directory.
func filterOverlapByLibrary(supported map[string]map[string]map[string]int, needsDelete []bool) {
	for _, byLibDirs := range supported {
		libDirs := make([]string, 0, len(byLibDirs))
		for libDir := range byLibDirs {
			libDirs = append(libDirs, libDir)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(libDirs)))
		anyMissing := false
		var newest string
		for _, newest = range libDirs {
			for _, libDir := range libDirs {
				if libDir == newest {
					continue
				}
				if len(byLibDirs[newest]) != len(byLibDirs[libDir]) {
					anyMissing = true
					break
				}
				for dev := range byLibDirs[newest] {
					if _, found := byLibDirs[libDir][dev]; !found {
						anyMissing = true
						break
					}
				}
			}
			if !anyMissing {
				break
			}
		}
		for _, libDir := range libDirs {
			if libDir == newest {
				continue
			}
			for dev, i := range byLibDirs[libDir] {
				if _, found := byLibDirs[newest][dev]; found {
					logDebug("filtering device with overlapping libraries", "id", dev, "library", libDir, "delete_index", i, "kept_library", newest)
					needsDelete[i] = true
				}
			}
		}
	}
}

// bootstrapDevices starts one runner child, asks it for its devices and
// SIGKILLs it, whatever the outcome.
func bootstrapDevices(ctx context.Context, libDirs []string, extraEnvs map[string]string) []deviceInfo {
	var out io.Writer
	if minLevel == levelTrace {
		out = os.Stderr
	}
	start := time.Now()
	defer func() {
		logDebug("bootstrap discovery took", "duration", time.Since(start), "OLLAMA_LIBRARY_PATH", libDirs, "extra_envs", extraEnvs)
	}()
	logTrace("starting runner for device discovery", "libDirs", libDirs, "extraEnvs", extraEnvs)
	cmd, port, err := startRunner(libDirs, out, extraEnvs)
	if err != nil {
		logDebug("failed to start runner to discovery GPUs", "error", err)
		return nil
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	defer cmd.Process.Kill()

	devices, err := getDevicesFromRunner(ctx, port, exited)
	if err != nil {
		code := -1
		select {
		case <-exited:
			code = cmd.ProcessState.ExitCode()
		default:
		}
		if code >= 0 {
			logTrace("runner exited", "OLLAMA_LIBRARY_PATH", libDirs, "extra_envs", extraEnvs, "code", code)
		} else {
			logInfo("failure during GPU discovery", "OLLAMA_LIBRARY_PATH", libDirs, "extra_envs", extraEnvs, "error", err)
		}
	}
	logTrace("runner enumerated devices", "OLLAMA_LIBRARY_PATH", libDirs, "devices", devices)
	return devices
}

func overrideWarnings() {
	anyFound := false
	for _, k := range []string{"CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GGML_VK_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "HSA_OVERRIDE_GFX_VERSION"} {
		if v := envVar(k); v != "" {
			anyFound = true
			logWarn("user overrode visible devices", k, v)
		}
	}
	if anyFound {
		logWarn("if GPUs are not correctly discovered, unset and try again")
	}
}

// cudaJetpack detects a Jetson, on linux/arm64 only.
func cudaJetpack() string {
	if runtime.GOARCH != "arm64" || runtime.GOOS != "linux" {
		return ""
	}
	if tegra := os.Getenv("JETSON_JETPACK"); tegra != "" {
		return "jetpack" + strings.Split(tegra, ".")[0]
	}
	data, err := os.ReadFile("/etc/nv_tegra_release")
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(` R(\d+) `).FindSubmatch(data)
	if len(m) != 2 {
		logInfo("Unexpected format for /etc/nv_tegra_release.  Set JETSON_JETPACK to select version")
		return ""
	}
	if l4t, err := strconv.Atoi(string(m[1])); err == nil {
		switch l4t {
		case 35:
			return "jetpack5"
		case 36:
			return "jetpack6"
		default:
			logDebug("unrecognized L4T version", "nv_tegra_release", string(data))
		}
	}
	return ""
}
