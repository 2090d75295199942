// Package media owns the audio path of a call: RTP port allocation, one
// RTP session per call leg, G.711 µ-law and A-law coding, WAV prompts,
// paced prompt playback, the relay that bridges two legs, DTMF digits and
// SDP offer/answer.
//
// It follows these standards:
//   - RFC 3550 for RTP.
//   - RFC 3551, the audio profile: G.711 payload types 0 and 8, 20 ms
//     packets, and the marker bit at the start of a talkspurt.
//   - RFC 4961, symmetric RTP: RTP is sent to the address the peer's RTP
//     comes from.
//   - RFC 4733 for DTMF as telephone events.
//   - RFC 8866 and RFC 3264 for SDP and offer/answer.
//   - RFC 3711 for SRTP with AES_CM_128_HMAC_SHA1_80 (through pion/srtp),
//     keyed by SDES a=crypto lines (RFC 4568).
//   - ITU-T G.711 for the µ-law and A-law codecs.
//
// A call leg works like this: PortRange.Allocate binds a UDP socket,
// NewSession wraps it with the negotiated codec and peer address, Start
// begins receiving, Play and PlayLoop send prompts and hold music, and
// Bridge relays audio and DTMF events between two legs. Each Session sends
// a single RTP stream whose SSRC, sequence numbers and timestamps continue
// across all of these, so the peer sees one uninterrupted source from the
// IVR through the conversation.
//
// An SRTP leg decrypts each datagram in its receive buffer and encrypts in
// its send buffer, so everything between works on plain RTP.
//
// The per-packet paths (receive, playback, relay) reuse their buffers,
// allocate nothing and never log. Counters in Stats replace per-packet
// logs.
package media
