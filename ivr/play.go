package ivr

import (
	"context"
	"time"
	"unicode"
)

// play plays one prompt to its end, without barge-in. A failed prompt is
// logged and skipped so that the caller still moves through the menu. Only
// the end of ctx stops the call.
func (c *call) play(ctx context.Context, prompt string) error {
	err := c.media.Play(ctx, prompt, c.language())
	return c.checkPlay(ctx, prompt, err)
}

// playInterruptible plays one prompt until it ends or a key arrives. A key
// stops the prompt (barge-in) and is returned with pressed set.
func (c *call) playInterruptible(ctx context.Context, prompt string) (key rune, pressed bool, err error) {
	playCtx, stop := context.WithCancel(ctx)
	defer stop()

	played := make(chan error, 1)
	language := c.language()
	go func() {
		played <- c.media.Play(playCtx, prompt, language)
	}()

	for {
		select {
		case err := <-played:
			return 0, false, c.checkPlay(ctx, prompt, err)

		case raw, open := <-c.digits:
			if !open {
				c.digits = nil
				continue
			}
			key, valid := c.accept(raw)
			if !valid {
				continue
			}
			stop()
			<-played
			return key, true, nil

		case <-ctx.Done():
			stop()
			<-played
			return 0, false, c.hangupError(ctx)
		}
	}
}

// checkPlay turns the result of Media.Play into the error the runner acts
// on: the end of ctx stops the call, any other failure is logged only.
func (c *call) checkPlay(ctx context.Context, prompt string, err error) error {
	if ctx.Err() != nil {
		return c.hangupError(ctx)
	}
	if err != nil {
		c.log.Warn().Err(err).Str("node", c.node).Str("prompt", prompt).Str("language", c.language()).
			Msg("ivr prompt failed; going on without it")
	}
	return nil
}

// nextDigit waits up to wait for a key. It returns ok false on timeout.
func (c *call) nextDigit(ctx context.Context, wait time.Duration) (key rune, ok bool, err error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()

	for {
		select {
		case raw, open := <-c.digits:
			if !open {
				c.digits = nil
				continue
			}
			if key, valid := c.accept(raw); valid {
				return key, true, nil
			}

		case <-timer.C:
			return 0, false, nil

		case <-ctx.Done():
			return 0, false, c.hangupError(ctx)
		}
	}
}

// dropPendingDigits records and discards keys that arrived since the last
// collection, such as keys pressed during the invalid prompt.
func (c *call) dropPendingDigits() {
	for {
		select {
		case raw, open := <-c.digits:
			if !open {
				c.digits = nil
				return
			}
			c.accept(raw)
		default:
			return
		}
	}
}

// accept records a DTMF key in the result and reports it to OnDigits.
// Runes that are no DTMF key are ignored, and a-d count as A-D.
func (c *call) accept(raw rune) (key rune, valid bool) {
	key = unicode.ToUpper(raw)
	if !isDTMFKey(key) {
		c.log.Debug().Str("node", c.node).Msg("ivr ignored an invalid dtmf key")
		return 0, false
	}

	c.result.Digits += string(key)
	if c.hooks.OnDigits != nil {
		c.hooks.OnDigits(c.result.Digits)
	}
	return key, true
}

// isDTMFKey reports whether key is one of the 16 DTMF keys of RFC 4733
// section 3.2: 0-9, *, # and A-D.
func isDTMFKey(key rune) bool {
	switch {
	case key >= '0' && key <= '9':
		return true
	case key == '*' || key == '#':
		return true
	default:
		return key >= 'A' && key <= 'D'
	}
}
