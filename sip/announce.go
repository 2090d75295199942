package sip

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"helpline/media"
	"helpline/queue"
)

// Names of the built-in announcement prompts. position_<N> and
// minutes_<N> exist for N from 1 to maxSpokenNumber.
const (
	promptPositionIntro = "position_intro"
	promptPositionOutro = "position_outro"
	promptPositionOver  = "position_over"
	promptWaitIntro     = "wait_intro"
	promptWaitOutro     = "wait_outro"
	promptWaitOver      = "wait_over"
	promptPositionN     = "position_"
	promptMinutesN      = "minutes_"

	// maxSpokenNumber is the largest place in line and number of minutes
	// the prompts say. Larger ones are said as "after number twenty" and
	// "more than twenty minutes".
	maxSpokenNumber = 20
)

// announcementPromptNames lists every prompt an announcement can use.
func announcementPromptNames() []string {
	names := []string{
		promptPositionIntro, promptPositionOutro, promptPositionOver,
		promptWaitIntro, promptWaitOutro, promptWaitOver,
	}
	for n := 1; n <= maxSpokenNumber; n++ {
		names = append(names, promptPositionN+strconv.Itoa(n), promptMinutesN+strconv.Itoa(n))
	}
	return names
}

// announcementPrompts returns the prompts, in playing order, that tell a
// caller their place in line (1 is next) and the estimated wait, rounded up
// to whole minutes and at least one. Every language has the same prompt
// names, each prompt holding that language's phrase.
func announcementPrompts(position int, wait time.Duration) []string {
	position = max(position, 1)
	minutes := max(int(math.Ceil(wait.Minutes())), 1)

	var names []string
	if position > maxSpokenNumber {
		names = append(names, promptPositionOver)
	} else {
		names = append(names, promptPositionIntro, promptPositionN+strconv.Itoa(position), promptPositionOutro)
	}
	if minutes > maxSpokenNumber {
		names = append(names, promptWaitOver)
	} else {
		names = append(names, promptWaitIntro, promptMinutesN+strconv.Itoa(minutes), promptWaitOutro)
	}
	return names
}

// joinPrompts returns one clip of the named prompts in language, one after
// the other.
func (p *PromptCache) joinPrompts(names []string, language string) (*media.Audio, error) {
	joined := &media.Audio{}
	for _, name := range names {
		clip, err := p.audio(name, language)
		if err != nil {
			return nil, err
		}
		joined.Samples = append(joined.Samples, clip.Samples...)
	}
	return joined, nil
}

// holdLoop plays what a waiting caller hears until ctx ends: the comfort
// message, then music. With queue.announce_interval set, each interval
// after the last announcement began brings the caller's place in line and
// estimated wait, the comfort message again, and music until the next one.
// It returns ctx's error, or the media error that stopped it.
func (c *call) holdLoop(ctx context.Context, language string, comfort, music *media.Audio) error {
	interval := c.srv.opts.AnnounceInterval
	if interval <= 0 {
		return c.callerMedia.PlayLoop(ctx, comfort, music)
	}

	next := time.Now().Add(interval)
	if err := c.callerMedia.Play(ctx, comfort); err != nil {
		return err
	}
	for {
		if err := c.playMusicUntil(ctx, music, next); err != nil {
			return err
		}
		next = time.Now().Add(interval)
		if err := c.announcePosition(ctx, language); err != nil {
			return err
		}
		if err := c.callerMedia.Play(ctx, comfort); err != nil {
			return err
		}
	}
}

// playMusicUntil loops music until deadline, or returns at once when the
// deadline has passed. It returns an error only when ctx ended or the media
// failed.
func (c *call) playMusicUntil(ctx context.Context, music *media.Audio, deadline time.Time) error {
	musicCtx, stop := context.WithDeadline(ctx, deadline)
	defer stop()
	err := c.callerMedia.PlayLoop(musicCtx, nil, music)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// announcePosition plays the caller's place in line and estimated wait. A
// caller no longer waiting (being connected just now) hears nothing, and a
// failed lookup is logged and skipped, so that the caller keeps hearing
// the comfort message and music. It returns an error only when playing
// stopped.
func (c *call) announcePosition(ctx context.Context, language string) error {
	position, err := c.srv.queue.Position(ctx, c.id)
	if err != nil {
		if !errors.Is(err, queue.ErrNotWaiting) && ctx.Err() == nil {
			c.log.Warn().Err(err).Msg("queue position unknown, announcement skipped")
		}
		return ctx.Err()
	}
	serving := 0
	if counselors, err := c.srv.queue.Counselors(ctx); err == nil {
		serving = queue.Serving(counselors)
	} else {
		c.log.Warn().Err(err).Msg("counselor states unknown, wait estimated for one counselor")
	}

	c.mu.Lock()
	queueName := c.queue
	c.mu.Unlock()
	wait := c.srv.waits.Estimate(queueName, position, serving)

	clip, err := c.srv.prompts.joinPrompts(announcementPrompts(position, wait), language)
	if err != nil {
		c.log.Error().Err(err).Msg("announcement prompts missing, announcement skipped")
		return nil
	}
	if err := c.callerMedia.Play(ctx, clip); err != nil {
		return err
	}
	c.log.Debug().Int("position", position).Int("serving", serving).Dur("estimated_wait", wait).
		Msg("position announced")
	return nil
}
