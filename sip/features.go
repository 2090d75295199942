package sip

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Prompts of feature codes, played to the counselor who dialled the code.
const (
	// PromptFeatureNotPossible is played when a code cannot apply now,
	// such as ending a wrap-up while not in wrap-up.
	PromptFeatureNotPossible = "feature_not_possible"
)

// FeaturePrompts lists the prompts of the built-in feature codes, which
// the server loads next to the menu's prompts. A code that plays another
// prompt adds it here.
var FeaturePrompts = []string{
	PromptFeatureNotPossible,
	promptLoggedIn,
	promptLoggedOut,
	promptOnBreak,
	promptBackFromBreak,
	promptWrapUpEnded,
	promptMonitorStarting,
}

// featureCodePattern is the form of a dialled feature code: '*' and
// digits, the argument included.
var featureCodePattern = regexp.MustCompile(`^\*[0-9]+$`)

var (
	// ErrUnknownFeature marks a dialled code that the table does not have.
	// The INVITE gets 404 Not Found.
	ErrUnknownFeature = errors.New("unknown feature code")
	// ErrInvalidFeatureCode marks a code given to FeatureTable.Add that is
	// not '*' and digits, or that the table already has.
	ErrInvalidFeatureCode = errors.New("invalid feature code")
)

// FeatureRequest is one dialled feature code.
type FeatureRequest struct {
	// CounselorID is the authenticated counselor who dialled the code.
	CounselorID string
	// Code is the code as configured, such as "*21".
	Code string
	// Arg is the digits dialled after a code added with AddWithArg, such
	// as the counselor ID in "*311002". It is empty for other codes.
	Arg string
}

// FeatureHandler carries out one code and returns the prompt that
// confirms it. An error plays PromptFeatureNotPossible instead; the error
// is logged.
type FeatureHandler func(ctx context.Context, req FeatureRequest) (prompt string, err error)

// featureEntry is one code of a FeatureTable.
type featureEntry struct {
	handler FeatureHandler
	// takesArg is set for codes followed by digits.
	takesArg bool
}

// FeatureTable maps feature codes to handlers. Fill it before the server
// starts; it is read-only afterwards.
type FeatureTable struct {
	entries map[string]featureEntry
}

// NewFeatureTable returns an empty table.
func NewFeatureTable() *FeatureTable {
	return &FeatureTable{entries: make(map[string]featureEntry)}
}

// Add adds a code dialled alone, such as "*21".
func (t *FeatureTable) Add(code string, h FeatureHandler) error {
	return t.add(code, featureEntry{handler: h})
}

// AddWithArg adds a code followed by digits, such as "*31" dialled as
// "*311002": the handler gets "1002" as FeatureRequest.Arg.
func (t *FeatureTable) AddWithArg(code string, h FeatureHandler) error {
	return t.add(code, featureEntry{handler: h, takesArg: true})
}

func (t *FeatureTable) add(code string, entry featureEntry) error {
	if !featureCodePattern.MatchString(code) {
		return fmt.Errorf("add feature code %q: %w: use * and digits, such as *21", code, ErrInvalidFeatureCode)
	}
	if _, taken := t.entries[code]; taken {
		return fmt.Errorf("add feature code %q: %w: the code is already taken", code, ErrInvalidFeatureCode)
	}
	t.entries[code] = entry
	return nil
}

// Lookup finds the handler for a dialled code. A code added with Add that
// equals the dialled digits wins. Otherwise the longest code added with
// AddWithArg that starts the dialled digits and leaves at least one digit
// for the argument wins.
func (t *FeatureTable) Lookup(dialled string) (FeatureHandler, FeatureRequest, error) {
	if !featureCodePattern.MatchString(dialled) {
		return nil, FeatureRequest{}, fmt.Errorf("%w: %q", ErrUnknownFeature, dialled)
	}
	if entry, ok := t.entries[dialled]; ok && !entry.takesArg {
		return entry.handler, FeatureRequest{Code: dialled}, nil
	}

	best := ""
	for code, entry := range t.entries {
		if entry.takesArg && len(dialled) > len(code) && strings.HasPrefix(dialled, code) && len(code) > len(best) {
			best = code
		}
	}
	if best == "" {
		return nil, FeatureRequest{}, fmt.Errorf("%w: %q", ErrUnknownFeature, dialled)
	}
	return t.entries[best].handler, FeatureRequest{Code: best, Arg: dialled[len(best):]}, nil
}

// isFeatureCall reports whether an INVITE's Request-URI user is a feature
// code, which counselors dial from their own phones, not the trunk.
func isFeatureCall(user string) bool {
	return strings.HasPrefix(user, "*")
}
