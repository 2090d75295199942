package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ResultsDir is the folder, relative to the repository root, that holds
// raw results. Git ignores it.
const ResultsDir = "bench/results"

// NewRunDir creates bench/results/NAME-YYYYMMDDTHHMMSSZ for one run and
// returns its path.
func NewRunDir(root, name string) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	dir := filepath.Join(root, ResultsDir, name+"-"+stamp)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the results folder: %w", err)
	}
	return dir, nil
}

// WriteJSON writes v, indented, to dir/file.
func WriteJSON(dir, file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", file, err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
