// Device records and the server's side of the /info protocol, modelled on
// Ollama 0.16.3 ml/device.go (DeviceInfo and its JSON tags, Compute,
// Driver, NeedsInitValidation, the visible-devices variables of pass 2,
// Compare, PreferredLibrary, GetDevicesFromRunner).
//
// Reproduced: the JSON keys, the 10 ms polling loop with its error texts
// (`runner crashed`, `failed to finish discovery before timeout`,
// `runner error: <body>`, `llamarunner free vram reporting not
// supported`). Compare uses the PCI ID, then ID and library, as 0.16.3
// does; later versions also match Vulkan duplicates by description.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// deviceInfo is ml.DeviceInfo with its JSON tags (the runner's /info body).
type deviceInfo struct {
	ID           string   `json:"id"`
	Library      string   `json:"backend,omitempty"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	FilterID     string   `json:"filter_id,omitempty"`
	Integrated   bool     `json:"integration,omitempty"`
	PCIID        string   `json:"pci_id,omitempty"`
	TotalMemory  uint64   `json:"total_memory"`
	FreeMemory   uint64   `json:"free_memory,omitempty"`
	ComputeMajor int      `json:"ComputeMajor"`
	ComputeMinor int      `json:"ComputeMinor"`
	DriverMajor  int      `json:"driver_major,omitempty"`
	DriverMinor  int      `json:"driver_minor,omitempty"`
	LibraryPath  []string `json:"LibraryPath"`
}

func (d deviceInfo) compute() string {
	if strings.EqualFold(d.Library, "ROCm") {
		return fmt.Sprintf("gfx%x%02x", d.ComputeMajor, d.ComputeMinor)
	}
	return strconv.Itoa(d.ComputeMajor) + "." + strconv.Itoa(d.ComputeMinor)
}

func (d deviceInfo) driver() string {
	return strconv.Itoa(d.DriverMajor) + "." + strconv.Itoa(d.DriverMinor)
}

func (d deviceInfo) libDir() string { return d.LibraryPath[len(d.LibraryPath)-1] }

func (d deviceInfo) needsInitValidation() bool {
	return d.Library == "ROCm" || d.Library == "CUDA"
}

// visibleDevicesEnv is ml.GetVisibleDevicesEnv for one device, filtering
// on: the variable that restricts the child to that device.
func visibleDevicesEnv(d deviceInfo) map[string]string {
	env := map[string]string{}
	id := d.ID
	if d.FilterID != "" {
		id = d.FilterID
	}
	switch d.Library {
	case "ROCm":
		env["ROCR_VISIBLE_DEVICES"] = id
	case "CUDA":
		env["CUDA_VISIBLE_DEVICES"] = id
	case "Vulkan":
		env["GGML_VK_VISIBLE_DEVICES"] = id
	}
	return env
}

const (
	uniqueDevice = iota
	sameBackendDevice
	duplicateDevice
)

func (d deviceInfo) compare(b deviceInfo) int {
	if d.PCIID != b.PCIID {
		return uniqueDevice
	}
	if d.PCIID == "" && (d.ID != b.ID || d.Library != b.Library) {
		return uniqueDevice
	}
	if d.Library == b.Library {
		return sameBackendDevice
	}
	return duplicateDevice
}

func (d deviceInfo) preferredLibrary(deviceInfo) bool {
	return d.Library == "CUDA" || d.Library == "ROCm"
}

func (d deviceInfo) typeString() string {
	if d.Integrated {
		return "iGPU"
	}
	return "discrete"
}

// getDevicesFromRunner is ml.GetDevicesFromRunner: GET /info every 10 ms
// until a reply, the child's death, or the deadline.
func getDevicesFromRunner(ctx context.Context, port int, exited <-chan struct{}) ([]deviceInfo, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, errors.New("failed to finish discovery before timeout")
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/info", port), nil)
		if err != nil {
			return nil, fmt.Errorf("failed to create request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			select {
			case <-exited:
				return nil, errors.New("runner crashed")
			default:
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, errors.New("llamarunner free vram reporting not supported")
		}
		if err != nil {
			logWarn("failed to read response", "error", err)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			logTrace("runner failed to discover free VRAM", "status", resp.StatusCode, "response", string(body))
			return nil, fmt.Errorf("runner error: %s", string(body))
		}
		var devices []deviceInfo
		if err := json.Unmarshal(body, &devices); err != nil {
			logWarn("unmarshal encode response", "error", err)
			continue
		}
		return devices, nil
	}
}
