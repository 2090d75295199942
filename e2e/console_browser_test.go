package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"helpline/web"
)

// Calls of the console draft test: the call the counselor wraps up, and
// the call offered after it. Their ids have an @ like real Call-IDs.
const (
	draftCallID = "first-call@127.0.0.1"
	nextCallID  = "next-call@127.0.0.1"
)

// consoleFake is a fake of the console routes whose snapshot the test
// sets step by step. Every open stream sends each new snapshot.
type consoleFake struct {
	mu       sync.Mutex // guards the fields below
	snapshot map[string]any
	changed  chan struct{} // closed and replaced when snapshot changes
	pending  []map[string]any
	posts    []fakePost
	// posted receives a value for each POST, so that a test can wait.
	posted chan struct{}
}

func startConsoleFake(t *testing.T) (*consoleFake, string) {
	t.Helper()

	fake := &consoleFake{changed: make(chan struct{}), posted: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/session", func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]any{"user": "kim", "role": "counselor", "counselor": "1001",
			"csrf_token": fakeCSRF, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	})
	mux.HandleFunc("GET /api/v1/console/stream", fake.stream)
	mux.HandleFunc("GET /api/v1/console/pending-wrap-ups", func(w http.ResponseWriter, _ *http.Request) {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		web.WriteJSON(w, http.StatusOK, map[string]any{"calls": fake.pending})
	})
	mux.HandleFunc("GET /api/v1/calls/{id}/history", func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]any{"calls": []map[string]any{}, "open_followups": []map[string]any{}})
	})
	mux.HandleFunc("POST /api/v1/", fake.post)
	mux.Handle("/", signedPages())

	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return fake, server.URL
}

// set makes snapshot the console's state and wakes every stream.
func (f *consoleFake) set(snapshot map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapshot = snapshot
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *consoleFake) setPending(calls ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = calls
}

// takePosts returns the POSTs received since the last call.
func (f *consoleFake) takePosts() []fakePost {
	f.mu.Lock()
	defer f.mu.Unlock()
	posts := f.posts
	f.posts = nil
	for range len(f.posted) {
		<-f.posted
	}
	return posts
}

// waitPost waits for the next POST and returns the POSTs received.
func (f *consoleFake) waitPost(t *testing.T) []fakePost {
	t.Helper()
	select {
	case <-f.posted:
	case <-time.After(DefaultBrowserTimeout):
		t.Fatalf("no POST within %s", DefaultBrowserTimeout)
	}
	return f.takePosts()
}

func (f *consoleFake) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher := w.(http.Flusher)
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()

	for {
		f.mu.Lock()
		snapshot, changed := f.snapshot, f.changed
		f.mu.Unlock()
		if snapshot != nil {
			data, _ := json.Marshal(snapshot)
			fmt.Fprintf(w, "event: console\ndata: %s\n\n", data)
			flusher.Flush()
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// post records the POST and responds as the real routes do. A saved
// wrap-up leaves the pending list.
func (f *consoleFake) post(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{}
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, fakePost{Path: r.URL.EscapedPath(), CSRF: r.Header.Get("X-CSRF-Token"), Body: body})
	f.posted <- struct{}{}

	if strings.HasSuffix(r.URL.Path, "/wrap-up") {
		callID := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/calls/"), "/wrap-up")
		kept := []map[string]any{}
		for _, call := range f.pending {
			if call["call_id"] != callID {
				kept = append(kept, call)
			}
		}
		f.pending = kept
		web.WriteJSON(w, http.StatusCreated, body)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{})
}

// consoleState builds a console snapshot: the counselor in state, with
// the call in phase when callID is set. Emergency calls are not set up.
func consoleState(state, reason string, registered bool, callID, phase string) map[string]any {
	now := time.Now()
	snapshot := map[string]any{
		"at": rfc3339(now),
		"counselor": map[string]any{"id": "1001", "name": "김상담", "state": state, "reason": reason,
			"since": rfc3339(now.Add(-5 * time.Second)), "registered": registered, "call_id": callID},
		"emergency": map[string]any{"available": false, "targets": []string{"119"}},
	}
	if callID != "" {
		call := map[string]any{"call_id": callID, "phase": phase, "queue": "loneliness_ko", "digits": "1",
			"language": "ko", "caller_type": "self", "waited_s": 12, "high_risk": false, "kind": "call"}
		if phase == "wrap_up" {
			call["wrap_up_saved"] = false
		}
		snapshot["call"] = call
	}
	return snapshot
}

// pendingCall is draftCallID as GET /api/v1/console/pending-wrap-ups
// lists it.
func pendingCall() map[string]any {
	at := rfc3339(time.Now().Add(-3 * time.Minute))
	return map[string]any{"call_id": draftCallID, "started_at": at, "talked_at": at, "queue": "loneliness_ko",
		"language": "ko", "caller_type": "self", "kind": "call"}
}

const draftNotes = "혼자 지내며 이웃과 연락이 끊김"

// draftStored is a script that reports whether sessionStorage holds the
// draft of draftCallID with draftNotes.
var draftStored = fmt.Sprintf(`(() => {
	const raw = sessionStorage.getItem(%q);
	return raw !== null && JSON.parse(raw).notes === %q;
})()`, "hl_wrapup_draft:1001:"+draftCallID, draftNotes)

// TestPagesInBrowserConsoleDrafts follows a counselor whose wrap-up time
// runs out while typing. The form and its draft stay until saved, and the
// next call's screen pop takes the top. The earlier call stays in the list
// of calls without a wrap-up, also after a reload.
func TestPagesInBrowserConsoleDrafts(t *testing.T) {
	fake, base := startConsoleFake(t)
	b := StartBrowser(t, BrowserOptions{})

	fake.set(consoleState("on_call", "", true, draftCallID, "on_call"))
	switchLanguage(t, b, base+"/console", "ko")
	b.WaitVisible(`#screen-pop[data-phase="on_call"]`)

	checkEmergencyUnavailable(t, b)
	typeDraft(t, b, fake)
	checkEndWrapUpAsks(t, b, fake)

	// The wrap-up time runs out, then the next call rings.
	fake.setPending(pendingCall())
	fake.set(consoleState("available", "", true, "", ""))
	b.WaitTrue(`document.getElementById("state").dataset.state === "available"`)
	b.WaitVisible(fmt.Sprintf(`#wrapup[data-call-id=%q]`, draftCallID))
	if got := Eval[string](b, `document.querySelector("[name=notes]").value`); got != draftNotes {
		t.Errorf("notes after the wrap-up time ran out = %q, want %q", got, draftNotes)
	}
	fake.set(consoleState("offered", "", true, nextCallID, "offered"))
	b.WaitVisible(fmt.Sprintf(`#screen-pop[data-phase="offered"][data-call-id=%q]`, nextCallID))
	b.WaitVisible(fmt.Sprintf(`#wrapup[data-call-id=%q]`, draftCallID))

	// The next call takes the form once connected, and the draft stays
	// listed.
	fake.set(consoleState("on_call", "", true, nextCallID, "on_call"))
	b.WaitVisible(fmt.Sprintf(`#wrapup[data-call-id=%q]`, nextCallID))
	if got := Eval[string](b, `document.querySelector("[name=notes]").value`); got != "" {
		t.Errorf("the next call's form starts with notes %q, want an empty form", got)
	}
	pendingRow := fmt.Sprintf(`.pending-row[data-call-id=%q]`, draftCallID)
	b.WaitVisible(pendingRow + " .pending-draft")
	b.Screenshot("console-drafts-pending")
	b.Click(pendingRow + " .pending-open")
	b.WaitVisible(fmt.Sprintf(`#wrapup[data-call-id=%q]`, draftCallID))
	if got := Eval[string](b, `document.querySelector("[name=notes]").value`); got != draftNotes {
		t.Errorf("notes of the reopened wrap-up = %q, want the draft %q", got, draftNotes)
	}

	// After the call and a reload, the draft opens by itself.
	fake.set(consoleState("available", "", true, "", ""))
	b.Navigate(base + "/console")
	b.WaitVisible(fmt.Sprintf(`#wrapup[data-call-id=%q]`, draftCallID))
	b.WaitTrue(fmt.Sprintf(`document.querySelector("[name=notes]").value === %q`, draftNotes))
	saveDraft(t, b, fake)

	checkStateButtons(t, b, fake)
}

func checkEmergencyUnavailable(t *testing.T, b *Browser) {
	t.Helper()

	b.WaitVisible("#emergency-unavailable")
	if !Eval[bool](b, `document.getElementById("btn-emergency").disabled`) {
		t.Error("the emergency button is enabled without an outbound route")
	}
	if text := b.Text("#emergency-unavailable"); !strings.Contains(text, "긴급 연결이 설정되지 않았습니다") {
		t.Errorf("emergency explanation reads %q, want the Korean notice", text)
	}
	if got := Eval[string](b, `[...document.querySelectorAll("#emergency-target option")].map((o) => o.value).join(",")`); got != "119" {
		t.Errorf("emergency targets = %q, want the server's 119 only", got)
	}
}

// typeDraft fills part of the wrap-up and checks that the draft is kept
// in sessionStorage and nothing is sent.
func typeDraft(t *testing.T, b *Browser, fake *consoleFake) {
	t.Helper()

	fake.takePosts()
	b.Click(`[name=reporter][value=neighbour]`)
	b.SetValue(`[name=risk]`, "medium")
	b.SetValue(`[name=notes]`, draftNotes)
	b.WaitTrue(draftStored)
	if posts := fake.takePosts(); len(posts) != 0 {
		t.Errorf("typing a draft sent requests: %+v", posts)
	}
}

// checkEndWrapUpAsks ends the wrap-up time with unsaved input: the page
// asks first, sends nothing on Cancel and ends it on OK.
func checkEndWrapUpAsks(t *testing.T, b *Browser, fake *consoleFake) {
	t.Helper()

	fake.set(consoleState("wrap_up", "", true, draftCallID, "wrap_up"))
	b.WaitVisible(`#screen-pop[data-phase="wrap_up"]`)
	b.WaitTrue(`!document.getElementById("btn-end-wrapup").disabled`)

	b.Click("#btn-end-wrapup")
	b.WaitVisible("#hl-dialog-cancel")
	b.Click("#hl-dialog-cancel")
	b.WaitNotVisible("#hl-dialog-cancel")
	if posts := fake.takePosts(); len(posts) != 0 {
		t.Errorf("cancelled end of wrap-up sent requests: %+v", posts)
	}

	b.Click("#btn-end-wrapup")
	b.WaitVisible("#hl-dialog-ok")
	b.Click("#hl-dialog-ok")
	posts := fake.waitPost(t)
	if len(posts) != 1 || posts[0].Path != "/api/v1/counselors/1001/wrap-up/end" {
		t.Errorf("end of wrap-up sent %+v, want one POST to /api/v1/counselors/1001/wrap-up/end", posts)
	}
	if !Eval[bool](b, draftStored) {
		t.Error("ending the wrap-up time dropped the draft")
	}
}

// saveDraft completes the reopened wrap-up and saves it: the draft goes
// and the call leaves the list.
func saveDraft(t *testing.T, b *Browser, fake *consoleFake) {
	t.Helper()

	fake.takePosts()
	b.SetValue(`[name=followup]`, "none")
	b.Click("#wrapup-submit")
	posts := fake.waitPost(t)
	b.WaitVisible("#notice.hl-ok")
	b.WaitTrue(fmt.Sprintf(`document.querySelector('.pending-row[data-call-id=%q]') === null`, draftCallID))
	b.WaitTrue(`document.getElementById("wrapup").hidden`)
	if Eval[bool](b, draftStored) {
		t.Error("the draft is still stored after the wrap-up was saved")
	}
	want := map[string]any{"reporter": "neighbour", "isolation_score": 0.0, "risk": "medium", "notes": draftNotes, "followup": "none"}
	if len(posts) != 1 || posts[0].Path != "/api/v1/calls/first-call%40127.0.0.1/wrap-up" || fmt.Sprint(posts[0].Body) != fmt.Sprint(want) {
		t.Errorf("saving sent %+v, want one wrap-up POST of %s with %v", posts, draftCallID, want)
	}
}

// checkStateButtons checks the login button without a registered phone,
// the default break reasons in Korean and the break reason field after a
// break.
func checkStateButtons(t *testing.T, b *Browser, fake *consoleFake) {
	t.Helper()

	fake.set(consoleState("logged_out", "", false, "", ""))
	b.WaitVisible("#not-registered")
	if !Eval[bool](b, `document.getElementById("btn-login").disabled`) {
		t.Error("the login button is enabled while the phone is not registered")
	}
	if title := Eval[string](b, `document.getElementById("btn-login").title`); title == "" {
		t.Error("the disabled login button has no tooltip saying why")
	}

	fake.set(consoleState("break", "missed calls", true, "", ""))
	b.WaitTrue(`document.getElementById("state").dataset.state === "break"`)
	if note := b.Text("#state-note"); !strings.Contains(note, "미응답 반복으로 휴식") {
		t.Errorf("state note reads %q, want the missed-calls reason in Korean", note)
	}
	if Eval[bool](b, `document.getElementById("btn-login").disabled`) {
		t.Error("the end-of-break button is disabled with a registered phone")
	}
	b.SetValue("#break-reason", "교육")
	fake.set(consoleState("break", "break", true, "", ""))
	b.WaitTrue(`document.getElementById("state-note").textContent.includes("휴식")`)
	fake.set(consoleState("available", "", true, "", ""))
	b.WaitTrue(`document.getElementById("state").dataset.state === "available"`)
	if got := Eval[string](b, `document.getElementById("break-reason").value`); got != "" {
		t.Errorf("break reason field after the break reads %q, want it empty", got)
	}
}
