package sip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/ivr"
	"helpline/media"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
)

// defaultEventPayloadType is the telephone-event payload type this server
// offers to counselor phones (RFC 4733 leaves it dynamic; 101 is usual).
const defaultEventPayloadType uint8 = 101

// Listener is one SIP listening socket.
type Listener struct {
	// Network is "udp", "tcp" or "tls".
	Network string
	// Address is the host:port to bind.
	Address netip.AddrPort
}

// Options are the signalling settings of a Server.
type Options struct {
	Listen []Listener
	// PublicHost is the host written into Contact headers.
	PublicHost string
	// UserAgent is the User-Agent and Server header value.
	UserAgent string
	// ServiceUser is the user part of From on calls to counselors.
	ServiceUser string
	// TrustedSources are the networks the 120 trunk sends from.
	TrustedSources []netip.Prefix
	// NodeSources are the networks the other nodes of shared mode send
	// from. Only they may reach a phone registered on this node through
	// it; anyone else gets 403.
	NodeSources []netip.Prefix
	// Numbers are the called numbers this server answers.
	Numbers []string
	// GeneralServiceURI is the 120 general service, "" when not configured.
	GeneralServiceURI string
	// RingTimeout is how long a counselor's phone rings before CANCEL.
	RingTimeout time.Duration
	// WrapUp is a counselor's time after a call before the next offer.
	WrapUp time.Duration
	// MediaTimeout ends a call whose RTP stopped for this long (0: never).
	MediaTimeout time.Duration
	// HoldTimeout ends a call whose party holds it and sent no RTP for
	// this long (0: never).
	HoldTimeout time.Duration
	// RetryAfter is sent with 503 while draining.
	RetryAfter time.Duration
	// OutboundURI is the gateway for calls to outside numbers, "" for none.
	OutboundURI string
	// AllowedTargets are the outside numbers counselors may transfer to or
	// call into a running call.
	AllowedTargets []string
	// AnnounceInterval is how often a waiting caller hears their place in
	// line and estimated wait. Zero turns the announcements off.
	AnnounceInterval time.Duration
	// CallbackKey is the DTMF key a waiting caller presses to be called
	// back, "" to turn the key off.
	CallbackKey string
	// AfterAbandonWait is the wait after which a caller who hangs up in the
	// queue gets a callback task, 0 for never. High-risk callers always
	// get one.
	AfterAbandonWait time.Duration
	// Overflow maps a queue name to its overflow rule. A queue without an
	// entry keeps its callers waiting.
	Overflow map[string]OverflowRule
	// CounselorWrapUp maps a counselor ID to that counselor's wrap-up time,
	// which replaces WrapUp.
	CounselorWrapUp map[string]time.Duration
	// EmergencyCode starts an emergency call from the counselor's phone:
	// the code, the number, then '#'. Empty means DefaultEmergencyCode.
	EmergencyCode string
	// Supervisors are the counselor ids that may monitor calls.
	Supervisors []string
	// SessionExpires is the session interval (RFC 4028) granted to a
	// caller that supports timers but asks for none (0: 1800 s).
	SessionExpires time.Duration
	// MinSE is the shortest session interval accepted (0: 90 s).
	MinSE time.Duration
	// NodeID is this node's ID among the nodes of shared mode, or "" in
	// embedded mode.
	NodeID string
	// RateLimit limits the new INVITEs and REGISTERs of each source
	// outside TrustedSources (and NodeSources in shared mode). The zero
	// value limits nothing.
	RateLimit RateLimit
	// TLS is the configuration of the listeners with network "tls". It is
	// required when one is listed.
	TLS *tls.Config
	// SecureCounselors requires TLS and SRTP of counselors outside the
	// office.
	SecureCounselors SecurityPolicy
}

// Deps are the parts of the server the signalling layer drives.
type Deps struct {
	Logger    zerolog.Logger
	Registrar *Registrar
	Ports     *media.PortRange
	Prompts   *PromptCache
	Graph     *ivr.Graph
	Queue     queue.Store
	Records   RecordStore
	// Events receives what happens on each call. Nil drops every event.
	Events events.Publisher
	// Features maps the feature codes counselors dial. Nil answers them
	// like any other number.
	Features *FeatureTable
	// Reception receives the RTP reception statistics of every media
	// session, labelled by leg. Nil keeps them in the sessions.
	Reception media.ReceptionObserver
	// RateLimited counts the requests the per-source rate limit stopped.
	// Nil counts nothing.
	RateLimited RateLimitObserver
}

// RecordStore is the part of the records store a call writes to.
type RecordStore interface {
	Start(ctx context.Context, info records.StartInfo) error
	Update(ctx context.Context, callID string, p records.Patch) error
}

// Server is the B2BUA: it answers trunk calls, registers counselor phones
// and rings them for queued callers.
type Server struct {
	opts Options
	log  zerolog.Logger

	ua     *sipgo.UserAgent
	server *sipgo.Server
	client *sipgo.Client

	// learnedProfiles stores the media profile each counselor's phone
	// accepted after rejecting the other one with 488.
	learnedProfiles profileMemory

	registrar *Registrar
	ports     *media.PortRange
	prompts   *PromptCache
	graph     *ivr.Graph
	queue     queue.Store
	records   RecordStore
	events    events.Publisher
	features  *FeatureTable
	reception media.ReceptionObserver
	// limiter is the per-source rate limit, nil when it is off.
	limiter     *sourceLimiter
	rateLimited RateLimitObserver
	codecs      []media.Codec
	numbers     map[string]bool

	dialogs  *dialogTable
	calls    *callTable
	draining atomic.Bool
	// tasks counts every goroutine the server started, for Close.
	tasks sync.WaitGroup

	notifyMu sync.Mutex
	// notify wakes the routing distributor; guarded by notifyMu.
	notify func()

	listenMu sync.Mutex
	// closers are the bound listeners; guarded by listenMu.
	closers []func() error
	// bound are the addresses actually bound, port 0 resolved; guarded by listenMu.
	bound []Listener
	// stopBufferWatch ends watchBuffer, nil when it does not run; guarded
	// by listenMu.
	stopBufferWatch context.CancelFunc
	// udpConns are the UDP listeners by local address, which send the
	// responses to unparsable requests; guarded by listenMu.
	udpConns map[string]net.PacketConn

	// unparsableLog limits the warnings about unparsable datagrams.
	unparsableLog logGate
	// untrustedLog limits the warnings about calls from sources that are
	// not trusted trunks to one per source per sourceLogInterval.
	untrustedLog sourceLogGates
	// portShortageLog limits the errors about an exhausted RTP port range.
	portShortageLog logGate
	// handlers counts the request handlers running, for Close.
	handlers inflight

	// waits estimates the wait that announcements tell waiting callers.
	waits *queue.WaitEstimator
	// callbacks keeps callback tasks, nil when callbacks are off. Set
	// before Start.
	callbacks CallbackService
	// callbackCalls are the callback calls in progress.
	callbackCalls callbackTable
	// featureCalls tracks the feature code calls in progress per counselor.
	featureCalls featureCallSet
}

// sipgoLoggerOnce sets sipgo's process-wide logger from the first server
// built. Setting it again for a later server, as a process running several
// nodes would, races with the goroutines of the earlier server's
// transactions, which read it.
var sipgoLoggerOnce sync.Once

// New builds a server. Start binds its listeners.
func New(opts Options, deps Deps) (*Server, error) {
	if deps.Registrar == nil || deps.Ports == nil || deps.Prompts == nil || deps.Graph == nil || deps.Queue == nil {
		return nil, errors.New("sip.New: registrar, ports, prompts, graph and queue are required")
	}
	sipgoLoggerOnce.Do(func() { sipmsg.SetDefaultLogger(slog.New(newSlogBridge(deps.Logger))) })
	allowLargeUDPMessages()

	// The read filter needs the server, which needs the user agent: s is
	// set below, before any listener reads.
	var s *Server
	readFilter := func(props sipmsg.TransportReadProps, data []byte) ([]byte, error) {
		return s.filterDatagram(props, data)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(opts.UserAgent), sipgo.WithUserAgentHostname(opts.PublicHost),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerReadFilter(readFilter)))
	if err != nil {
		return nil, fmt.Errorf("creating SIP user agent: %w", err)
	}
	server, err := sipgo.NewServer(ua)
	if err != nil {
		return nil, fmt.Errorf("creating SIP server: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(opts.PublicHost))
	if err != nil {
		return nil, fmt.Errorf("creating SIP client: %w", err)
	}

	s = &Server{
		opts:        opts,
		log:         deps.Logger,
		ua:          ua,
		server:      server,
		client:      client,
		registrar:   deps.Registrar,
		ports:       deps.Ports,
		prompts:     deps.Prompts,
		graph:       deps.Graph,
		queue:       deps.Queue,
		records:     deps.Records,
		events:      deps.Events,
		features:    deps.Features,
		reception:   deps.Reception,
		limiter:     newSourceLimiter(opts.RateLimit),
		rateLimited: deps.RateLimited,
		codecs:      []media.Codec{media.PCMU, media.PCMA},
		numbers:     make(map[string]bool, len(opts.Numbers)),
		dialogs:     newDialogTable(),
		calls:       newCallTable(),
		waits:       queue.NewWaitEstimator(),
		udpConns:    make(map[string]net.PacketConn),

		unparsableLog:   logGate{interval: unparsableLogInterval},
		portShortageLog: logGate{interval: portShortageLogInterval},
	}
	if s.events == nil {
		s.events = events.Nop{}
	}
	for _, n := range opts.Numbers {
		s.numbers[n] = true
	}
	s.routeRequests()
	return s, nil
}

// SetNotifier sets the function that wakes the routing distributor.
func (s *Server) SetNotifier(notify func()) {
	s.notifyMu.Lock()
	s.notify = notify
	s.notifyMu.Unlock()
}

func (s *Server) notifyDistributor() {
	s.notifyMu.Lock()
	notify := s.notify
	s.notifyMu.Unlock()
	if notify != nil {
		notify()
	}
}

// routeRequests registers a handler for each method.
func (s *Server) routeRequests() {
	handlers, noRoute := s.requestHandlers()
	for method, handler := range handlers {
		s.server.OnRequest(method, handler)
	}
	s.server.OnNoRoute(noRoute)
}

// requestHandlers returns the guarded handler of each method this server
// serves, and the handler of every other method. Tests dispatch requests
// through them as sipgo does, without sockets.
func (s *Server) requestHandlers() (map[sipmsg.RequestMethod]sipgo.RequestHandler, sipgo.RequestHandler) {
	handlers := map[sipmsg.RequestMethod]sipgo.RequestHandler{
		sipmsg.INVITE:   s.guard(s.handleInvite),
		sipmsg.ACK:      s.guard(s.handleAck),
		sipmsg.BYE:      s.guard(s.handleInDialog),
		sipmsg.INFO:     s.guard(s.handleInDialog),
		sipmsg.UPDATE:   s.guard(s.handleInDialog),
		sipmsg.CANCEL:   s.guard(s.handleStrayCancel),
		sipmsg.OPTIONS:  s.guard(s.handleOptions),
		sipmsg.REGISTER: s.guard(s.registrar.HandleRegister),
		sipmsg.REFER:    s.guard(s.handleRefer),
	}
	return handlers, s.guard(s.handleUnknownMethod)
}

// guard keeps one bad request from taking the server down: a panic in a
// handler is logged and answered with 500. It counts the running handlers
// for Close, and drops a request that arrives once Close has started.
// Before any handler, it applies the per-source rate limit (see
// limitRequest) and gives the relay the requests that another node routes
// through this one to a phone
// registered here (see relayRequest).
func (s *Server) guard(h func(*sipmsg.Request, sipmsg.ServerTransaction)) func(*sipmsg.Request, sipmsg.ServerTransaction) {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if !s.handlers.enter() {
			return
		}
		defer s.handlers.leave()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error().Interface("panic", r).Str("method", string(req.Method)).Msg("request handler failed")
				if !req.IsAck() {
					s.respond(req, tx, sipmsg.StatusInternalServerError, "Server Internal Error", nil)
				}
			}
		}()
		if s.rejectMalformed(req, tx) {
			return
		}
		if s.limitRequest(req, tx) {
			return
		}
		if s.relayRequest(req, tx) {
			return
		}
		if s.rejectUnsupportedRequire(req, tx) {
			return
		}
		h(req, tx)
	}
}

// respond answers a request outside the INVITE flow.
func (s *Server) respond(req *sipmsg.Request, tx sipmsg.ServerTransaction, status int, reason string, body []byte, headers ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, status, reason, body)
	// sipgo copies the request's version, which may be one this server
	// does not speak (it responds 505 to those).
	res.SipVersion = sipVersion
	if status > sipmsg.StatusTrying {
		if to := res.To(); to != nil {
			if _, ok := to.Params.Get("tag"); !ok {
				to.Params.Add("tag", sipmsg.GenerateTagN(localTagBytes))
			}
		}
	}
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug().Err(err).Int("status", status).Str("method", string(req.Method)).Msg("response not sent")
	}
}

// handleAck passes an ACK to its dialog; an ACK matching none is dropped,
// as RFC 3261 17.2.3 allows no response to an ACK.
func (s *Server) handleAck(req *sipmsg.Request, _ sipmsg.ServerTransaction) {
	if leg, ok := s.dialogs.lookup(req); ok {
		leg.handleAck(req)
	}
}

// handleInDialog routes BYE, INFO, UPDATE and re-INVITE to their dialog,
// or answers 481 when there is none. A BYE may also end a leg whose INVITE
// is still in progress (see dialogTable.lookupDialling).
func (s *Server) handleInDialog(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	leg, ok := s.dialogs.lookup(req)
	if !ok && req.Method == sipmsg.BYE {
		leg, ok = s.dialogs.lookupDialling(req)
	}
	if !ok {
		s.respond(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
		return
	}
	leg.handleRequest(req, tx)
}

// handleStrayCancel answers a CANCEL that matched no pending INVITE.
func (s *Server) handleStrayCancel(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.respond(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
}

// handleUnknownMethod responds with 405 and the supported methods to a
// request whose method this server does not handle and that is not relayed.
func (s *Server) handleUnknownMethod(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.respond(req, tx, sipmsg.StatusMethodNotAllowed, "Method Not Allowed", nil,
		sipmsg.NewHeader("Allow", allowMethods))
}

// handleOptions answers keep-alive and capability probes, in or out of a
// dialog. While draining, a probe outside a dialog gets 503 with
// Retry-After, so that a front proxy that probes its nodes (Kamailio's
// dispatcher) sends new calls to the other nodes.
func (s *Server) handleOptions(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if leg, ok := s.dialogs.lookup(req); ok {
		leg.handleRequest(req, tx)
		return
	}
	if s.Draining() {
		s.respond(req, tx, sipmsg.StatusServiceUnavailable, "Service Unavailable", nil, retryAfter(s.opts.RetryAfter))
		return
	}
	s.respond(req, tx, sipmsg.StatusOK, "OK", nil,
		sipmsg.NewHeader("Allow", allowMethods),
		sipmsg.NewHeader("Accept", acceptBodies))
}

// Start binds every listener and serves requests until ctx ends or Close
// is called. It returns once all listeners are bound.
func (s *Server) Start(ctx context.Context) error {
	for _, l := range s.opts.Listen {
		if err := s.listen(ctx, l); err != nil {
			s.closeListeners()
			return err
		}
	}
	s.spawn(func() { s.registrar.Run(ctx) })
	s.startBufferWatch()
	return nil
}

func (s *Server) listen(ctx context.Context, l Listener) error {
	var lc net.ListenConfig
	switch l.Network {
	case "udp":
		conn, err := lc.ListenPacket(ctx, "udp", l.Address.String())
		if err != nil {
			return fmt.Errorf("listening on SIP %s %s: %w", l.Network, l.Address, err)
		}
		s.addListener(l.Network, conn.LocalAddr(), conn.Close)
		s.listenMu.Lock()
		s.udpConns[conn.LocalAddr().String()] = conn
		s.listenMu.Unlock()
		s.spawn(func() { _ = s.server.ServeUDP(conn) })
	case "tcp":
		ln, err := lc.Listen(ctx, "tcp", l.Address.String())
		if err != nil {
			return fmt.Errorf("listening on SIP %s %s: %w", l.Network, l.Address, err)
		}
		s.addListener(l.Network, ln.Addr(), ln.Close)
		// NOTE: a TCP connection that sent part of a message stays open
		// until its peer closes it. sipgo v1.7.3 has no deadline for a
		// message once started, and its read timeout would also close the
		// idle connections of phones registered over TCP.
		s.spawn(func() { _ = s.server.ServeTCP(ln) })
	case "tls":
		if s.opts.TLS == nil {
			return fmt.Errorf("listening on SIP tls %s: no certificate configured: set sip.tls.cert_file and sip.tls.key_file", l.Address)
		}
		ln, err := lc.Listen(ctx, "tcp", l.Address.String())
		if err != nil {
			return fmt.Errorf("listening on SIP %s %s: %w", l.Network, l.Address, err)
		}
		s.addListener(l.Network, ln.Addr(), ln.Close)
		tlsListener := tls.NewListener(ln, s.opts.TLS)
		s.spawn(func() { _ = s.server.ServeTLS(tlsListener) })
	default:
		return fmt.Errorf("listening on SIP: network %q is not supported: use udp, tcp or tls", l.Network)
	}
	return nil
}

func (s *Server) addListener(network string, addr net.Addr, closer func() error) {
	ap, _ := netip.ParseAddrPort(addr.String())
	s.listenMu.Lock()
	s.closers = append(s.closers, closer)
	s.bound = append(s.bound, Listener{Network: network, Address: ap})
	s.listenMu.Unlock()
}

// Addrs returns the bound listener addresses, with port 0 resolved.
func (s *Server) Addrs() []Listener {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	return append([]Listener(nil), s.bound...)
}

func (s *Server) closeListeners() {
	s.listenMu.Lock()
	closers := s.closers
	s.closers = nil
	clear(s.udpConns)
	s.listenMu.Unlock()
	for _, c := range closers {
		_ = c()
	}
}

// Drain stops taking new calls (they get 503 with Retry-After) and waits
// for the calls in progress to end. When ctx ends first, the remaining
// calls are ended with BYE on both legs. Drain returns when every call's
// record is written.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	s.log.Info().Int("calls", s.calls.len()).Msg("draining: new calls get 503")

	if !s.calls.waitEmpty(ctx) {
		remaining := s.calls.all()
		s.log.Warn().Int("calls", len(remaining)).Msg("drain deadline passed, ending calls")
		for _, c := range remaining {
			c.end(causeShutdown)
		}
		waitCtx, stop := context.WithTimeout(context.Background(), byeTimeout+5*time.Second)
		defer stop()
		s.calls.waitEmpty(waitCtx)
	}
	s.drainCallbacks()
}

// Draining reports whether Drain has started, so that the server takes no
// new calls.
func (s *Server) Draining() bool { return s.draining.Load() }

// Close stops the listeners, waits up to handlerDrainTimeout for the
// request handlers still running, then stops the SIP stack and waits for
// the server's goroutines.
func (s *Server) Close() error {
	s.closeListeners()
	if running := s.handlers.close(handlerDrainTimeout); running > 0 {
		s.log.Warn().Int("handlers", running).Dur("waited", handlerDrainTimeout).Msg("closing with request handlers still running")
	}
	s.listenMu.Lock()
	stopWatch := s.stopBufferWatch
	s.listenMu.Unlock()
	if stopWatch != nil {
		stopWatch()
	}
	// NOTE: with a TLS or TCP phone connected, sipgo v1.7.3 logs "TCP ref
	// went negative" here. Its pool.Clear closes the connection and zeroes
	// the reference count, then the connection's reader decrements it once
	// more on exit. The second call closes nothing, and this server never
	// closes sipgo's connections itself.
	err := s.ua.Close()
	s.tasks.Wait()
	return err
}

// spawn runs f in a goroutine that Close waits for.
func (s *Server) spawn(f func()) {
	s.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		f()
	}()
}

// contactHeader is this server's Contact for the given transport.
func (s *Server) contactHeader(transport string) *sipmsg.ContactHeader {
	host, port := s.opts.PublicHost, 0
	for _, l := range s.Addrs() {
		if l.Network == transportNetwork(transport) || port == 0 {
			port = int(l.Address.Port())
			if host == "" {
				host = l.Address.Addr().String()
			}
		}
	}
	uri := sipmsg.Uri{Scheme: "sip", User: s.opts.ServiceUser, Host: host, Port: port}
	if network := transportNetwork(transport); network != "udp" {
		uri.UriParams = sipmsg.NewParams()
		uri.UriParams.Add("transport", network)
	}
	return &sipmsg.ContactHeader{Address: uri}
}

// transportNetwork maps a transport as sipgo or a URI spells it to the
// listener network that serves it: "tcp", "tls" or, for anything else,
// "udp".
func transportNetwork(transport string) string {
	switch network := sipmsg.NetworkToLower(transport); network {
	case "tcp", "tls":
		return network
	default:
		return "udp"
	}
}

// mediaAddrPort is the address written into SDP for an RTP socket.
func (s *Server) mediaAddrPort(conn *net.UDPConn) netip.AddrPort {
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// finishCounselor ends a counselor's call in the queue: wrap-up first,
// then available (or logged out, when the phone unregistered meanwhile).
func (s *Server) finishCounselor(counselorID string, wrapUp time.Duration) {
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	now := time.Now()
	if err := s.finishCallState(ctx, counselorID, now.Add(wrapUp), now); err != nil {
		s.log.Error().Err(err).Str("counselor", counselorID).Msg("ending the counselor's call in the queue failed")
	}
	s.notifyDistributor()
}

// Offer rings the reserved counselor for the reserved caller; the routing
// distributor calls it.
func (s *Server) Offer(ctx context.Context, req routing.OfferRequest) routing.OfferResult {
	c, ok := s.calls.get(req.Reservation.CallID)
	if !ok {
		if s.callbacks != nil && s.callbacks.Owns(req.Reservation.CallID) {
			return s.offerCallback(ctx, req)
		}
		return routing.OfferResult{Outcome: routing.CallerGone}
	}
	s.featureCalls.wait(ctx, req.Reservation.CounselorID)
	if len(req.Reservation.Ringing) > 1 {
		return c.offerAll(ctx, req)
	}
	return c.offer(ctx, req.Reservation, req.Confirm)
}

// sessionVersion is a fresh SDP session id (RFC 4566 suggests an NTP time;
// any unique number works).
func sessionVersion() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2
}

// newMediaSession creates the RTP session of a call leg whose role is leg,
// reporting its reception statistics to the server's observer.
func (s *Server) newMediaSession(leg media.Leg, cfg media.SessionConfig) *media.Session {
	cfg.Leg = leg
	cfg.Reception = s.reception
	return media.NewSession(cfg)
}
