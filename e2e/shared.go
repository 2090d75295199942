package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Shared mode settings for tests.
const (
	// DefaultSharedNodes is how many helpline nodes StartSharedSet starts.
	DefaultSharedNodes = 2
	// SharedLivenessTTL is cluster.liveness_ttl in the nodes' configuration:
	// short, so that the other node reclaims a killed node's callers within
	// seconds.
	SharedLivenessTTL = "2s"
	// firstNodeHostByte is the last byte of the first node's address:
	// 127.0.0.2, then 127.0.0.3. Linux routes all of 127.0.0.0/8 to lo, so
	// each node gets an address of its own while the proxy, Redis and
	// PostgreSQL stay on 127.0.0.1.
	firstNodeHostByte = 2
	// ReadyPath and HealthPath are the probes on the API listener: ready
	// (stores reachable, not draining) and alive.
	ReadyPath  = "/readyz"
	HealthPath = "/healthz"
	// readyPollInterval is how often WaitReady and ReadyProbe ask.
	readyPollInterval = 100 * time.Millisecond
)

// SharedOptions adjusts the set started by StartSharedSet.
type SharedOptions struct {
	// Nodes is the number of helpline nodes. Zero: 2.
	Nodes int
	// Mutate edits each node's configuration after the harness set the
	// shared mode keys; node is the node's index.
	Mutate func(node int, cfg map[string]any)
	// KamailioConfig is the proxy's configuration. Empty:
	// deploy/kamailio/kamailio.cfg.
	KamailioConfig string
	// KamailioDefines are further -A defines for the proxy.
	KamailioDefines map[string]string
}

// SharedSet is everything shared mode runs on: a Redis primary with a
// replica behind three sentinels, PostgreSQL for the records, helpline
// nodes that share both, and Kamailio in front of the nodes.
type SharedSet struct {
	Redis    *SentinelSet
	Postgres *Postgres
	Proxy    *Kamailio
	// Nodes are the helpline servers; Nodes[i] has node ID NodeID(i) and
	// listens for SIP on 127.0.0.(2+i).
	Nodes []*Server
}

// NodeID returns the cluster.node_id of node i: node-a, node-b, ...
func NodeID(i int) string {
	return "node-" + string(rune('a'+i))
}

// NodeHost returns the loopback address of node i: 127.0.0.2, 127.0.0.3, ...
func NodeHost(i int) string {
	return "127.0.0." + strconv.Itoa(firstNodeHostByte+i)
}

// StartSharedSet starts the Sentinel set, PostgreSQL, the nodes in shared
// mode (one records key for all, the DSN in HELPLINE_RECORDS_DSN), waiting
// until every node logged "helpline ready", and then Kamailio with a
// dispatcher list of the nodes. Every process stops when the test ends.
func StartSharedSet(t testing.TB, opts SharedOptions) *SharedSet {
	t.Helper()

	count := opts.Nodes
	if count == 0 {
		count = DefaultSharedNodes
	}

	set := &SharedSet{
		Redis:    StartSentinelSet(t),
		Postgres: StartPostgres(t),
	}

	ports := make([]int, count)
	uris := make([]string, count)
	for i := range count {
		ports[i] = FreePort(t)
		uris[i] = NodeURI(NodeHost(i), ports[i])
	}
	binary := BuildServer(t)
	key := newRecordsKey(t)
	for i := range count {
		set.Nodes = append(set.Nodes, StartServer(t, set.nodeOptions(i, ports[i], binary, key, opts.Mutate)))
	}

	// The proxy starts last. Its dispatcher marks a node that misses the
	// first OPTIONS probe as down and takes it back only on a later probe,
	// so a proxy started before the nodes may reject a REGISTER sent right
	// after "helpline ready" with 503.
	set.Proxy = StartKamailio(t, KamailioOptions{Config: opts.KamailioConfig, Nodes: uris, Defines: opts.KamailioDefines})
	return set
}

// nodeOptions returns the ServerOptions of node i.
func (s *SharedSet) nodeOptions(i, port int, binary, key string, mutate func(int, map[string]any)) ServerOptions {
	return ServerOptions{
		Binary:     binary,
		Host:       NodeHost(i),
		SIPPort:    port,
		RecordsKey: key,
		Env:        []string{s.Postgres.DSNEnv()},
		Mutate: func(cfg map[string]any) {
			SharedConfig(cfg, NodeID(i), s.Redis.SentinelAddrs(), s.Redis.MasterName)
			if mutate != nil {
				mutate(i, cfg)
			}
		},
	}
}

// SharedConfig sets the keys of shared mode in a node's configuration:
// cluster.mode shared, the node ID and a short liveness TTL. Redis is
// reached through the sentinels when masterName is set, else at the one
// server in redisAddrs. Records go to PostgreSQL, with the DSN read from
// HELPLINE_RECORDS_DSN.
func SharedConfig(cfg map[string]any, nodeID string, redisAddrs []string, masterName string) {
	addrs := make([]any, 0, len(redisAddrs))
	for _, addr := range redisAddrs {
		addrs = append(addrs, addr)
	}
	settings := map[string]any{
		"cluster.mode":              "shared",
		"cluster.node_id":           nodeID,
		"cluster.liveness_ttl":      SharedLivenessTTL,
		"cluster.redis.addrs":       addrs,
		"cluster.redis.master_name": masterName,
		"records.driver":            "postgres",
		"records.postgres.dsn_env":  RecordsDSNEnv,
	}
	for path, value := range settings {
		// Every path runs through mappings of the example configuration
		// or creates them, so SetConfig cannot fail here.
		_ = SetConfig(cfg, path, value)
	}
}

// Node returns the node with cluster.node_id id, or fails the test.
func (s *SharedSet) Node(t testing.TB, id string) *Server {
	t.Helper()

	for i, node := range s.Nodes {
		if NodeID(i) == id {
			return node
		}
	}
	t.Fatalf("no node %s among %d nodes", id, len(s.Nodes))
	return nil
}

// RegisteringNode waits until one of the nodes logs "binding added" for
// user and returns that node's index: the node Kamailio sent the phone's
// REGISTER to.
func (s *SharedSet) RegisteringNode(t testing.TB, user string, timeout time.Duration) int {
	t.Helper()

	match := LogFields(map[string]any{"message": "binding added", "user": user})
	deadline := time.Now().Add(timeout)
	for {
		for i, node := range s.Nodes {
			if node.Exited() {
				continue
			}
			for _, entry := range node.Logs() {
				if match(entry) {
					return i
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node logged \"binding added\" for %s within %s", user, timeout)
		}
		time.Sleep(readyPollInterval)
	}
}

// Ready returns the status code of GET /readyz on the node's API, or 0
// when the request failed.
func (s *Server) Ready() int {
	client := http.Client{Timeout: apiRequestTimeout}
	res, err := client.Get(s.APIURL() + ReadyPath)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// WaitReady polls GET /readyz until it returns want, and fails the test
// after timeout.
func (s *Server) WaitReady(t testing.TB, want int, timeout time.Duration) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	last := 0
	for {
		if last = s.Ready(); last == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s on %s = %d for %s, want %d", ReadyPath, s.APIURL(), last, timeout, want)
		}
		time.Sleep(readyPollInterval)
	}
}

// ReadyProbe records the answers of a node's /readyz in the background
// until Stop, so that a test sees a short spell of 503 it could miss by
// asking once.
type ReadyProbe struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex // guards statuses
	statuses []int
}

// ProbeReady starts polling the node's /readyz every 100 ms.
func (s *Server) ProbeReady(t testing.TB) *ReadyProbe {
	t.Helper()

	p := &ReadyProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(s)
	t.Cleanup(p.Stop)
	return p
}

func (p *ReadyProbe) run(s *Server) {
	defer close(p.done)

	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	for {
		status := s.Ready()
		p.mu.Lock()
		p.statuses = append(p.statuses, status)
		p.mu.Unlock()

		select {
		case <-p.stop:
			return
		case <-ticker.C:
		}
	}
}

// Stop ends the polling; later calls do nothing.
func (p *ReadyProbe) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Seen reports whether the probe got status at least once.
func (p *ReadyProbe) Seen(status int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	for _, got := range p.statuses {
		if got == status {
			return true
		}
	}
	return false
}

// String lists the statuses in order with repeats collapsed, for failure
// messages: "200 503×12 200".
func (p *ReadyProbe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()

	out := ""
	for i := 0; i < len(p.statuses); {
		j := i
		for j < len(p.statuses) && p.statuses[j] == p.statuses[i] {
			j++
		}
		if out != "" {
			out += " "
		}
		out += strconv.Itoa(p.statuses[i])
		if j-i > 1 {
			out += fmt.Sprintf("×%d", j-i)
		}
		i = j
	}
	return out
}
