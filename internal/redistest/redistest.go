// Package redistest starts a real redis-server on a free loopback port for
// tests, and stops it when the test ends.
//
// Under CI=true a missing redis-server fails the test; elsewhere the test
// is skipped with a note on how to install it.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 20 * time.Second

// startAttempts is how often Start picks another port when the chosen one
// was taken between the check and the server's bind.
const startAttempts = 5

// Server is one running redis-server.
type Server struct {
	// Addr is the server's host:port on loopback.
	Addr string
	// Dir is the server's working folder, inside the test's temporary
	// folder.
	Dir string

	cmd *exec.Cmd
}

// Binary returns the path of redis-server, or fails or skips t when it is
// missing.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("redis-server is not installed: run scripts/test.sh, which installs the Debian package redis-server")
	}
	t.Skip("redis-server is not installed (apt-get install redis-server); skipping")
	return ""
}

// Start runs a redis-server with no persistence on 127.0.0.1 and a free
// port, with extra configuration lines such as "replicaof 127.0.0.1 6380".
// The server is stopped when the test ends.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	binary := Binary(t)
	var lastErr error
	for range startAttempts {
		srv, err := start(t, binary, "127.0.0.1", extra)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// StartOn runs a redis-server as Start does, on the given loopback host.
func StartOn(t testing.TB, host string, extra ...string) *Server {
	t.Helper()
	binary := Binary(t)
	var lastErr error
	for range startAttempts {
		srv, err := start(t, binary, host, extra)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	t.Fatalf("start redis-server on %s: %v", host, lastErr)
	return nil
}

func start(t testing.TB, binary, host string, extra []string) (*Server, error) {
	port, err := FreePort(host)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(t.TempDir(), "redis-")
	if err != nil {
		return nil, fmt.Errorf("make redis folder: %w", err)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	conf := []string{
		"bind " + host,
		"port " + strconv.Itoa(port),
		"dir " + dir,
		"save \"\"",
		"appendonly no",
		"protected-mode no",
		"logfile " + filepath.Join(dir, "redis.log"),
	}
	conf = append(conf, extra...)
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write redis config: %w", err)
	}

	cmd := exec.Command(binary, confPath)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", binary, err)
	}
	srv := &Server{Addr: addr, Dir: dir, cmd: cmd}
	if err := waitReady(addr); err != nil {
		srv.stop()
		return nil, fmt.Errorf("%w; log: %s", err, srv.logTail())
	}
	t.Cleanup(srv.stop)
	return srv, nil
}

// Client returns a go-redis client for the server, closed when the test
// ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill ends the server at once with SIGKILL and waits for it to exit.
func (s *Server) Kill() {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// PID returns the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

func (s *Server) stop() { s.Kill() }

// logTail returns the last lines of the server's log, for error messages.
func (s *Server) logTail() string {
	f, err := os.Open(filepath.Join(s.Dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
		if len(lines) > 10 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, " | ")
}

// waitReady pings addr until it replies PONG or startTimeout passes.
func waitReady(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = c.Ping(ctx).Err(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("redis-server on %s: PING timed out after %s: %v", addr, startTimeout, err)
}

// FreePort returns a TCP port on host that was free a moment ago.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
