package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ServerPackage is the package that BuildServer builds.
const ServerPackage = "./cmd/helpline"

// buildTimeout bounds one `go build`; a -race build of the server with its
// SQLite driver is the slowest case.
const buildTimeout = 5 * time.Minute

// builds caches one build per package for the life of the test binary.
var builds = struct {
	sync.Mutex // guards byPackage and dir
	byPackage  map[string]*buildResult
	dir        string
}{byPackage: map[string]*buildResult{}}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// BuildServer builds the helpline binary from ./cmd/helpline once per test
// binary and returns its path. The build uses -race when the tests do. The
// binary lives in a temporary folder that RunTests removes at the end.
func BuildServer(t testing.TB) string {
	t.Helper()
	return BuildBinary(t, ServerPackage)
}

// BuildBinary builds the main package pkg (a path relative to the
// repository root, like "./cmd/helpline") once per test binary and returns
// the path of the executable.
func BuildBinary(t testing.TB, pkg string) string {
	t.Helper()

	root := RepoRoot(t)

	builds.Lock()
	result, ok := builds.byPackage[pkg]
	if !ok {
		result = &buildResult{}
		builds.byPackage[pkg] = result
	}
	builds.Unlock()

	result.once.Do(func() {
		result.path, result.err = build(root, pkg)
	})
	if result.err != nil {
		t.Fatalf("building %s: %v", pkg, result.err)
	}
	return result.path
}

func build(root, pkg string) (string, error) {
	dir, err := buildDir()
	if err != nil {
		return "", err
	}

	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command on PATH: %w", err)
	}

	output := filepath.Join(dir, filepath.Base(pkg))
	args := []string{"build", "-o", output}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, pkg)

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = root
	combined, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s failed: %w\n%s\nfix the build error above, then run the tests again",
			strings.Join(args, " "), err, combined)
	}
	return output, nil
}

func buildDir() (string, error) {
	builds.Lock()
	defer builds.Unlock()

	if builds.dir != "" {
		return builds.dir, nil
	}

	dir, err := os.MkdirTemp("", "helpline-e2e-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("creating a folder for test binaries: %w", err)
	}
	builds.dir = dir
	return dir, nil
}

// RunTests runs the tests of a package that uses this harness and then
// removes the binaries built for it. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(e2e.RunTests(m)) }
func RunTests(m *testing.M) int {
	code := m.Run()

	builds.Lock()
	dir := builds.dir
	builds.Unlock()
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "removing test binaries in %s: %v\n", dir, err)
		}
	}
	return code
}
