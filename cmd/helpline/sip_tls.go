package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/sip"
)

// certificateRenewWarning is how long before its expiry the SIP TLS
// certificate draws a warning at start-up and on each reload.
const certificateRenewWarning = 14 * 24 * time.Hour

// securityPolicy maps sip.secure_counselors onto the signalling settings.
func securityPolicy(cfg *config.Config) sip.SecurityPolicy {
	return sip.SecurityPolicy{
		OfficeNetworks:        cfg.SIP.SecureCounselors.OfficeNetworks,
		RequiredOutsideOffice: cfg.SIP.SecureCounselors.RequiredOutsideOffice,
	}
}

// loadSIPCertificate loads sip.tls.cert_file and key_file when a listener
// has network tls, and returns nil otherwise.
func loadSIPCertificate(cfg *config.Config, log zerolog.Logger) (*sip.CertificateStore, error) {
	needed := false
	for _, l := range cfg.SIP.Listen {
		needed = needed || l.Network == "tls"
	}
	if !needed {
		return nil, nil
	}
	store, err := sip.LoadCertificateStore(cfg.SIP.TLS.CertFile, cfg.SIP.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("sip.tls: %w", err)
	}
	logCertificate(log, store, "sip tls certificate loaded")
	return store, nil
}

// watchReload reads the SIP TLS certificate again on each SIGHUP until
// stop is called. SIGHUP is caught even without TLS listeners, so that it
// never ends the server.
func watchReload(store *sip.CertificateStore, log zerolog.Logger) (stop func()) {
	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-hangups:
				reloadCertificate(store, log)
			}
		}
	}()
	return func() {
		signal.Stop(hangups)
		close(done)
		<-finished
	}
}

// reloadCertificate reloads the certificate and logs the outcome.
func reloadCertificate(store *sip.CertificateStore, log zerolog.Logger) {
	if store == nil {
		log.Info().Msg("SIGHUP received: no sip tls listener, nothing to reload")
		return
	}
	if err := store.Reload(); err != nil {
		inUse := store.Info()
		log.Error().Err(err).Str("kept_subject", inUse.Subject).Str("kept_serial_hex", inUse.Serial).Time("kept_not_after", inUse.NotAfter).
			Msg("sip tls certificate reload failed")
		return
	}
	logCertificate(log, store, "sip tls certificate reloaded")
}

// logCertificate logs the subject, serial number and validity period of
// the certificate in use. It logs an error when the certificate has
// expired or is not valid yet, which only start-up allows (a reload rejects
// such a file), and a warning when it expires within
// certificateRenewWarning.
func logCertificate(log zerolog.Logger, store *sip.CertificateStore, message string) {
	info := store.Info()
	log.Info().Str("subject", info.Subject).Str("serial_hex", info.Serial).
		Time("not_before", info.NotBefore).Time("not_after", info.NotAfter).Msg(message)

	left := time.Until(info.NotAfter)
	switch {
	case time.Now().Before(info.NotBefore):
		log.Error().Str("subject", info.Subject).Time("not_before", info.NotBefore).
			Msg("sip tls certificate is not valid yet and phones reject it: check the server's clock, or install a valid certificate in sip.tls.cert_file and key_file, then send SIGHUP")
	case left <= 0:
		log.Error().Str("subject", info.Subject).Time("not_after", info.NotAfter).
			Msg("sip tls certificate has expired and phones reject it: replace sip.tls.cert_file and key_file, then send SIGHUP")
	case left < certificateRenewWarning:
		log.Warn().Str("subject", info.Subject).Time("not_after", info.NotAfter).
			Msg("sip tls certificate expires soon: replace sip.tls.cert_file and key_file, then send SIGHUP")
	}
}
