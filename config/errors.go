package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid marks every error that Load returns for a configuration that
// cannot run: a YAML syntax error, an unknown key or a value that fails
// validation. The command line exits with status 2 on it.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one finding about one configuration key.
type Problem struct {
	// Key is the dotted configuration key, with list indexes and map keys
	// as path elements, for example "ivr.nodes.welcome.branches.5.next".
	Key string
	// Value is the offending value as written in messages: strings are
	// quoted, and the value is empty when the problem is a missing value
	// or when the value is a secret.
	Value string
	// Message states what is wrong and what is allowed.
	Message string
	// EnvVar is the environment variable that set the value, or empty when
	// the value came from the YAML file or from a default.
	EnvVar string
	// Label is Key as messages show it, when a plain path would leave
	// people guessing which list entry it means, for example
	// "web.users[2] (park).role". Empty shows Key.
	Label string
}

// String formats the problem as "key: value message", for example
// `rtp.port_min: 70000 is out of range: use a port from 1024 to 65535`.
func (p Problem) String() string {
	var b strings.Builder
	if p.Label != "" {
		b.WriteString(p.Label)
	} else {
		b.WriteString(p.Key)
	}
	if p.EnvVar != "" {
		b.WriteString(" (set by " + p.EnvVar + ")")
	}
	b.WriteString(": ")
	if p.Value != "" {
		b.WriteString(p.Value + " ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in one configuration.
type ValidationError struct {
	// Source is the file path, or "the embedded example" for Example().
	Source string
	// Problems holds the problems in the order of the configuration's
	// sections. It is never empty.
	Problems []Problem
}

// Error returns a header line followed by one problem per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration in %s: %d problem(s)", e.Source, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalid, so errors.Is(err, ErrInvalid) holds.
func (e *ValidationError) Unwrap() error {
	return ErrInvalid
}

// problems collects findings during one Load. envVars maps a key that an
// environment variable set to the variable's name, so that a problem under
// that key names the variable.
type problems struct {
	list    []Problem
	envVars map[string]string
}

// add records a problem about value at key. A nil value means the problem
// is about a missing value or a secret, so no value is shown.
func (ps *problems) add(key string, value any, format string, args ...any) {
	ps.list = append(ps.list, Problem{
		Key:     key,
		Value:   formatValue(value),
		Message: fmt.Sprintf(format, args...),
		EnvVar:  ps.envVarFor(key),
	})
}

// envVarFor returns the environment variable that set key or one of its
// parents, such as HELPLINE_TRUNK_NUMBERS for "trunk.numbers.1".
func (ps *problems) envVarFor(key string) string {
	for prefix, name := range ps.envVars {
		if key == prefix || strings.HasPrefix(key, prefix+".") {
			return name
		}
	}
	return ""
}

// labelFrom sets the Label of the problems from index first on whose key
// is below prefix: the prefix is shown as label, such as
// "web.users.2.role" as "web.users[2] (park).role".
func (ps *problems) labelFrom(first int, prefix, label string) {
	for i := first; i < len(ps.list); i++ {
		p := &ps.list[i]
		if rest, ok := strings.CutPrefix(p.Key, prefix+"."); ok {
			p.Label = label + "." + rest
		}
	}
}

// hasKey reports whether a problem about key or a key below it was
// already recorded.
func (ps *problems) hasKey(key string) bool {
	for _, p := range ps.list {
		if p.Key == key || strings.HasPrefix(p.Key, key+".") {
			return true
		}
	}
	return false
}

// formatValue renders a value for a message: strings quoted, durations in
// Go syntax, nil as nothing.
func formatValue(value any) string {
	switch v := value.(type) {
	case nil:
		return ""
	case string:
		return strconv.Quote(v)
	case time.Duration:
		return v.String()
	case fmt.Stringer:
		return strconv.Quote(v.String())
	default:
		return fmt.Sprint(v)
	}
}
