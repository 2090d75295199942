package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestInvalidGolden(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "invalid.yaml"), nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	got := err.Error() + "\n"

	golden := filepath.Join("testdata", "invalid.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatalf("writing golden file: %v", err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("error text differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"ring_timeout", "ring_timeout", 0},
		{"ring_timout", "ring_timeout", 1},
		{"sipp", "sip", 1},
		{"kitten", "sitting", 3},
	}
	for _, c := range cases {
		t.Run(c.a+"_"+c.b, func(t *testing.T) {
			if got := editDistance(c.a, c.b); got != c.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
			}
		})
	}
}

func TestDecodeErrorKey(t *testing.T) {
	cases := []struct {
		name string
		want string
	}{
		{"queue.ring_timeout", "queue.ring_timeout"},
		{"counselors[0].id", "counselors.0.id"},
		{"ivr.nodes[welcome].branches[5].next", "ivr.nodes.welcome.branches.5.next"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decodeErrorKey(c.name); got != c.want {
				t.Errorf("decodeErrorKey(%q) = %q, want %q", c.name, got, c.want)
			}
		})
	}
}

func TestDecodeFailuresOfPlainError(t *testing.T) {
	failures := decodeFailures("sip", errors.New("broken"))

	if len(failures) != 1 || failures[0].key != "sip" || failures[0].err.Error() != "broken" {
		t.Errorf("decodeFailures = %+v, want one failure under sip", failures)
	}
}

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		text    string
		want    string
		wantErr bool
	}{
		{"10.0.0.0/8", "10.0.0.0/8", false},
		{" 192.0.2.7 ", "192.0.2.7/32", false},
		{"2001:db8::1", "2001:db8::1/128", false},
		{"2001:db8::/32", "2001:db8::/32", false},
		{"10.0.0.0/33", "", true},
		{"example.org", "", true},
		{"", "", true},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			prefix, err := parsePrefix(c.text)
			if (err != nil) != c.wantErr {
				t.Fatalf("parsePrefix(%q) error = %v, want error %v", c.text, err, c.wantErr)
			}
			if err == nil && prefix.String() != c.want {
				t.Errorf("parsePrefix(%q) = %s, want %s", c.text, prefix, c.want)
			}
		})
	}
}
