package sip

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
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
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	// Serial is the serial number as `openssl x509 -noout -serial` prints
	// it: uppercase hexadecimal, two digits a byte, so a leading zero
	// stays. It distinguishes two certificates with the same subject.
	Serial string
}

// CertificateValidityError reports a certificate used outside its validity
// period: expired, or not valid yet.
type CertificateValidityError struct {
	// File is the certificate file.
	File string
	// NotBefore and NotAfter are the certificate's validity period.
	NotBefore time.Time
	NotAfter  time.Time
	// Now is the time of the check.
	Now time.Time
}

// Error names the file and the bound of the validity period it is outside.
func (e *CertificateValidityError) Error() string {
	if e.Now.Before(e.NotBefore) {
		return fmt.Sprintf("TLS certificate %s is not valid before %s (check the clock and the certificate's dates)",
			e.File, e.NotBefore.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("TLS certificate %s expired at %s", e.File, e.NotAfter.UTC().Format(time.RFC3339))
}

// LoadCertificateStore reads the PEM certificate chain and private key. It
// accepts a certificate outside its validity period, so that an expired
// certificate for the phones does not stop the server from answering the
// trunk: the caller logs the dates (see Info) and reports the problem.
func LoadCertificateStore(certFile, keyFile string) (*CertificateStore, error) {
	store := &CertificateStore{certFile: certFile, keyFile: keyFile}
	cert, err := loadCertificate(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	store.current.Store(cert)
	return store, nil
}

// Reload reads the certificate and key files again. When they do not
// load, or the certificate is expired or not valid yet, the certificate in
// use stays and the error names the file at fault and the fix.
func (c *CertificateStore) Reload() error {
	return c.reloadAt(time.Now())
}

// reloadAt is Reload with the validity period checked at now.
func (c *CertificateStore) reloadAt(now time.Time) error {
	cert, err := loadCertificate(c.certFile, c.keyFile)
	if err == nil {
		err = checkValidity(c.certFile, cert.Leaf, now)
	}
	if err != nil {
		return fmt.Errorf("%w: the previous certificate stays in use until a valid certificate and key are in place and SIGHUP is sent again", err)
	}
	c.current.Store(cert)
	return nil
}

// checkValidity returns a *CertificateValidityError when now is outside
// the validity period of leaf, which was read from file.
func checkValidity(file string, leaf *x509.Certificate, now time.Time) error {
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return &CertificateValidityError{File: file, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Now: now}
	}
	return nil
}

// Info describes the certificate in use.
func (c *CertificateStore) Info() CertificateInfo {
	cert := c.current.Load()
	if cert == nil || cert.Leaf == nil {
		return CertificateInfo{}
	}
	return CertificateInfo{
		Subject:   cert.Leaf.Subject.String(),
		NotBefore: cert.Leaf.NotBefore,
		NotAfter:  cert.Leaf.NotAfter,
		Serial:    opensslSerial(cert.Leaf.SerialNumber),
	}
}

// opensslSerial writes a serial number as OpenSSL prints it: uppercase
// hexadecimal, two digits a byte ("03B265"), "00" for zero, and a minus
// sign before a negative number.
func opensslSerial(serial *big.Int) string {
	if serial == nil || serial.Sign() == 0 {
		return "00"
	}
	sign := ""
	if serial.Sign() < 0 {
		sign = "-"
	}
	return sign + fmt.Sprintf("%X", new(big.Int).Abs(serial).Bytes())
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
