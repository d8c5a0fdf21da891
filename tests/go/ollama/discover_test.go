// Tests of the fixture's pure discovery logic: the overlap filter of
// Ollama 0.16.3 discover/runner.go (including the "partial overlap pick
// older" case of discover/runner_test.go), the envconfig parsing and the
// slog quoting rules.
package main

import (
	"os"
	"testing"
)

func TestFilterOverlapByLibrary(t *testing.T) {
	for _, tc := range []struct {
		name      string
		supported map[string]map[string]map[string]int
		want      []bool
	}{
		{
			name: "same devices keep newest",
			supported: map[string]map[string]map[string]int{"CUDA": {
				"/l/cuda_v12": {"GPU-a": 0},
				"/l/cuda_v13": {"GPU-a": 1},
			}},
			want: []bool{true, false},
		},
		{
			name: "partial overlap pick older",
			supported: map[string]map[string]map[string]int{"CUDA": {
				"/l/cuda_v12": {"GPU-a": 0, "GPU-b": 1},
				"/l/cuda_v13": {"GPU-a": 2},
			}},
			want: []bool{false, false, true},
		},
		{
			name: "libraries are independent",
			supported: map[string]map[string]map[string]int{
				"CUDA":   {"/l/cuda_v13": {"GPU-a": 0}},
				"Vulkan": {"/l/vulkan": {"0": 1}},
			},
			want: []bool{false, false},
		},
	} {
		got := make([]bool, len(tc.want))
		filterOverlapByLibrary(tc.supported, got)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: needsDelete = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func TestEnvParsing(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"", false}, {"0", false}, {"false", false}, {"1", true}, {"yes", true}, {" 'true' ", true}} {
		os.Setenv("OLLAMA_VULKAN", tc.value)
		if got := envBool("OLLAMA_VULKAN"); got != tc.want {
			t.Errorf("OLLAMA_VULKAN=%q: got %v, want %v", tc.value, got, tc.want)
		}
	}
	os.Setenv("OLLAMA_LLM_LIBRARY", " \"cuda_v12\" ")
	if got := envVar("OLLAMA_LLM_LIBRARY"); got != "cuda_v12" {
		t.Errorf("OLLAMA_LLM_LIBRARY trimmed to %q", got)
	}
	os.Unsetenv("OLLAMA_VULKAN")
	os.Unsetenv("OLLAMA_LLM_LIBRARY")
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":               `""`,
		"cpu":            "cpu",
		"a b":            `"a b"`,
		"k=v":            `"k=v"`,
		"x\n":            `"x\n"`,
		"map[]":          "map[]",
		"/usr/lib:/opt/": "/usr/lib:/opt/",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
