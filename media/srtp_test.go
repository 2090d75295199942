package media

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// newTestKeys returns keys for a session, and the peer's contexts that
// mirror them: the peer encrypts with the session's Remote key and
// decrypts with its Local key.
func newTestKeys(tb testing.TB) (*SRTPKeys, *srtp.Context, *srtp.Context) {
	tb.Helper()
	local, err := NewCryptoAttribute(1)
	if err != nil {
		tb.Fatalf("NewCryptoAttribute: %v", err)
	}
	remote, err := NewCryptoAttribute(1)
	if err != nil {
		tb.Fatalf("NewCryptoAttribute: %v", err)
	}
	peerSend, err := newSRTPContext(remote)
	if err != nil {
		tb.Fatalf("peer send context: %v", err)
	}
	peerReceive, err := newSRTPContext(local)
	if err != nil {
		tb.Fatalf("peer receive context: %v", err)
	}
	return &SRTPKeys{Local: local, Remote: remote}, peerSend, peerReceive
}

// encryptPacket marshals and encrypts one RTP packet with ctx.
func encryptPacket(tb testing.TB, ctx *srtp.Context, header rtp.Header, payload []byte) []byte {
	tb.Helper()
	header.Version = rtpVersion
	plain, err := (&rtp.Packet{Header: header, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatalf("marshal RTP: %v", err)
	}
	encrypted, err := ctx.EncryptRTP(nil, plain, nil)
	if err != nil {
		tb.Fatalf("encrypt RTP: %v", err)
	}
	return encrypted
}

// readSRTP reads one datagram at p, checks that it is not plain RTP with
// the expected payload, and decrypts it with ctx.
func (p *peer) readSRTP(ctx *srtp.Context) (rtp.Packet, []byte) {
	p.t.Helper()
	wire := p.readDatagram()
	plain, err := ctx.DecryptRTP(nil, wire, nil)
	if err != nil {
		p.t.Fatalf("peer %s: decrypt SRTP: %v", p.addr(), err)
	}
	var packet rtp.Packet
	if err := packet.Unmarshal(plain); err != nil {
		p.t.Fatalf("peer %s: unmarshal decrypted RTP: %v", p.addr(), err)
	}
	return packet, wire
}

func TestSRTPRelayBetweenEncryptedLegs(t *testing.T) {
	keysA, phoneASend, _ := newTestKeys(t)
	keysB, _, phoneBReceive := newTestKeys(t)
	p := startBridge(t, SessionConfig{Codec: PCMU, SRTP: keysA}, SessionConfig{Codec: PCMU, SRTP: keysB}, nil)

	payload := bytes.Repeat([]byte{0x5a}, FrameSamples)
	header := rtp.Header{PayloadType: PayloadTypePCMU, SequenceNumber: 1, Timestamp: FrameSamples, SSRC: 0xA}
	p.phoneA.sendRaw(p.a.LocalAddr(), encryptPacket(t, phoneASend, header, payload))
	relayed, wire := p.phoneB.readSRTP(phoneBReceive)

	if !bytes.Equal(relayed.Payload, payload) {
		t.Errorf("decrypted payload differs from the one phone A sent")
	}
	if bytes.Contains(wire, payload[:32]) {
		t.Errorf("the datagram on the wire carries the plain payload")
	}
	if len(wire) != rtpHeaderSize+FrameSamples+srtpTagSize {
		t.Errorf("datagram is %d bytes, expected header, payload and a %d-byte tag", len(wire), srtpTagSize)
	}
	if !p.a.SRTP() || !p.b.SRTP() {
		t.Error("SRTP() = false on an SRTP session")
	}
}

func TestSRTPRejectsPlainTamperedAndReplayed(t *testing.T) {
	keys, phoneSend, _ := newTestKeys(t)
	p := startBridge(t, SessionConfig{Codec: PCMU, SRTP: keys}, SessionConfig{Codec: PCMU}, nil)
	to := p.a.LocalAddr()
	payload := bytes.Repeat([]byte{0x11}, FrameSamples)
	header := func(seq uint16) rtp.Header {
		return rtp.Header{PayloadType: PayloadTypePCMU, SequenceNumber: seq, Timestamp: uint32(seq) * FrameSamples, SSRC: 0xB}
	}

	good := encryptPacket(t, phoneSend, header(1), payload)
	p.phoneA.sendRaw(to, good)
	p.phoneB.read()

	p.phoneA.sendRaw(to, good) // replayed
	tampered := encryptPacket(t, phoneSend, header(2), payload)
	tampered[rtpHeaderSize] ^= 0xff
	p.phoneA.sendRaw(to, tampered)
	p.phoneA.send(to, header(3), payload) // plain RTP
	p.phoneA.sendRaw(to, []byte{0x80, 0x00})

	// The receive goroutine handles datagrams in order, so once the next
	// good packet is relayed the four before it were handled.
	p.phoneA.sendRaw(to, encryptPacket(t, phoneSend, header(4), payload))
	p.phoneB.read()

	stats := p.a.Stats()
	if stats.SRTPRejected != 4 {
		t.Errorf("SRTPRejected = %d, expected 4 (replayed, tampered, plain, short)", stats.SRTPRejected)
	}
	if stats.AudioReceived != 2 {
		t.Errorf("AudioReceived = %d, expected the 2 good packets", stats.AudioReceived)
	}
}

func TestSetSRTPKeepsUnchangedDirection(t *testing.T) {
	keys, _, _ := newTestKeys(t)
	s := NewSession(SessionConfig{Codec: PCMU, SRTP: keys})
	in, out := s.srtpIn.Load(), s.srtpOut

	if err := s.SetSRTP(keys); err != nil {
		t.Fatalf("SetSRTP with the same keys: %v", err)
	}
	if s.srtpIn.Load() != in || s.srtpOut != out {
		t.Error("SetSRTP with the same keys replaced a context")
	}

	changed, _, _ := newTestKeys(t)
	changed.Local = keys.Local
	if err := s.SetSRTP(changed); err != nil {
		t.Fatalf("SetSRTP with a new remote key: %v", err)
	}
	if s.srtpIn.Load() == in {
		t.Error("a new remote key kept the old receive context")
	}
	if s.srtpOut != out {
		t.Error("an unchanged local key got a new send context")
	}

	if err := s.SetSRTP(nil); err == nil || !strings.Contains(err.Error(), "cannot fall back to plain RTP") {
		t.Errorf("SetSRTP(nil) = %v, expected a refusal to fall back", err)
	}
}

func TestNegotiateSRTP(t *testing.T) {
	plain := mustParseSDP(t, readSDP(t, "sipp_uac_offer.sdp"))
	if _, err := NegotiateSRTP(plain, g711); !errors.Is(err, ErrSRTPRequired) {
		t.Errorf("NegotiateSRTP of a plain offer = %v, expected ErrSRTPRequired", err)
	}

	mixed := mustParseSDP(t, readSDP(t, "srtp_rtp_video_offer.sdp"))
	n, err := NegotiateSRTP(mixed, g711)
	if err != nil {
		t.Fatalf("NegotiateSRTP: %v", err)
	}
	if n.SRTP == nil || n.MediaIndex != 0 || n.SRTP.Local.Tag != 1 {
		t.Errorf("NegotiateSRTP = index %d, keys %v; expected the RTP/SAVP line 0 with tag 1", n.MediaIndex, n.SRTP)
	}

	unsupported := mustParseSDP(t, []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n"+
		"m=audio 5004 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:"+testKeySalt+"\r\n"))
	_, err = Negotiate(unsupported, g711)
	if !errors.Is(err, ErrNoCommonCrypto) || !strings.Contains(err.Error(), "AES_CM_128_HMAC_SHA1_32") {
		t.Errorf("Negotiate of an offer with only an unsupported suite = %v, expected ErrNoCommonCrypto naming the suite", err)
	}
}

func TestSRTPOfferAnswerRoundTrip(t *testing.T) {
	local := netip.MustParseAddrPort("192.0.2.200:40000")
	ours, err := NewCryptoAttribute(1)
	if err != nil {
		t.Fatalf("NewCryptoAttribute: %v", err)
	}
	offerBody, err := BuildSRTPOffer(local, []Codec{PCMU}, 101, 1, 1, ours)
	if err != nil {
		t.Fatalf("BuildSRTPOffer: %v", err)
	}
	if !bytes.Contains(offerBody, []byte("m=audio 40000 RTP/SAVP 0 101")) || !bytes.Contains(offerBody, []byte("a=crypto:"+ours.Value())) {
		t.Fatalf("offer lacks RTP/SAVP or our a=crypto line:\n%s", offerBody)
	}

	offer := mustParseSDP(t, offerBody)
	answered, err := Negotiate(offer, g711)
	if err != nil {
		t.Fatalf("Negotiate of our offer: %v", err)
	}
	peerLocal := netip.MustParseAddrPort("192.0.2.9:5004")
	answerBody, err := BuildAnswer(offer, answered, peerLocal, 2, 1)
	if err != nil {
		t.Fatalf("BuildAnswer: %v", err)
	}

	n, err := ParseSRTPAnswer(answerBody, []Codec{PCMU}, 101, ours)
	if err != nil {
		t.Fatalf("ParseSRTPAnswer: %v", err)
	}
	if !n.SRTP.Remote.sameKey(answered.SRTP.Local) || !n.SRTP.Local.sameKey(ours) {
		t.Error("ParseSRTPAnswer did not pair our key with the answer's")
	}

	if _, err := ParseAnswer(answerBody, []Codec{PCMU}, 101); !errors.Is(err, ErrInvalidSDP) {
		t.Errorf("ParseAnswer of an RTP/SAVP answer to a plain offer = %v, expected ErrInvalidSDP", err)
	}
	otherTag, err := NewCryptoAttribute(2)
	if err != nil {
		t.Fatalf("NewCryptoAttribute: %v", err)
	}
	if _, err := ParseSRTPAnswer(answerBody, []Codec{PCMU}, 101, otherTag); !errors.Is(err, ErrNoCommonCrypto) {
		t.Errorf("ParseSRTPAnswer with another tag = %v, expected ErrNoCommonCrypto", err)
	}
	plainAnswer := bytes.ReplaceAll(answerBody, []byte("RTP/SAVP"), []byte("RTP/AVP"))
	if _, err := ParseSRTPAnswer(plainAnswer, []Codec{PCMU}, 101, ours); !errors.Is(err, ErrInvalidSDP) {
		t.Errorf("ParseSRTPAnswer of a plain answer = %v, expected ErrInvalidSDP", err)
	}
}

func TestRelaySRTPPacketAllocatesNothing(t *testing.T) {
	a, packets, source := srtpRelayBenchmarkLegs(t, 200)
	next := 0
	allocs := testing.AllocsPerRun(100, func() {
		a.handlePacket(packets[next], source, time.Now())
		next++
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("relaying an SRTP packet allocates %.1f times, expected 0", allocs)
	}
	if sent := a.relayTo.Stats().PacketsSent; sent == 0 {
		t.Errorf("no packet sent, so the encrypt and write path was not measured")
	}
	if rejected := a.Stats().SRTPRejected; rejected != 0 {
		t.Errorf("%d packets failed SRTP, so the decrypt path was not measured", rejected)
	}
}

// srtpRelayBenchmarkLegs returns leg A bridged to leg B, both SRTP, PCMU
// to PCMA, with B sending to a loopback sink, and n packets for A
// encrypted by A's peer.
func srtpRelayBenchmarkLegs(tb testing.TB, n int) (*Session, [][]byte, netip.AddrPort) {
	tb.Helper()
	a, phoneASend, source := srtpRelayLegs(tb)
	return a, encryptStream(tb, phoneASend, 1, n), source
}

// srtpRelayLegs returns leg A bridged to leg B, both SRTP, PCMU to PCMA,
// with B sending to a loopback sink, the context A's peer encrypts with,
// and the peer's address.
func srtpRelayLegs(tb testing.TB) (*Session, *srtp.Context, netip.AddrPort) {
	tb.Helper()
	keysA, phoneASend, _ := newTestKeys(tb)
	keysB, _, _ := newTestKeys(tb)
	sink := listenLoopback(tb)
	a := NewSession(SessionConfig{Codec: PCMU, TelephoneEvent: telephoneEventPT, SRTP: keysA})
	b := NewSession(SessionConfig{Conn: listenLoopback(tb), Codec: PCMA, TelephoneEvent: 96, Remote: addrOf(sink), SRTP: keysB})
	a.startRelay(b)
	return a, phoneASend, netip.MustParseAddrPort("127.0.0.1:40000")
}

// encryptStream encrypts n consecutive 20 ms PCMU packets from sequence
// number first.
func encryptStream(tb testing.TB, ctx *srtp.Context, first uint16, n int) [][]byte {
	tb.Helper()
	payload := bytes.Repeat([]byte{0x42}, FrameSamples)
	packets := make([][]byte, n)
	for i := range packets {
		seq := first + uint16(i)
		header := rtp.Header{PayloadType: PayloadTypePCMU, SequenceNumber: seq, Timestamp: uint32(seq) * FrameSamples, SSRC: 0xA}
		packets[i] = encryptPacket(tb, ctx, header, payload)
	}
	return packets
}

// BenchmarkRelayPacketSRTP is BenchmarkRelayPacket with SRTP on both legs:
// authenticate and decrypt, parse, source check, transcoding, marshal,
// encrypt and the socket write. The peer's encryption of the incoming
// packets runs with the timer stopped.
func BenchmarkRelayPacketSRTP(b *testing.B) {
	const batch = 4096
	a, phoneASend, source := srtpRelayLegs(b)

	var packets [][]byte
	next, seq := 0, uint16(1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if next == len(packets) {
			b.StopTimer()
			packets, next = encryptStream(b, phoneASend, seq, batch), 0
			seq += batch
			b.StartTimer()
		}
		a.handlePacket(packets[next], source, time.Now())
		next++
	}
	b.StopTimer()
	if rejected := a.Stats().SRTPRejected; rejected != 0 {
		b.Fatalf("%d packets failed SRTP", rejected)
	}
}

func TestRenegotiateKeepsSRTPAndOurKey(t *testing.T) {
	keys, _, _ := newTestKeys(t)
	s := NewSession(SessionConfig{Codec: PCMU, SRTP: keys})

	reoffer := mustParseSDP(t, []byte("v=0\r\no=- 1 2 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n"+
		"m=audio 5004 RTP/SAVP 0\r\na=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:"+testKeySalt+"\r\na=sendonly\r\n"))
	n, err := s.Renegotiate(reoffer, g711)
	if err != nil {
		t.Fatalf("Renegotiate: %v", err)
	}
	if !n.SRTP.Local.sameKey(keys.Local) || n.SRTP.Local.Tag != 4 {
		t.Errorf("answer key: tag %d, same key %v; expected our key under the new tag 4", n.SRTP.Local.Tag, n.SRTP.Local.sameKey(keys.Local))
	}
	if err := s.SetSRTP(n.SRTP); err != nil {
		t.Fatalf("SetSRTP: %v", err)
	}

	plain := mustParseSDP(t, readSDP(t, "sipp_uac_offer.sdp"))
	if _, err := s.Renegotiate(plain, g711); !errors.Is(err, ErrSRTPRequired) {
		t.Errorf("Renegotiate of a plain re-offer on an SRTP session = %v, expected ErrSRTPRequired", err)
	}

	plainSession := NewSession(SessionConfig{Codec: PCMU})
	if n, err := plainSession.Renegotiate(plain, g711); err != nil || n.SRTP != nil {
		t.Errorf("Renegotiate on a plain session = %v, %v; expected plain RTP", n, err)
	}
}
