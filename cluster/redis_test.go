package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpline/config"
	"helpline/internal/redistest"
)

func TestNewRedisClientPings(t *testing.T) {
	srv := redistest.Start(t)
	client, err := NewRedisClient(config.Redis{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })

	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
}

func TestNewRedisClientRejects(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := []string{"127.0.0.1:6379"}

	tests := []struct {
		name string
		cfg  config.Redis
		key  string
	}{
		{name: "no address", cfg: config.Redis{}, key: "cluster.redis.addrs"},
		{name: "missing CA file", cfg: config.Redis{Addrs: addrs, TLS: config.RedisTLS{Enabled: true, CAFile: filepath.Join(dir, "absent.pem")}}, key: "cluster.redis.tls.ca_file"},
		{name: "CA file without PEM", cfg: config.Redis{Addrs: addrs, TLS: config.RedisTLS{Enabled: true, CAFile: notPEM}}, key: "cluster.redis.tls.ca_file"},
		{name: "bad client key pair", cfg: config.Redis{Addrs: addrs, TLS: config.RedisTLS{Enabled: true, CertFile: notPEM, KeyFile: notPEM}}, key: "cluster.redis.tls.cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := NewRedisClient(tt.cfg)
			if err == nil {
				_ = client.Close()
				t.Fatal("NewRedisClient returned nil error")
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %s", err, tt.key)
			}
		})
	}
}

func TestRedisTLSLoadsFiles(t *testing.T) {
	certFile, keyFile := writeSelfSigned(t)
	cfg, err := redisTLS(config.RedisTLS{Enabled: true, CAFile: certFile, CertFile: certFile, KeyFile: keyFile, ServerName: "redis.internal"})
	if err != nil {
		t.Fatalf("redisTLS: %v", err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "redis.internal" {
		t.Errorf("TLS config = roots %v, %d certificates, server name %q; want roots, 1 certificate, redis.internal",
			cfg.RootCAs != nil, len(cfg.Certificates), cfg.ServerName)
	}

	off, err := redisTLS(config.RedisTLS{CAFile: certFile})
	if err != nil || off != nil {
		t.Errorf("redisTLS with TLS off = %v, %v; want nil, nil", off, err)
	}
}

// writeSelfSigned writes a self-signed certificate and its key as PEM files
// and returns their paths.
func writeSelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "redis.internal"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		DNSNames:     []string{"redis.internal"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
