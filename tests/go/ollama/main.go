// Command ollama is a test fixture for vgpu-run, modelled on Ollama 0.16.3
// (cmd/cmd.go, envconfig/config.go, logutil/logutil.go, ml/path.go,
// discover/runner.go, llm/server.go, runner/ollamarunner/runner.go and
// ml/backend/ggml/ggml/src/ggml.go).
//
// It reproduces what a tracer meets when the real `ollama serve` discovers
// its GPU backends: the LibOllamaPath computation, the glob of
// lib/ollama/*/*ggml-*, the OLLAMA_LLM_LIBRARY / JetPack / Vulkan filter
// chain, one `ollama runner --ollama-engine --port N` child per directory
// (os/exec, so clone(CLONE_VM|CLONE_VFORK) then execve), the environment
// those children get, GET /info polling every 10 ms, SIGKILL after the
// reply, the parallel second pass for CUDA/ROCm devices, the overlap and
// duplicate filters, and the log lines of every step in Ollama's slog text
// format. The runner loads backends through the real ggml loader
// (libggml.v0.5.0.so, dlopened; see ggml.go).
//
// It deliberately omits everything that is not discovery: no model store,
// blob pruning, scheduler, API routes other than GET /, refresh passes,
// Windows and macOS branches, and the Ollama-patched device properties
// (UUID, PCI ID, compute capability, driver version), which the upstream
// ggml build it runs against does not expose.
//
// This file holds the command dispatch, the environment parsing of
// envconfig, LibOllamaPath, and a minimal slog-compatible text logger (Go
// 1.19 has no log/slog).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

const version = "0.16.3"

// Log levels, numbered as slog's; Trace is Ollama's logutil.LevelTrace.
const (
	levelTrace = -8
	levelDebug = -4
	levelInfo  = 0
	levelWarn  = 4
	levelError = 8
)

// envVar is envconfig.Var: surrounding spaces, then quotes, are trimmed.
func envVar(key string) string {
	return strings.Trim(strings.TrimSpace(os.Getenv(key)), "\"'")
}

// envBool is envconfig.Bool: empty is false, anything ParseBool rejects is
// true.
func envBool(key string) bool {
	if s := envVar(key); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return true
		}
		return b
	}
	return false
}

// logLevel is envconfig.LogLevel: OLLAMA_DEBUG=1/true is Debug, an integer
// n is level -4*n (2 is Trace).
func logLevel() int {
	level := levelInfo
	if s := envVar("OLLAMA_DEBUG"); s != "" {
		if b, _ := strconv.ParseBool(s); b {
			level = levelDebug
		} else if i, _ := strconv.ParseInt(s, 10, 64); i != 0 {
			level = int(i * -4)
		}
	}
	return level
}

// levelString is the level as log lines show it: slog.Level.String, with
// Trace printed as TRACE the way logutil's ReplaceAttr does.
func levelString(l int) string {
	if l == levelTrace {
		return "TRACE"
	}
	return slogLevelName(l)
}

// slogLevelName is slog.Level.String (Trace is DEBUG-4), as the
// OLLAMA_DEBUG entry of `server config` shows it.
func slogLevelName(l int) string {
	name := func(base string, off int) string {
		if off == 0 {
			return base
		}
		return fmt.Sprintf("%s%+d", base, off)
	}
	switch {
	case l < levelInfo:
		return name("DEBUG", l-levelDebug)
	case l < levelWarn:
		return name("INFO", l-levelInfo)
	case l < levelError:
		return name("WARN", l-levelWarn)
	default:
		return name("ERROR", l-levelError)
	}
}

// libOllamaPath is ml.LibOllamaPath: computed once at process start from
// the symlink-resolved executable.
var libOllamaPath = func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if eval, err := filepath.EvalSymlinks(exe); err == nil {
		exe = eval
	}
	libPath := filepath.Join(filepath.Dir(exe), "..", "lib", "ollama")
	cwd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for _, p := range []string{
		libPath,
		filepath.Join(filepath.Dir(exe), "build", "lib", "ollama"),
		filepath.Join(cwd, "build", "lib", "ollama"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Dir(exe)
}()

// group is an attribute value that slog inlines with its key as prefix
// (an empty key adds no prefix), like slog.GroupValue.
type group []interface{}

var (
	logMu    sync.Mutex
	minLevel = logLevel()
)

func logAt(level int, msg string, args ...interface{}) {
	if level < minLevel {
		return
	}
	source := "?:0"
	if _, file, line, ok := runtime.Caller(2); ok {
		source = filepath.Base(file) + ":" + strconv.Itoa(line)
	}
	var b strings.Builder
	b.WriteString("time=" + time.Now().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString(" level=" + levelString(level))
	b.WriteString(" source=" + source)
	b.WriteString(" msg=" + quote(msg))
	appendAttrs(&b, "", args)
	b.WriteByte('\n')
	logMu.Lock()
	os.Stderr.WriteString(b.String())
	logMu.Unlock()
}

func appendAttrs(b *strings.Builder, prefix string, args []interface{}) {
	for i := 0; i+1 < len(args); i += 2 {
		key, _ := args[i].(string)
		if g, ok := args[i+1].(group); ok {
			p := prefix
			if key != "" {
				p += key + "."
			}
			appendAttrs(b, p, g)
			continue
		}
		b.WriteString(" " + quote(prefix+key) + "=" + quote(formatValue(args[i+1])))
	}
}

// formatValue follows slog's text handler: durations and errors by their
// String/Error method, everything else with %+v.
func formatValue(v interface{}) string {
	switch x := v.(type) {
	case string:
		return x
	case time.Duration:
		return x.String()
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprintf("%+v", v)
}

// quote quotes s when slog's text handler would.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f {
				return strconv.Quote(s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
		i += size
	}
	return s
}

func logTrace(msg string, args ...interface{}) { logAt(levelTrace, msg, args...) }
func logDebug(msg string, args ...interface{}) { logAt(levelDebug, msg, args...) }
func logInfo(msg string, args ...interface{})  { logAt(levelInfo, msg, args...) }
func logWarn(msg string, args ...interface{})  { logAt(levelWarn, msg, args...) }
func logError(msg string, args ...interface{}) { logAt(levelError, msg, args...) }

func usage() {
	fmt.Fprintln(os.Stderr, "Usage: ollama serve | ollama runner --ollama-engine --port N | ollama --version")
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(serve())
	case "runner":
		os.Exit(runnerMain(os.Args[2:]))
	case "--version", "-v", "version":
		fmt.Printf("ollama version is %s\n", version)
	default:
		usage()
	}
}
