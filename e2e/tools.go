package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Environment variables that make missing tools a failure instead of a skip.
const (
	envCI     = "CI"
	envStrict = "HELPLINE_E2E"
)

// moduleName is the module path in the repository's go.mod; RepoRoot looks
// for it to tell this repository apart from any parent module.
const moduleName = "helpline"

// ErrRepoRootNotFound means no parent folder of the working directory holds
// the go.mod of module helpline.
var ErrRepoRootNotFound = errors.New("repository root not found")

// Strict reports whether a missing tool must fail the test rather than skip
// it: CI=true or HELPLINE_E2E=1 (scripts/test.sh sets the latter).
func Strict() bool {
	return os.Getenv(envCI) == "true" || os.Getenv(envStrict) == "1"
}

// RequireTool returns the absolute path of the command name. When it is not
// on PATH the test is skipped, or fails in strict mode (see Strict).
func RequireTool(t testing.TB, name string) string {
	t.Helper()

	path, err := lookTool(name)
	if err == nil {
		return path
	}

	message := fmt.Sprintf("%s is not installed (%v); run scripts/test.sh as root to install it", name, err)
	if Strict() {
		t.Fatalf("%s, and CI=true or HELPLINE_E2E=1 requires every end-to-end tool", message)
	}
	t.Skip(message)
	return ""
}

// sbinDirs hold daemons such as kamailio, which Debian installs in
// /usr/sbin. That folder is often missing from the PATH of non-root users.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// lookTool finds the command name on PATH, then in sbinDirs.
func lookTool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	for _, dir := range sbinDirs {
		if candidate, sbinErr := exec.LookPath(filepath.Join(dir, name)); sbinErr == nil {
			return candidate, nil
		}
	}
	return "", err
}

// RequireRoot skips the test unless it runs as root, or fails it in strict
// mode. SIPp's pcap playback opens raw sockets and tshark captures on lo,
// and both need root.
func RequireRoot(t testing.TB, reason string) {
	t.Helper()

	if os.Geteuid() == 0 {
		return
	}

	message := fmt.Sprintf("needs root: %s", reason)
	if Strict() {
		t.Fatalf("%s, and CI=true or HELPLINE_E2E=1 requires it", message)
	}
	t.Skip(message)
}

var (
	repoRootOnce sync.Once
	repoRootPath string
	repoRootErr  error
)

// RepoRoot returns the repository root: the nearest parent folder of the
// working directory whose go.mod declares module helpline.
func RepoRoot(t testing.TB) string {
	t.Helper()

	repoRootOnce.Do(func() {
		repoRootPath, repoRootErr = findRepoRoot()
	})
	if repoRootErr != nil {
		t.Fatalf("finding the repository root: %v", repoRootErr)
	}
	return repoRootPath
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}

	for {
		if declaresModule(filepath.Join(dir, "go.mod"), moduleName) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: run the tests inside the helpline checkout", ErrRepoRootNotFound)
		}
		dir = parent
	}
}

func declaresModule(goMod, module string) bool {
	file, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer file.Close()

	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return fields[1] == module
		}
	}
	return false
}

// Scenario returns the absolute path of a SIPp scenario. A bare file name
// is looked up in testdata/sipp; any other path is made absolute as it is.
func Scenario(t testing.TB, name string) string {
	t.Helper()

	path := name
	if !strings.ContainsRune(name, os.PathSeparator) {
		path = filepath.Join(RepoRoot(t), "testdata", "sipp", name)
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatalf("resolving scenario %s: %v", name, err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("SIPp scenario %s: %v", name, err)
	}
	return abs
}
