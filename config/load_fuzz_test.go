package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fuzzSource names the fuzz input in Load's messages.
const fuzzSource = "fuzz input"

// FuzzLoad loads any YAML text with any HELPLINE_ variables, one NAME=value
// per line. A configuration that loads passes validation a second time
// without a problem. Every other input gives an error wrapping ErrInvalid:
// a YAML syntax error, or a ValidationError whose problems each name a key
// of a known section, an unknown key or a variable.
func FuzzLoad(f *testing.F) {
	f.Add(Example(), "")
	f.Add(Example(), "HELPLINE_RECORDS_KEY=0123456789abcdef0123456789abcdef\nHELPLINE_SIP_REALM=helpline.test")
	for _, name := range []string{"minimal.yaml", "invalid.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatalf("read seed: %v", err)
		}
		f.Add(data, "HELPLINE_RECORDS_KEY=0123456789abcdef0123456789abcdef")
	}
	f.Add([]byte("ivr:\n  start: a\n  nodes:\n    a: {next: b}\n    b: {next: a}\n"), "")
	f.Add([]byte("sip: [1, 2]\nrtp: {port_min: x}\n"), "HELPLINE_RTP_PORT_MIN=-1")
	f.Add([]byte(":\n\t- {"), "")

	sections := fieldKeys(reflect.TypeFor[Config]())
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		environ := strings.Split(env, "\n")
		cfg, err := loadData(fuzzSource, data, environ, loadOptions{})
		if err != nil {
			checkLoadError(t, err, sections)
			return
		}
		revalidate(t, cfg, environ)
	})
}

// checkLoadError verifies that a Load error wraps ErrInvalid and, when it
// lists problems, that each names a key under a section of Config.
func checkLoadError(t *testing.T, err error, sections []string) {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error does not wrap ErrInvalid: %v", err)
	}
	var invalid *ValidationError
	if !errors.As(err, &invalid) {
		if !strings.HasPrefix(err.Error(), "parsing "+fuzzSource+" as YAML") {
			t.Fatalf("error is neither a YAML syntax error nor a ValidationError: %v", err)
		}
		return
	}
	if len(invalid.Problems) == 0 {
		t.Fatal("ValidationError without problems")
	}
	for _, p := range invalid.Problems {
		section, _, _ := strings.Cut(p.Key, ".")
		known := slices.Contains(sections, section) || p.EnvVar != ""
		unknownKey := strings.HasPrefix(p.Message, "unknown key") || strings.HasPrefix(p.Message, "is an empty key")
		if p.Key == "" || !known && !unknownKey {
			t.Errorf("problem %q names no key of a known section", p.String())
		}
		if p.Message == "" {
			t.Errorf("problem about %q has no message", p.Key)
		}
	}
}

// revalidate runs validation again on a configuration that Load returned.
func revalidate(t *testing.T, cfg *Config, environ []string) {
	t.Helper()
	ps := &problems{envVars: make(map[string]string)}
	warnings := &problems{}
	validate(cfg, parseEnviron(environ), loadOptions{}, ps, warnings)
	if len(ps.list) > 0 {
		t.Fatalf("a loaded configuration fails validation again: %v", ps.list)
	}
}
