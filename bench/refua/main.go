// Command refua is the reference user agent of the call setup benchmark,
// a minimal SIP UAS on sipgo. It answers every INVITE with 200 OK and a
// PCMU SDP answer, binds one UDP port per call as its RTP socket, and
// accepts ACK and BYE. It does nothing else: no IVR, no records, no queue.
//
// With -play it sends that long a stream of PCMU silence (one 20 ms
// packet every 20 ms) after the ACK and then hangs up with BYE, the same
// protocol work as a server that plays a prompt and then hangs up.
//
//	refua -listen 127.0.0.1:5090 [-play 1s]
//
// It prints "refua ready" once it listens and stops on SIGTERM or Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// ReadyLine is printed once the UDP listener is bound.
const ReadyLine = "refua ready"

// PCMU stream parameters (RFC 3551): payload type 0, 8000 Hz, 20 ms
// packets of 160 samples, 0xFF is the PCMU code of silence.
const (
	payloadTypePCMU  = 0
	samplesPerPacket = 160
	packetInterval   = 20 * time.Millisecond
	pcmuSilence      = 0xFF
)

// byeTimeout bounds the BYE transaction that ends a played call.
const byeTimeout = 10 * time.Second

func main() {
	listen := flag.String("listen", "127.0.0.1:5090", "UDP address (host:port) to receive SIP on")
	play := flag.Duration("play", 0, "after the ACK, send this much PCMU silence and hang up with BYE; 0 waits for the caller's BYE")
	flag.Parse()

	if err := run(*listen, *play); err != nil {
		fmt.Fprintln(os.Stderr, "refua:", err)
		os.Exit(1)
	}
}

func run(listen string, play time.Duration) error {
	addr, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("invalid -listen %q: use host:port, such as 127.0.0.1:5090", listen)
	}
	if play < 0 {
		return fmt.Errorf("invalid -play %s: must be 0 or positive", play)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("refua"))
	if err != nil {
		return fmt.Errorf("creating the user agent: %w", err)
	}
	defer ua.Close()
	server, err := sipgo.NewServer(ua)
	if err != nil {
		return fmt.Errorf("creating the SIP server: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(addr.Addr().String()))
	if err != nil {
		return fmt.Errorf("creating the SIP client: %w", err)
	}

	contact := sip.ContactHeader{Address: sip.Uri{Host: addr.Addr().String(), Port: int(addr.Port())}}
	agent := &agent{dialogs: sipgo.NewDialogServerCache(client, contact), host: addr.Addr(), play: play}
	server.OnInvite(agent.onInvite)
	server.OnAck(agent.onAck)
	server.OnBye(agent.onBye)

	conn, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		return fmt.Errorf("listening for SIP on %s: %w", addr, err)
	}
	fmt.Println(ReadyLine)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		server.Close()
		conn.Close()
	}()
	if err := server.ServeUDP(conn); err != nil && ctx.Err() == nil {
		return fmt.Errorf("serving SIP on %s: %w", addr, err)
	}
	return nil
}

// agent answers calls.
type agent struct {
	dialogs *sipgo.DialogServerCache
	host    netip.Addr
	play    time.Duration
}

func (a *agent) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	dialog, err := a.dialogs.ReadInvite(req, tx)
	if err != nil {
		respond(req, tx, sip.StatusBadRequest, err.Error())
		return
	}
	defer dialog.Close()

	remote, err := offeredAudio(req.Body())
	if err != nil {
		_ = dialog.Respond(sip.StatusNotAcceptable, "Not Acceptable Here", nil)
		return
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.host, 0)))
	if err != nil {
		_ = dialog.Respond(sip.StatusServiceUnavailable, "No RTP Port", nil)
		return
	}
	defer conn.Close()

	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	// RespondSDP returns once the ACK arrived, or with an error after 64*T1.
	if err := dialog.RespondSDP(answerSDP(local)); err != nil {
		return
	}
	if a.play == 0 {
		<-dialog.Context().Done()
		return
	}

	sendSilence(dialog.Context(), conn, remote, a.play)
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	_ = dialog.Bye(ctx)
}

func (a *agent) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = a.dialogs.ReadAck(req, tx)
}

func (a *agent) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := a.dialogs.ReadBye(req, tx); err != nil {
		respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
}

func respond(req *sip.Request, tx sip.ServerTransaction, status int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
}

// offeredAudio returns the RTP address of the offer's first audio stream.
func offeredAudio(body []byte) (netip.AddrPort, error) {
	var offer sdp.SessionDescription
	if err := offer.UnmarshalString(string(body)); err != nil {
		return netip.AddrPort{}, fmt.Errorf("parsing the SDP offer: %w", err)
	}
	for _, media := range offer.MediaDescriptions {
		if media.MediaName.Media != "audio" {
			continue
		}
		connection := media.ConnectionInformation
		if connection == nil {
			connection = offer.ConnectionInformation
		}
		if connection == nil || connection.Address == nil {
			return netip.AddrPort{}, errors.New("the SDP offer has no connection address")
		}
		ip, err := netip.ParseAddr(connection.Address.Address)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("invalid connection address in the SDP offer: %w", err)
		}
		return netip.AddrPortFrom(ip, uint16(media.MediaName.Port.Value)), nil
	}
	return netip.AddrPort{}, errors.New("the SDP offer has no audio stream")
}

func answerSDP(local netip.AddrPort) []byte {
	host := local.Addr().String()
	port := strconv.Itoa(int(local.Port()))
	return []byte("v=0\r\n" +
		"o=refua 1 1 IN IP4 " + host + "\r\n" +
		"s=-\r\n" +
		"c=IN IP4 " + host + "\r\n" +
		"t=0 0\r\n" +
		"m=audio " + port + " RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n")
}

// sendSilence sends PCMU silence to remote for length, one packet every
// 20 ms, or until ctx ends.
func sendSilence(ctx context.Context, conn *net.UDPConn, remote netip.AddrPort, length time.Duration) {
	packet := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: payloadTypePCMU, SSRC: uint32(time.Now().UnixNano())},
		Payload: make([]byte, samplesPerPacket),
	}
	for i := range packet.Payload {
		packet.Payload[i] = pcmuSilence
	}
	buf := make([]byte, packet.MarshalSize())

	ticker := time.NewTicker(packetInterval)
	defer ticker.Stop()
	for range int(length / packetInterval) {
		n, err := packet.MarshalTo(buf)
		if err == nil {
			_, _ = conn.WriteToUDPAddrPort(buf[:n], remote)
		}
		packet.SequenceNumber++
		packet.Timestamp += samplesPerPacket

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
