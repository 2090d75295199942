package sip

import (
	"context"
	"testing"
	"time"
)

func TestOfferWaitsForFeatureCall(t *testing.T) {
	var set featureCallSet
	end := set.begin("1001")
	waited := make(chan struct{})

	go func() {
		set.wait(context.Background(), "1001")
		close(waited)
	}()

	select {
	case <-waited:
		t.Fatal("wait returned while the feature code call was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	end()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the feature code call ended")
	}
}

func TestOfferToOtherCounselorDoesNotWait(t *testing.T) {
	var set featureCallSet
	defer set.begin("1001")()

	done := make(chan struct{})
	go func() {
		set.wait(context.Background(), "1002")
		close(done)
	}()

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait for a counselor without a feature code call blocked")
	}
}
