package config

import (
	"net/netip"
	"time"
)

// Cluster modes.
const (
	// ClusterEmbedded runs one node with its queue state in memory and its
	// records in SQLite. It is the default.
	ClusterEmbedded = "embedded"
	// ClusterShared runs several nodes that share their queue state in
	// Redis and their records in PostgreSQL.
	ClusterShared = "shared"
)

// Records drivers.
const (
	// RecordsSQLite keeps records in an SQLite file under data_dir.
	RecordsSQLite = "sqlite"
	// RecordsPostgres keeps records in a PostgreSQL database shared by
	// every node.
	RecordsPostgres = "postgres"
)

// Cluster is the section that chooses between one embedded node and several
// nodes sharing state.
type Cluster struct {
	// Mode is embedded (the default) or shared.
	Mode string `mapstructure:"mode"`
	// NodeID names this node among the nodes sharing one Redis: letters,
	// digits, '-' and '_'. Empty (the default) takes the host name.
	NodeID string `mapstructure:"node_id"`
	// LivenessTTL is how long this node's liveness key lives in Redis. The
	// node refreshes it every third of that time, and the other nodes take
	// a node whose key expired for stopped. Default 5s.
	LivenessTTL time.Duration `mapstructure:"liveness_ttl"`
	// BufferSize is how many new callers this node holds while Redis cannot
	// be reached. They join the shared queue in arrival order once Redis is
	// back. Default 100.
	BufferSize int `mapstructure:"buffer_size"`
	// BufferMaxWait is how long a caller may stay in that buffer before the
	// queue's overflow rule applies to them. Default 2m.
	BufferMaxWait time.Duration `mapstructure:"buffer_max_wait"`
	// NodeSources are the networks the other nodes send SIP from. Only
	// they may reach a phone registered on this node through it. Default
	// [127.0.0.0/8].
	NodeSources []netip.Prefix `mapstructure:"node_sources"`
	// Redis is the connection to the shared Redis.
	Redis Redis `mapstructure:"redis"`
}

// Redis is the connection to a single Redis, a Sentinel set or a Redis
// Cluster, as go-redis's UniversalClient chooses: MasterName set means
// Sentinel (Addrs are the sentinels), two or more Addrs without MasterName
// mean Cluster, one address means a single server.
type Redis struct {
	// Addrs lists host:port addresses. Default ["127.0.0.1:6379"].
	Addrs []string `mapstructure:"addrs"`
	// MasterName is the Sentinel master name, or empty.
	MasterName string `mapstructure:"master_name"`
	// DB is the database number of a single server or Sentinel set.
	// Default 0. Redis Cluster has only database 0.
	DB int `mapstructure:"db"`
	// Username is the ACL user, or empty for the default user.
	Username string `mapstructure:"username"`
	// PasswordEnv names the environment variable with the password.
	// Default HELPLINE_REDIS_PASSWORD; an unset variable means no password.
	PasswordEnv string `mapstructure:"password_env"`
	// SentinelUsername is the ACL user on the sentinels, or empty.
	SentinelUsername string `mapstructure:"sentinel_username"`
	// SentinelPasswordEnv names the environment variable with the
	// sentinels' password. Default HELPLINE_REDIS_SENTINEL_PASSWORD.
	SentinelPasswordEnv string `mapstructure:"sentinel_password_env"`
	// TLS configures TLS to Redis.
	TLS RedisTLS `mapstructure:"tls"`

	// Password and SentinelPassword are read from the environment by Load.
	Password         string `mapstructure:"-"`
	SentinelPassword string `mapstructure:"-"`
}

// RedisTLS is the TLS part of the Redis connection.
type RedisTLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM file of the CAs that sign the server certificate, or
	// empty for the system's roots.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are the client certificate and key for mutual
	// TLS, both or neither.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `mapstructure:"server_name"`
}

// Postgres is the connection to the shared records database.
type Postgres struct {
	// DSNEnv names the environment variable with the connection string
	// (postgres://user:password@host:5432/db?sslmode=verify-full). Default
	// HELPLINE_RECORDS_DSN. The DSN holds a password, so it never sits in
	// the file.
	DSNEnv string `mapstructure:"dsn_env"`

	// DSN is read from the environment by Load.
	DSN string `mapstructure:"-"`
}

// Shared reports whether the configuration runs in shared mode.
func (c *Config) Shared() bool { return c.Cluster.Mode == ClusterShared }
