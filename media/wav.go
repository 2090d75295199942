package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sentinel errors of WAV decoding.
var (
	// ErrInvalidWAV means the input is not a well-formed RIFF WAVE file:
	// a missing header, fmt or data chunk, or a file cut short.
	ErrInvalidWAV = errors.New("invalid WAV file")

	// ErrUnsupportedWAV means a well-formed WAV file whose audio format
	// this server cannot play. The message names the format found and the
	// sox command that converts it.
	ErrUnsupportedWAV = errors.New("unsupported WAV format")

	// ErrAudioTooLong means the audio lasts longer than MaxAudioDuration.
	ErrAudioTooLong = errors.New("audio too long")
)

// MaxAudioDuration is the longest clip DecodeWAV accepts, so that a wrong
// file cannot fill memory. Ten minutes of 8 kHz audio take 9.6 MB.
const MaxAudioDuration = 10 * time.Minute

// convertHint is the command that turns any audio file into the preferred
// prompt format.
const convertHint = "convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav"

// WAVE format codes (Microsoft RIFF specification and RFC 2361).
const (
	wavFormatPCM        = 0x0001
	wavFormatFloat      = 0x0003
	wavFormatALaw       = 0x0006
	wavFormatULaw       = 0x0007
	wavFormatIMAADPCM   = 0x0011
	wavFormatMPEG3      = 0x0055
	wavFormatExtensible = 0xFFFE
)

// Sizes and limits of the RIFF layout.
const (
	riffHeaderSize  = 12
	chunkHeaderSize = 8
	// fmtBasicSize is the size of the fields every fmt chunk has.
	fmtBasicSize = 16
	// fmtExtensibleSize is the size of a WAVE_FORMAT_EXTENSIBLE fmt chunk,
	// whose sub-format code sits at fmtSubFormatOffset.
	fmtExtensibleSize  = 40
	fmtSubFormatOffset = 24
	// maxFmtChunkSize bounds the fmt chunk that DecodeWAV reads into
	// memory. Real ones are 16 to 40 bytes.
	maxFmtChunkSize = 1024
	// unknownSizeMarker is the data size that streaming writers put in
	// when they cannot seek back to fill in the real size.
	unknownSizeMarker = 0xFFFFFFFF
)

// Sample sizes of the accepted encodings, in bits.
const (
	pcmBitsPerSample  = 16
	g711BitsPerSample = 8
)

// wavFormat holds the fields of a fmt chunk that DecodeWAV checks.
type wavFormat struct {
	code          uint16
	channels      uint16
	sampleRate    uint32
	bitsPerSample uint16
}

// DecodeWAV reads a RIFF WAVE file of 8 kHz mono audio: 16-bit linear PCM,
// or G.711 µ-law or A-law. Other formats return ErrUnsupportedWAV with the
// format found and a sox command to convert the file. Chunks other than
// fmt and data are skipped, and a data chunk of unknown size (as written
// by streaming tools) is read to the end of the input.
func DecodeWAV(r io.Reader) (*Audio, error) {
	if err := readRIFFHeader(r); err != nil {
		return nil, err
	}

	var format *wavFormat
	for {
		id, size, err := readChunkHeader(r)
		if errors.Is(err, io.EOF) {
			return nil, missingChunkError(format)
		}
		if err != nil {
			return nil, err
		}

		switch id {
		case "fmt ":
			if format, err = readFormatChunk(r, size); err != nil {
				return nil, err
			}
		case "data":
			if format == nil {
				return nil, fmt.Errorf("decode WAV: %w: data chunk before fmt chunk", ErrInvalidWAV)
			}
			return readDataChunk(r, size, format)
		default:
			if err := skipChunk(r, size); err != nil {
				return nil, err
			}
		}
	}
}

func readRIFFHeader(r io.Reader) error {
	var header [riffHeaderSize]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return fmt.Errorf("decode WAV: %w: file shorter than the RIFF header: %v", ErrInvalidWAV, err)
	}

	if string(header[0:4]) != "RIFF" || string(header[8:12]) != "WAVE" {
		return fmt.Errorf("decode WAV: %w: no RIFF WAVE header (found %q), %s",
			ErrInvalidWAV, header[0:4], convertHint)
	}
	return nil
}

// readChunkHeader returns io.EOF only when the input ends exactly before a
// chunk.
func readChunkHeader(r io.Reader) (string, uint32, error) {
	var header [chunkHeaderSize]byte
	n, err := io.ReadFull(r, header[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return "", 0, io.EOF
	}
	if err != nil {
		return "", 0, fmt.Errorf("decode WAV: %w: truncated chunk header: %v", ErrInvalidWAV, err)
	}
	return string(header[0:4]), binary.LittleEndian.Uint32(header[4:8]), nil
}

func missingChunkError(format *wavFormat) error {
	if format == nil {
		return fmt.Errorf("decode WAV: %w: no fmt chunk", ErrInvalidWAV)
	}
	return fmt.Errorf("decode WAV: %w: no data chunk", ErrInvalidWAV)
}

// readFormatChunk reads and checks a fmt chunk, including its pad byte.
func readFormatChunk(r io.Reader, size uint32) (*wavFormat, error) {
	if size < fmtBasicSize || size > maxFmtChunkSize {
		return nil, fmt.Errorf("decode WAV: %w: fmt chunk of %d bytes, want %d to %d",
			ErrInvalidWAV, size, fmtBasicSize, maxFmtChunkSize)
	}
	body := make([]byte, size+size%2)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("decode WAV: %w: truncated fmt chunk: %v", ErrInvalidWAV, err)
	}

	format := &wavFormat{
		code:          binary.LittleEndian.Uint16(body[0:2]),
		channels:      binary.LittleEndian.Uint16(body[2:4]),
		sampleRate:    binary.LittleEndian.Uint32(body[4:8]),
		bitsPerSample: binary.LittleEndian.Uint16(body[14:16]),
	}
	if format.code == wavFormatExtensible && size >= fmtExtensibleSize {
		format.code = binary.LittleEndian.Uint16(body[fmtSubFormatOffset : fmtSubFormatOffset+2])
	}

	if !format.supported() {
		return nil, fmt.Errorf("decode WAV: %w: found %s, want %d Hz mono 16-bit PCM or %d Hz mono G.711 µ-law or A-law, %s",
			ErrUnsupportedWAV, format.describe(), SampleRate, SampleRate, convertHint)
	}
	return format, nil
}

func (f *wavFormat) supported() bool {
	if f.sampleRate != SampleRate || f.channels != 1 {
		return false
	}
	switch f.code {
	case wavFormatPCM:
		return f.bitsPerSample == pcmBitsPerSample
	case wavFormatULaw, wavFormatALaw:
		return f.bitsPerSample == g711BitsPerSample
	default:
		return false
	}
}

// describe names the format for an error message, for example
// "44100 Hz, 2 channels, 16-bit PCM".
func (f *wavFormat) describe() string {
	channels := "mono"
	if f.channels != 1 {
		channels = fmt.Sprintf("%d channels", f.channels)
	}
	return fmt.Sprintf("%d Hz, %s, %d-bit %s", f.sampleRate, channels, f.bitsPerSample, formatName(f.code))
}

func formatName(code uint16) string {
	switch code {
	case wavFormatPCM:
		return "PCM"
	case wavFormatFloat:
		return "IEEE float"
	case wavFormatALaw:
		return "G.711 A-law"
	case wavFormatULaw:
		return "G.711 µ-law"
	case wavFormatIMAADPCM:
		return "IMA ADPCM"
	case wavFormatMPEG3:
		return "MP3"
	default:
		return fmt.Sprintf("format code 0x%04X", code)
	}
}

// skipChunk discards a chunk body and its pad byte.
func skipChunk(r io.Reader, size uint32) error {
	padded := int64(size) + int64(size%2)
	if _, err := io.CopyN(io.Discard, r, padded); err != nil {
		return fmt.Errorf("decode WAV: %w: truncated chunk of %d bytes: %v", ErrInvalidWAV, size, err)
	}
	return nil
}

// readDataChunk reads the samples of a data chunk, bounded by
// MaxAudioDuration.
func readDataChunk(r io.Reader, size uint32, format *wavFormat) (*Audio, error) {
	bytesPerSample := int64(format.bitsPerSample / 8)
	maxBytes := int64(MaxAudioDuration/time.Second) * SampleRate * bytesPerSample
	unknownSize := size == unknownSizeMarker || size == 0

	if !unknownSize && int64(size) > maxBytes {
		return nil, tooLongError(int64(size) / bytesPerSample)
	}

	limit := int64(size)
	if unknownSize {
		limit = maxBytes + 1
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("decode WAV: read data chunk: %w", err)
	}

	if unknownSize && int64(len(data)) > maxBytes {
		return nil, tooLongError(int64(len(data)) / bytesPerSample)
	}
	if !unknownSize && int64(len(data)) < int64(size) {
		return nil, fmt.Errorf("decode WAV: %w: data chunk declares %d bytes but the file ends after %d",
			ErrInvalidWAV, size, len(data))
	}
	return decodeSamples(data, format), nil
}

func tooLongError(samples int64) error {
	return fmt.Errorf("decode WAV: %w: %s of audio, max %s, shorten the file",
		ErrAudioTooLong, samplesDuration(int(samples)).Round(time.Second), MaxAudioDuration)
}

// decodeSamples converts data chunk bytes to linear samples. A trailing
// odd byte of 16-bit PCM is dropped.
func decodeSamples(data []byte, format *wavFormat) *Audio {
	switch format.code {
	case wavFormatULaw, wavFormatALaw:
		law := lawULaw
		if format.code == wavFormatALaw {
			law = lawALaw
		}
		samples := make([]int16, len(data))
		law.decode(samples, data)
		return &Audio{Samples: samples}
	default:
		samples := make([]int16, len(data)/2)
		for i := range samples {
			samples[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		return &Audio{Samples: samples}
	}
}
