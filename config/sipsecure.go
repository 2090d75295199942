package config

import (
	"crypto/tls"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// tlsMinVersions maps the allowed sip.tls.min_version values to their
// crypto/tls constants.
var tlsMinVersions = map[string]uint16{
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// SIPTLS names the certificate that the tls listeners of sip.listen
// present, and the oldest TLS version they accept.
type SIPTLS struct {
	// CertFile is a PEM certificate chain, leaf first. Required when a
	// listener has network tls. SIGHUP reads it again.
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key of the certificate. SIGHUP reads it
	// again.
	KeyFile string `mapstructure:"key_file"`
	// MinVersion is the oldest TLS version accepted: "1.2" (the default)
	// or "1.3".
	MinVersion string `mapstructure:"min_version"`
}

// MinTLSVersion returns the crypto/tls constant of MinVersion, TLS 1.2
// when it is not one of the allowed values (validation rejects those).
func (t SIPTLS) MinTLSVersion() uint16 {
	if v, ok := tlsMinVersions[t.MinVersion]; ok {
		return v
	}
	return tls.VersionTLS12
}

// SecureCounselors makes counselors outside the office networks use
// encrypted signalling and media.
type SecureCounselors struct {
	// OfficeNetworks are the source networks of the counseling office.
	// Default: none, so every address counts as outside the office.
	OfficeNetworks []netip.Prefix `mapstructure:"office_networks"`
	// RequiredOutsideOffice, when true, rejects a REGISTER from outside
	// OfficeNetworks that did not come over TLS with 403, offers calls to
	// such counselors with SRTP only, and rejects their INVITEs without
	// SRTP with 488. Default false.
	RequiredOutsideOffice bool `mapstructure:"required_outside_office"`
}

// InOffice reports whether addr is inside one of the office networks.
func (s SecureCounselors) InOffice(addr netip.Addr) bool {
	addr = addr.Unmap()
	return slices.ContainsFunc(s.OfficeNetworks, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// hasTLSListener reports whether any listener has network tls.
func hasTLSListener(listeners []Listener) bool {
	return slices.ContainsFunc(listeners, func(l Listener) bool { return l.Network == "tls" })
}

// validateSIPSecurity checks sip.tls and sip.secure_counselors against
// the listeners.
func validateSIPSecurity(s *SIP, ps, warnings *problems) {
	tlsListener := hasTLSListener(s.Listen)
	validateSIPTLS(&s.TLS, tlsListener, ps, warnings)

	for i, p := range s.SecureCounselors.OfficeNetworks {
		if p != p.Masked() {
			ps.add(joinKey("sip.secure_counselors.office_networks", strconv.Itoa(i)), p.String(),
				"has host bits set: write the network address, such as %s", p.Masked())
		}
	}
	if s.SecureCounselors.RequiredOutsideOffice && !tlsListener {
		ps.add("sip.secure_counselors.required_outside_office", true,
			"needs a sip.listen entry with network tls, or no counselor outside the office can register: add one, or set this key to false")
	}
}

// validateSIPTLS checks that a tls listener has a certificate and key
// that load as a pair, and that min_version is allowed.
func validateSIPTLS(t *SIPTLS, tlsListener bool, ps, warnings *problems) {
	if _, ok := tlsMinVersions[t.MinVersion]; !ok {
		ps.add("sip.tls.min_version", t.MinVersion, "is not supported: use 1.2 or 1.3")
	}
	if !tlsListener {
		if t.CertFile != "" || t.KeyFile != "" {
			warnings.add("sip.tls.cert_file", t.CertFile, "is set but no sip.listen entry has network tls, so it is not used")
		}
		return
	}

	missing := false
	for _, f := range []struct{ key, path string }{{"sip.tls.cert_file", t.CertFile}, {"sip.tls.key_file", t.KeyFile}} {
		if f.path == "" {
			ps.add(f.key, nil, "must be set because a sip.listen entry has network tls: give a PEM file")
			missing = true
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			ps.add(f.key, f.path, "cannot be read (%s): check the path and the file's permissions", describeFileError(err))
			missing = true
		}
	}
	if missing {
		return
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		ps.add("sip.tls.cert_file", t.CertFile, "does not load with sip.tls.key_file: %s: use a PEM certificate and its PEM private key",
			strings.TrimPrefix(err.Error(), "tls: "))
	}
}
