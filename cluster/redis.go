package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"helpline/config"
)

// NewRedisClient returns a client for the Redis that cfg describes. The
// client type follows go-redis's UniversalClient rules: MasterName set
// means Sentinel (Addrs are the sentinels), two or more Addrs without
// MasterName mean Redis Cluster, and one address means a single server. It
// does not connect: the first command does.
func NewRedisClient(cfg config.Redis) (redis.UniversalClient, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("cluster.redis.addrs is empty: list at least one host:port, such as [\"127.0.0.1:6379\"]")
	}
	tlsConfig, err := redisTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}

	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:            cfg.Addrs,
		MasterName:       cfg.MasterName,
		DB:               cfg.DB,
		Username:         cfg.Username,
		Password:         cfg.Password,
		SentinelUsername: cfg.SentinelUsername,
		SentinelPassword: cfg.SentinelPassword,
		TLSConfig:        tlsConfig,
		ClientName:       "helpline",
	}), nil
}

// redisTLS builds the TLS configuration of the Redis connection, or returns
// nil when TLS is off.
func redisTLS(cfg config.RedisTLS) (*tls.Config, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}

	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.redis.tls.ca_file: reading %s failed: %w: set it to a readable PEM file of the CA certificates", cfg.CAFile, err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster.redis.tls.ca_file: %s contains no PEM certificate: set it to a PEM file of the CA certificates", cfg.CAFile)
		}
		tlsConfig.RootCAs = roots
	}

	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.redis.tls.cert_file and key_file: loading the client certificate failed: %w: set both to the PEM certificate and its private key", err)
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	return tlsConfig, nil
}

// RouteRedisLogs sends go-redis's own messages, such as failed dials while
// a Sentinel failover runs, to log instead of the standard logger. go-redis keeps one logger per process, so call it once at start.
func RouteRedisLogs(log zerolog.Logger) {
	redis.SetLogger(redisLogger{log: log.With().Str("component", "redis").Logger()})
}

// redisLogger adapts zerolog to go-redis's logging interface.
type redisLogger struct {
	log zerolog.Logger
}

// Printf logs go-redis's Sentinel news (a new master, a sentinel found) at
// info level, and everything else, such as failed dials, at warn level.
func (l redisLogger) Printf(_ context.Context, format string, args ...any) {
	if strings.HasPrefix(format, "sentinel: ") && !strings.Contains(format, "failed") {
		l.log.Info().Msgf(format, args...)
		return
	}
	l.log.Warn().Msgf(format, args...)
}
