package sip

import (
	"context"
	"errors"
)

// Prompts that confirm the counselor state codes.
const (
	promptLoggedIn      = "feature_logged_in"
	promptLoggedOut     = "feature_logged_out"
	promptOnBreak       = "feature_on_break"
	promptBackFromBreak = "feature_back_from_break"
	promptWrapUpEnded   = "feature_wrap_up_ended"
)

// sourcePhone is the source of state changes made by feature codes, as
// events name it.
const sourcePhone = "phone"

// CounselorStates changes counselor states; *counselor.Service implements
// it.
type CounselorStates interface {
	Login(ctx context.Context, id, source string) error
	Logout(ctx context.Context, id, source string) error
	Break(ctx context.Context, id, reason, source string) error
	Resume(ctx context.Context, id, source string) error
	EndWrapUp(ctx context.Context, id, source string) error
}

// StateCodes are the feature codes of the counselor states.
type StateCodes struct {
	Login, Logout, Break, Back, EndWrapUp string
}

// AddStateFeatures adds the codes for log in, log out, break, back from
// break and end of wrap-up to t.
func AddStateFeatures(t *FeatureTable, codes StateCodes, states CounselorStates) error {
	return errors.Join(
		t.Add(codes.Login, stateFeature(promptLoggedIn, func(ctx context.Context, id string) error {
			return states.Login(ctx, id, sourcePhone)
		})),
		t.Add(codes.Logout, stateFeature(promptLoggedOut, func(ctx context.Context, id string) error {
			return states.Logout(ctx, id, sourcePhone)
		})),
		t.Add(codes.Break, stateFeature(promptOnBreak, func(ctx context.Context, id string) error {
			return states.Break(ctx, id, "", sourcePhone)
		})),
		t.Add(codes.Back, stateFeature(promptBackFromBreak, func(ctx context.Context, id string) error {
			return states.Resume(ctx, id, sourcePhone)
		})),
		t.Add(codes.EndWrapUp, stateFeature(promptWrapUpEnded, func(ctx context.Context, id string) error {
			return states.EndWrapUp(ctx, id, sourcePhone)
		})),
	)
}

// stateFeature returns a handler that applies change to the dialling
// counselor and confirms with prompt.
func stateFeature(prompt string, change func(ctx context.Context, id string) error) FeatureHandler {
	return func(ctx context.Context, req FeatureRequest) (string, error) {
		if err := change(ctx, req.CounselorID); err != nil {
			return "", err
		}
		return prompt, nil
	}
}
