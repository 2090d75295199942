package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ExampleConfig is the configuration that StartServer starts from, relative
// to the repository root.
const ExampleConfig = "config/helpline.example.yaml"

// ErrConfigPath means a dotted configuration path runs through a value that
// is not a mapping.
var ErrConfigPath = errors.New("invalid configuration path")

// LoadExampleConfig parses config/helpline.example.yaml into a tree of
// map[string]any, []any and scalars.
func LoadExampleConfig(t testing.TB) map[string]any {
	t.Helper()

	path := filepath.Join(RepoRoot(t), ExampleConfig)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the example configuration: %v", err)
	}

	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	if cfg == nil {
		t.Fatalf("parsing %s: the file is empty", path)
	}
	return cfg
}

// SetConfig sets the value at a dotted path such as "queue.ring_timeout",
// creating mappings on the way. Use it inside ServerOptions.Mutate.
func SetConfig(cfg map[string]any, path string, value any) error {
	keys := strings.Split(path, ".")
	node := cfg
	for i, key := range keys[:len(keys)-1] {
		child, ok := node[key]
		if !ok {
			next := map[string]any{}
			node[key] = next
			node = next
			continue
		}
		next, ok := child.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: %s is a %T, not a mapping", ErrConfigPath, strings.Join(keys[:i+1], "."), child)
		}
		node = next
	}
	node[keys[len(keys)-1]] = value
	return nil
}

// MustSetConfig is SetConfig that fails the test on an invalid path.
func MustSetConfig(t testing.TB, cfg map[string]any, path string, value any) {
	t.Helper()
	if err := SetConfig(cfg, path, value); err != nil {
		t.Fatalf("setting %s in the server configuration: %v", path, err)
	}
}

// ConfigValue returns the value at a dotted path, or nil when it is absent.
func ConfigValue(cfg map[string]any, path string) any {
	var node any = cfg
	for _, key := range strings.Split(path, ".") {
		mapping, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = mapping[key]
	}
	return node
}

func writeConfig(t testing.TB, cfg map[string]any, path string) {
	t.Helper()

	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("encoding the server configuration: %v", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing the server configuration: %v", err)
	}
}
