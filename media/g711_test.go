package media

import (
	"math"
	"testing"
)

// Decoder output values of ITU-T G.711 Table 2 (µ-law, 14-bit scale) and
// Table 1 (A-law, 13-bit scale), scaled to 16 bits: ×4 and ×8.
func TestULawKnownValues(t *testing.T) {
	tests := []struct {
		name   string
		code   byte
		sample int16
	}{
		{name: "zero", code: 0xFF, sample: 0},
		{name: "first step", code: 0xFE, sample: 2 * 4},
		{name: "top of segment 0", code: 0xF0, sample: 30 * 4},
		{name: "bottom of segment 1", code: 0xEF, sample: 33 * 4},
		{name: "bottom of segment 2", code: 0xDF, sample: 99 * 4},
		{name: "bottom of segment 7", code: 0x8F, sample: 4191 * 4},
		{name: "positive maximum", code: 0x80, sample: 8031 * 4},
		{name: "negative first step", code: 0x7E, sample: -2 * 4},
		{name: "negative maximum", code: 0x00, sample: -8031 * 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecodeULaw(tt.code); got != tt.sample {
				t.Errorf("DecodeULaw(%#x) = %d, want %d", tt.code, got, tt.sample)
			}
			if got := EncodeULaw(tt.sample); got != tt.code {
				t.Errorf("EncodeULaw(%d) = %#x, want %#x", tt.sample, got, tt.code)
			}
		})
	}
}

func TestALawKnownValues(t *testing.T) {
	tests := []struct {
		name   string
		code   byte
		sample int16
	}{
		{name: "smallest positive", code: 0xD5, sample: 1 * 8},
		{name: "second step", code: 0xD4, sample: 3 * 8},
		{name: "bottom of segment 1", code: 0xC5, sample: 33 * 8},
		{name: "bottom of segment 2", code: 0xF5, sample: 66 * 8},
		{name: "bottom of segment 7", code: 0xA5, sample: 2112 * 8},
		{name: "positive maximum", code: 0xAA, sample: 4032 * 8},
		{name: "smallest negative", code: 0x55, sample: -1 * 8},
		{name: "negative maximum", code: 0x2A, sample: -4032 * 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecodeALaw(tt.code); got != tt.sample {
				t.Errorf("DecodeALaw(%#x) = %d, want %d", tt.code, got, tt.sample)
			}
			if got := EncodeALaw(tt.sample); got != tt.code {
				t.Errorf("EncodeALaw(%d) = %#x, want %#x", tt.sample, got, tt.code)
			}
		})
	}
}

func TestG711EncodeEdges(t *testing.T) {
	tests := []struct {
		name   string
		sample int16
		ulaw   byte
		alaw   byte
	}{
		{name: "zero", sample: 0, ulaw: ULawSilence, alaw: ALawSilence},
		{name: "minus one", sample: -1, ulaw: 0x7F, alaw: 0x55},
		{name: "int16 maximum clips", sample: math.MaxInt16, ulaw: 0x80, alaw: 0xAA},
		{name: "int16 minimum clips", sample: math.MinInt16, ulaw: 0x00, alaw: 0x2A},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeULaw(tt.sample); got != tt.ulaw {
				t.Errorf("EncodeULaw(%d) = %#x, want %#x", tt.sample, got, tt.ulaw)
			}
			if got := EncodeALaw(tt.sample); got != tt.alaw {
				t.Errorf("EncodeALaw(%d) = %#x, want %#x", tt.sample, got, tt.alaw)
			}
		})
	}
}

// Every code survives decode then encode, except µ-law's negative zero
// 0x7F, which decodes to 0 and so encodes as positive zero 0xFF.
func TestG711CodeRoundTrip(t *testing.T) {
	for code := range 256 {
		c := byte(code)
		if got := EncodeALaw(DecodeALaw(c)); got != c {
			t.Errorf("A-law %#x round trip gave %#x", c, got)
		}
		want := c
		if c == 0x7F {
			want = ULawSilence
		}
		if got := EncodeULaw(DecodeULaw(c)); got != want {
			t.Errorf("µ-law %#x round trip gave %#x, want %#x", c, got, want)
		}
	}
}

// Quantization keeps order, and the error stays within half the largest
// step or the clipping above the top level, give or take one.
func TestG711SampleRoundTripBounded(t *testing.T) {
	laws := []struct {
		name     string
		encode   func(int16) byte
		decode   func(byte) int16
		maxError int
	}{
		{name: "µ-law", encode: EncodeULaw, decode: DecodeULaw, maxError: math.MaxInt16 - 8031*4},
		{name: "A-law", encode: EncodeALaw, decode: DecodeALaw, maxError: 512},
	}
	for _, law := range laws {
		t.Run(law.name, func(t *testing.T) {
			previous := math.MinInt
			for sample := math.MinInt16; sample <= math.MaxInt16; sample++ {
				decoded := int(law.decode(law.encode(int16(sample))))
				if decoded < previous {
					t.Fatalf("sample %d decodes to %d, below %d of the sample before", sample, decoded, previous)
				}
				previous = decoded
				if diff := decoded - sample; diff > law.maxError+1 || diff < -law.maxError-1 {
					t.Fatalf("sample %d decodes to %d, error %d over %d", sample, decoded, diff, law.maxError)
				}
			}
		})
	}
}

func TestG711TranscodeNearestLevel(t *testing.T) {
	directions := []struct {
		name       string
		convert    func(byte) byte
		decodeFrom func(byte) int16
		decodeTo   func(byte) int16
	}{
		{name: "µ-law to A-law", convert: ULawToALaw, decodeFrom: DecodeULaw, decodeTo: DecodeALaw},
		{name: "A-law to µ-law", convert: ALawToULaw, decodeFrom: DecodeALaw, decodeTo: DecodeULaw},
	}
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			for code := range 256 {
				level := int(d.decodeFrom(byte(code)))
				gotError := abs(int(d.decodeTo(d.convert(byte(code)))) - level)
				for other := range 256 {
					if otherError := abs(int(d.decodeTo(byte(other))) - level); otherError < gotError {
						t.Errorf("code %#x (level %d) converts to level %d, but %#x is nearer at %d",
							code, level, d.decodeTo(d.convert(byte(code))), other, d.decodeTo(byte(other)))
						break
					}
				}
			}
		})
	}
}

func TestG711TranscodeKnownValues(t *testing.T) {
	tests := []struct {
		name string
		ulaw byte
		alaw byte
	}{
		{name: "zero", ulaw: ULawSilence, alaw: ALawSilence},
		{name: "positive maximum", ulaw: 0x80, alaw: 0xAA},
		{name: "negative maximum", ulaw: 0x00, alaw: 0x2A},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ULawToALaw(tt.ulaw); got != tt.alaw {
				t.Errorf("ULawToALaw(%#x) = %#x, want %#x", tt.ulaw, got, tt.alaw)
			}
		})
	}
	// A-law level ±8 is between µ-law ±0 and ±8, and goes to ±8.
	if got := ALawToULaw(ALawSilence); got != 0xFE {
		t.Errorf("ALawToULaw(%#x) = %#x, want 0xFE", ALawSilence, got)
	}
}

// The NOTE on ULawToALaw promises at most 16 codes changed by a double
// conversion in each direction, each by one step.
func TestG711DoubleConversion(t *testing.T) {
	changedULaw, changedALaw := 0, 0
	for code := range 256 {
		c := byte(code)
		if back := ALawToULaw(ULawToALaw(c)); back != EncodeULaw(DecodeULaw(c)) {
			changedULaw++
			if step := abs(int(DecodeULaw(back)) - int(DecodeULaw(c))); step > 1024 {
				t.Errorf("µ-law %#x came back as %#x, %d away", c, back, step)
			}
		}
		if back := ULawToALaw(ALawToULaw(c)); back != c {
			changedALaw++
			if step := abs(int(DecodeALaw(back)) - int(DecodeALaw(c))); step > 1024 {
				t.Errorf("A-law %#x came back as %#x, %d away", c, back, step)
			}
		}
	}
	if changedULaw > 16 || changedALaw > 16 {
		t.Errorf("double conversion changed %d µ-law and %d A-law codes, want at most 16 each", changedULaw, changedALaw)
	}
}

func TestG711FrameHelpers(t *testing.T) {
	samples := []int16{0, 1000, -1000, math.MaxInt16, math.MinInt16}
	for _, law := range []g711Law{lawULaw, lawALaw} {
		codes := make([]byte, len(samples))
		law.encode(codes, samples)
		decoded := make([]int16, len(codes))
		law.decode(decoded, codes)

		encode, decode := EncodeULaw, DecodeULaw
		if law == lawALaw {
			encode, decode = EncodeALaw, DecodeALaw
		}
		for i, sample := range samples {
			if codes[i] != encode(sample) || decoded[i] != decode(codes[i]) {
				t.Errorf("law %d sample %d: frame code %#x and sample %d, want %#x and %d",
					law, sample, codes[i], decoded[i], encode(sample), decode(codes[i]))
			}
		}
	}
}

func TestLawOf(t *testing.T) {
	tests := []struct {
		codec Codec
		want  g711Law
	}{
		{codec: PCMU, want: lawULaw},
		{codec: PCMA, want: lawALaw},
		{codec: Codec{Name: "pcma", PayloadType: 8}, want: lawALaw},
		{codec: Codec{Name: "G722", PayloadType: 9}, want: lawNone},
	}
	for _, tt := range tests {
		t.Run(tt.codec.Name, func(t *testing.T) {
			if got := lawOf(tt.codec); got != tt.want {
				t.Errorf("lawOf(%s) = %d, want %d", tt.codec.Name, got, tt.want)
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
