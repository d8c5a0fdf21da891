// The `ollama runner --ollama-engine --port N` side of the fixture,
// modelled on Ollama 0.16.3 runner/ollamarunner/runner.go (Execute, info),
// ml/backend/ggml/ggml/src/ggml.go (OnceLoad) and ml/backend/ggml/ggml.go
// (BackendDevices).
//
// Reproduced: the flag parsing, `starting ollama engine`, the HTTP server
// on 127.0.0.1:N, and GET /info doing what the first /info of a bootstrap
// runner does: write a dummy GGUF to os.CreateTemp("", "*.bin"), read it
// back, load the backends once (OLLAMA_LIBRARY_PATH split, made absolute,
// kept only if it is Dir(exe) or contains lib/ollama, de-duplicated, each
// passed to the real ggml_backend_load_all_from_path in order), remove
// the file, and answer the non-CPU devices as JSON with LibraryPath set to
// the kept directories. The runner then serves until it is killed.
// Omitted: model loading, completion and every other route; the device
// properties that only Ollama's patched ggml reports (UUID, PCI ID,
// compute capability, driver version, integrated flag), so the ID is the
// device's index within its backend, as Ollama uses for numeric IDs.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

type runnerServer struct {
	loadMu      sync.Mutex
	registryErr error
	loaded      bool
	libPaths    []string
}

func runnerMain(args []string) int {
	if len(args) > 0 && args[0] == "--ollama-engine" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("runner", flag.ExitOnError)
	fs.String("model", "", "Path to model binary file")
	port := fs.Int("port", 8080, "Port to expose the server on")
	fs.Bool("verbose", false, "verbose output (default: disabled)")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	logInfo("starting ollama engine")

	// Ollama has the registry linked in; the fixture loads it before it
	// listens, so a failure is reported by /info like a backend failure.
	s := &runnerServer{registryErr: ggmlOpen()}

	addr := "127.0.0.1:" + strconv.Itoa(*port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("Listen error:", err)
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	defer ln.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/info", s.info)
	logInfo("Server listening on " + addr)
	if err := (&http.Server{Handler: mux}).Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "server error: %v\n", err)
		return 1
	}
	return 0
}

func (s *runnerServer) info(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	w.Header().Set("Content-Type", "application/json")

	start := time.Now()
	f, err := os.CreateTemp("", "*.bin")
	if err != nil {
		http.Error(w, fmt.Sprintf("failed to initialize backend: %v", err), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	defer os.Remove(f.Name())
	if err := writeDummyGGUF(f); err != nil {
		http.Error(w, fmt.Sprintf("failed to initialize backend: %v", err), http.StatusInternalServerError)
		return
	}
	if _, err := os.ReadFile(f.Name()); err != nil {
		http.Error(w, fmt.Sprintf("failed to initialize backend: %v", err), http.StatusInternalServerError)
		return
	}
	if s.registryErr != nil {
		http.Error(w, fmt.Sprintf("failed to initialize backend: %v", s.registryErr), http.StatusInternalServerError)
		return
	}
	if !s.loaded {
		s.libPaths = onceLoad()
		s.loaded = true
	}
	logDebug("dummy model load took", "duration", time.Since(start))

	devs := []deviceInfo{}
	index := map[string]int{}
	for _, d := range ggmlDevices() {
		if d.backend == "CPU" || d.backend == "BLAS" {
			continue
		}
		lib := d.backend
		switch d.backend {
		case "HIP", "ROCm":
			lib = "ROCm"
		}
		devs = append(devs, deviceInfo{
			ID:          strconv.Itoa(index[lib]),
			Library:     lib,
			Name:        d.name,
			Description: d.description,
			TotalMemory: d.total,
			FreeMemory:  d.free,
			LibraryPath: s.libPaths,
		})
		index[lib]++
	}
	if err := json.NewEncoder(w).Encode(devs); err != nil {
		http.Error(w, fmt.Sprintf("failed to encode response: %v", err), http.StatusInternalServerError)
	}
}

// onceLoad is ggml.OnceLoad: it returns the directories it loaded from.
func onceLoad() []string {
	exe, err := os.Executable()
	if err != nil {
		logWarn("failed to get executable path", "error", err)
		exe = "."
	}
	value := filepath.Join(filepath.Dir(exe), "..", "lib", "ollama")
	paths, ok := os.LookupEnv("OLLAMA_LIBRARY_PATH")
	if !ok {
		logDebug("OLLAMA_LIBRARY_PATH not set, falling back to default", "search", value)
		paths = value
	}
	var kept []string
	visited := map[string]struct{}{}
	for _, path := range filepath.SplitList(paths) {
		abspath, err := filepath.Abs(path)
		if err != nil {
			logError("failed to get absolute path", "error", err)
			continue
		}
		if abspath != filepath.Dir(exe) && !strings.Contains(abspath, filepath.FromSlash("lib/ollama")) {
			logDebug("skipping path which is not part of ollama", "path", abspath)
			continue
		}
		if _, ok := visited[abspath]; !ok {
			logDebug("ggml backend load all from path", "path", abspath)
			ggmlLoadAllFromPath(abspath)
			visited[abspath] = struct{}{}
			kept = append(kept, abspath)
		}
	}
	logInfo("system", "", ggmlSystem())
	return kept
}

// writeDummyGGUF writes the GGUF v3 file of the bootstrap /info: no
// tensors, general.architecture=llama, tokenizer.ggml.model=gpt2.
func writeDummyGGUF(f *os.File) error {
	le := binary.LittleEndian
	var b []byte
	str := func(s string) {
		b = le.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, "GGUF"...)
	b = le.AppendUint32(b, 3)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint64(b, 2)
	for _, kv := range [][2]string{{"general.architecture", "llama"}, {"tokenizer.ggml.model", "gpt2"}} {
		str(kv[0])
		b = le.AppendUint32(b, 8) // GGUF_TYPE_STRING
		str(kv[1])
	}
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	_, err := f.Write(b)
	return err
}
