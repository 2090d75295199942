package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Phone limits and defaults.
const (
	// registerExpires is the Expires value of each REGISTER. The server
	// shortens it to sip.max_expires (1h in the example configuration).
	registerExpires = time.Hour
	// minRefresh is the shortest pause between two registrations of one
	// counselor, whatever Expires the server granted.
	minRefresh = 10 * time.Second
	// requestTimeout bounds one REGISTER or BYE transaction.
	requestTimeout = 10 * time.Second
	// offerBuffer is how many unread offers Phone.Offers holds. The phone
	// drops the reports of later offers while it is full, and still
	// answers them.
	offerBuffer = 4096
	// rtpReadBuffer is the size of the buffer that drains the RTP socket.
	rtpReadBuffer = 2048
)

// ErrRegister means the server did not accept a REGISTER.
var ErrRegister = errors.New("registration rejected")

// PhoneOptions configures one Phone.
type PhoneOptions struct {
	// Server is the helpline SIP UDP address.
	Server netip.AddrPort
	// Passwords maps each counselor id the phone registers to its digest
	// password.
	Passwords map[string]string
	// Talk is how long the phone keeps an answered call before it sends
	// BYE. Zero sends BYE as soon as the ACK arrives.
	Talk time.Duration
}

// Offer is one INVITE the phone received.
type Offer struct {
	// User is the counselor id, the user part of the To header.
	User string
	// CallID is the Call-ID of the INVITE to the counselor.
	CallID string
	// Received is when the phone's INVITE handler started, on the
	// monotonic clock of this process.
	Received time.Time
}

// Phone is a counselor softphone built on sipgo. One loopback UDP socket
// registers any number of counselor ids with digest authentication. The
// phone answers every INVITE with 200 OK and an SDP answer in the offered
// codec, and hangs up after PhoneOptions.Talk. Its RTP socket reads and
// drops what the server sends, and the phone sends no audio.
type Phone struct {
	opts    PhoneOptions
	ua      *sipgo.UserAgent
	server  *sipgo.Server
	client  *sipgo.Client
	dialogs *sipgo.DialogServerCache
	sipConn net.PacketConn
	rtpConn net.PacketConn
	addr    netip.AddrPort
	cancel  context.CancelFunc
	done    sync.WaitGroup

	// Offers receives one Offer per INVITE, in arrival order.
	Offers chan Offer

	mu       sync.Mutex // guards answered, ended and errors
	answered int
	ended    int
	errors   []error
}

// StartPhone binds the phone's SIP and RTP sockets on 127.0.0.1 and starts
// serving. Register each counselor afterwards with Register or RegisterAll.
func StartPhone(opts PhoneOptions) (*Phone, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("helpline-bench-phone"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the phone's user agent: %w", err)
	}
	p := &Phone{opts: opts, ua: ua, Offers: make(chan Offer, offerBuffer)}
	if err := p.bind(quiet); err != nil {
		_ = ua.Close()
		return nil, err
	}
	p.serve()
	if err := p.waitListening(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// listenTimeout bounds the wait for sipgo to register the SIP socket in
// its connection pool. Until then the client would bind a second socket
// on the same port and fail.
const listenTimeout = 10 * time.Second

func (p *Phone) waitListening() error {
	deadline := time.Now().Add(listenTimeout)
	for p.ua.TransportLayer().Pool("udp").Size() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the phone's SIP socket %s was not served within %s", p.addr, listenTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// bind opens the sockets and builds the sipgo server, client and dialog
// cache that send from the SIP socket.
func (p *Phone) bind(quiet *slog.Logger) error {
	sipConn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("binding the phone's SIP socket: %w", err)
	}
	rtpConn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		_ = sipConn.Close()
		return fmt.Errorf("binding the phone's RTP socket: %w", err)
	}
	p.sipConn, p.rtpConn = sipConn, rtpConn
	p.addr = netip.MustParseAddrPort(sipConn.LocalAddr().String())

	server, err := sipgo.NewServer(p.ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		return fmt.Errorf("creating the phone's SIP server: %w", err)
	}
	client, err := sipgo.NewClient(p.ua,
		sipgo.WithClientLogger(quiet),
		sipgo.WithClientAddr(p.addr.String()),
		sipgo.WithClientConnectionAddr(p.addr.String()),
	)
	if err != nil {
		return fmt.Errorf("creating the phone's SIP client: %w", err)
	}
	p.server, p.client = server, client
	p.dialogs = sipgo.NewDialogServerCache(client, p.contact(""))
	server.OnInvite(p.handleInvite)
	server.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.dialogs.ReadAck(req, tx) })
	server.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.dialogs.ReadBye(req, tx) })
	return nil
}

// serve reads the SIP socket through sipgo and drains the RTP socket, each
// in a goroutine that Close stops.
func (p *Phone) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel

	p.done.Add(2)
	go func() {
		defer p.done.Done()
		_ = p.server.ServeUDP(p.sipConn)
	}()
	go func() {
		defer p.done.Done()
		buf := make([]byte, rtpReadBuffer)
		for ctx.Err() == nil {
			if _, _, err := p.rtpConn.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
}

// Addr returns the phone's SIP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Counts returns how many calls the phone answered and how many of those
// ended (BYE sent or received).
func (p *Phone) Counts() (answered, ended int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered, p.ended
}

// Errors returns the failures of answering or ending calls so far.
func (p *Phone) Errors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errors...)
}

func (p *Phone) fail(err error) {
	p.mu.Lock()
	p.errors = append(p.errors, err)
	p.mu.Unlock()
}

// Close stops serving and closes both sockets.
func (p *Phone) Close() {
	p.cancel()
	_ = p.sipConn.Close()
	_ = p.rtpConn.Close()
	_ = p.server.Close()
	_ = p.ua.Close()
	p.done.Wait()
}

func (p *Phone) contact(user string) sip.ContactHeader {
	return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: p.addr.Addr().String(), Port: int(p.addr.Port())}}
}

// RegisterAll registers every counselor of PhoneOptions.Passwords once.
func (p *Phone) RegisterAll(ctx context.Context) error {
	for user := range p.opts.Passwords {
		if _, err := p.Register(ctx, user); err != nil {
			return err
		}
	}
	return nil
}

// Register registers one counselor id with digest authentication and
// returns the expiry the server granted.
func (p *Phone) Register(ctx context.Context, user string) (time.Duration, error) {
	password, ok := p.opts.Passwords[user]
	if !ok {
		return 0, fmt.Errorf("registering %s: no password for this counselor in PhoneOptions.Passwords", user)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()

	req := p.registerRequest(user)
	challenge, err := p.client.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("sending REGISTER for %s: %w", user, err)
	}
	res := challenge
	if challenge.StatusCode == sip.StatusUnauthorized || challenge.StatusCode == sip.StatusProxyAuthRequired {
		res, err = p.client.DoDigestAuth(ctx, req, challenge, sipgo.DigestAuth{Username: user, Password: password})
		if err != nil {
			return 0, fmt.Errorf("sending the authenticated REGISTER for %s: %w", user, err)
		}
	}
	if res.StatusCode != sip.StatusOK {
		return 0, fmt.Errorf("%w: REGISTER for %s got %d %s", ErrRegister, user, res.StatusCode, res.Reason)
	}
	return grantedExpiry(res), nil
}

func (p *Phone) registerRequest(user string) *sip.Request {
	server := sip.Uri{Scheme: "sip", Host: p.opts.Server.Addr().String(), Port: int(p.opts.Server.Port())}
	req := sip.NewRequest(sip.REGISTER, server)
	aor := sip.Uri{Scheme: "sip", User: user, Host: server.Host, Port: server.Port}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	contact := p.contact(user)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(registerExpires/time.Second))))
	return req
}

// grantedExpiry reads the Expires the server granted, or registerExpires
// when the 200 carries none.
func grantedExpiry(res *sip.Response) time.Duration {
	if h := res.GetHeader("Expires"); h != nil {
		if seconds, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && seconds > 0 {
			return time.Duration(seconds) * time.Second
		}
	}
	return registerExpires
}

// KeepRegistered registers every counselor and registers each again at
// half its granted expiry until ctx ends. It returns the first error of
// the first round; later failures are retried at the next refresh.
func (p *Phone) KeepRegistered(ctx context.Context) error {
	refresh := registerExpires
	for user := range p.opts.Passwords {
		granted, err := p.Register(ctx, user)
		if err != nil {
			return err
		}
		refresh = min(refresh, granted/2)
	}
	refresh = max(refresh, minRefresh)

	p.done.Add(1)
	go func() {
		defer p.done.Done()
		ticker := time.NewTicker(refresh)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				for user := range p.opts.Passwords {
					_, _ = p.Register(ctx, user)
				}
			}
		}
	}()
	return nil
}

// handleInvite reports the offer, answers with 200 OK and an SDP answer,
// and hangs up after the talk time unless the server hangs up first.
func (p *Phone) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	received := time.Now()
	user := ""
	if to := req.To(); to != nil {
		user = to.Address.User
	}
	callID := ""
	if id := req.CallID(); id != nil {
		callID = id.Value()
	}
	select {
	case p.Offers <- Offer{User: user, CallID: callID, Received: received}:
	default:
	}

	session, err := p.dialogs.ReadInvite(req, tx)
	if err != nil {
		p.fail(fmt.Errorf("reading the INVITE %s for %s: %w", callID, user, err))
		return
	}
	defer session.Close()

	answer, err := p.answerSDP(req.Body())
	if err != nil {
		_ = session.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	// RespondSDP returns once the ACK of the 200 arrived, or with an error
	// after 64×T1 without it.
	if err := session.RespondSDP(answer); err != nil {
		p.fail(fmt.Errorf("answering the INVITE %s for %s: %w", callID, user, err))
		// The 200 may have reached the server, so end the dialog anyway.
		p.hangUp(session)
		return
	}
	p.count(&p.answered)
	p.hangUpAfterTalk(session)
	p.count(&p.ended)
}

func (p *Phone) count(counter *int) {
	p.mu.Lock()
	*counter++
	p.mu.Unlock()
}

// hangUpAfterTalk sends BYE after the talk time, unless the dialog ended
// first because the server sent BYE.
func (p *Phone) hangUpAfterTalk(session *sipgo.DialogServerSession) {
	if p.opts.Talk > 0 {
		timer := time.NewTimer(p.opts.Talk)
		defer timer.Stop()
		select {
		case <-session.Context().Done():
			return
		case <-timer.C:
		}
	}
	p.hangUp(session)
}

func (p *Phone) hangUp(session *sipgo.DialogServerSession) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := session.Bye(ctx); err != nil {
		p.fail(fmt.Errorf("sending BYE for %s: %w", session.InviteRequest.CallID().Value(), err))
	}
}

// answerSDP builds an SDP answer that takes the first PCMU or PCMA payload
// type of the offer, with the phone's RTP socket as the media address.
func (p *Phone) answerSDP(offer []byte) ([]byte, error) {
	payload, err := firstG711(string(offer))
	if err != nil {
		return nil, err
	}
	codec := map[string]string{"0": "PCMU", "8": "PCMA"}[payload]
	rtp := netip.MustParseAddrPort(p.rtpConn.LocalAddr().String())
	host := rtp.Addr().String()
	lines := []string{
		"v=0",
		"o=bench 1 1 IN IP4 " + host,
		"s=-",
		"c=IN IP4 " + host,
		"t=0 0",
		"m=audio " + strconv.Itoa(int(rtp.Port())) + " RTP/AVP " + payload,
		"a=rtpmap:" + payload + " " + codec + "/8000",
		"a=ptime:20",
		"a=sendrecv",
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n"), nil
}

// firstG711 returns the first payload type 0 or 8 on the offer's audio
// m= line.
func firstG711(offer string) (string, error) {
	for _, line := range strings.Split(offer, "\n") {
		fields := strings.Fields(strings.TrimSpace(line))
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "m=audio") {
			continue
		}
		for _, payload := range fields[3:] {
			if payload == "0" || payload == "8" {
				return payload, nil
			}
		}
	}
	return "", fmt.Errorf("the SDP offer has no audio m= line with PCMU (0) or PCMA (8): %q", offer)
}
