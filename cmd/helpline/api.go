package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/counselor"
	"helpline/sip"
	"helpline/web"
)

// HTTP server limits of the API.
const (
	apiReadHeaderTimeout = 10 * time.Second
	apiIdleTimeout       = 2 * time.Minute
	// apiShutdownTimeout bounds the wait for requests in progress at stop.
	apiShutdownTimeout = 5 * time.Second
)

// apiServer is the HTTP listener of the API, or nil when the API is off.
type apiServer struct {
	http     *http.Server
	listener net.Listener
	log      zerolog.Logger
	done     chan error
}

// newCounselorService ties counselor states to the registrar's bindings,
// the event bus and the distributors.
func newCounselorService(cfg *config.Config, deps counselor.Config) *counselor.Service {
	for _, c := range cfg.Counselors {
		deps.Names = append(deps.Names, counselor.Named{ID: c.ID, Name: c.Name})
	}
	return counselor.New(deps)
}

// newFeatureTable builds the feature codes counselors dial.
func newFeatureTable(cfg *config.Config, states sip.CounselorStates, server *sip.ServerRef) (*sip.FeatureTable, error) {
	table := sip.NewFeatureTable()
	codes := sip.StateCodes{
		Login:     cfg.Features.Login,
		Logout:    cfg.Features.Logout,
		Break:     cfg.Features.Break,
		Back:      cfg.Features.Back,
		EndWrapUp: cfg.Features.EndWrapUp,
	}
	if err := sip.AddStateFeatures(table, codes, states); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	monitor := sip.MonitorCodes{
		Listen:  cfg.Features.MonitorListen,
		Whisper: cfg.Features.MonitorWhisper,
		Barge:   cfg.Features.MonitorBarge,
	}
	if err := sip.AddMonitorFeatures(table, monitor, server); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return table, nil
}

// counselorWrapUps returns the counselors' own wrap-up times.
func counselorWrapUps(cfg *config.Config) map[string]time.Duration {
	wrapUps := make(map[string]time.Duration)
	for _, c := range cfg.Counselors {
		if c.WrapUp > 0 {
			wrapUps[c.ID] = c.WrapUp
		}
	}
	return wrapUps
}

// newAPI builds the API's routes, or returns nil when the API is off.
// opts turn on logins (accessOptions).
func newAPI(cfg *config.Config, states *counselor.Service, log zerolog.Logger, opts ...web.Option) *web.API {
	if !cfg.API.Enabled() {
		return nil
	}
	api := web.NewAPI([]string{cfg.API.Token}, log.With().Str("component", "api").Logger(), opts...)
	web.RegisterCounselors(api, states)
	return api
}

// startAPI binds the API's listener and serves it until apiServer.stop.
// A nil api starts nothing. The onShutdown functions run when stop begins,
// such as Streams.Close to end the event streams, whose requests would
// otherwise keep Shutdown waiting.
func startAPI(cfg *config.Config, api *web.API, log zerolog.Logger, onShutdown ...func()) (*apiServer, error) {
	if api == nil {
		return nil, nil
	}
	listener, err := net.Listen("tcp", cfg.API.Address.String())
	if err != nil {
		return nil, fmt.Errorf("listening on the API address %s (api.listen): %w", cfg.API.Address, err)
	}
	s := &apiServer{
		http: &http.Server{
			Handler:           api,
			ReadHeaderTimeout: apiReadHeaderTimeout,
			IdleTimeout:       apiIdleTimeout,
		},
		listener: listener,
		log:      log,
		done:     make(chan error, 1),
	}
	for _, f := range onShutdown {
		s.http.RegisterOnShutdown(f)
	}
	scheme := "http"
	if cfg.Web.TLS.Enabled() {
		// The files were checked when the configuration loaded, but they
		// may have changed since.
		cert, err := tls.LoadX509KeyPair(cfg.Web.TLS.CertFile, cfg.Web.TLS.KeyFile)
		if err != nil {
			_ = listener.Close()
			return nil, fmt.Errorf("loading the API certificate (web.tls.cert_file, web.tls.key_file): %w", err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		listener = tls.NewListener(listener, s.http.TLSConfig)
		s.listener = listener
		scheme = "https"
	}
	go func() { s.done <- s.http.Serve(listener) }()
	log.Info().Str("address", listener.Addr().String()).Str("scheme", scheme).Msg("API listening")
	return s, nil
}

// stop finishes the requests in progress and closes the listener.
func (s *apiServer) stop() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn().Err(err).Msg("API requests still running at shutdown were cut off")
		_ = s.http.Close()
	}
	if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn().Err(err).Msg("API server stopped with an error")
	}
}

// apiAddress returns the API's address for the ready line, or "off".
func apiAddress(cfg *config.Config) string {
	if !cfg.API.Enabled() {
		return "off"
	}
	return cfg.API.Address.String()
}
