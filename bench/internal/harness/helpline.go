package harness

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"helpline/e2e"
)

// Helpline server settings that benchmarks share.
const (
	// ExampleConfig is the configuration template, relative to the
	// repository root.
	ExampleConfig = "config/helpline.example.yaml"
	// ReadyLine is the log message helpline writes once it listens.
	ReadyLine = "helpline ready"
	// DefaultRTPPorts is the size of the server's RTP range, as in the
	// example configuration (20000-20999): one even port per call leg, so
	// 500 legs at once.
	DefaultRTPPorts = 1000

	readyTimeout = 60 * time.Second
	stopGrace    = 20 * time.Second
	buildTimeout = 5 * time.Minute
	// drainTimeout keeps the stop at the end of a run short.
	drainTimeout = "2s"
	keyBytes     = 32
)

// envPrefix starts every environment variable that configures helpline.
// Inherited ones are dropped so that the caller's shell cannot change a run.
const envPrefix = "HELPLINE_"

// BuildGo builds the main package pkg (such as "./cmd/helpline") of the
// repository at root into dir and returns the binary's path.
func BuildGo(root, pkg, dir string) (string, error) {
	output := filepath.Join(dir, filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, "go", "build", "-o", output, pkg)
	cmd.Dir = root
	combined, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s failed: %w\n%s", pkg, err, combined)
	}
	return output, nil
}

// HelplineOptions describes one helpline server for a benchmark.
type HelplineOptions struct {
	// Root is the repository root, for the configuration template.
	Root string
	// Binary is the built helpline binary.
	Binary string
	// Dir receives the configuration, the records database and the log.
	Dir string
	// Pinning places the server on its CPU.
	Pinning Pinning
	// RTPPorts is the size of the RTP range. Zero: DefaultRTPPorts.
	RTPPorts int
	// Mutate edits the configuration tree after the ports, folders and
	// logs were set, for example to replace ivr.nodes.
	Mutate func(cfg map[string]any) error
}

// Helpline is a running helpline server.
type Helpline struct {
	*Process
	// SIPAddr is the UDP and TCP SIP address, 127.0.0.1:PORT.
	SIPAddr string
	// APIAddr is the HTTP API address and APIToken its bearer token.
	APIAddr  string
	APIToken string
	// RTP is the server's RTP port range.
	RTP PortRange
	// ConfigPath is the configuration file the server runs with.
	ConfigPath string
}

// StartHelpline writes a configuration from config/helpline.example.yaml
// with free loopback ports, a records database in opts.Dir, JSON logs at
// info level and a random records key, starts `helpline serve` on the
// server CPU and waits for its ready line.
func StartHelpline(ctx context.Context, opts HelplineOptions) (*Helpline, error) {
	h, cfg, err := planHelpline(opts)
	if err != nil {
		return nil, err
	}
	if opts.Mutate != nil {
		if err := opts.Mutate(cfg); err != nil {
			return nil, fmt.Errorf("editing the helpline configuration: %w", err)
		}
	}
	if err := writeYAML(h.ConfigPath, cfg); err != nil {
		return nil, err
	}

	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	cmd := opts.Pinning.ServerCommand(opts.Binary, "serve", "--config", h.ConfigPath)
	cmd.Dir = opts.Dir
	cmd.Env = append(environWithout(envPrefix), "HELPLINE_RECORDS_KEY="+key, "HELPLINE_API_TOKEN="+h.APIToken)

	h.Process, err = StartProcess("helpline", cmd, filepath.Join(opts.Dir, "helpline.log"), ReadyLine)
	if err != nil {
		return nil, err
	}
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := h.WaitReady(readyCtx); err != nil {
		return nil, errors.Join(err, h.Process.Stop(stopGrace))
	}
	return h, nil
}

// Stop ends the server with SIGTERM, and SIGKILL if it does not drain.
func (h *Helpline) Stop() error { return h.Process.Stop(stopGrace) }

// planHelpline picks the ports and fills in the configuration tree.
func planHelpline(opts HelplineOptions) (*Helpline, map[string]any, error) {
	sipPort, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	size := opts.RTPPorts
	if size == 0 {
		size = DefaultRTPPorts
	}
	rtp, err := FreePortRange(size)
	if err != nil {
		return nil, nil, err
	}
	token, err := randomKey()
	if err != nil {
		return nil, nil, err
	}

	h := &Helpline{
		SIPAddr:    net.JoinHostPort(Loopback, strconv.Itoa(sipPort)),
		APIAddr:    net.JoinHostPort(Loopback, strconv.Itoa(apiPort)),
		APIToken:   token,
		RTP:        rtp,
		ConfigPath: filepath.Join(opts.Dir, "helpline.yaml"),
	}
	cfg, err := LoadYAML(filepath.Join(opts.Root, ExampleConfig))
	if err != nil {
		return nil, nil, err
	}
	settings := []struct {
		path  string
		value any
	}{
		{"sip.listen", []any{
			map[string]any{"network": "udp", "address": h.SIPAddr},
			map[string]any{"network": "tcp", "address": h.SIPAddr},
		}},
		{"sip.public_host", Loopback},
		{"rtp.address", Loopback},
		{"rtp.port_min", rtp.Min},
		{"rtp.port_max", rtp.Max},
		{"records.data_dir", filepath.Join(opts.Dir, "data")},
		{"records.key_env", "HELPLINE_RECORDS_KEY"},
		{"records.key_file", ""},
		{"records.allow_demo_key", false},
		{"log.format", "json"},
		{"log.level", "info"},
		{"shutdown.drain_timeout", drainTimeout},
		{"api.listen", h.APIAddr},
		{"api.token_env", "HELPLINE_API_TOKEN"},
		{"api.token", ""},
		{"api.allow_demo_token", false},
	}
	for _, setting := range settings {
		if err := e2e.SetConfig(cfg, setting.path, setting.value); err != nil {
			return nil, nil, err
		}
	}
	return h, cfg, nil
}

// LoadYAML parses a YAML file into a tree of map[string]any, []any and
// scalars.
func LoadYAML(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration template: %w", err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if cfg == nil {
		return nil, fmt.Errorf("parsing %s: the file is empty", path)
	}
	return cfg, nil
}

func writeYAML(path string, cfg map[string]any) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding the helpline configuration: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing the helpline configuration: %w", err)
	}
	return nil
}

func randomKey() (string, error) {
	key := make([]byte, keyBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generating a random key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// environWithout returns the environment without variables whose name
// starts with prefix.
func environWithout(prefix string) []string {
	var env []string
	for _, entry := range os.Environ() {
		if !strings.HasPrefix(entry, prefix) {
			env = append(env, entry)
		}
	}
	return env
}
