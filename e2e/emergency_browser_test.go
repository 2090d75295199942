package e2e

import (
	"strings"
	"testing"
	"time"
)

// emergencyTexts are what the console and the board show of a failed
// emergency call, by page language.
var emergencyTexts = []struct {
	Lang string
	// Failed is the console's banner for 119 that did not answer.
	Failed string
	// Target109 is the label of 109 among the targets.
	Target109 string
	// Alert is a part of the board's alert.
	Alert string
	// Calling is the board's badge while 119 is being called.
	Calling string
}{
	{Lang: "ko", Failed: "119 연결 실패: 응답 없음. 직접 119에 전화하십시오.", Target109: "109 (자살예방상담)",
		Alert: "119 연결 실패: 상담사 1001의 통화", Calling: "119 연결 중"},
	{Lang: "en", Failed: "119 could not be reached: no answer. Call 119 directly.", Target109: "109 (suicide prevention)",
		Alert: "119 could not be reached on counselor 1001's call", Calling: "Calling 119"},
}

// The emergency call to 119 failed: the console shows a red banner with
// the reason and the advice to call 119 directly, which stays after the
// green note of a retry has faded, and the retry posts the same target.
// The board raises an alert for it.
func TestConsoleEmergencyFailureInBrowser(t *testing.T) {
	fake, base := startPageAPI(t)
	browser := StartBrowser(t, BrowserOptions{})
	failedAt := rfc3339(time.Now().Add(-20 * time.Second))
	fake.setEmergency(map[string]any{"target": "119", "status": "failed", "reason": "timeout", "at": failedAt})

	for _, texts := range emergencyTexts {
		t.Run(texts.Lang, func(t *testing.T) {
			b := browser.For(t)
			fake.setRole("counselor")
			switchLanguage(t, b, base+"/console", texts.Lang)

			b.WaitVisible(`#emergency-status[data-status="failed"]`)
			if text := b.Text("#emergency-status-text"); text != texts.Failed {
				t.Errorf("console: emergency banner reads %q, want %q", text, texts.Failed)
			}
			if role := Eval[string](b, `document.getElementById("emergency-status").getAttribute("role")`); role != "alert" {
				t.Errorf("console: emergency banner has role %q, want alert", role)
			}
			if label := b.Text(`#emergency-target option[value="109"]`); label != texts.Target109 {
				t.Errorf("console: target 109 reads %q, want %q", label, texts.Target109)
			}
			b.Screenshot("console-emergency-failed-" + texts.Lang)

			// Retrying posts 119 again. Its green note fades; the banner
			// does not, because the server still reports the failure.
			fake.takePosts()
			b.Click("#btn-emergency-retry")
			b.WaitVisible("#notice.hl-ok")
			checkPosts(t, fake, []fakePost{{Path: "/api/v1/calls/a84b4c76e66710%40127.0.0.1/emergency", CSRF: fakeCSRF,
				Body: map[string]any{"target": "119"}}})
			b.WaitNotVisible("#notice")
			if !Eval[bool](b, `!document.getElementById("emergency-status").hidden`) {
				t.Error("console: the emergency failure banner went away after the retry's note faded")
			}
			if text := b.Text("#emergency-status-text"); text != texts.Failed {
				t.Errorf("console: emergency banner reads %q after the note faded, want %q", text, texts.Failed)
			}

			fake.setRole("supervisor")
			b.Navigate(base + "/board")
			b.WaitVisible(`#alerts .alert[data-kind="emergency_failed"]`)
			if text := b.Text(`#alerts .alert[data-kind="emergency_failed"]`); !strings.Contains(text, texts.Alert) {
				t.Errorf("board: emergency alert reads %q, want %q", text, texts.Alert)
			}
		})
	}
}

// While 119 is being called, the console counts the time since and the
// board marks the counselor's row. Calling again after a failure keeps
// the failure on the console.
func TestConsoleEmergencyCallingInBrowser(t *testing.T) {
	fake, base := startPageAPI(t)
	b := StartBrowser(t, BrowserOptions{})
	fake.setEmergency(map[string]any{"target": "119", "status": "calling", "at": rfc3339(time.Now().Add(-65 * time.Second))})

	for _, texts := range emergencyTexts {
		fake.setRole("counselor")
		switchLanguage(t, b, base+"/console", texts.Lang)
		b.WaitVisible(`#emergency-status[data-status="calling"]`)
		if text := b.Text("#emergency-status-text"); !strings.HasPrefix(text, texts.Calling) || !strings.Contains(text, "01:0") {
			t.Errorf("console %s: emergency banner reads %q, want %q and the time since, 01:0x", texts.Lang, text, texts.Calling)
		}
		if !Eval[bool](b, `document.getElementById("btn-emergency-retry").hidden`) {
			t.Errorf("console %s: the retry button shows while 119 is being called", texts.Lang)
		}

		fake.setRole("supervisor")
		b.Navigate(base + "/board")
		badge := `.counselor-row[data-counselor="1001"] .emergency-badge[data-status="calling"]`
		b.WaitVisible(badge)
		if text := b.Text(badge); text != texts.Calling {
			t.Errorf("board %s: emergency badge reads %q, want %q", texts.Lang, text, texts.Calling)
		}
		if got := b.Count(`#alerts .alert[data-kind="emergency_failed"]`); got != 0 {
			t.Errorf("board %s: %d emergency alerts while 119 is being called, want 0", texts.Lang, got)
		}
	}

	// Calling again after a failure keeps the failure in red until 119
	// answers.
	fake.setEmergency(map[string]any{"target": "119", "status": "calling", "reason": "timeout", "at": rfc3339(time.Now().Add(-5 * time.Second))})
	for _, texts := range emergencyTexts {
		fake.setRole("counselor")
		switchLanguage(t, b, base+"/console", texts.Lang)
		b.WaitVisible(`#emergency-status[data-status="retrying"]`)
		if text := b.Text("#emergency-status-text"); !strings.Contains(text, texts.Failed) || !strings.Contains(text, "00:0") {
			t.Errorf("console %s: banner while calling again reads %q, want %q and the time since", texts.Lang, text, texts.Failed)
		}
	}
}

// The console asks before the tab unloads while the wrap-up form holds
// typed input that is not saved, and not before.
func TestConsoleAsksBeforeLeavingDraft(t *testing.T) {
	fake, base := startPageAPI(t)
	b := StartBrowser(t, BrowserOptions{})
	fake.setRole("counselor")
	switchLanguage(t, b, base+"/console", "ko")
	b.WaitVisible(`#screen-pop[data-phase="on_call"]`)
	b.WaitVisible("#wrapup-form")

	b.Navigate(base + "/console")
	if got := b.LeavePrompts(); got != 0 {
		t.Errorf("prompts when leaving an empty form = %d, want 0", got)
	}

	b.WaitVisible("#wrapup-form")
	b.Click(`[name=reporter][value=self]`)
	b.SetValue(`[name=notes]`, "아직 저장하지 않은 내용")
	b.Navigate(base + "/console")
	if got := b.LeavePrompts(); got != 1 {
		t.Errorf("prompts when leaving a typed, unsaved form = %d, want 1", got)
	}
}
