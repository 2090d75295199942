package ivr_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helpline/ivr"
)

// Format of every shipped prompt, as the media layer expects it.
const (
	promptSampleRate    = 8000
	promptChannels      = 1
	promptBitsPerSample = 16
	wavFormatPCM        = 1
	maxPromptLength     = 15 * time.Second
)

var shippedLanguages = []string{"ko", "en"}

// wavInfo is what the test reads from a RIFF/WAVE header.
type wavInfo struct {
	format        uint16
	channels      uint16
	sampleRate    uint32
	bitsPerSample uint16
	dataBytes     uint32
}

func (w wavInfo) duration() time.Duration {
	bytesPerSecond := int64(w.sampleRate) * int64(w.channels) * int64(w.bitsPerSample/8)
	return time.Duration(int64(w.dataBytes) * int64(time.Second) / bytesPerSecond)
}

// parseWAV walks the RIFF chunks of data and returns the fmt and data
// chunk facts.
func parseWAV(t *testing.T, data []byte) wavInfo {
	t.Helper()

	const riffHeaderSize, chunkHeaderSize, fmtChunkMinSize = 12, 8, 16
	if len(data) < riffHeaderSize || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		t.Fatalf("not a RIFF/WAVE file")
	}
	if riffSize := binary.LittleEndian.Uint32(data[4:8]); int(riffSize) != len(data)-chunkHeaderSize {
		t.Errorf("RIFF size %d does not match file size %d", riffSize, len(data))
	}

	var info wavInfo
	sawFmt, sawData := false, false
	for rest := data[riffHeaderSize:]; len(rest) >= chunkHeaderSize; {
		id := string(rest[0:4])
		size := binary.LittleEndian.Uint32(rest[4:8])
		body := rest[chunkHeaderSize:]
		if uint64(size) > uint64(len(body)) {
			t.Fatalf("chunk %q claims %d bytes, only %d left", id, size, len(body))
		}

		switch id {
		case "fmt ":
			if size < fmtChunkMinSize {
				t.Fatalf("fmt chunk has %d bytes, expected at least %d", size, fmtChunkMinSize)
			}
			info.format = binary.LittleEndian.Uint16(body[0:2])
			info.channels = binary.LittleEndian.Uint16(body[2:4])
			info.sampleRate = binary.LittleEndian.Uint32(body[4:8])
			info.bitsPerSample = binary.LittleEndian.Uint16(body[14:16])
			sawFmt = true
		case "data":
			info.dataBytes = size
			sawData = true
		}

		advance := chunkHeaderSize + int(size) + int(size%2)
		if advance > len(rest) {
			break
		}
		rest = rest[advance:]
	}

	if !sawFmt || !sawData {
		t.Fatalf("fmt chunk found: %v, data chunk found: %v; expected both", sawFmt, sawData)
	}
	return info
}

// menuPromptNames lists every prompt the graph names.
func menuPromptNames(g *ivr.Graph) []string {
	names := []string{g.HoldPrompt, g.HoldMusic}
	for _, node := range g.Nodes {
		names = append(names, node.Play...)
		if node.Collect != nil && node.Collect.InvalidPrompt != "" {
			names = append(names, node.Collect.InvalidPrompt)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func builtinPrompts(t *testing.T) *ivr.PromptSet {
	t.Helper()

	prompts, err := ivr.NewPromptSet("")
	if err != nil {
		t.Fatalf("NewPromptSet: %v", err)
	}
	return prompts
}

func TestBuiltinPromptsFormat(t *testing.T) {
	prompts := builtinPrompts(t)

	for _, language := range shippedLanguages {
		for _, name := range menuPromptNames(loadShippedMenu(t)) {
			t.Run(language+"/"+name, func(t *testing.T) {
				data, err := prompts.Open(name, language)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}

				info := parseWAV(t, data)

				if info.format != wavFormatPCM {
					t.Errorf("format = %d, expected PCM (%d)", info.format, wavFormatPCM)
				}
				if info.channels != promptChannels {
					t.Errorf("channels = %d, expected %d", info.channels, promptChannels)
				}
				if info.sampleRate != promptSampleRate {
					t.Errorf("sample rate = %d Hz, expected %d Hz", info.sampleRate, promptSampleRate)
				}
				if info.bitsPerSample != promptBitsPerSample {
					t.Errorf("bits per sample = %d, expected %d", info.bitsPerSample, promptBitsPerSample)
				}
				if length := info.duration(); length <= 0 || length >= maxPromptLength {
					t.Errorf("length = %v, expected more than 0 and less than %v", length, maxPromptLength)
				}
			})
		}
	}
}

// TestPromptListMatchesFiles catches a prompts.tsv edit without a run of
// scripts/gen-prompts.sh.
func TestPromptListMatchesFiles(t *testing.T) {
	file, err := os.Open("prompts.tsv")
	if err != nil {
		t.Fatalf("opening the prompt list: %v", err)
	}
	t.Cleanup(func() { file.Close() })

	listed := make(map[string][]string)
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 4 {
			t.Fatalf("prompt list line %q has %d tab-separated fields, expected 4", line, len(fields))
		}
		listed[fields[0]] = append(listed[fields[0]], fields[1])
	}
	if err := scanner.Err(); err != nil {
		t.Fatalf("reading the prompt list: %v", err)
	}

	prompts := builtinPrompts(t)
	for _, language := range shippedLanguages {
		expected := append(listed[language], "hold_music")
		slices.Sort(expected)
		expected = slices.Compact(expected)
		if got := prompts.Names(language); !slices.Equal(got, expected) {
			t.Errorf("built-in prompts for %s = %v, expected %v from prompts.tsv plus hold_music; run scripts/gen-prompts.sh",
				language, got, expected)
		}
	}
}

// writePrompt writes content as dir/relative.
func writePrompt(t *testing.T, dir, relative, content string) {
	t.Helper()

	file := filepath.Join(dir, filepath.FromSlash(relative))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPromptSetOverride(t *testing.T) {
	dir := t.TempDir()
	writePrompt(t, dir, "en/welcome.wav", "english welcome override")
	writePrompt(t, dir, "goodbye.wav", "shared goodbye override")
	writePrompt(t, dir, "en/extra.wav", "extra prompt")
	writePrompt(t, dir, "en/notes.txt", "not a prompt")
	prompts, err := ivr.NewPromptSet(dir)
	if err != nil {
		t.Fatalf("NewPromptSet: %v", err)
	}
	builtin := builtinPrompts(t)

	tests := []struct {
		name        string
		prompt      string
		language    string
		wantContent string
		// wantBuiltin expects the built-in file instead of wantContent.
		wantBuiltin bool
	}{
		{name: "language file overrides", prompt: "welcome", language: "en", wantContent: "english welcome override"},
		{name: "other language stays built in", prompt: "welcome", language: "ko", wantBuiltin: true},
		{name: "shared file overrides", prompt: "goodbye", language: "ko", wantContent: "shared goodbye override"},
		{name: "new prompt", prompt: "extra", language: "en", wantContent: "extra prompt"},
		{name: "shared built-in music", prompt: "hold_music", language: "ko", wantBuiltin: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prompts.Open(tt.prompt, tt.language)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}

			expected := []byte(tt.wantContent)
			if tt.wantBuiltin {
				if expected, err = builtin.Open(tt.prompt, tt.language); err != nil {
					t.Fatalf("Open built-in: %v", err)
				}
			}
			if !bytes.Equal(got, expected) {
				t.Errorf("Open returned %d bytes that differ from the expected %d", len(got), len(expected))
			}
		})
	}

	t.Run("names include overrides", func(t *testing.T) {
		names := prompts.Names("en")
		for _, name := range []string{"extra", "welcome", "goodbye", "hold_music"} {
			if !slices.Contains(names, name) {
				t.Errorf("Names(en) = %v, missing %q", names, name)
			}
		}
		if slices.Contains(names, "notes") {
			t.Errorf("Names(en) = %v lists a file without the .wav extension", names)
		}
	})
}

func TestPromptSetOpenErrors(t *testing.T) {
	dir := t.TempDir()
	prompts, err := ivr.NewPromptSet(dir)
	if err != nil {
		t.Fatalf("NewPromptSet: %v", err)
	}

	tests := []struct {
		name     string
		prompt   string
		language string
		wantErr  error
		wantText string
	}{
		{
			name: "unknown prompt", prompt: "welcom", language: "en", wantErr: ivr.ErrPromptNotFound,
			wantText: `prompt "welcom" not found for language en (looked in ` + dir + ` and the built-in prompts)`,
		},
		{name: "unknown language", prompt: "welcome", language: "fr", wantErr: ivr.ErrPromptNotFound},
		{name: "path in name", prompt: "../welcome", language: "en", wantErr: ivr.ErrInvalidPromptName},
		{name: "path in language", prompt: "welcome", language: "en/..", wantErr: ivr.ErrInvalidPromptName},
		{name: "empty name", prompt: "", language: "en", wantErr: ivr.ErrInvalidPromptName},
		{name: "extension in name", prompt: "welcome.wav", language: "en", wantErr: ivr.ErrInvalidPromptName},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prompts.Open(tt.prompt, tt.language)

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, expected %v", err, tt.wantErr)
			}
			var promptErr *ivr.PromptError
			if !errors.As(err, &promptErr) {
				t.Errorf("Open error %T is not a *ivr.PromptError", err)
			}
			if tt.wantText != "" && err.Error() != tt.wantText {
				t.Errorf("Open error = %q, expected %q", err, tt.wantText)
			}
		})
	}
}

func TestNewPromptSetErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-folder")
	file := filepath.Join(t.TempDir(), "prompt.wav")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		dir     string
		wantErr error
	}{
		{name: "missing folder", dir: missing, wantErr: fs.ErrNotExist},
		{name: "file instead of folder", dir: file},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ivr.NewPromptSet(tt.dir)

			if err == nil {
				t.Fatal("NewPromptSet returned no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("NewPromptSet error = %v, expected %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.dir) {
				t.Errorf("NewPromptSet error %q does not name %s", err, tt.dir)
			}
		})
	}
}

func TestPromptSetNamesInvalidLanguage(t *testing.T) {
	if names := builtinPrompts(t).Names("../ko"); names != nil {
		t.Errorf("Names(../ko) = %v, expected nil", names)
	}
}
