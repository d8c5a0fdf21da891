// The `ollama serve` side of the fixture, modelled on Ollama 0.16.3
// server/routes.go (Serve), envconfig/config.go (Host, Values),
// llm/server.go (StartRunner, filteredEnv), discover/types.go (LogDetails)
// and format/bytes.go (HumanBytes2).
//
// Reproduced: the `server config` line, listening before discovery (the
// socket exists but connections wait in the backlog until discovery is
// done, as in Ollama), the runner command line and environment, the
// `inference compute` lines, GET / answering "Ollama is running", and a
// clean exit on SIGINT/SIGTERM. Omitted: the model store and blob pruning,
// the scheduler and every API route but GET /, and a few envconfig
// variables in `server config` that do not bear on discovery.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ollamaHost is envconfig.Host's host:port part.
func ollamaHost() string {
	defaultPort := "11434"
	s := strings.TrimSpace(envVar("OLLAMA_HOST"))
	scheme, hostport, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		hostport = s
	case scheme == "http":
		defaultPort = "80"
	case scheme == "https":
		defaultPort = "443"
	}
	hostport, _, _ = strings.Cut(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = "127.0.0.1", defaultPort
		if ip := net.ParseIP(strings.Trim(hostport, "[]")); ip != nil {
			host = ip.String()
		} else if hostport != "" {
			host = hostport
		}
	}
	if n, err := strconv.ParseInt(port, 10, 32); err != nil || n > 65535 || n < 0 {
		logWarn("invalid port, using default", "port", port, "default", defaultPort)
		port = defaultPort
	}
	return net.JoinHostPort(host, port)
}

// configValues is the discovery-related part of envconfig.Values.
func configValues() map[string]string {
	home, _ := os.UserHomeDir()
	models := envVar("OLLAMA_MODELS")
	if models == "" {
		models = filepath.Join(home, ".ollama", "models")
	}
	m := map[string]string{
		"OLLAMA_DEBUG":           levelString(minLevel),
		"OLLAMA_HOST":            "http://" + ollamaHost(),
		"OLLAMA_LLM_LIBRARY":     envVar("OLLAMA_LLM_LIBRARY"),
		"OLLAMA_VULKAN":          strconv.FormatBool(envBool("OLLAMA_VULKAN")),
		"OLLAMA_MODELS":          models,
		"OLLAMA_NEW_ENGINE":      strconv.FormatBool(envBool("OLLAMA_NEW_ENGINE")),
		"OLLAMA_SCHED_SPREAD":    strconv.FormatBool(envBool("OLLAMA_SCHED_SPREAD")),
		"OLLAMA_FLASH_ATTENTION": strconv.FormatBool(envBool("OLLAMA_FLASH_ATTENTION")),
		"OLLAMA_KV_CACHE_TYPE":   envVar("OLLAMA_KV_CACHE_TYPE"),
	}
	for _, k := range []string{"CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GGML_VK_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "HSA_OVERRIDE_GFX_VERSION", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"} {
		m[k] = envVar(k)
	}
	return m
}

func serve() int {
	logInfo("server config", "env", configValues())
	ln, err := net.Listen("tcp", ollamaHost())
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	logInfo(fmt.Sprintf("Listening on %s (version %s)", ln.Addr(), version))

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "Ollama is running")
	})
	srvr := &http.Server{Handler: mux}

	ctx, done := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		srvr.Close()
		done()
	}()

	gpus := gpuDevices(ctx)
	logDetails(gpus)
	var totalVRAM uint64
	for _, gpu := range gpus {
		totalVRAM += gpu.TotalMemory
	}
	if threshold := uint64(20 << 30); totalVRAM < threshold {
		logInfo("entering low vram mode", "total vram", humanBytes2(totalVRAM), "threshold", humanBytes2(threshold))
	}

	err = srvr.Serve(ln)
	if !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	<-ctx.Done()
	return 0
}

// startRunner is llm.StartRunner without a model: the exe re-executed as
// `runner --ollama-engine --port N`, Ollama's directories first in
// LD_LIBRARY_PATH, OLLAMA_LIBRARY_PATH and extraEnvs replacing existing
// variables whose names match case-insensitively.
func startRunner(gpuLibs []string, out io.Writer, extraEnvs map[string]string) (*exec.Cmd, int, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, 0, fmt.Errorf("unable to lookup executable path: %w", err)
	}
	if eval, err := filepath.EvalSymlinks(exe); err == nil {
		exe = eval
	}
	port := 0
	if a, err := net.ResolveTCPAddr("tcp", "localhost:0"); err == nil {
		if l, err := net.ListenTCP("tcp", a); err == nil {
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
	}
	if port == 0 {
		logDebug("ResolveTCPAddr failed, using random port")
		port = rand.Intn(65535-49152) + 49152
	}
	params := []string{"runner", "--ollama-engine", "--port", strconv.Itoa(port)}

	const pathEnv = "LD_LIBRARY_PATH"
	libraryPaths := append([]string{}, gpuLibs...)
	if libraryPath, ok := os.LookupEnv(pathEnv); ok {
		libraryPaths = append(libraryPaths, filepath.SplitList(libraryPath)...)
	}
	cmd := exec.Command(exe, params...)
	cmd.Env = os.Environ()
	if out != nil {
		cmd.Stdout = out
		cmd.Stderr = out
	}
	pathEnvVal := strings.Join(libraryPaths, string(filepath.ListSeparator))
	ollamaPath := strings.Join(gpuLibs, string(filepath.ListSeparator))
	pathNeeded, ollamaPathNeeded := true, true
	extraDone := map[string]bool{}
	for k := range extraEnvs {
		extraDone[k] = false
	}
	for i := range cmd.Env {
		name := strings.SplitN(cmd.Env[i], "=", 2)[0]
		if strings.EqualFold(name, pathEnv) {
			cmd.Env[i] = pathEnv + "=" + pathEnvVal
			pathNeeded = false
		} else if strings.EqualFold(name, "OLLAMA_LIBRARY_PATH") {
			cmd.Env[i] = "OLLAMA_LIBRARY_PATH=" + ollamaPath
			ollamaPathNeeded = false
		} else {
			for k, v := range extraEnvs {
				if strings.EqualFold(name, k) {
					cmd.Env[i] = k + "=" + v
					extraDone[k] = true
				}
			}
		}
	}
	if pathNeeded {
		cmd.Env = append(cmd.Env, pathEnv+"="+pathEnvVal)
	}
	if ollamaPathNeeded {
		cmd.Env = append(cmd.Env, "OLLAMA_LIBRARY_PATH="+ollamaPath)
	}
	for k, done := range extraDone {
		if !done {
			cmd.Env = append(cmd.Env, k+"="+extraEnvs[k])
		}
	}

	logInfo("starting runner", "cmd", cmd.String())
	logDebug("subprocess", "", filteredEnv(cmd.Env))
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	return cmd, port, nil
}

// filteredEnv is the part of a child's environment the `subprocess` line
// shows.
func filteredEnv(env []string) group {
	var g group
	for _, e := range env {
		key, value, ok := strings.Cut(e, "=")
		if !ok {
			continue
		}
		for _, p := range []string{"OLLAMA_", "CUDA_", "ROCR_", "ROCM_", "HIP_", "GPU_", "HSA_", "GGML_"} {
			if strings.HasPrefix(key, p) {
				g = append(g, key, value)
				break
			}
		}
		if key == "PATH" || key == "LD_LIBRARY_PATH" || key == "DYLD_LIBRARY_PATH" {
			g = append(g, key, value)
		}
	}
	return g
}

// logDetails is discover.LogDetails.
func logDetails(devices []deviceInfo) {
	for _, dev := range devices {
		var libs []string
		for _, dir := range dev.LibraryPath {
			if strings.Contains(dir, filepath.Join("lib", "ollama")) {
				libs = append(libs, filepath.Base(dir))
			}
		}
		logInfo("inference compute", "id", dev.ID, "library", dev.Library, "compute", dev.compute(), "name", dev.Name, "description", dev.Description, "libdirs", strings.Join(libs, ","), "driver", dev.driver(), "pci_id", dev.PCIID, "type", dev.typeString(), "total", humanBytes2(dev.TotalMemory), "available", humanBytes2(dev.FreeMemory))
	}
	if len(devices) == 0 {
		total, free := cpuMem()
		logInfo("inference compute", "id", "cpu", "library", "cpu", "compute", "", "name", "cpu", "description", "cpu", "libdirs", "ollama", "driver", "", "pci_id", "", "type", "", "total", humanBytes2(total), "available", humanBytes2(free))
	}
}

// cpuMem reads MemTotal and MemAvailable from /proc/meminfo, as
// discover.GetCPUMem does on Linux.
func cpuMem() (total, free uint64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = v * 1024
		case "MemAvailable:":
			free = v * 1024
		}
	}
	return total, free
}

func humanBytes2(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	default:
		return fmt.Sprintf("%d B", b)
	}
}
