package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/config"
	"helpline/counselor"
	"helpline/events"
	"helpline/ivr"
	"helpline/media"
	"helpline/metrics"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
	"helpline/sip"
	"helpline/web"
)

// errConfig marks a configuration that cannot run; the exit status is 2.
var errConfig = errors.New("invalid configuration")

// configError is a configuration problem whose message already states what
// is wrong; it matches errConfig without repeating its text.
type configError struct{ err error }

func (e configError) Error() string        { return e.err.Error() }
func (e configError) Unwrap() error        { return e.err }
func (e configError) Is(target error) bool { return target == errConfig }

// languages are the IVR languages every prompt must exist in.
var languages = []string{"ko", "en"}

// serve runs the server until SIGTERM or SIGINT, then drains it.
func serve(args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	configPath := flags.String("config", "", "configuration file (YAML); empty runs the built-in example")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}

	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	warnAboutConfig(cfg, log)

	app, err := build(cfg, log)
	if err != nil {
		return err
	}
	defer app.close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return app.run(ctx)
}

// loadConfig reads and validates the configuration.
func loadConfig(path string, opts ...config.LoadOption) (*config.Config, error) {
	cfg, err := config.Load(path, os.Environ(), opts...)
	if err != nil {
		return nil, configError{err}
	}
	return cfg, nil
}

// newLogger builds the process logger: JSON, or readable console output
// when stderr is a terminal (format auto).
func newLogger(c config.Log, stderr io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("log.level: %q is not a level: use debug, info, warn or error", c.Level)
	}
	out := stderr
	console := c.Format == "console"
	if c.Format == "auto" {
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			console = true
		}
	}
	if console {
		out = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.RFC3339}
	}
	// Durations are logged as seconds (a float), so "queue_wait":8.2 reads
	// as 8.2 s.
	zerolog.DurationFieldUnit = time.Second
	zerolog.DurationFieldInteger = false
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
}

// warnAboutConfig logs what is allowed but unsafe or odd.
func warnAboutConfig(cfg *config.Config, log zerolog.Logger) {
	if ids := cfg.DemoPasswordsInUse(); len(ids) > 0 {
		log.Warn().Strs("counselors", ids).Msg("demo counselor passwords in use: set real passwords (password_env) before taking real calls")
	}
	for _, w := range cfg.Warnings {
		log.Warn().Str("key", w.Key).Msg(w.Message)
	}
	warnAboutDemoUsers(cfg, log)
	warnAboutEmergencyRoute(cfg.Trunk, log)
	if cfg.API.UsesDemoToken {
		log.Warn().Msg("the API accepts the public demo token: set " + cfg.API.TokenEnv + " or api.token before taking real calls")
	}
}

// app is the wired server: every part and the order to stop them in.
type app struct {
	cfg *config.Config
	// events is the stream every part publishes to.
	events  *events.Bus
	log     zerolog.Logger
	records *records.Store
	// spool holds call records and events while records cannot be written.
	spool     *records.Spool
	registrar *sip.Registrar
	sip       *sip.Server
	// distributors has one distributor per configured queue.
	distributors []*routing.Distributor
	// persister writes every event into the records store.
	persister *records.EventPersister
	// callbacks keeps the callback tasks.
	callbacks *callback.Manager
	// api is the HTTP API's routes, nil when the API is off.
	api *web.API
	// metrics feeds /metrics on the API, nil when the API is off.
	metrics *metrics.Metrics
	// streams ends the API's event streams at shutdown, nil when the API
	// is off.
	streams *web.Streams
	// shared is this node's part in shared mode, nil in embedded mode.
	shared *sharedNode
	// wrapUps ends the wrap-up time of calls whose wrap-up was saved during
	// the call, nil when the API is off.
	wrapUps *savedWrapUps
	// certificate is the SIP TLS certificate that SIGHUP reloads, nil
	// without tls listeners.
	certificate *sip.CertificateStore
}

// build wires the parts together. Problems with the configuration's
// files (prompts, records key) are configuration errors.
func build(cfg *config.Config, log zerolog.Logger) (*app, error) {
	prompts, err := loadPrompts(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	store, interrupted, err := openRecords(cfg, log)
	if err != nil {
		return nil, err
	}

	bus := events.NewBus()
	spool := newRecordsSpool(cfg, store, bus, log)
	q, shared, err := openQueue(cfg, log)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	wake := &notifier{}
	q = shared.withBuffer(q, wake.notify)
	var registrar *sip.Registrar
	states := newCounselorService(cfg, counselor.Config{
		Store:  q,
		Events: bus,
		Notify: wake.notify,
		Registered: func(id string) bool {
			_, ok := registrar.Lookup(id)
			return ok
		},
		Logger: log.With().Str("component", "counselors").Logger(),
	})
	serverRef := &sip.ServerRef{}
	features, err := newFeatureTable(cfg, states, serverRef)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	if err := addCounselors(cfg, q); err != nil {
		_ = store.Close()
		return nil, err
	}
	registrar, err = newRegistrar(cfg, states, shared, bus, log)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	shared.restoreBindings(registrar)
	ports, err := media.NewPortRange(cfg.RTP.Address, cfg.RTP.PortMin, cfg.RTP.PortMax)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("%w: rtp: %w", errConfig, err)
	}

	certificate, err := loadSIPCertificate(cfg, log)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	serverMetrics := newMetrics(cfg, q, spool, log)
	opts := sipOptions(cfg)
	opts.NodeID = shared.nodeID()
	if certificate != nil {
		opts.TLS = certificate.ServerConfig(cfg.SIP.TLS.MinTLSVersion())
	}
	server, err := sip.New(opts, sip.Deps{
		Logger:      log,
		Registrar:   registrar,
		Ports:       ports,
		Prompts:     prompts,
		Graph:       &cfg.IVR,
		Queue:       q,
		Records:     spool,
		Events:      bus,
		Features:    features,
		Reception:   receptionObserver(serverMetrics),
		RateLimited: rateLimitObserver(serverMetrics),
	})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	serverRef.Set(server)
	distributors := make([]*routing.Distributor, 0, len(cfg.Queues))
	misses := routing.NewMissPolicy(cfg.Queue.MaxMissed, cfg.Queue.BusySkip)
	for _, def := range cfg.Queues {
		distributors = append(distributors, routing.NewDistributor(q, server,
			routing.WithLogger(log.With().Str("component", "distributor").Logger()),
			routing.WithRetryDelay(cfg.Queue.RetryDelay),
			routing.WithQueue(def.Name),
			routing.WithEvents(bus),
			routing.WithMissPolicy(misses),
			routing.WithNode(shared.nodeID()),
			queueRouting(cfg, def),
		))
	}
	notifyAll := func() {
		for _, d := range distributors {
			d.Notify()
		}
	}
	server.SetNotifier(notifyAll)
	wake.set(notifyAll)
	callbacks := newCallbacks(cfg, q, store, bus, server, notifyAll, log)
	shared.wire(store, callbacks, bus, notifyAll)

	persister := records.StartEventPersister(spool, bus, log.With().Str("component", "events").Logger())
	// The persister subscribes first, so that the log keeps the
	// callback_requested events of these tasks.
	callBackInterrupted(cfg, callbacks, interrupted, log)
	a := &app{cfg: cfg, events: bus, log: log, records: store, spool: spool, registrar: registrar, sip: server, distributors: distributors,
		certificate: certificate, persister: persister, callbacks: callbacks, api: newAPI(cfg, states, log, accessOptions(cfg, store, bus)...), shared: shared}
	if a.api != nil {
		web.RegisterCallbacks(a.api, web.CallbackDeps{Tasks: callbacks})
		registerCallRoutes(a.api, server, states, log)
		a.streams = web.NewStreams()
		registerFollowUpRoutes(a.api, store, states, bus, a.streams, log)
		a.wrapUps = newSavedWrapUps(bus, states, store, log.With().Str("component", "wrap_up").Logger())
		web.RegisterPriority(a.api, web.PriorityDeps{RaisePriority: server.RaisePriority})
		web.RegisterSIPLockouts(a.api, sipLockoutDeps(registrar))
		web.RegisterHealth(a.api, append(readyChecks(q, server.Draining), append(shared.readyChecks(), recordsCheck(store, spool))...)...)
		serveMetrics(serverMetrics, a.api, bus)
		a.metrics = serverMetrics
		registerBoard(cfg, a.api, a.streams, q, states, store, callbacks, bus, server, log)
		web.RegisterPages(a.api)
	}
	return a, nil
}

// loadPrompts checks that every prompt the menu names exists in both
// languages and decodes them all.
func loadPrompts(cfg *config.Config) (*sip.PromptCache, error) {
	set, err := ivr.NewPromptSet(cfg.IVR.PromptDir)
	if err != nil {
		return nil, fmt.Errorf("ivr.prompt_dir: %w", err)
	}
	if err := cfg.IVR.Validate(set); err != nil {
		return nil, err
	}
	names := append(sip.PromptNames(&cfg.IVR), sip.FeaturePrompts...)
	if callbacksEnabled(cfg) {
		names = append(names, sip.CallbackPromptNames...)
	}
	return sip.NewPromptCache(set, names, languages)
}

// openRecords loads the records key, opens the database, loads the call
// records a shutdown during a records outage saved to a fallback file, and
// marks calls left open by an earlier run as interrupted, which it returns. In shared
// mode the records hold every node's calls, so the watchdog marks only
// this node's.
func openRecords(cfg *config.Config, log zerolog.Logger) (*records.Store, []records.Record, error) {
	key, demo, err := records.LoadKey(records.KeySource{
		Env:       cfg.Records.KeyEnv,
		File:      cfg.Records.KeyFile,
		AllowDemo: cfg.Records.AllowDemoKey,
	}, os.Environ())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: records key: %w", errConfig, err)
	}
	if demo {
		log.Warn().Msg("records use the public demo key: callers' numbers are not protected; set " +
			cfg.Records.KeyEnv + " or records.key_file before taking real calls")
	}

	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	store, err := openRecordsStore(ctx, cfg, key, false)
	if err != nil {
		return nil, nil, err
	}
	replayHeldRecords(ctx, cfg, store, log)
	if cfg.Shared() {
		// The watchdog closes this node's records of its earlier run and
		// turns its waiting callers into callback tasks.
		return store, nil, nil
	}
	return store, markRecordsInterrupted(ctx, store, log), nil
}

// addCounselors makes every configured counselor known to the queue store,
// which keeps the states of counselors already known.
func addCounselors(cfg *config.Config, q queue.Store) error {
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	for _, c := range cfg.Counselors {
		if err := q.AddCounselor(ctx, c.ID, time.Now()); err != nil {
			return fmt.Errorf("adding the counselors to the queue store failed (in shared mode, check that Redis at cluster.redis.addrs is reachable): %w", err)
		}
	}
	return nil
}

// newRegistrar builds the registrar and ties registrations to counselor
// states: a registered phone makes the counselor reachable but not
// available, and the end of its last registration logs the counselor out
// (after the call, if one is in progress).
func newRegistrar(cfg *config.Config, states *counselor.Service, shared *sharedNode, bus events.Publisher, log zerolog.Logger) (*sip.Registrar, error) {
	passwords := make(map[string]string, len(cfg.Counselors))
	for _, c := range cfg.Counselors {
		passwords[c.ID] = c.Password
	}

	rc := sip.RegistrarConfig{
		Realm:               cfg.SIP.Realm,
		DigestAlgorithms:    cfg.SIP.DigestAlgorithms,
		Passwords:           passwords,
		MinExpires:          cfg.SIP.MinExpires,
		MaxExpires:          cfg.SIP.MaxExpires,
		DefaultExpires:      cfg.SIP.DefaultExpires,
		Logger:              log.With().Str("component", "registrar").Logger(),
		AuthLockoutAttempts: cfg.SIP.AuthLockout.Attempts,
		AuthLockoutDuration: cfg.SIP.AuthLockout.Duration,
		Events:              bus,
		Security:            securityPolicy(cfg),
		OnChange: func(user string, registered bool) {
			states.PhoneRegistered(context.Background(), user, registered)
		},
	}
	shared.shareBindings(&rc)
	return sip.NewRegistrar(rc)
}

// notifier wakes the distributor, which is built after the registrar
// whose callbacks need it.
type notifier struct {
	fn atomic.Pointer[func()]
}

func (n *notifier) set(f func()) { n.fn.Store(&f) }

func (n *notifier) notify() {
	if f := n.fn.Load(); f != nil {
		(*f)()
	}
}

// sipOptions maps the configuration onto the signalling settings.
func sipOptions(cfg *config.Config) sip.Options {
	listeners := make([]sip.Listener, 0, len(cfg.SIP.Listen))
	for _, l := range cfg.SIP.Listen {
		listeners = append(listeners, sip.Listener{Network: l.Network, Address: l.Address})
	}
	return sip.Options{
		Listen:            listeners,
		PublicHost:        cfg.SIP.PublicHost,
		UserAgent:         cfg.SIP.UserAgent,
		ServiceUser:       "helpline",
		TrustedSources:    cfg.Trunk.TrustedSources,
		NodeSources:       cfg.Cluster.NodeSources,
		Numbers:           cfg.Trunk.Numbers,
		GeneralServiceURI: cfg.Trunk.GeneralServiceURI,
		OutboundURI:       cfg.Trunk.OutboundURI,
		AllowedTargets:    cfg.Trunk.AllowedTargets,
		CounselorWrapUp:   counselorWrapUps(cfg),
		EmergencyCode:     cfg.Trunk.EmergencyCode,
		Supervisors:       cfg.Supervisors(),
		RingTimeout:       cfg.Queue.RingTimeout,
		WrapUp:            cfg.Queue.WrapUp,
		MediaTimeout:      cfg.RTP.MediaTimeout,
		HoldTimeout:       cfg.RTP.HoldTimeout,
		RetryAfter:        cfg.Shutdown.RetryAfter,
		AnnounceInterval:  cfg.Queue.AnnounceInterval,
		CallbackKey:       callbackKey(cfg),
		AfterAbandonWait:  cfg.Callbacks.AfterAbandonWait,
		Overflow:          overflowRules(cfg),
		SessionExpires:    cfg.SIP.SessionExpires,
		MinSE:             cfg.SIP.MinSE,
		RateLimit: sip.RateLimit{
			InviteRate:    cfg.SIP.RateLimit.InviteRate,
			InviteBurst:   cfg.SIP.RateLimit.InviteBurst,
			RegisterRate:  cfg.SIP.RateLimit.RegisterRate,
			RegisterBurst: cfg.SIP.RateLimit.RegisterBurst,
			IdleTimeout:   cfg.SIP.RateLimit.IdleTimeout,
			MaxSources:    cfg.SIP.RateLimit.MaxSources,
		},
		SecureCounselors: securityPolicy(cfg),
	}
}

// run serves until ctx ends, then drains and stops.
func (a *app) run(ctx context.Context) error {
	// In shared mode this node's earlier run is reclaimed before its
	// distributors could offer the callers of that run.
	if err := a.shared.start(a.distributors); err != nil {
		return err
	}
	defer a.shared.stop()

	// The spool's retry loop runs until close has written back what it
	// holds.
	go a.spool.Run(context.Background())

	distCtx, stopDist := context.WithCancel(context.Background())
	distDone := make(chan error, len(a.distributors))
	for _, d := range a.distributors {
		go func() { distDone <- d.Run(distCtx) }()
	}
	waitDistributors := func() {
		for range a.distributors {
			if err := <-distDone; err != nil && !errors.Is(err, context.Canceled) {
				a.log.Warn().Err(err).Msg("distributor stopped with an error")
			}
		}
	}

	go a.callbacks.Run(distCtx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sweepSessions(distCtx, a.records, sessionSweepInterval, a.log.With().Str("component", "sessions").Logger())
	}()
	defer func() { <-sweepDone }()
	stopPurge := a.startPurgeJob()
	defer stopPurge()
	if a.wrapUps != nil {
		wrapUpsDone := make(chan struct{})
		go func() {
			defer close(wrapUpsDone)
			a.wrapUps.run(distCtx)
		}()
		defer func() { <-wrapUpsDone }()
	}

	if err := a.sip.Start(ctx); err != nil {
		stopDist()
		waitDistributors()
		return err
	}
	api, err := startAPI(a.cfg, a.api, a.log, a.streams.Close)
	if err != nil {
		stopDist()
		waitDistributors()
		return err
	}
	defer api.stop()
	stopReload := watchReload(a.certificate, a.log)
	defer stopReload()
	a.logReady()

	<-ctx.Done()
	a.log.Info().Dur("drain_timeout", a.cfg.Shutdown.DrainTimeout).Msg("shutdown requested, draining calls")
	drainCtx, stopDrain := context.WithTimeout(context.Background(), a.cfg.Shutdown.DrainTimeout)
	a.sip.Drain(drainCtx)
	stopDrain()

	stopDist()
	waitDistributors()
	a.log.Info().Msg("helpline stopped")
	return nil
}

// logReady logs the line that marks the server as up for operators and tests.
func (a *app) logReady() {
	var addrs []string
	for _, l := range a.sip.Addrs() {
		addrs = append(addrs, l.Network+":"+l.Address.String())
	}
	a.log.Info().Str("sip", strings.Join(addrs, " ")).
		Str("rtp", fmt.Sprintf("%s:%d-%d", a.cfg.RTP.Address, a.cfg.RTP.PortMin, a.cfg.RTP.PortMax)).
		Str("records", recordsLocation(a.cfg)).
		Int("counselors", len(a.cfg.Counselors)).
		Str("api", apiAddress(a.cfg)).
		Msg("helpline ready")
}

// close stops the SIP stack, stores the buffered events, writes back the
// records the spool holds, flushes the records and, in shared mode, closes the Redis connections last.
func (a *app) close() {
	if err := a.sip.Close(); err != nil {
		a.log.Warn().Err(err).Msg("closing SIP stack failed")
	}
	ctx, stop := context.WithTimeout(context.Background(), eventDrainTimeout)
	a.shared.closeStream(ctx)
	_ = a.persister.Close(ctx)
	_ = a.spool.Close(ctx)
	if a.metrics != nil {
		_ = a.metrics.Close(ctx)
	}
	stop()
	if err := a.records.Close(); err != nil {
		a.log.Error().Err(err).Msg("closing records failed")
	}
	a.shared.closeClient()
}
