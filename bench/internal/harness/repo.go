package harness

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// modulePath is the module line that marks the repository root.
const modulePath = "module helpline"

// RepoRoot returns the folder of the helpline go.mod, searching upward from
// the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte(modulePath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod starting with %q above the working directory: run the benchmark inside the repository", modulePath)
		}
		dir = parent
	}
}
