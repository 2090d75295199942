package mediabench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"helpline/e2e"
)

// registerExpires is the registration lifetime the counselors ask for.
const registerExpires = "3600"

// listenTimeout bounds the wait for the peer's SIP socket to serve.
const listenTimeout = 10 * time.Second

// ErrUnknownCounselor means the server offered a call to a user the peer
// did not register.
var ErrUnknownCounselor = errors.New("offer to a counselor the peer did not register")

// Peer is the load generator's SIP side: one sipgo user agent on one
// loopback UDP socket that places the trunk's calls and answers the
// offers to every counselor it registered.
type Peer struct {
	server string
	ua     *sipgo.UserAgent
	sipSrv *sipgo.Server
	client *sipgo.Client
	conn   net.PacketConn
	addr   netip.AddrPort

	calls   *sipgo.DialogClientCache
	answers *sipgo.DialogServerCache
	served  chan struct{}

	// byes counts the BYE requests the peer responded to with 200.
	byes atomic.Int64
	// strays counts responses that matched no transaction: mostly
	// retransmitted 200s to INVITEs whose ACK the server had not yet
	// received when its retransmission timer (T1, 500 ms) fired.
	strays *atomic.Int64

	// mu guards counselors.
	mu         sync.Mutex
	counselors map[string]*Counselor
}

// Counselor is a registered counselor phone of the peer. It answers every
// offer with its endpoint and sends audio to the server from its 200 OK on.
type Counselor struct {
	User     string
	Password string
	Endpoint *Endpoint

	// answered is closed once the phone responded to its first offer with
	// 200 OK and got the ACK, or failed to.
	answered chan struct{}
	once     sync.Once
	// answerErr is set before answered closes when the answer failed.
	answerErr error
}

// NewPeer binds a UDP socket on 127.0.0.1 and serves SIP on it; server is
// helpline's host:port.
func NewPeer(server string) (*Peer, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	strays := &atomic.Int64{}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("helpline-bench"),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) { strays.Add(1) }),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the sipgo user agent: %w", err)
	}
	sipSrv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("creating the sipgo server: %w", err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("opening the peer's SIP socket: %w", err)
	}

	p := &Peer{
		server:     server,
		ua:         ua,
		sipSrv:     sipSrv,
		conn:       conn,
		addr:       netip.MustParseAddrPort(conn.LocalAddr().String()),
		served:     make(chan struct{}),
		strays:     strays,
		counselors: map[string]*Counselor{},
	}
	p.sipSrv.OnInvite(p.onInvite)
	p.sipSrv.OnAck(p.onAck)
	p.sipSrv.OnBye(p.onBye)
	go func() {
		defer close(p.served)
		_ = p.sipSrv.ServeUDP(conn)
	}()
	if err := p.waitListening(); err != nil {
		p.Close()
		return nil, err
	}

	client, err := sipgo.NewClient(ua,
		sipgo.WithClientLogger(quiet),
		sipgo.WithClientHostname(p.addr.Addr().String()),
		sipgo.WithClientAddr(p.addr.String()),
		sipgo.WithClientConnectionAddr(p.addr.String()),
	)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("creating the sipgo client: %w", err)
	}
	p.client = client
	contact := p.contact("bench")
	p.calls = sipgo.NewDialogClientCache(client, contact)
	p.answers = sipgo.NewDialogServerCache(client, contact)
	return p, nil
}

// waitListening waits until sipgo serves the socket, so that the client
// sends from it.
func (p *Peer) waitListening() error {
	deadline := time.Now().Add(listenTimeout)
	for p.ua.TransportLayer().Pool("udp").Size() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the peer's SIP socket %s did not serve within %s", p.addr, listenTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// Close stops serving SIP. It does not close endpoints.
func (p *Peer) Close() {
	if p.client != nil {
		_ = p.client.Close()
	}
	_ = p.ua.Close()
	_ = p.conn.Close()
	<-p.served
}

func (p *Peer) contact(user string) sip.ContactHeader {
	return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: p.addr.Addr().String(), Port: int(p.addr.Port())}}
}

func (p *Peer) serverURI(user string) (sip.Uri, error) {
	host, portText, err := net.SplitHostPort(p.server)
	if err != nil {
		return sip.Uri{}, fmt.Errorf("server address %q: %w", p.server, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return sip.Uri{}, fmt.Errorf("server port %q: %w", portText, err)
	}
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}, nil
}

// Call is one trunk call the peer placed.
type Call struct {
	dialog   *sipgo.DialogClientSession
	Endpoint *Endpoint
}

// CallOptions describes one trunk call.
type CallOptions struct {
	// Number is the called number, such as "120".
	Number string
	// Caller is the calling number's user part.
	Caller string
	// Endpoint receives the server's RTP.
	Endpoint *Endpoint
	// Talk makes the endpoint send audio after the answer, with Digits
	// pressed first.
	Talk   bool
	Digits string
}

// Call places a call and waits for the answer.
func (p *Peer) Call(ctx context.Context, opts CallOptions) (*Call, error) {
	recipient, err := p.serverURI(opts.Number)
	if err != nil {
		return nil, err
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: opts.Caller, Host: p.addr.Addr().String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))

	offer := sdpBody(opts.Endpoint.Port(), telephoneEventPT)
	dialog, err := p.calls.Invite(ctx, recipient, offer, from, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, fmt.Errorf("sending the INVITE to %s: %w", opts.Number, err)
	}
	if err := dialog.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		_ = dialog.Close()
		return nil, fmt.Errorf("waiting for the answer to the INVITE to %s: %w", opts.Number, err)
	}
	if err := dialog.Ack(ctx); err != nil {
		_ = dialog.Close()
		return nil, fmt.Errorf("sending the ACK: %w", err)
	}
	call := &Call{dialog: dialog, Endpoint: opts.Endpoint}
	if !opts.Talk {
		return call, nil
	}

	answer := string(dialog.InviteResponse.Body())
	destination, ok := e2e.SDPAudioAddr(answer)
	if !ok {
		return call, fmt.Errorf("the server's SDP answer names no audio address:\n%s", answer)
	}
	err = opts.Endpoint.Send(SendOptions{Destination: destination, Digits: opts.Digits, EventPayloadType: telephoneEventOf(answer)})
	return call, err
}

// Hangup sends BYE.
func (c *Call) Hangup(ctx context.Context) error {
	defer c.dialog.Close()
	if err := c.dialog.Bye(ctx); err != nil {
		return fmt.Errorf("sending BYE: %w", err)
	}
	return nil
}

// Register registers a counselor phone with digest authentication; its
// offers are answered with endpoint.
func (p *Peer) Register(ctx context.Context, user, password string, endpoint *Endpoint) (*Counselor, error) {
	c := &Counselor{User: user, Password: password, Endpoint: endpoint, answered: make(chan struct{})}
	p.mu.Lock()
	p.counselors[user] = c
	p.mu.Unlock()

	registrar, err := p.serverURI("")
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.REGISTER, registrar)
	aor := sip.Uri{Scheme: "sip", User: user, Host: registrar.Host}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	contact := p.contact(user)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", registerExpires))

	challenge, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sending REGISTER for %s: %w", user, err)
	}
	res, err := p.client.DoDigestAuth(ctx, req, challenge, sipgo.DigestAuth{Username: user, Password: password})
	if err != nil {
		return nil, fmt.Errorf("sending the authenticated REGISTER for %s: %w", user, err)
	}
	if res.StatusCode != sip.StatusOK {
		return nil, fmt.Errorf("REGISTER for %s: %d %s", user, res.StatusCode, res.Reason)
	}
	return c, nil
}

// onInvite answers an offer to a registered counselor with its endpoint
// and starts sending audio to the server's leg.
func (p *Peer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	c := p.counselors[req.Recipient.User]
	p.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil))
		return
	}

	dialog, err := p.answers.ReadInvite(req, tx)
	if err != nil {
		c.finish(fmt.Errorf("reading the offer to %s: %w", c.User, err))
		return
	}
	offer := string(req.Body())
	destination, ok := e2e.SDPAudioAddr(offer)
	if !ok {
		_ = dialog.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		c.finish(fmt.Errorf("the offer to %s names no audio address", c.User))
		return
	}
	// Audio starts with the 200 OK, as on most phones. RespondSDP waits for
	// the ACK and fails when it comes after sipgo's first retransmission
	// timer (500 ms) on a loaded load generator, while the server already
	// bridges the call, so the stream must not depend on it.
	if err := c.Endpoint.Send(SendOptions{Destination: destination}); err != nil {
		_ = dialog.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		c.finish(err)
		return
	}
	eventPT := telephoneEventOf(offer)
	if err := dialog.RespondSDP(sdpBody(c.Endpoint.Port(), eventPT)); err != nil {
		c.finish(fmt.Errorf("answering the offer to %s: %w", c.User, err))
		return
	}
	c.finish(nil)
}

func (c *Counselor) finish(err error) {
	c.once.Do(func() {
		c.answerErr = err
		close(c.answered)
	})
}

func (p *Peer) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = p.answers.ReadAck(req, tx)
}

// onBye ends a counselor's or a caller's dialog.
func (p *Peer) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if p.answers.ReadBye(req, tx) == nil || p.calls.ReadBye(req, tx) == nil {
		p.byes.Add(1)
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
}

// telephoneEventPT is the payload type the peer offers for RFC 4733.
const telephoneEventPT = 101

// sdpBody returns an SDP offer or answer for PCMU on port, with
// telephone-event as eventPT unless it is 0.
func sdpBody(port int, eventPT uint8) []byte {
	session := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	formats := "0"
	attributes := "a=rtpmap:0 PCMU/8000\r\n"
	if eventPT != 0 {
		pt := strconv.Itoa(int(eventPT))
		formats += " " + pt
		attributes += "a=rtpmap:" + pt + " telephone-event/8000\r\na=fmtp:" + pt + " 0-16\r\n"
	}
	return []byte("v=0\r\n" +
		"o=- " + session + " " + session + " IN IP4 127.0.0.1\r\n" +
		"s=helpline-bench\r\n" +
		"c=IN IP4 127.0.0.1\r\n" +
		"t=0 0\r\n" +
		"m=audio " + strconv.Itoa(port) + " RTP/AVP " + formats + "\r\n" +
		attributes +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n")
}

var telephoneEventPattern = regexp.MustCompile(`a=rtpmap:(\d+) telephone-event/8000`)

// telephoneEventOf returns the telephone-event payload type of an SDP
// body, 0 when it has none.
func telephoneEventOf(sdp string) uint8 {
	match := telephoneEventPattern.FindStringSubmatch(sdp)
	if match == nil {
		return 0
	}
	pt, err := strconv.Atoi(match[1])
	if err != nil || pt < 96 || pt > 127 {
		return 0
	}
	return uint8(pt)
}

// StrayResponses returns how many responses matched no transaction.
func (p *Peer) StrayResponses() int64 {
	return p.strays.Load()
}

// AnswerErrors returns how many registered counselors failed to answer an
// offer, and the first such error.
func (p *Peer) AnswerErrors() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	count := 0
	var first error
	for _, c := range p.counselors {
		select {
		case <-c.answered:
		default:
			continue
		}
		if c.answerErr != nil {
			count++
			if first == nil {
				first = c.answerErr
			}
		}
	}
	return count, first
}

// WaitByes waits until the peer answered n BYE requests, so that closing
// it leaves the server no BYE to retransmit.
func (p *Peer) WaitByes(ctx context.Context, n int) error {
	const pollInterval = 20 * time.Millisecond
	for p.byes.Load() < int64(n) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d BYE requests received: %w", p.byes.Load(), n, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
	return nil
}
