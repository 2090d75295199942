package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// Limits of the cluster section.
const (
	// maxBufferSize bounds cluster.buffer_size, so that a typo cannot make
	// one node hold thousands of callers outside the shared queue.
	maxBufferSize = 10000
)

var (
	clusterModes   = []string{ClusterEmbedded, ClusterShared}
	recordsDrivers = []string{RecordsSQLite, RecordsPostgres}
)

// validateCluster checks the cluster section and the records driver, and
// reads the Redis passwords and the PostgreSQL DSN from the environment.
func validateCluster(cfg *Config, env environment, ps *problems) {
	c := &cfg.Cluster
	if !slices.Contains(clusterModes, c.Mode) {
		ps.add("cluster.mode", c.Mode, "is not a cluster mode: use %s", strings.Join(clusterModes, " or "))
	}
	if c.NodeID != "" && !plainNamePattern.MatchString(c.NodeID) {
		ps.add("cluster.node_id", c.NodeID, "is not a node name: use letters, digits, - and _, or leave it empty for the host name")
	}
	requirePositive(ps, "cluster.liveness_ttl", c.LivenessTTL)
	if c.BufferSize < 0 || c.BufferSize > maxBufferSize {
		ps.add("cluster.buffer_size", c.BufferSize, "must be from 0 to %d", maxBufferSize)
	}
	requireNonNegative(ps, "cluster.buffer_max_wait", c.BufferMaxWait)
	validateRecordsDriver(&cfg.Records, env, ps)

	if c.Mode != ClusterShared {
		return
	}
	validateRedis(&c.Redis, env, ps)
	if len(c.NodeSources) == 0 {
		ps.add("cluster.node_sources", nil, "must list the networks of the other nodes in shared mode, such as [10.0.0.0/24]: they reach phones registered on this node through it")
	}
	if cfg.Records.Driver != RecordsPostgres {
		ps.add("records.driver", cfg.Records.Driver, "must be postgres when cluster.mode is shared, so that every node's records are in one place: set records.driver: postgres and export the DSN")
	}
}

// validateRecordsDriver checks records.driver and, for postgres, reads the
// DSN from the variable records.postgres.dsn_env names.
func validateRecordsDriver(r *Records, env environment, ps *problems) {
	if !slices.Contains(recordsDrivers, r.Driver) {
		ps.add("records.driver", r.Driver, "is not a records driver: use %s", strings.Join(recordsDrivers, " or "))
		return
	}
	if r.Driver != RecordsPostgres {
		return
	}
	if !envNamePattern.MatchString(r.Postgres.DSNEnv) {
		ps.add("records.postgres.dsn_env", r.Postgres.DSNEnv, "is not an environment variable name: use letters, digits and _, such as HELPLINE_RECORDS_DSN")
		return
	}
	dsn, ok := env.lookup(r.Postgres.DSNEnv)
	if !ok {
		ps.add("records.postgres.dsn_env", r.Postgres.DSNEnv, "is not set or empty in the environment: export the PostgreSQL connection string, such as postgres://helpline:secret@127.0.0.1:5432/helpline")
		return
	}
	r.Postgres.DSN = dsn
}

// validateRedis checks the Redis addresses and names, and reads the
// passwords from the environment.
func validateRedis(r *Redis, env environment, ps *problems) {
	if len(r.Addrs) == 0 {
		ps.add("cluster.redis.addrs", nil, "must list at least one host:port when cluster.mode is shared, such as [\"127.0.0.1:6379\"]")
	}
	for i, addr := range r.Addrs {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			ps.add(joinKey("cluster.redis.addrs", strconv.Itoa(i)), addr, "is not host:port: write it such as 127.0.0.1:6379")
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			ps.add(joinKey("cluster.redis.addrs", strconv.Itoa(i)), addr, "has no valid port: use a port from 1 to 65535, such as 127.0.0.1:6379")
		}
	}
	if r.DB < 0 {
		ps.add("cluster.redis.db", r.DB, "must be 0 or more")
	}
	if r.DB != 0 && r.MasterName == "" && len(r.Addrs) > 1 {
		ps.add("cluster.redis.db", r.DB, "must be 0 for a Redis Cluster (two or more addrs without master_name)")
	}
	r.Password = readSecretEnv(ps, env, "cluster.redis.password_env", r.PasswordEnv)
	r.SentinelPassword = readSecretEnv(ps, env, "cluster.redis.sentinel_password_env", r.SentinelPasswordEnv)
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		ps.add("cluster.redis.tls.cert_file", r.TLS.CertFile, "and cluster.redis.tls.key_file must be set together for a client certificate, or both left empty")
	}
}

// readSecretEnv returns the value of the variable that key names, or "" when
// the name is empty or the variable unset.
func readSecretEnv(ps *problems, env environment, key, name string) string {
	if name == "" {
		return ""
	}
	if !envNamePattern.MatchString(name) {
		ps.add(key, name, "is not an environment variable name: use letters, digits and _")
		return ""
	}
	value, _ := env.lookup(name)
	return value
}
