package media

// Codec is an audio payload format negotiated in SDP.
type Codec struct {
	// Name is the encoding name as SDP writes it: "PCMU" or "PCMA".
	Name string
	// PayloadType is the RTP payload type the peer uses for it.
	PayloadType uint8
	// ClockRate is the RTP clock rate in Hz.
	ClockRate uint32
}

// Static payload types and clock rate of G.711 (RFC 3551).
const (
	PayloadTypePCMU uint8  = 0
	PayloadTypePCMA uint8  = 8
	G711ClockRate   uint32 = 8000
)

// The G.711 codecs this server speaks, µ-law first.
var (
	PCMU = Codec{Name: "PCMU", PayloadType: PayloadTypePCMU, ClockRate: G711ClockRate}
	PCMA = Codec{Name: "PCMA", PayloadType: PayloadTypePCMA, ClockRate: G711ClockRate}
)

// Digit is one DTMF key: '0'-'9', '*', '#', or 'A'-'D'.
type Digit rune
