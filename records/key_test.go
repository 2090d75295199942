package records

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyMaterial returns 32 distinct bytes for key tests.
func keyMaterial() []byte {
	material := make([]byte, KeySize)
	for i := range material {
		material[i] = byte(0xA0 + i)
	}
	return material
}

// writeKeyFile writes content to a new file with mode and returns its path.
func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "records.key")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatalf("write key file: %v", err)
	}
	// WriteFile applies the umask, so set the mode explicitly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("chmod key file: %v", err)
	}
	return path
}

func TestLoadKey(t *testing.T) {
	material := keyMaterial()
	want, err := NewKey(material)
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	stdBase64 := base64.StdEncoding.EncodeToString(material)
	urlBase64 := base64.RawURLEncoding.EncodeToString(material)
	hexKey := hex.EncodeToString(material)
	shortKey := base64.StdEncoding.EncodeToString(material[:16])
	const env = "HELPLINE_RECORDS_KEY"

	tests := []struct {
		name        string
		src         KeySource
		environ     []string
		wantKey     Key
		wantDemo    bool
		wantErr     error
		errMentions []string
		errHides    string
		fileSetup   func(t *testing.T) string
	}{
		{name: "env std base64", src: KeySource{Env: env}, environ: []string{env + "=" + stdBase64}, wantKey: want},
		{name: "env url base64 unpadded", src: KeySource{Env: env}, environ: []string{env + "=" + urlBase64}, wantKey: want},
		{name: "env hex", src: KeySource{Env: env}, environ: []string{env + "=" + hexKey}, wantKey: want},
		{name: "env upper-case hex", src: KeySource{Env: env}, environ: []string{env + "=" + strings.ToUpper(hexKey)}, wantKey: want},
		{name: "env first entry wins", src: KeySource{Env: env}, environ: []string{env + "=" + hexKey, env + "=bad"}, wantKey: want},
		{
			name: "env wins over file", src: KeySource{Env: env}, environ: []string{env + "=" + hexKey},
			fileSetup: func(t *testing.T) string { return writeKeyFile(t, "not a key", 0o600) },
			wantKey:   want,
		},
		{
			name: "empty env falls back to file", src: KeySource{Env: env}, environ: []string{env + "="},
			fileSetup: func(t *testing.T) string { return writeKeyFile(t, stdBase64+"\n", 0o600) },
			wantKey:   want,
		},
		{
			name:      "file with trailing whitespace",
			fileSetup: func(t *testing.T) string { return writeKeyFile(t, hexKey+" \r\n\n", 0o600) },
			wantKey:   want,
		},
		{
			name:        "file readable by others",
			fileSetup:   func(t *testing.T) string { return writeKeyFile(t, stdBase64, 0o644) },
			wantErr:     ErrInvalidKey,
			errMentions: []string{"chmod 600", "records.key"},
		},
		{
			name:        "file readable by group",
			fileSetup:   func(t *testing.T) string { return writeKeyFile(t, stdBase64, 0o640) },
			wantErr:     ErrInvalidKey,
			errMentions: []string{"chmod 600"},
		},
		{
			name:      "missing file",
			fileSetup: func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent.key") },
			src:       KeySource{AllowDemo: true},
			wantErr:   fs.ErrNotExist,
		},
		{
			name:        "empty file",
			fileSetup:   func(t *testing.T) string { return writeKeyFile(t, "\n", 0o600) },
			wantErr:     ErrInvalidKey,
			errMentions: []string{"empty", "key file"},
		},
		{
			name: "bad length", src: KeySource{Env: env}, environ: []string{env + "=" + shortKey},
			wantErr: ErrInvalidKey, errMentions: []string{"environment variable " + env, "16 bytes"}, errHides: shortKey,
		},
		{
			name: "bad encoding", src: KeySource{Env: env}, environ: []string{env + "=not*a*key"},
			wantErr: ErrInvalidKey, errMentions: []string{"environment variable " + env, "head -c 32 /dev/urandom | base64"}, errHides: "not*a*key",
		},
		{
			name: "hex of wrong length", src: KeySource{Env: env}, environ: []string{env + "=" + hexKey[:62]},
			wantErr: ErrInvalidKey, errHides: hexKey[:62],
		},
		{name: "none with demo", src: KeySource{Env: env, AllowDemo: true}, wantKey: DemoKey(), wantDemo: true},
		{
			name: "none without demo", src: KeySource{Env: env},
			wantErr: ErrNoKey, errMentions: []string{"HELPLINE_RECORDS_KEY", "records.key_file", "head -c 32 /dev/urandom | base64"},
		},
		{
			name: "none and no env name", src: KeySource{},
			wantErr: ErrNoKey, errMentions: []string{DefaultKeyEnv},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if tt.fileSetup != nil {
				src.File = tt.fileSetup(t)
			}

			key, demo, err := LoadKey(src, tt.environ)
			if tt.wantErr != nil {
				checkKeyError(t, err, tt.wantErr, tt.errMentions, tt.errHides)
				return
			}
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			if key != tt.wantKey {
				t.Errorf("LoadKey returned another key")
			}
			if demo != tt.wantDemo {
				t.Errorf("demo = %v, want %v", demo, tt.wantDemo)
			}
		})
	}
}

func checkKeyError(t *testing.T, err, want error, mentions []string, hides string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, text := range mentions {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("error %q does not mention %q", err, text)
		}
	}
	if hides != "" && strings.Contains(err.Error(), hides) {
		t.Errorf("error %q contains the key material", err)
	}
}

func TestKeyFormattingRedacts(t *testing.T) {
	key, err := NewKey(keyMaterial())
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	hexMaterial := hex.EncodeToString(keyMaterial())

	tests := []struct {
		name string
		text string
	}{
		{"String", key.String()},
		{"verb v", fmt.Sprintf("%v", key)},
		{"verb plus v", fmt.Sprintf("%+v", key)},
		{"verb sharp v", fmt.Sprintf("%#v", key)},
		{"verb s", fmt.Sprintf("%s", key)},
		{"verb x", fmt.Sprintf("%x", key)},
		{"verb d", fmt.Sprintf("%d", key)},
		{"inside struct", fmt.Sprintf("%+v", struct{ Key Key }{key})},
		{"pointer", fmt.Sprintf("%v", &key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.text, "records.Key(redacted)") {
				t.Errorf("formatted key = %q, want it to contain records.Key(redacted)", tt.text)
			}
			if strings.Contains(tt.text, hexMaterial[:8]) || strings.Contains(tt.text, "160") {
				t.Errorf("formatted key %q shows key material", tt.text)
			}
		})
	}
}

func TestNewKeyRejectsWrongLength(t *testing.T) {
	if _, err := NewKey(make([]byte, KeySize-1)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewKey of 31 bytes: error = %v, want ErrInvalidKey", err)
	}
	if !(Key{}).IsZero() {
		t.Errorf("zero Key: IsZero = false, want true")
	}
}

func TestDemoKeyDiffersFromTestKeys(t *testing.T) {
	demo := DemoKey()
	if demo.IsZero() || demo == testKey(t, 1) {
		t.Errorf("demo key is zero or equals a test key")
	}
	if demo != DemoKey() {
		t.Errorf("DemoKey is not stable across calls")
	}
}
