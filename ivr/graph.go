package ivr

import "time"

// Graph is the IVR menu as the configuration describes it: named nodes and
// the node every call starts at. The config package decodes it from the
// ivr section and checks its node references; Validate checks its prompts.
type Graph struct {
	// Start is the name of the node every call enters first.
	Start string `mapstructure:"start"`
	// DefaultLanguage is the language of a new call ("ko" or "en").
	DefaultLanguage string `mapstructure:"default_language"`
	// PromptDir is a folder of replacement prompts laid out as
	// <language>/<prompt>.wav; empty means the built-in prompts.
	PromptDir string `mapstructure:"prompt_dir"`
	// HoldPrompt and HoldMusic are what a queued caller hears in a loop.
	HoldPrompt string `mapstructure:"hold_prompt"`
	HoldMusic  string `mapstructure:"hold_music"`
	// Nodes maps each node name to its node.
	Nodes map[string]Node `mapstructure:"nodes"`
}

// Node is one step of the menu. It plays its prompts, then does exactly one
// of: collect digits and branch, go to Next, send the caller to Queue,
// transfer to Transfer, or hang up.
type Node struct {
	// Set holds call attributes (language, caller_type) set on entry.
	Set map[string]string `mapstructure:"set"`
	// Play lists prompt names, played in order in the call's language.
	Play []string `mapstructure:"play"`
	// Collect, when present, gathers digits after the prompts.
	Collect *Collect `mapstructure:"collect"`
	// Branches maps a collected digit string to the edge it takes.
	Branches map[string]Edge `mapstructure:"branches"`
	// OnTimeout, when set, is taken at the first timeout with no digit,
	// without another try.
	OnTimeout *Edge `mapstructure:"on_timeout"`
	// OnFail is taken when every try ended in an invalid key or silence.
	OnFail *Edge `mapstructure:"on_fail"`
	// Next is the node that follows a node without Collect.
	Next string `mapstructure:"next"`
	// Queue ends the IVR and puts the caller in this queue.
	Queue string `mapstructure:"queue"`
	// Transfer ends the IVR with a transfer: a SIP URI, or the word
	// "general_service" for trunk.general_service_uri. When the target is
	// empty the call goes to Fallback instead.
	Transfer string `mapstructure:"transfer"`
	// Fallback is the node for a Transfer whose target is empty.
	Fallback string `mapstructure:"fallback"`
	// Hangup ends the call after the prompts.
	Hangup bool `mapstructure:"hangup"`
}

// Collect sets how a node gathers digits.
type Collect struct {
	// MaxDigits ends collection once this many digits arrived.
	MaxDigits int `mapstructure:"max_digits"`
	// FirstDigitTimeout is the wait for the first digit after the prompts.
	FirstDigitTimeout time.Duration `mapstructure:"first_digit_timeout"`
	// InterDigitTimeout is the wait between later digits.
	InterDigitTimeout time.Duration `mapstructure:"inter_digit_timeout"`
	// MaxTries is how many times the prompts play before OnFail.
	MaxTries int `mapstructure:"max_tries"`
	// InvalidPrompt plays after an invalid key, before the next try.
	InvalidPrompt string `mapstructure:"invalid_prompt"`
}

// Edge is a move to another node, setting call attributes on the way.
type Edge struct {
	// Set holds call attributes set when the edge is taken.
	Set map[string]string `mapstructure:"set"`
	// Next is the node the edge leads to.
	Next string `mapstructure:"next"`
}
