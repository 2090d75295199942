package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// remove is the setPath value that deletes a key.
type removeMarker struct{}

var remove = removeMarker{}

// exampleTree returns the example configuration as a YAML tree to edit.
func exampleTree(t *testing.T) map[string]any {
	t.Helper()
	var tree map[string]any
	if err := yaml.Unmarshal(Example(), &tree); err != nil {
		t.Fatalf("parsing the example: %v", err)
	}
	return tree
}

// setPath sets or, with remove, deletes the value at a dotted path in a
// YAML tree. List indexes are numbers; missing mappings are created.
func setPath(t *testing.T, tree map[string]any, path string, value any) {
	t.Helper()
	parts := strings.Split(path, ".")
	var node any = tree
	for i, part := range parts {
		last := i == len(parts)-1
		switch container := node.(type) {
		case map[string]any:
			if last {
				if value == remove {
					delete(container, part)
				} else {
					container[part] = value
				}
				return
			}
			if _, ok := container[part]; !ok {
				container[part] = map[string]any{}
			}
			node = container[part]
		case []any:
			index, err := strconv.Atoi(part)
			if err != nil || index >= len(container) {
				t.Fatalf("setPath %s: %q is not an index of a list of %d", path, part, len(container))
			}
			if last {
				container[index] = value
				return
			}
			node = container[index]
		default:
			t.Fatalf("setPath %s: %q is below a scalar", path, part)
		}
	}
}

// writeTree writes a YAML tree to a file in a temporary folder.
func writeTree(t *testing.T, tree map[string]any) string {
	t.Helper()
	data, err := yaml.Marshal(tree)
	if err != nil {
		t.Fatalf("writing YAML: %v", err)
	}
	return writeConfig(t, string(data))
}

// writeConfig writes YAML text to a file in a temporary folder.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("writing config: %v", err)
	}
	return path
}

// loadTree writes tree to a file and loads it with environ.
func loadTree(t *testing.T, tree map[string]any, environ []string) (*Config, error) {
	t.Helper()
	return Load(writeTree(t, tree), environ)
}

// mustLoad loads path and fails the test on any error.
func mustLoad(t *testing.T, path string, environ []string) *Config {
	t.Helper()
	cfg, err := Load(path, environ)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	return cfg
}

// validationProblems returns the problems of err, failing the test unless
// err is a *ValidationError that wraps ErrInvalid.
func validationProblems(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		t.Fatal("Load returned no error, want a validation error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	var invalid *ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	return invalid.Problems
}

// findProblem returns the problem about key, failing the test when there
// is none.
func findProblem(t *testing.T, list []Problem, key string) Problem {
	t.Helper()
	for _, p := range list {
		if p.Key == key {
			return p
		}
	}
	t.Fatalf("no problem about %q in:\n%s", key, formatProblems(list))
	return Problem{}
}

func formatProblems(list []Problem) string {
	lines := make([]string, 0, len(list))
	for _, p := range list {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}
