package sip

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// CertificateStore holds the certificate that the TLS listeners present.
// Reload swaps it atomically: connections accepted after the swap get the
// new certificate, and connections already open keep the one they
// negotiated.
type CertificateStore struct {
	certFile string
	keyFile  string
	current  atomic.Pointer[tls.Certificate]
}

// CertificateInfo describes a loaded certificate for logs.
type CertificateInfo struct {
	Subject  string
	NotAfter time.Time
	// Serial is the serial number in hexadecimal, which distinguishes two
	// certificates with the same subject.
	Serial string
}

// LoadCertificateStore reads the PEM certificate chain and private key.
func LoadCertificateStore(certFile, keyFile string) (*CertificateStore, error) {
	store := &CertificateStore{certFile: certFile, keyFile: keyFile}
	if err := store.Reload(); err != nil {
		return nil, err
	}
	return store, nil
}

// Reload reads the certificate and key files again. When they do not
// load, the certificate in use stays and the error names the file at
// fault and the fix.
func (c *CertificateStore) Reload() error {
	cert, err := loadCertificate(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("%w: the previous certificate stays in use until the file is fixed and SIGHUP is sent again", err)
	}
	c.current.Store(cert)
	return nil
}

// Info describes the certificate in use.
func (c *CertificateStore) Info() CertificateInfo {
	cert := c.current.Load()
	if cert == nil || cert.Leaf == nil {
		return CertificateInfo{}
	}
	return CertificateInfo{
		Subject:  cert.Leaf.Subject.String(),
		NotAfter: cert.Leaf.NotAfter,
		Serial:   cert.Leaf.SerialNumber.Text(16),
	}
}

// ServerConfig returns the TLS configuration of the listeners: it presents
// the store's current certificate, accepts minVersion and newer, and
// requests no client certificate, because phones authenticate with digest.
func (c *CertificateStore) ServerConfig(minVersion uint16) *tls.Config {
	return &tls.Config{
		MinVersion: minVersion,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// loadCertificate reads and pairs the two PEM files, naming the file at
// fault in the error.
func loadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading TLS certificate file %s: %w", certFile, errors.Unwrap(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading TLS key file %s: %w", keyFile, errors.Unwrap(err))
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("parsing TLS certificate %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	return &cert, nil
}
