// Package tlstest makes self-signed TLS certificates for tests at test
// time, so that no private key is committed.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certificateLifetime is how long a test certificate is valid.
const certificateLifetime = 24 * time.Hour

// Certificate is a self-signed certificate written to PEM files.
type Certificate struct {
	// CertFile and KeyFile are the PEM files.
	CertFile string
	KeyFile  string
	// Leaf is the parsed certificate.
	Leaf *x509.Certificate
}

// Pool returns a pool that trusts only this certificate.
func (c Certificate) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.Leaf)
	return pool
}

// Write makes a self-signed ECDSA P-256 certificate for 127.0.0.1, ::1 and
// localhost with the given common name, valid from a minute ago for a day,
// and writes it to cert.pem and key.pem in dir, replacing files that exist
// there.
func Write(t testing.TB, dir, commonName string) Certificate {
	t.Helper()
	return WriteValidity(t, dir, commonName, time.Now().Add(-time.Minute), time.Now().Add(certificateLifetime))
}

// WriteValidity is Write with the validity period from notBefore to
// notAfter, for tests of expired and not yet valid certificates.
func WriteValidity(t testing.TB, dir, commonName string, notBefore, notAfter time.Time) Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating test key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("generating test serial number: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating test certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing test certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding test key: %v", err)
	}

	cert := Certificate{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Leaf: leaf}
	writePEM(t, cert.CertFile, "CERTIFICATE", der)
	writePEM(t, cert.KeyFile, "PRIVATE KEY", keyDER)
	return cert
}

// writePEM replaces path with one PEM block, through a rename so that a
// reader never sees half a file.
func writePEM(t testing.TB, path, blockType string, der []byte) {
	t.Helper()
	temp := path + ".tmp"
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(temp, data, 0o600); err != nil {
		t.Fatalf("writing %s: %v", temp, err)
	}
	if err := os.Rename(temp, path); err != nil {
		t.Fatalf("renaming %s: %v", temp, err)
	}
}
