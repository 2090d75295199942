package media

import (
	"math/bits"
	"strings"
)

// ITU-T G.711 coding of 16-bit linear PCM. µ-law (PCMU) quantizes a 14-bit
// magnitude range and A-law (PCMA) a 13-bit one, each into 8 segments of 16
// steps. The 16-bit sample is the G.711 value scaled up: µ-law output 8031
// (Table 2) is 32124 here, and A-law output 4032 (Table 1) is 32256.
//
// Every conversion is a lookup in a table built once at start-up, so coding
// a packet allocates nothing and costs one load per byte.

const (
	// ulawBias is added to the magnitude before µ-law segment search, so
	// that segment boundaries fall on powers of two.
	ulawBias = 0x84
	// ulawClip is the largest magnitude µ-law encodes. Larger samples
	// clip to the top code.
	ulawClip = 32635
	// alawEvenBits is the XOR mask that A-law applies to every other bit
	// of the code (ITU-T G.711 section 3).
	alawEvenBits = 0x55
	// g711SignBit is the sign bit of a code: set for negative samples in
	// µ-law before inversion, and for positive samples in A-law.
	g711SignBit = 0x80
	// g711SegmentShift and g711MantissaMask split a code into its 3-bit
	// segment and 4-bit step.
	g711SegmentShift = 4
	g711MantissaMask = 0x0F
	g711SegmentMask  = 0x07
	// alawScaleShift turns a 16-bit sample into the 13-bit A-law range.
	alawScaleShift = 3
	// alawLowLimit is the 13-bit magnitude where A-law segment 1 starts:
	// segments 0 and 1 share the same step size.
	alawLowLimit = 32
)

// Silence codes: the code that a zero sample encodes to.
const (
	ULawSilence byte = 0xFF
	ALawSilence byte = 0xD5
)

// Lookup tables, filled once when the package is loaded. The encode tables
// are indexed by the sample's 16 bits read as uint16.
var (
	ulawDecodeTable = buildDecodeTable(decodeULawSlow)
	alawDecodeTable = buildDecodeTable(decodeALawSlow)
	ulawEncodeTable = buildEncodeTable(encodeULawSlow)
	alawEncodeTable = buildEncodeTable(encodeALawSlow)
	ulawToALawTable = buildTranscodeTable(decodeULawSlow, decodeALawSlow)
	alawToULawTable = buildTranscodeTable(decodeALawSlow, decodeULawSlow)
)

// EncodeULaw returns the G.711 µ-law code of a 16-bit linear sample.
func EncodeULaw(sample int16) byte { return ulawEncodeTable[uint16(sample)] }

// DecodeULaw returns the 16-bit linear sample of a G.711 µ-law code.
func DecodeULaw(code byte) int16 { return ulawDecodeTable[code] }

// EncodeALaw returns the G.711 A-law code of a 16-bit linear sample.
func EncodeALaw(sample int16) byte { return alawEncodeTable[uint16(sample)] }

// DecodeALaw returns the 16-bit linear sample of a G.711 A-law code.
func DecodeALaw(code byte) int16 { return alawDecodeTable[code] }

// ULawToALaw converts a µ-law code to the A-law code nearest in level.
//
// NOTE: The transcoding tables pick the nearest level. They differ from
// ITU-T G.711 Tables 3 and 4 by one step for a few dozen codes, because the
// ITU tables are built so that converting there and back returns the
// original code. Here 16 of the 256 codes change by one step after a µ-law
// to A-law to µ-law round trip, and 16 after the reverse. A relay converts
// each packet once, so this is inaudible.
func ULawToALaw(code byte) byte { return ulawToALawTable[code] }

// ALawToULaw converts an A-law code to the µ-law code nearest in level. See
// ULawToALaw for how it differs from ITU-T G.711 Table 4.
func ALawToULaw(code byte) byte { return alawToULawTable[code] }

// g711Law is a G.711 companding law, or none for a codec this package does
// not code.
type g711Law uint8

const (
	lawNone g711Law = iota
	lawULaw
	lawALaw
)

// lawOf returns the law of a negotiated codec, by its SDP encoding name.
func lawOf(c Codec) g711Law {
	switch {
	case strings.EqualFold(c.Name, PCMU.Name):
		return lawULaw
	case strings.EqualFold(c.Name, PCMA.Name):
		return lawALaw
	default:
		return lawNone
	}
}

// silence returns the code of a zero sample.
func (l g711Law) silence() byte {
	if l == lawALaw {
		return ALawSilence
	}
	return ULawSilence
}

// encode writes the code of each sample of src into dst, which must be at
// least as long as src.
func (l g711Law) encode(dst []byte, src []int16) {
	table := &ulawEncodeTable
	if l == lawALaw {
		table = &alawEncodeTable
	}
	dst = dst[:len(src)]
	for i, sample := range src {
		dst[i] = table[uint16(sample)]
	}
}

// decode writes the sample of each code of src into dst, which must be at
// least as long as src.
func (l g711Law) decode(dst []int16, src []byte) {
	table := &ulawDecodeTable
	if l == lawALaw {
		table = &alawDecodeTable
	}
	dst = dst[:len(src)]
	for i, code := range src {
		dst[i] = table[code]
	}
}

// transcode writes src, coded in law from, into dst coded in law l. dst
// must be at least as long as src. Equal laws copy.
func (l g711Law) transcode(dst []byte, src []byte, from g711Law) {
	if l == from {
		copy(dst, src)
		return
	}
	table := &ulawToALawTable
	if from == lawALaw {
		table = &alawToULawTable
	}
	dst = dst[:len(src)]
	for i, code := range src {
		dst[i] = table[code]
	}
}

// encodeULawSlow computes a µ-law code: bias the magnitude, find the
// segment from its highest set bit, keep the 4 bits below it, then invert
// the whole code (ITU-T G.711 Table 2).
func encodeULawSlow(sample int16) byte {
	magnitude := int(sample)
	var sign byte
	if magnitude < 0 {
		magnitude = -magnitude
		sign = g711SignBit
	}
	magnitude = min(magnitude, ulawClip) + ulawBias

	// The biased magnitude lies in 132..32767, so its bit length is 8..15.
	segment := bits.Len(uint(magnitude)) - 8
	mantissa := (magnitude >> (segment + 3)) & g711MantissaMask
	return ^(sign | byte(segment)<<g711SegmentShift | byte(mantissa))
}

// decodeULawSlow returns the middle of the µ-law code's quantization
// interval.
func decodeULawSlow(code byte) int16 {
	inverted := ^code
	segment := int(inverted>>g711SegmentShift) & g711SegmentMask
	mantissa := int(inverted & g711MantissaMask)

	magnitude := ((mantissa<<3)+ulawBias)<<segment - ulawBias
	if inverted&g711SignBit != 0 {
		return int16(-magnitude)
	}
	return int16(magnitude)
}

// encodeALawSlow computes an A-law code: scale to 13 bits, find the
// segment from the highest set bit, keep the 4 bits below it, then flip
// the even bits (ITU-T G.711 Table 1).
func encodeALawSlow(sample int16) byte {
	magnitude := int(sample) >> alawScaleShift
	var sign byte = g711SignBit
	if magnitude < 0 {
		// One's complement keeps -4096 in the 12-bit magnitude range.
		magnitude = -magnitude - 1
		sign = 0
	}

	segment, shift := 0, 1
	if magnitude >= alawLowLimit {
		// The magnitude lies in 32..4095, so its bit length is 6..12.
		segment = bits.Len(uint(magnitude)) - 5
		shift = segment
	}
	mantissa := (magnitude >> shift) & g711MantissaMask
	return (sign | byte(segment)<<g711SegmentShift | byte(mantissa)) ^ alawEvenBits
}

// decodeALawSlow returns the middle of the A-law code's quantization
// interval.
func decodeALawSlow(code byte) int16 {
	plain := code ^ alawEvenBits
	segment := int(plain>>g711SegmentShift) & g711SegmentMask
	mantissa := int(plain & g711MantissaMask)

	// Steps are 16 wide in segments 0 and 1 and double with each segment
	// after that. The +8 and +0x108 put the value mid-step, and segment 1
	// and up start at 256 (32 in 13 bits).
	magnitude := mantissa<<4 + 8
	if segment > 0 {
		magnitude = (mantissa<<4 + 0x108) << (segment - 1)
	}
	if plain&g711SignBit != 0 {
		return int16(magnitude)
	}
	return int16(-magnitude)
}

func buildDecodeTable(decode func(byte) int16) [256]int16 {
	var table [256]int16
	for code := range table {
		table[code] = decode(byte(code))
	}
	return table
}

func buildEncodeTable(encode func(int16) byte) [1 << 16]byte {
	var table [1 << 16]byte
	for index := range table {
		table[index] = encode(int16(uint16(index)))
	}
	return table
}

// buildTranscodeTable maps each source code to the target code whose level
// is nearest to the source level. Ties go to the code of the same sign, so
// µ-law's negative zero stays negative, and then to the smaller magnitude.
func buildTranscodeTable(decodeSource, decodeTarget func(byte) int16) [256]byte {
	var table [256]byte
	for source := range table {
		level := int(decodeSource(byte(source)))
		negative := isNegativeCode(byte(source))

		best, bestDistance := -1, 0
		for target := range 256 {
			if isNegativeCode(byte(target)) != negative {
				continue
			}
			targetLevel := int(decodeTarget(byte(target)))
			distance := absInt(targetLevel - level)
			if best < 0 || distance < bestDistance ||
				(distance == bestDistance && absInt(targetLevel) < absInt(int(decodeTarget(byte(best))))) {
				best, bestDistance = target, distance
			}
		}
		table[source] = byte(best)
	}
	return table
}

// isNegativeCode reports whether a code carries a negative level. In both
// laws the codes 0x00 to 0x7F are the negative ones, µ-law's 0x7F being
// negative zero.
func isNegativeCode(code byte) bool {
	return code&g711SignBit == 0
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
