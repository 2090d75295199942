package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// WAV format constants for 16-bit PCM files (the RIFF WAVE layout).
const (
	wavFormatPCM      = 1
	wavBitsPerSample  = 16
	wavBytesPerSample = 2
	wavHeaderBytes    = 44
	wavFmtChunkBytes  = 16
	riffSizeOffset    = 8
	// TelephoneRate is the sample rate of G.711 audio and of the WAV
	// files baresip's aufile module reads here.
	TelephoneRate = 8000
)

// ErrNotPCMWAV means a file is not 16-bit PCM WAV.
var ErrNotPCMWAV = errors.New("not a 16-bit PCM WAV file")

// WAV is decoded 16-bit PCM audio.
type WAV struct {
	Rate     int
	Channels int
	// Samples are interleaved when Channels > 1.
	Samples []int16
}

// Duration returns the length of the audio.
func (w WAV) Duration() time.Duration {
	if w.Rate == 0 || w.Channels == 0 {
		return 0
	}
	frames := len(w.Samples) / w.Channels
	return time.Duration(frames) * time.Second / time.Duration(w.Rate)
}

// RMS returns the root mean square of the samples, 0 for silence and up to
// 32767 for a full-scale square wave.
func (w WAV) RMS() float64 {
	if len(w.Samples) == 0 {
		return 0
	}
	var sum float64
	for _, sample := range w.Samples {
		sum += float64(sample) * float64(sample)
	}
	return math.Sqrt(sum / float64(len(w.Samples)))
}

// WriteToneWAV writes a mono 8 kHz 16-bit WAV file with a sine tone of
// frequencyHz at amplitude (0..1 of full scale) lasting duration.
func WriteToneWAV(path string, duration time.Duration, frequencyHz, amplitude float64) error {
	frames := int(duration.Seconds() * TelephoneRate)
	samples := make([]int16, frames)
	for i := range samples {
		phase := 2 * math.Pi * frequencyHz * float64(i) / TelephoneRate
		samples[i] = int16(amplitude * math.MaxInt16 * math.Sin(phase))
	}
	return WriteWAV(path, WAV{Rate: TelephoneRate, Channels: 1, Samples: samples})
}

// WriteWAV writes w as a canonical 44-byte-header PCM WAV file.
func WriteWAV(path string, w WAV) error {
	dataBytes := len(w.Samples) * wavBytesPerSample
	header := struct {
		Riff          [4]byte
		RiffSize      uint32
		Wave          [4]byte
		Fmt           [4]byte
		FmtSize       uint32
		Format        uint16
		Channels      uint16
		Rate          uint32
		ByteRate      uint32
		BlockAlign    uint16
		BitsPerSample uint16
		Data          [4]byte
		DataSize      uint32
	}{
		Riff:          [4]byte{'R', 'I', 'F', 'F'},
		RiffSize:      uint32(wavHeaderBytes - riffSizeOffset + dataBytes),
		Wave:          [4]byte{'W', 'A', 'V', 'E'},
		Fmt:           [4]byte{'f', 'm', 't', ' '},
		FmtSize:       wavFmtChunkBytes,
		Format:        wavFormatPCM,
		Channels:      uint16(w.Channels),
		Rate:          uint32(w.Rate),
		ByteRate:      uint32(w.Rate * w.Channels * wavBytesPerSample),
		BlockAlign:    uint16(w.Channels * wavBytesPerSample),
		BitsPerSample: wavBitsPerSample,
		Data:          [4]byte{'d', 'a', 't', 'a'},
		DataSize:      uint32(dataBytes),
	}

	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating WAV file: %w", err)
	}
	if err := binary.Write(file, binary.LittleEndian, header); err != nil {
		file.Close()
		return fmt.Errorf("writing WAV header to %s: %w", path, err)
	}
	if err := binary.Write(file, binary.LittleEndian, w.Samples); err != nil {
		file.Close()
		return fmt.Errorf("writing WAV samples to %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("closing WAV file %s: %w", path, err)
	}
	return nil
}

// ReadWAV decodes a 16-bit PCM WAV file, skipping chunks other than fmt
// and data (libsndfile, which baresip's sndfile module uses, may add some).
func ReadWAV(path string) (WAV, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return WAV{}, fmt.Errorf("reading WAV file: %w", err)
	}
	wav, err := decodeWAV(data)
	if err != nil {
		return WAV{}, fmt.Errorf("decoding %s: %w", path, err)
	}
	return wav, nil
}

func decodeWAV(data []byte) (WAV, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return WAV{}, fmt.Errorf("%w: missing RIFF/WAVE header", ErrNotPCMWAV)
	}

	var wav WAV
	var haveFormat, haveData bool
	rest := data[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := int(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		if size > len(body) {
			// A writer that was killed leaves the size unset;
			// take what is there.
			size = len(body)
		}

		switch id {
		case "fmt ":
			if err := decodeFormat(body[:size], &wav); err != nil {
				return WAV{}, err
			}
			haveFormat = true
		case "data":
			wav.Samples = make([]int16, size/wavBytesPerSample)
			if err := binary.Read(bytes.NewReader(body[:size-size%wavBytesPerSample]), binary.LittleEndian, wav.Samples); err != nil {
				return WAV{}, fmt.Errorf("reading samples: %w", err)
			}
			haveData = true
		}

		// Chunks are padded to an even size.
		next := 8 + size + size%2
		if next > len(rest) {
			break
		}
		rest = rest[next:]
	}

	if !haveFormat || !haveData {
		return WAV{}, fmt.Errorf("%w: fmt or data chunk missing", ErrNotPCMWAV)
	}
	return wav, nil
}

func decodeFormat(body []byte, wav *WAV) error {
	if len(body) < wavFmtChunkBytes {
		return fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotPCMWAV, len(body))
	}
	format := binary.LittleEndian.Uint16(body[0:2])
	bits := binary.LittleEndian.Uint16(body[14:16])
	if format != wavFormatPCM || bits != wavBitsPerSample {
		return fmt.Errorf("%w: format %d with %d bits per sample", ErrNotPCMWAV, format, bits)
	}
	wav.Channels = int(binary.LittleEndian.Uint16(body[2:4]))
	wav.Rate = int(binary.LittleEndian.Uint32(body[4:8]))
	return nil
}
