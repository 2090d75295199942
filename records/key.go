package records

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// KeySize is the length in bytes of the records master key.
const KeySize = 32

const (
	// DefaultKeyEnv is the environment variable the example configuration
	// names for the records key.
	DefaultKeyEnv = "HELPLINE_RECORDS_KEY"
	// keyFileConfigKey is the configuration key of the key file, named in
	// error messages.
	keyFileConfigKey = "records.key_file"
	// makeKeyCommand is a shell command that prints a new random key.
	makeKeyCommand = "head -c 32 /dev/urandom | base64"
	// hexKeyLength is the length of a key written as hex digits.
	hexKeyLength = 2 * KeySize
	// keyFileOpenBits are the permission bits that let group or others
	// reach the key file.
	keyFileOpenBits fs.FileMode = 0o077
	// demoKeyPhrase is hashed into the built-in demo key. The phrase is in
	// the source, so the demo key protects nothing.
	demoKeyPhrase = "helpline demo records key: public, never use in production"
)

var (
	// ErrNoKey is returned by LoadKey when no key is configured and the demo
	// key is not allowed, and by Open for the zero Key.
	ErrNoKey = errors.New("no records key")
	// ErrInvalidKey is returned for key material that is not 32 bytes in
	// base64 or hex, or a key file that group or others can read.
	ErrInvalidKey = errors.New("invalid records key")
)

// Key is the 32-byte master key of the records store. Its formatting
// methods never print the key material.
type Key struct {
	material [KeySize]byte
	// set is false for the zero Key, which Open rejects.
	set bool
}

// redactedKey is the text every formatting of a Key prints.
const redactedKey = "records.Key(redacted)"

// String returns a fixed text without the key material.
func (Key) String() string { return redactedKey }

// GoString returns a fixed text without the key material, for %#v.
func (Key) GoString() string { return redactedKey }

// Format writes a fixed text without the key material for every verb, so
// that %x or %d cannot print the bytes either.
func (Key) Format(state fmt.State, _ rune) {
	_, _ = state.Write([]byte(redactedKey))
}

// IsZero reports whether k is the zero Key, which holds no key material.
func (k Key) IsZero() bool { return !k.set }

// NewKey returns a Key holding a copy of material, which must be KeySize
// random bytes.
func NewKey(material []byte) (Key, error) {
	if len(material) != KeySize {
		return Key{}, fmt.Errorf("%w: %d bytes, need %d", ErrInvalidKey, len(material), KeySize)
	}
	k := Key{set: true}
	copy(k.material[:], material)
	return k, nil
}

// DemoKey returns the built-in demo key. Its material follows from a phrase
// in this source file, so numbers stored under it are not protected.
func DemoKey() Key {
	return Key{material: sha256.Sum256([]byte(demoKeyPhrase)), set: true}
}

// KeySource lists the places LoadKey reads the records key from.
type KeySource struct {
	// Env is the name of an environment variable holding the key; empty
	// skips the environment.
	Env string
	// File is the path of a file holding the key; empty skips the file.
	File string
	// AllowDemo lets LoadKey return the demo key when neither is set.
	AllowDemo bool
}

// LoadKey reads the records key from the environment variable src.Env when
// it is set and non-empty, else from src.File. The key material is 32 bytes
// in base64 (standard or URL alphabet, padded or not) or as 64 hex digits.
// environ holds "NAME=value" entries as os.Environ returns them. When neither
// source is set, LoadKey returns the demo key and demo=true if src.AllowDemo
// is set, else an error wrapping ErrNoKey. Errors name the source, never the
// key material.
func LoadKey(src KeySource, environ []string) (key Key, demo bool, err error) {
	if src.Env != "" {
		if value, ok := lookupEnv(environ, src.Env); ok && value != "" {
			key, err := parseKeyMaterial(value, "environment variable "+src.Env)
			return key, false, err
		}
	}

	if src.File != "" {
		key, err := loadKeyFile(src.File)
		return key, false, err
	}

	if src.AllowDemo {
		return DemoKey(), true, nil
	}

	envName := src.Env
	if envName == "" {
		envName = DefaultKeyEnv
	}
	return Key{}, false, fmt.Errorf("%w: set the environment variable %s or %s to 32 random bytes in base64 (make them with `%s`)",
		ErrNoKey, envName, keyFileConfigKey, makeKeyCommand)
}

// lookupEnv finds name in environ. Like os.Getenv, the first entry wins.
func lookupEnv(environ []string, name string) (string, bool) {
	for _, entry := range environ {
		entryName, value, found := strings.Cut(entry, "=")
		if found && entryName == name {
			return value, true
		}
	}
	return "", false
}

// loadKeyFile reads key material from path after checking that only its
// owner can reach it.
func loadKeyFile(path string) (Key, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Key{}, fmt.Errorf("read records key file: %w", err)
	}

	// Windows reports synthetic permission bits, so the check is Unix only.
	if runtime.GOOS != "windows" && info.Mode().Perm()&keyFileOpenBits != 0 {
		return Key{}, fmt.Errorf("%w: key file %s has mode %04o, so group or others can read it; run `chmod 600 %s`",
			ErrInvalidKey, path, info.Mode().Perm(), path)
	}

	content, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("read records key file: %w", err)
	}
	return parseKeyMaterial(strings.TrimRight(string(content), " \t\r\n"), "key file "+path)
}

// parseKeyMaterial decodes 64 hex digits or base64 into a Key. source names
// where the text came from, for error messages.
func parseKeyMaterial(text, source string) (Key, error) {
	if text == "" {
		return Key{}, fmt.Errorf("%w: %s is empty; make a key with `%s`", ErrInvalidKey, source, makeKeyCommand)
	}

	if len(text) == hexKeyLength {
		if material, err := hex.DecodeString(text); err == nil {
			return NewKey(material)
		}
	}

	material, ok := decodeBase64(text)
	if !ok {
		return Key{}, fmt.Errorf("%w: %s is neither base64 nor %d hex digits; make a key with `%s`",
			ErrInvalidKey, source, hexKeyLength, makeKeyCommand)
	}
	if len(material) != KeySize {
		return Key{}, fmt.Errorf("%w: %s decodes to %d bytes, need %d; make a key with `%s`",
			ErrInvalidKey, source, len(material), KeySize, makeKeyCommand)
	}
	return NewKey(material)
}

// decodeBase64 tries the standard and URL alphabets, padded and unpadded.
func decodeBase64(text string) ([]byte, bool) {
	encodings := []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	}
	for _, encoding := range encodings {
		if material, err := encoding.DecodeString(text); err == nil {
			return material, true
		}
	}
	return nil, false
}
