package sip

import (
	"context"
	"math"
	"time"

	"helpline/media"
)

// Emergency feature code on the counselor's phone: the code (default
// "*9"), the target number, then "#".
const (
	// DefaultEmergencyCode starts an emergency call from the counselor's
	// phone when Options.EmergencyCode is empty.
	DefaultEmergencyCode = "*9"
	// featureCodeTimeout is the longest pause between two keys of one
	// feature code; a longer pause starts over.
	featureCodeTimeout = 5 * time.Second
	// maxTargetDigits bounds the number typed after the code.
	maxTargetDigits = 15
	// featureCodeEnd ends the number typed after the code.
	featureCodeEnd = '#'
)

// featureCodeReader collects the keys a counselor presses during a call
// and recognises code, a number, then '#'.
type featureCodeReader struct {
	code    string
	keys    []rune
	lastKey time.Time
}

// feed takes one key pressed at now and returns the number once a whole
// code followed by a number and '#' was typed.
func (r *featureCodeReader) feed(key rune, now time.Time) (string, bool) {
	if !r.lastKey.IsZero() && now.Sub(r.lastKey) > featureCodeTimeout {
		r.keys = r.keys[:0]
	}
	r.lastKey = now
	r.keys = append(r.keys, key)
	typed := string(r.keys)

	switch {
	case len(typed) <= len(r.code):
		if r.code[:len(typed)] != typed {
			r.restartWith(key)
		}
		return "", false
	case key == featureCodeEnd:
		number := typed[len(r.code) : len(typed)-1]
		r.keys = r.keys[:0]
		return number, number != ""
	case key < '0' || key > '9' || len(typed)-len(r.code) > maxTargetDigits:
		r.restartWith(key)
		return "", false
	default:
		return "", false
	}
}

// restartWith starts over, keeping key when it can begin the code.
func (r *featureCodeReader) restartWith(key rune) {
	r.keys = r.keys[:0]
	if len(r.code) > 0 && rune(r.code[0]) == key {
		r.keys = append(r.keys, key)
	}
}

// watchCounselorDigits reads the counselor's keys for the emergency
// feature code until the call ends. A code for a target that is not
// allowed or cannot be called now, or a call to the target that fails,
// gets an error tone.
func (c *call) watchCounselorDigits(leg *outboundLeg) {
	code := c.srv.opts.EmergencyCode
	if code == "" {
		code = DefaultEmergencyCode
	}
	reader := featureCodeReader{code: code}
	digits := leg.media.Digits()
	for {
		select {
		case <-c.ctx.Done():
			return
		case digit := <-digits:
			target, ok := reader.feed(rune(digit), time.Now())
			if !ok {
				continue
			}
			if err := c.startEmergency(target, func() { c.playCounselorError(leg) }); err != nil {
				c.log.Warn().Err(err).Str("emergency_target", c.srv.loggableTarget(target)).Msg("emergency feature code rejected")
				c.playCounselorError(leg)
			}
		}
	}
}

// playCounselorError plays the error tone to the counselor alone: in a
// mix through the mixer, otherwise on the counselor's stream while the
// bridge is paused.
func (c *call) playCounselorError(leg *outboundLeg) {
	c.mu.Lock()
	cf := c.conf
	c.mu.Unlock()
	if cf != nil {
		if !cf.mixer.PlayTo(partyCounselor, errorTone) {
			c.log.Debug().Msg("error tone not played: the counselor is not in the mix")
		}
		return
	}

	resume, ok := c.pauseBridge()
	if !ok {
		c.log.Debug().Msg("error tone not played: another tone is playing")
		return
	}
	defer resume()

	ctx, stop := context.WithTimeout(c.ctx, 2*errorToneDuration)
	defer stop()
	if err := leg.media.Play(ctx, errorTone); err != nil {
		c.log.Debug().Err(err).Msg("error tone not played")
	}
}

// errorTone is three short beeps of 480 Hz with 620 Hz, the cadence of a
// reorder tone, that tell the counselor a feature code was rejected.
var errorTone = makeErrorTone()

// errorToneDuration is the length of errorTone.
const errorToneDuration = 3 * (errorBeep + errorPause)

const (
	errorBeep      = 250 * time.Millisecond
	errorPause     = 250 * time.Millisecond
	errorAmplitude = 6000
)

func makeErrorTone() *media.Audio {
	beep := int(errorBeep / (time.Second / media.SampleRate))
	pause := int(errorPause / (time.Second / media.SampleRate))
	samples := make([]int16, 0, 3*(beep+pause))
	for range 3 {
		for i := range beep {
			t := float64(i) / media.SampleRate
			value := math.Sin(2*math.Pi*480*t) + math.Sin(2*math.Pi*620*t)
			samples = append(samples, int16(errorAmplitude/2*value))
		}
		samples = append(samples, make([]int16, pause)...)
	}
	return &media.Audio{Samples: samples}
}
