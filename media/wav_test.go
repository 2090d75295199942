package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// wavSpec describes a WAV file for buildWAV.
type wavSpec struct {
	formatCode    uint16
	channels      uint16
	sampleRate    uint32
	bitsPerSample uint16
	// extensible writes a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk whose
	// sub-format is formatCode.
	extensible bool
	data       []byte
	// dataSize overrides the data chunk's declared size when non-zero.
	dataSize uint32
	// before and after are raw chunks placed around the data chunk.
	before, after []byte
}

// buildWAV writes a RIFF WAVE file.
func buildWAV(spec wavSpec) []byte {
	var body bytes.Buffer
	body.WriteString("WAVE")

	blockAlign := spec.channels * spec.bitsPerSample / 8
	fmtChunk := binary.LittleEndian.AppendUint16(nil, spec.formatCode)
	if spec.extensible {
		fmtChunk = binary.LittleEndian.AppendUint16(nil, wavFormatExtensible)
	}
	fmtChunk = binary.LittleEndian.AppendUint16(fmtChunk, spec.channels)
	fmtChunk = binary.LittleEndian.AppendUint32(fmtChunk, spec.sampleRate)
	fmtChunk = binary.LittleEndian.AppendUint32(fmtChunk, spec.sampleRate*uint32(blockAlign))
	fmtChunk = binary.LittleEndian.AppendUint16(fmtChunk, blockAlign)
	fmtChunk = binary.LittleEndian.AppendUint16(fmtChunk, spec.bitsPerSample)
	if spec.extensible {
		fmtChunk = binary.LittleEndian.AppendUint16(fmtChunk, 22)                 // extension size
		fmtChunk = binary.LittleEndian.AppendUint16(fmtChunk, spec.bitsPerSample) // valid bits
		fmtChunk = binary.LittleEndian.AppendUint32(fmtChunk, 4)                  // channel mask: front center
		fmtChunk = binary.LittleEndian.AppendUint16(fmtChunk, spec.formatCode)
		fmtChunk = append(fmtChunk, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
	}
	body.Write(riffChunk("fmt ", fmtChunk))
	body.Write(spec.before)

	dataChunk := riffChunk("data", spec.data)
	if spec.dataSize != 0 {
		binary.LittleEndian.PutUint32(dataChunk[4:8], spec.dataSize)
	}
	body.Write(dataChunk)
	body.Write(spec.after)

	file := []byte("RIFF")
	file = binary.LittleEndian.AppendUint32(file, uint32(body.Len()))
	return append(file, body.Bytes()...)
}

// riffChunk returns a chunk with its header and pad byte.
func riffChunk(id string, body []byte) []byte {
	chunk := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	chunk = append(chunk, body...)
	if len(body)%2 == 1 {
		chunk = append(chunk, 0)
	}
	return chunk
}

func pcm16(samples ...int16) []byte {
	var data []byte
	for _, sample := range samples {
		data = binary.LittleEndian.AppendUint16(data, uint16(sample))
	}
	return data
}

func pcmSpec(data []byte) wavSpec {
	return wavSpec{formatCode: wavFormatPCM, channels: 1, sampleRate: SampleRate, bitsPerSample: 16, data: data}
}

func TestDecodeWAV(t *testing.T) {
	samples := []int16{0, 1, -1, 1000, -32768, 32767}
	ulaw := []byte{0xFF, 0x80, 0x00, 0x7E}
	alaw := []byte{0xD5, 0xAA, 0x2A}

	tests := []struct {
		name string
		spec wavSpec
		want []int16
	}{
		{name: "16-bit PCM", spec: pcmSpec(pcm16(samples...)), want: samples},
		{name: "empty data", spec: pcmSpec(nil), want: []int16{}},
		{
			name: "µ-law",
			spec: wavSpec{formatCode: wavFormatULaw, channels: 1, sampleRate: SampleRate, bitsPerSample: 8, data: ulaw},
			want: []int16{0, 32124, -32124, -8},
		},
		{
			name: "A-law with odd size and pad byte",
			spec: wavSpec{formatCode: wavFormatALaw, channels: 1, sampleRate: SampleRate, bitsPerSample: 8, data: alaw},
			want: []int16{8, 32256, -32256},
		},
		{
			name: "extensible PCM",
			spec: wavSpec{formatCode: wavFormatPCM, channels: 1, sampleRate: SampleRate, bitsPerSample: 16, extensible: true, data: pcm16(samples...)},
			want: samples,
		},
		{
			name: "other chunks skipped",
			spec: func() wavSpec {
				spec := pcmSpec(pcm16(samples...))
				spec.before = append(riffChunk("LIST", []byte("INFOISFT\x05\x00\x00\x00sox!\x00")), riffChunk("fact", []byte{6, 0, 0, 0})...)
				spec.after = riffChunk("LIST", []byte("trailing"))
				return spec
			}(),
			want: samples,
		},
		{
			name: "unknown data size reads to the end",
			spec: func() wavSpec {
				spec := pcmSpec(pcm16(samples...))
				spec.dataSize = unknownSizeMarker
				return spec
			}(),
			want: samples,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			audio, err := DecodeWAV(bytes.NewReader(buildWAV(tt.spec)))
			if err != nil {
				t.Fatalf("DecodeWAV: %v", err)
			}
			if !slices.Equal(audio.Samples, tt.want) {
				t.Errorf("samples %v, want %v", audio.Samples, tt.want)
			}
		})
	}
}

func TestDecodeWAVRejects(t *testing.T) {
	good := buildWAV(pcmSpec(pcm16(1, 2, 3)))
	withFmtSize := func(size uint32) []byte {
		file := bytes.Clone(good)
		binary.LittleEndian.PutUint32(file[16:20], size)
		return file
	}
	tooLong := pcmSpec(pcm16(1))
	tooLong.dataSize = uint32(MaxAudioDuration/time.Second)*SampleRate*2 + 2
	truncated := pcmSpec(pcm16(1, 2, 3))
	truncated.dataSize = 100

	tests := []struct {
		name        string
		file        []byte
		want        error
		wantMessage []string
	}{
		{name: "empty", file: nil, want: ErrInvalidWAV},
		{name: "not RIFF", file: []byte("ID3\x04\x00\x00\x00\x00\x00\x00mp3 data here"), want: ErrInvalidWAV, wantMessage: []string{"sox in.wav"}},
		{name: "RIFF but not WAVE", file: append([]byte("RIFF\x04\x00\x00\x00AVI "), riffChunk("data", nil)...), want: ErrInvalidWAV},
		{name: "header only", file: []byte("RIFF\x04\x00\x00\x00WAVE"), want: ErrInvalidWAV, wantMessage: []string{"no fmt chunk"}},
		{name: "no data chunk", file: good[:36], want: ErrInvalidWAV, wantMessage: []string{"no data chunk"}},
		{name: "data before fmt", file: append([]byte("RIFF\x10\x00\x00\x00WAVE"), riffChunk("data", []byte{1, 2})...), want: ErrInvalidWAV},
		{name: "fmt chunk too small", file: withFmtSize(8), want: ErrInvalidWAV},
		{name: "fmt chunk too large", file: withFmtSize(1 << 20), want: ErrInvalidWAV},
		{name: "truncated fmt chunk", file: good[:30], want: ErrInvalidWAV},
		{name: "truncated chunk header", file: good[:40], want: ErrInvalidWAV},
		{name: "truncated data", file: buildWAV(truncated), want: ErrInvalidWAV, wantMessage: []string{"declares 100 bytes"}},
		{name: "truncated skipped chunk", file: append(bytes.Clone(good[:36]), "LIST\xff\x00\x00\x00abc"...), want: ErrInvalidWAV},
		{name: "too long", file: buildWAV(tooLong), want: ErrAudioTooLong, wantMessage: []string{"max 10m0s"}},
		{
			name:        "CD quality",
			file:        buildWAV(wavSpec{formatCode: wavFormatPCM, channels: 2, sampleRate: 44100, bitsPerSample: 16, data: pcm16(1, 2)}),
			want:        ErrUnsupportedWAV,
			wantMessage: []string{"44100 Hz, 2 channels, 16-bit PCM", "convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav"},
		},
		{
			name:        "16 kHz mono",
			file:        buildWAV(wavSpec{formatCode: wavFormatPCM, channels: 1, sampleRate: 16000, bitsPerSample: 16, data: pcm16(1)}),
			want:        ErrUnsupportedWAV,
			wantMessage: []string{"16000 Hz, mono, 16-bit PCM"},
		},
		{
			name:        "8-bit PCM",
			file:        buildWAV(wavSpec{formatCode: wavFormatPCM, channels: 1, sampleRate: SampleRate, bitsPerSample: 8, data: []byte{128}}),
			want:        ErrUnsupportedWAV,
			wantMessage: []string{"8-bit PCM"},
		},
		{
			name:        "float",
			file:        buildWAV(wavSpec{formatCode: wavFormatFloat, channels: 1, sampleRate: SampleRate, bitsPerSample: 32, data: make([]byte, 8)}),
			want:        ErrUnsupportedWAV,
			wantMessage: []string{"32-bit IEEE float"},
		},
		{
			name:        "stereo µ-law",
			file:        buildWAV(wavSpec{formatCode: wavFormatULaw, channels: 2, sampleRate: SampleRate, bitsPerSample: 8, data: []byte{1, 2}}),
			want:        ErrUnsupportedWAV,
			wantMessage: []string{"2 channels, 8-bit G.711 µ-law"},
		},
		{
			name:        "unknown format code",
			file:        buildWAV(wavSpec{formatCode: 0x1234, channels: 1, sampleRate: SampleRate, bitsPerSample: 4, data: []byte{1}}),
			want:        ErrUnsupportedWAV,
			wantMessage: []string{"format code 0x1234"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			audio, err := DecodeWAV(bytes.NewReader(tt.file))
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeWAV: %v (audio %v), want %v", err, audio, tt.want)
			}
			for _, part := range tt.wantMessage {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

// The files in testdata are small prompts in each accepted encoding, made
// with sox from the same tone.
func TestDecodeWAVTestdata(t *testing.T) {
	tests := []struct {
		file    string
		samples int
	}{
		{file: "tone-pcm16.wav", samples: 800},
		{file: "tone-ulaw.wav", samples: 800},
		{file: "tone-alaw.wav", samples: 800},
	}
	var decoded [][]int16
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			file, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer file.Close()
			audio, err := DecodeWAV(file)
			if err != nil {
				t.Fatalf("DecodeWAV: %v", err)
			}
			if len(audio.Samples) != tt.samples {
				t.Errorf("%d samples, want %d", len(audio.Samples), tt.samples)
			}
			if audio.Duration() != 100*time.Millisecond {
				t.Errorf("Duration = %s, want 100ms", audio.Duration())
			}
			decoded = append(decoded, audio.Samples)
		})
	}

	// The G.711 files hold the PCM tone quantized, so each sample is close.
	if len(decoded) != len(tests) {
		return
	}
	for i := 1; i < len(decoded); i++ {
		for j, sample := range decoded[i] {
			if diff := absInt(int(sample) - int(decoded[0][j])); diff > 1024 {
				t.Errorf("%s sample %d is %d, PCM has %d", tests[i].file, j, sample, decoded[0][j])
				break
			}
		}
	}
}

func TestDecodeWAVTestdataRejected(t *testing.T) {
	file, err := os.Open(filepath.Join("testdata", "tone-44k-stereo.wav"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer file.Close()
	if _, err := DecodeWAV(file); !errors.Is(err, ErrUnsupportedWAV) {
		t.Errorf("DecodeWAV: %v, want ErrUnsupportedWAV", err)
	}
}

// FuzzDecodeWAV checks that DecodeWAV never panics, fails only with its
// sentinel errors, and never returns more samples than the input could
// hold.
func FuzzDecodeWAV(f *testing.F) {
	f.Add(buildWAV(pcmSpec(pcm16(1, -1, 1000))))
	f.Add(buildWAV(wavSpec{formatCode: wavFormatULaw, channels: 1, sampleRate: SampleRate, bitsPerSample: 8, data: []byte{1, 2, 3}}))
	f.Add(buildWAV(wavSpec{formatCode: wavFormatPCM, channels: 1, sampleRate: SampleRate, bitsPerSample: 16, extensible: true, data: pcm16(5)}))

	f.Fuzz(func(t *testing.T, file []byte) {
		audio, err := DecodeWAV(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrInvalidWAV) && !errors.Is(err, ErrUnsupportedWAV) && !errors.Is(err, ErrAudioTooLong) {
				t.Fatalf("DecodeWAV: error without a sentinel: %v", err)
			}
			return
		}
		if audio == nil {
			t.Fatal("DecodeWAV returned no audio and no error")
		}
		if len(audio.Samples) > len(file) {
			t.Errorf("%d samples from a %d-byte file", len(audio.Samples), len(file))
		}
		if audio.Duration() > MaxAudioDuration {
			t.Errorf("duration %s over the %s limit", audio.Duration(), MaxAudioDuration)
		}
	})
}
