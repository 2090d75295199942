package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis and Sentinel limits for tests.
const (
	// RedisMasterName is the master name the sentinels of StartSentinelSet
	// monitor; it goes into cluster.redis.master_name.
	RedisMasterName = "helpline"
	// sentinelQuorum is how many sentinels must agree that the primary is
	// down before a failover starts.
	sentinelQuorum = 2
	// sentinelCount is the number of sentinels in a set.
	sentinelCount = 3
	// sentinelDownAfter is how long a primary may stay silent before a
	// sentinel takes it for down. Redis's default is 30 s.
	sentinelDownAfter = time.Second
	// sentinelFailoverTimeout bounds one failover attempt; a sentinel
	// retries after twice this time. Redis's default is 3 minutes.
	sentinelFailoverTimeout = 3 * time.Second

	redisReadyTimeout    = 30 * time.Second
	redisStopGrace       = 10 * time.Second
	redisPollInterval    = 100 * time.Millisecond
	sentinelSetupTimeout = 60 * time.Second
	// FailoverTimeout bounds KillPrimary's wait for the sentinels to agree
	// on a new primary. Down-after (1 s), the election and the promotion
	// take a few seconds, so this leaves room for a loaded machine.
	FailoverTimeout = 60 * time.Second
)

// RedisServer is one redis-server process, a data server or a sentinel.
type RedisServer struct {
	// Addr is host:port on loopback.
	Addr string
	// Dir holds the configuration file, which a sentinel rewrites.
	Dir string

	name  string
	proc  *process
	lines *eventLog[string]
	out   *lineWriter
}

// SentinelSet is a Redis primary with one replica, watched by three
// sentinels with a quorum of two.
type SentinelSet struct {
	// MasterName is the name the sentinels monitor (RedisMasterName).
	MasterName string
	// Servers are the primary and the replica as started. After a
	// failover the replica is the primary; Primary asks the sentinels.
	Servers []*RedisServer
	// Sentinels are the three sentinel processes.
	Sentinels []*RedisServer
}

// StartRedis runs one redis-server without persistence on 127.0.0.1 and a
// free port, with extra configuration lines, and waits until it answers
// PING. t.Cleanup stops its PID.
func StartRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()

	binary := RequireTool(t, "redis-server")
	port := FreePort(t)
	dir := t.TempDir()
	lines := []string{
		"bind " + Loopback,
		"port " + strconv.Itoa(port),
		"dir " + dir,
		`save ""`,
		"appendonly no",
		"protected-mode no",
		`logfile ""`,
		// A new replica would otherwise wait 5 s for more replicas to
		// join its full sync.
		"repl-diskless-sync-delay 0",
	}
	name := "redis-server " + strconv.Itoa(port)
	r := startRedisProcess(t, name, binary, dir, append(lines, extra...), false)
	r.waitPing(t, redisReadyTimeout)
	return r
}

// StartSentinelSet starts a primary, a replica of it and three sentinels,
// all on 127.0.0.1 with free ports, and waits until the replica is in sync
// and every sentinel lists the replica and the two other sentinels, so
// that a failover can start at once. A sentinel takes the primary for down
// after 1 s without an answer.
func StartSentinelSet(t testing.TB) *SentinelSet {
	t.Helper()

	primary := StartRedis(t)
	replica := StartRedis(t, "replicaof "+hostPortFields(primary.Addr))
	set := &SentinelSet{MasterName: RedisMasterName, Servers: []*RedisServer{primary, replica}}
	replica.waitReplicaSynced(t, sentinelSetupTimeout)

	binary := RequireTool(t, "redis-server")
	for range sentinelCount {
		set.Sentinels = append(set.Sentinels, startSentinel(t, binary, primary.Addr))
	}
	set.waitSentinelsAgree(t)
	return set
}

// SentinelAddrs returns the sentinels' host:port addresses, the value of
// cluster.redis.addrs.
func (s *SentinelSet) SentinelAddrs() []string {
	addrs := make([]string, 0, len(s.Sentinels))
	for _, sentinel := range s.Sentinels {
		addrs = append(addrs, sentinel.Addr)
	}
	return addrs
}

// Primary returns the address of the current primary as the first sentinel
// that answers reports it.
func (s *SentinelSet) Primary(t testing.TB) string {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), redisReadyTimeout)
	defer cancel()
	for _, sentinel := range s.Sentinels {
		if !sentinel.proc.running() {
			continue
		}
		addr, err := sentinel.masterAddr(ctx, s.MasterName)
		if err == nil {
			return addr
		}
	}
	t.Fatalf("no sentinel reports a primary for %s", s.MasterName)
	return ""
}

// Client returns a go-redis client that follows the primary through the
// sentinels, closed when the test ends.
func (s *SentinelSet) Client(t testing.TB) *redis.Client {
	t.Helper()

	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    s.MasterName,
		SentinelAddrs: s.SentinelAddrs(),
	})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// KillPrimary sends SIGKILL to the current primary's PID and waits until
// every sentinel names the replica as the new primary and the replica
// reports the master role. It returns the old and the new address.
func (s *SentinelSet) KillPrimary(t testing.TB) (oldAddr, newAddr string) {
	t.Helper()

	oldAddr = s.KillPrimaryNoWait(t)
	return oldAddr, s.WaitFailover(t, oldAddr)
}

// KillPrimaryNoWait sends SIGKILL to the current primary's PID, waits for
// the exit and returns its address, without waiting for the failover, so
// that a test can act while no primary answers.
func (s *SentinelSet) KillPrimaryNoWait(t testing.TB) string {
	t.Helper()

	oldAddr := s.Primary(t)
	for _, server := range s.Servers {
		if server.Addr == oldAddr {
			server.Kill()
			return oldAddr
		}
	}
	t.Fatalf("the sentinels name %s as primary, which this set did not start", oldAddr)
	return ""
}

// WaitFailover waits until every running sentinel names one primary other
// than oldAddr and that server answers ROLE with master, and returns its
// address.
func (s *SentinelSet) WaitFailover(t testing.TB, oldAddr string) string {
	t.Helper()
	return s.waitNewPrimary(t, oldAddr)
}

// waitNewPrimary polls every running sentinel until all of them name one
// primary other than oldAddr and that server answers ROLE with master.
func (s *SentinelSet) waitNewPrimary(t testing.TB, oldAddr string) string {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), FailoverTimeout)
	defer cancel()

	var last []string
	for {
		last = s.namedPrimaries(ctx)
		if agreed := agreedAddr(last); agreed != "" && agreed != oldAddr && roleIsMaster(ctx, agreed) {
			return agreed
		}

		select {
		case <-ctx.Done():
			t.Fatalf("waiting %s for the sentinels to replace primary %s: they name %v", FailoverTimeout, oldAddr, last)
		case <-time.After(redisPollInterval):
		}
	}
}

// WaitReplicaCaughtUp waits until the replica has applied every write the
// primary had accepted when the call began. Redis replicates
// asynchronously, so a test that wants to show that a failover keeps the
// queue waits for this before it kills the primary.
func (s *SentinelSet) WaitReplicaCaughtUp(t testing.TB) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), sentinelSetupTimeout)
	defer cancel()

	primaryAddr := s.Primary(t)
	primary := redis.NewClient(&redis.Options{Addr: primaryAddr})
	defer primary.Close()
	target, err := replicationOffset(ctx, primary, "master_repl_offset")
	if err != nil {
		t.Fatalf("reading the primary's replication offset: %v", err)
	}

	for _, server := range s.Servers {
		if server.Addr == primaryAddr || !server.proc.running() {
			continue
		}
		replica := redis.NewClient(&redis.Options{Addr: server.Addr})
		for {
			offset, err := replicationOffset(ctx, replica, "slave_repl_offset")
			if err == nil && offset >= target {
				break
			}
			if ctx.Err() != nil {
				replica.Close()
				t.Fatalf("replica %s at offset %d (%v), want %d within %s", server.Addr, offset, err, target, sentinelSetupTimeout)
			}
			time.Sleep(redisPollInterval)
		}
		replica.Close()
	}
}

// replicationOffset reads one offset field of INFO replication.
func replicationOffset(ctx context.Context, client *redis.Client, field string) (int64, error) {
	info, err := client.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(value, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO replication has no %s", field)
}

// namedPrimaries returns the primary each running sentinel names, or the
// error text where it failed.
func (s *SentinelSet) namedPrimaries(ctx context.Context) []string {
	var named []string
	for _, sentinel := range s.Sentinels {
		if !sentinel.proc.running() {
			continue
		}
		addr, err := sentinel.masterAddr(ctx, s.MasterName)
		if err != nil {
			addr = "error: " + err.Error()
		}
		named = append(named, addr)
	}
	return named
}

// agreedAddr returns the one value of addrs when all are equal and not an
// error, else "".
func agreedAddr(addrs []string) string {
	if len(addrs) == 0 || strings.HasPrefix(addrs[0], "error: ") {
		return ""
	}
	for _, addr := range addrs[1:] {
		if addr != addrs[0] {
			return ""
		}
	}
	return addrs[0]
}

func roleIsMaster(ctx context.Context, addr string) bool {
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()

	role, err := client.Do(ctx, "ROLE").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}

// waitSentinelsAgree waits until every sentinel monitors the primary and
// lists one replica and the other sentinels.
func (s *SentinelSet) waitSentinelsAgree(t testing.TB) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), sentinelSetupTimeout)
	defer cancel()

	for _, sentinel := range s.Sentinels {
		client := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr, MaxRetries: -1})
		var last map[string]string
		var err error
		for {
			last, err = client.Master(ctx, s.MasterName).Result()
			if err == nil && last["num-slaves"] == "1" && last["num-other-sentinels"] == strconv.Itoa(sentinelCount-1) {
				break
			}
			if ctx.Err() != nil {
				client.Close()
				t.Fatalf("waiting %s for sentinel %s to see the replica and %d other sentinels: %v (last: %v)",
					sentinelSetupTimeout, sentinel.Addr, sentinelCount-1, err, last)
			}
			time.Sleep(redisPollInterval)
		}
		client.Close()
	}
}

func startSentinel(t testing.TB, binary, primaryAddr string) *RedisServer {
	t.Helper()

	port := FreePort(t)
	dir := t.TempDir()
	monitored := hostPortFields(primaryAddr)
	lines := []string{
		"bind " + Loopback,
		"port " + strconv.Itoa(port),
		"dir " + dir,
		"protected-mode no",
		`logfile ""`,
		fmt.Sprintf("sentinel monitor %s %s %d", RedisMasterName, monitored, sentinelQuorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", RedisMasterName, sentinelDownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", RedisMasterName, sentinelFailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", RedisMasterName),
	}
	name := "redis-sentinel " + strconv.Itoa(port)
	r := startRedisProcess(t, name, binary, dir, lines, true)
	r.waitPing(t, redisReadyTimeout)
	return r
}

// startRedisProcess writes redis.conf into dir and starts redis-server on
// it (with --sentinel for a sentinel), its output kept for failures.
func startRedisProcess(t testing.TB, name, binary, dir string, lines []string, sentinel bool) *RedisServer {
	t.Helper()

	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("writing the %s configuration: %v", name, err)
	}

	port := ""
	for _, line := range lines {
		if value, ok := strings.CutPrefix(line, "port "); ok {
			port = value
		}
	}
	r := &RedisServer{Addr: net.JoinHostPort(Loopback, port), Dir: dir, name: name, lines: newEventLog[string]()}
	r.out = &lineWriter{emit: r.lines.add}

	args := []string{confPath}
	if sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout = r.out
	cmd.Stderr = r.out
	cmd.WaitDelay = waitDelay

	proc, err := startProcess(name, cmd)
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	r.proc = proc

	logTailOnFailure(t, name+" output", r.lines.snapshot)
	t.Cleanup(r.stop)
	return r
}

// waitPing waits until the server answers PING, and fails the test when it
// exits first or the timeout passes.
func (r *RedisServer) waitPing(t testing.TB, timeout time.Duration) {
	t.Helper()

	client := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	for {
		err := client.Ping(ctx).Err()
		if err == nil {
			return
		}
		if !r.proc.running() {
			code, _ := r.proc.result()
			t.Fatalf("%s exited with code %d before answering PING", r.name, code)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer PING within %s: %v", r.name, timeout, err)
		case <-time.After(redisPollInterval):
		}
	}
}

// waitReplicaSynced waits until INFO replication reports the link to the
// primary up.
func (r *RedisServer) waitReplicaSynced(t testing.TB, timeout time.Duration) {
	t.Helper()

	client := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	for {
		info, err := client.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replica %s not in sync within %s: %v %s", r.Addr, timeout, err, info)
		case <-time.After(redisPollInterval):
		}
	}
}

func (r *RedisServer) masterAddr(ctx context.Context, masterName string) (string, error) {
	client := redis.NewSentinelClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()

	hostPort, err := client.GetMasterAddrByName(ctx, masterName).Result()
	if err != nil {
		return "", fmt.Errorf("asking sentinel %s for the primary: %w", r.Addr, err)
	}
	if len(hostPort) != 2 {
		return "", fmt.Errorf("sentinel %s answered %v for the primary, want host and port", r.Addr, hostPort)
	}
	return net.JoinHostPort(hostPort[0], hostPort[1]), nil
}

// Client returns a go-redis client for this server, closed when the test
// ends.
func (r *RedisServer) Client(t testing.TB) *redis.Client {
	t.Helper()

	client := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// PID returns the process ID.
func (r *RedisServer) PID() int {
	return r.proc.pid()
}

// Kill sends SIGKILL to the process's PID and waits for the exit.
func (r *RedisServer) Kill() {
	r.proc.stop(syscall.SIGKILL, redisStopGrace)
	r.out.Close()
}

// Lines returns the output so far.
func (r *RedisServer) Lines() []string {
	return r.lines.snapshot()
}

func (r *RedisServer) stop() {
	r.proc.stop(syscall.SIGTERM, redisStopGrace)
	r.out.Close()
}

// hostPortFields turns host:port into "host port", the form of replicaof
// and sentinel monitor.
func hostPortFields(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host + " " + port
}
