package ivr

import (
	"context"
	"strings"
)

// terminator ends digit collection early. It is recorded in Result.Digits
// but is never part of the collected string.
const terminator = '#'

// entry is the input of one try.
type entry struct {
	// digits is the collected string, without the terminator.
	digits string
	// silent is true when no key at all was pressed before the first-digit
	// timeout. A lone terminator is an empty entry that is not silent.
	silent bool
}

// collectAndBranch plays the node's prompts and collects digits, try after
// try, until a branch matches, silence meets OnTimeout, or the tries run
// out. It returns the edge to take, or nil to hang up.
func (c *call) collectAndBranch(ctx context.Context, node Node) (*Edge, error) {
	spec := *node.Collect

	for try := 1; try <= spec.MaxTries; try++ {
		// Keys typed ahead during an earlier node count for the first try.
		// Keys pressed during the invalid prompt are dropped before a retry.
		if try > 1 {
			c.dropPendingDigits()
		}

		got, err := c.playAndCollect(ctx, node.Play, spec)
		if err != nil {
			return nil, err
		}

		if got.silent {
			if node.OnTimeout != nil {
				return node.OnTimeout, nil
			}
			c.log.Debug().Str("node", c.node).Int("try", try).Msg("ivr no key pressed")
			continue
		}

		if edge, ok := node.Branches[got.digits]; ok {
			return &edge, nil
		}
		c.log.Debug().Str("node", c.node).Int("try", try).Int("digit_count", len(got.digits)).
			Msg("ivr entry matches no branch")
		if spec.InvalidPrompt != "" {
			if err := c.play(ctx, spec.InvalidPrompt); err != nil {
				return nil, err
			}
		}
	}

	c.log.Debug().Str("node", c.node).Int("tries", spec.MaxTries).Msg("ivr tries used up")
	if node.OnFail == nil {
		c.result.Action = ActionHangup
	}
	return node.OnFail, nil
}

// playAndCollect plays the prompts, letting a key stop them, and then
// collects the rest of the entry. A key that stopped a prompt is the first
// digit of the entry.
func (c *call) playAndCollect(ctx context.Context, prompts []string, spec Collect) (entry, error) {
	var first rune
	pressed := false
	for _, prompt := range prompts {
		var err error
		first, pressed, err = c.playInterruptible(ctx, prompt)
		if err != nil {
			return entry{}, err
		}
		if pressed {
			break
		}
	}

	return c.collect(ctx, spec, first, pressed)
}

// collect gathers digits until MaxDigits, the terminator, or a timeout:
// FirstDigitTimeout before the first digit, InterDigitTimeout after it.
func (c *call) collect(ctx context.Context, spec Collect, first rune, pressed bool) (entry, error) {
	if pressed && first == terminator {
		return entry{}, nil
	}

	var digits strings.Builder
	if pressed {
		digits.WriteRune(first)
	}

	// DTMF keys are ASCII, so Len counts digits.
	for digits.Len() < spec.MaxDigits {
		wait := spec.InterDigitTimeout
		if digits.Len() == 0 {
			wait = spec.FirstDigitTimeout
		}

		key, ok, err := c.nextDigit(ctx, wait)
		if err != nil {
			return entry{}, err
		}
		if !ok {
			break
		}
		if key == terminator {
			return entry{digits: digits.String()}, nil
		}
		digits.WriteRune(key)
	}

	return entry{digits: digits.String(), silent: digits.Len() == 0}, nil
}
