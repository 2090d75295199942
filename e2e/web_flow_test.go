package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Settings of the web flow test.
const (
	// webFlowStepTimeout bounds each browser step. Generous, because the
	// server, two browsers, SIPp and baresip share a small machine.
	webFlowStepTimeout = 30 * time.Second
	// webFlowWrapUp is queue.wrap_up: long enough that the wrap-up form
	// stays up while the test fills it in.
	webFlowWrapUp = "2m"
	// boardDelayBound is the longest delay from the caller_entered event
	// to the caller's row on the board that the test accepts. The board
	// should show a caller within a second. The bound leaves room for a
	// loaded machine, and the test log records the measured delay.
	boardDelayBound = 5 * time.Second
	// maskedCallerNumber is callerNumber as the pages must show it.
	maskedCallerNumber = "010-****-5678"
	// revealedCallerNumber is callerNumber as the follow-up page shows it
	// after "Show number": grouped like the masked form.
	revealedCallerNumber = "010-1234-5678"
	// webFlowDistrict is the district of the follow-up task.
	webFlowDistrict = "마포구"
)

// demoPasswords are the passwords of the demo users in
// config/helpline.example.yaml.
var demoPasswords = map[string]string{"kim": "kim-demo", "park": "park-demo", "choi": "choi-demo"}

// webFlow holds what the steps of TestWebFlow share.
type webFlow struct {
	t       *testing.T
	srv     *Server
	phone   *Phone
	board   *Browser
	console *Browser
	// shots starts the names of the test's screenshots.
	shots string
}

// The pages against the real server: a supervisor watches the board, a
// counselor takes a SIPp caller on baresip and saves the wrap-up, the
// follow-up team works the task, and the board survives a server restart.
func TestWebFlow(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sipp", "baresip", chromiumCommand} {
		RequireTool(t, tool)
	}
	started := time.Now()

	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "queue.wrap_up", webFlowWrapUp)
	}})
	flow := &webFlow{
		t:       t,
		srv:     srv,
		phone:   registeredPhone(t, srv, "1001", true),
		board:   StartBrowser(t, BrowserOptions{Timeout: webFlowStepTimeout}),
		console: StartBrowser(t, BrowserOptions{Timeout: webFlowStepTimeout}),
		shots:   "webflow-",
	}

	flow.openBoard()
	flow.openConsoleOnBreak()
	callID, caller := flow.queueCaller()
	flow.answerFromConsole(callID)
	taskID := flow.saveWrapUp(callID)
	if result := caller.Wait(t); result.CallID != callID {
		t.Errorf("SIPp's call %q is not the queued call %q", result.CallID, callID)
	}
	flow.logOutCounselor()
	flow.workFollowUp(taskID)
	flow.reconnectBoard()

	noFullNumberInLogs(t, srv)
	t.Logf("web flow took %s", time.Since(started).Round(time.Millisecond))
}

// url returns the address of path on the server's API listener.
func (f *webFlow) url(path string) string {
	return f.srv.APIURL() + path
}

// logIn types user's demo password into the open login page, submits it
// and waits for pageSelector, an element of the page the login leads to.
func logIn(b *Browser, user, pageSelector string) {
	b.t.Helper()

	b.WaitVisible("#login-submit")
	b.SetValue("#user", user)
	b.SetValue("#password", demoPasswords[user])
	b.Click("#login-submit")
	b.WaitVisible(pageSelector)
}

// shoot saves a screenshot of the page at each size in viewports and
// checks that the page fits it, then goes back to 1280×800.
func (f *webFlow) shoot(b *Browser, name string) {
	f.t.Helper()

	for _, size := range viewports {
		b.SetViewport(size.Width, size.Height)
		label := fmt.Sprintf("%s-%dx%d", name, size.Width, size.Height)
		f.t.Logf("screenshot %s", b.Screenshot(f.shots+label))
		b.CheckLayout(label)
	}
	b.SetViewport(viewports[0].Width, viewports[0].Height)
}

// openBoard shows the login page, logs the supervisor in through it and
// waits for the board's live data.
func (f *webFlow) openBoard() {
	t, b := f.t, f.board
	b.Navigate(f.url("/board"))
	b.WaitVisible("#login-submit")
	if path := Eval[string](b, `location.pathname + location.search`); path != "/login?next=%2Fboard" {
		t.Errorf("board without a login opened %s, want /login?next=%%2Fboard", path)
	}
	f.shoot(b, "login")

	// A wrong password gets the login page again with its message.
	b.SetValue("#user", "park")
	b.SetValue("#password", "wrong-password")
	b.Click("#login-submit")
	b.WaitVisible("#login-error")
	if !f.audited("login_failed", "", "park") {
		t.Errorf("the audit log has no login_failed entry for park")
	}

	logIn(b, "park", "#board")
	if !f.audited("login", "", "park") {
		t.Errorf("the audit log has no login entry for park")
	}
	b.WaitVisible(`.counselor-row[data-counselor="1001"]`)
	b.WaitVisible(`.queue[data-queue="loneliness_ko"]`)
}

// openConsole logs the counselor in to the console, then into service
// with the console's button.
func (f *webFlow) openConsole() {
	b := f.console
	b.Navigate(f.url("/console"))
	logIn(b, "kim", "#console")

	b.WaitVisible(`#state[data-state="logged_out"]`)
	b.WaitTrue(`document.getElementById("not-registered").hidden && !document.getElementById("btn-login").disabled`)
	b.Click("#btn-login")
	b.WaitVisible(`#state[data-state="available"]`)
}

// openConsoleOnBreak opens the console as openConsole does and puts the
// counselor on break with a reason, so that the next caller waits in the
// queue.
func (f *webFlow) openConsoleOnBreak() {
	b := f.console
	f.openConsole()

	b.SetValue("#break-reason", "교육")
	b.Click("#btn-break")
	b.WaitVisible(`#state[data-state="break"]`)
	if note := b.Text("#state-note"); !strings.Contains(note, "교육") {
		f.t.Errorf("console: state note reads %q, want the break reason 교육", note)
	}
	f.board.WaitVisible(`.counselor-row[data-counselor="1001"] .state-break`)
}

// rowSeenScript records in window.hlRowSeen, by call id, the time each
// waiting row first appears on the board.
const rowSeenScript = `(() => {
	window.hlRowSeen = {};
	const note = () => {
		for (const row of document.querySelectorAll(".waiting-row[data-call-id]")) {
			if (!(row.dataset.callId in window.hlRowSeen)) window.hlRowSeen[row.dataset.callId] = Date.now();
		}
	};
	new MutationObserver(note).observe(document.body, { childList: true, subtree: true });
	note();
	return true;
})()`

// queueCaller starts a SIPp caller who presses 5 and 1 into the Korean
// queue and waits there until the counselor hangs up. It checks the
// caller's row on the board and logs how long after the server's
// caller_entered event it appeared.
func (f *webFlow) queueCaller() (string, *SippProcess) {
	t, b := f.t, f.board
	Eval[bool](b, rowSeenScript)

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   f.srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "1000", "hold_ms": "500", "wait_bye": "1"},
		Timeout:  150 * time.Second,
	})
	queued := f.srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "queue": "loneliness_ko"}), logTimeout)
	callID, _ := queued["call_id"].(string)
	row := fmt.Sprintf(`.queue[data-queue="loneliness_ko"] .waiting-row[data-call-id=%q]`, callID)
	b.WaitVisible(row)

	if number := b.Text(row + " .number"); number != maskedCallerNumber {
		t.Errorf("board: caller's number reads %q, want %s", number, maskedCallerNumber)
	}
	if Eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, callerNumber)) {
		t.Errorf("board: the page HTML holds the caller's full number")
	}
	// The row and the figures come from one snapshot, which must count
	// the caller it shows.
	for _, figures := range []string{"#figures-today", "#figures-hour"} {
		if offered := b.Text(figures + ` [data-figure="offered"] dd`); offered != "1" {
			t.Errorf("board: %s shows %s offered calls beside the waiting caller, want 1", figures, offered)
		}
	}
	f.checkBoardDelay(callID)
	f.shoot(b, "board-waiting")
	return callID, caller
}

// checkBoardDelay logs the time from the caller_entered event of callID
// to its row on the board, and fails beyond boardDelayBound.
func (f *webFlow) checkBoardDelay(callID string) {
	t := f.t
	list := f.srv.WaitEvents(t, func(list []map[string]any) bool { return hasEvent(list, callID, "caller_entered") }, eventTimeout)
	var entered time.Time
	for _, e := range callEvents(list, callID) {
		if eventField(e, "type") == "caller_entered" {
			at, err := time.Parse(time.RFC3339Nano, eventField(e, "at"))
			if err != nil {
				t.Fatalf("caller_entered event time %q: %v", eventField(e, "at"), err)
			}
			entered = at
		}
	}

	seenMillis := Eval[int64](f.board, fmt.Sprintf(`window.hlRowSeen[%q]`, callID))
	delay := time.UnixMilli(seenMillis).Sub(entered)
	t.Logf("board showed the caller %s after the caller_entered event", delay.Round(time.Millisecond))
	if delay > boardDelayBound {
		t.Errorf("board showed the caller %s after the caller_entered event, want under %s", delay, boardDelayBound)
	}
}

// answerFromConsole ends the break from the console. Then baresip picks
// up the offered caller, the console shows the screen pop and the board
// shows the counselor on the call.
func (f *webFlow) answerFromConsole(callID string) {
	t, b := f.t, f.console
	b.WaitTrue(`!document.getElementById("btn-login").disabled`)
	b.Click("#btn-login")

	b.WaitVisible(`#screen-pop[data-phase="on_call"]`)
	if got := Eval[string](b, `document.getElementById("screen-pop").dataset.callId`); got != callID {
		t.Errorf("console: screen pop is for call %q, want %q", got, callID)
	}
	pop := b.Text("#screen-pop")
	for _, want := range []string{"외로움 상담(한국어)", "5 › 1", "한국어", "본인"} {
		if !strings.Contains(pop, want) {
			t.Errorf("console: screen pop reads %q, want %q in it", pop, want)
		}
	}
	b.WaitVisible("#btn-emergency")
	b.WaitVisible("#wrapup-form")
	if Eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, callerNumber)) {
		t.Errorf("console: the page HTML holds the caller's full number")
	}
	f.shoot(b, "console-call")

	f.board.WaitVisible(`.counselor-row[data-counselor="1001"] .state-on_call`)
	f.board.WaitTrue(fmt.Sprintf(`document.querySelector('.waiting-row[data-call-id=%q]') === null`, callID))
}

// saveWrapUp hangs up on the counselor's phone, checks that an empty
// wrap-up is rejected in the page, then fills the form in and saves it.
// It returns the id of the follow-up task the wrap-up created.
func (f *webFlow) saveWrapUp(callID string) string {
	t, b := f.t, f.console
	f.phone.Hangup(t)
	b.WaitVisible(`#screen-pop[data-phase="wrap_up"]`)
	b.WaitVisible(`#state[data-state="wrap_up"]`)
	b.WaitVisible("#wrapup-form")

	b.Click("#wrapup-submit")
	b.WaitTrue(`document.getElementById("wrapup-error").textContent !== ""`)
	if tasks := f.followUpsOf(callID); len(tasks) != 0 {
		t.Errorf("an empty wrap-up created follow-up tasks: %v", tasks)
	}
	if f.audited("wrap_up_saved", callID, "") {
		t.Errorf("an empty wrap-up was saved")
	}

	due := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	notes := "혼자 지내며 끼니를 자주 거른다고 함. 방문 약속."
	b.Click(`[name=reporter][value=family]`)
	b.Click(`[name=isolation_item][value="1"]`)
	b.Click(`[name=isolation_item][value="4"]`)
	b.SetValue(`[name=risk]`, "high")
	b.SetValue(`[name=followup]`, "home_visit")
	b.WaitVisible(`[name=due_date]`)
	b.SetValue(`[name=due_date]`, due)
	b.SetValue(`[name=district]`, webFlowDistrict)
	b.SetValue(`[name=notes]`, notes)
	if score := b.Text("#isolation-score"); !strings.Contains(score, "2 / 5") {
		t.Errorf("console: isolation score reads %q, want 2 / 5", score)
	}
	if text := Eval[string](b, `document.getElementById("wrapup-error").textContent`); text != "" {
		t.Errorf("console: the filled-in wrap-up still shows the error %q", text)
	}
	f.shoot(b, "console-wrapup")

	b.Click("#wrapup-submit")
	b.WaitVisible("#notice.hl-ok")
	if text := b.Text("#notice .hl-notice-text"); text != "상담 정리를 저장했습니다." {
		t.Errorf("console: notice after saving reads %q, want the saved confirmation", text)
	}
	b.WaitVisible(`#state[data-state="available"]`)
	if !f.audited("wrap_up_saved", callID, "kim") {
		t.Errorf("the audit log has no wrap_up_saved entry by kim for call %s", callID)
	}

	tasks := f.followUpsOf(callID)
	if len(tasks) != 1 {
		t.Fatalf("call %s has %d follow-up tasks after the wrap-up, want 1: %v", callID, len(tasks), tasks)
	}
	task := tasks[0]
	want := map[string]string{"kind": "home_visit", "origin": "wrap_up", "risk": "high", "district": webFlowDistrict,
		"due_date": due, "state": "open", "number": maskedCallerNumber}
	for key, value := range want {
		if got := fmt.Sprint(task[key]); got != value {
			t.Errorf("follow-up task %s = %q, want %q", key, got, value)
		}
	}
	if got := fmt.Sprint(task["notes"]); !strings.Contains(got, notes) {
		t.Errorf("follow-up task notes = %q, want the wrap-up notes in them", got)
	}
	return fmt.Sprint(task["id"])
}

// followUpsOf returns the follow-up tasks of callID, open or closed,
// through the API with the bearer token.
func (f *webFlow) followUpsOf(callID string) []map[string]any {
	f.t.Helper()

	answer := f.srv.API(f.t, http.MethodGet, "/api/v1/followups?state=", nil)
	if answer.Status != http.StatusOK {
		f.t.Fatalf("listing follow-ups: %s", answer)
	}
	list, _ := answer.Body["followups"].([]any)
	var tasks []map[string]any
	for _, entry := range list {
		task, _ := entry.(map[string]any)
		if task["call_id"] == callID {
			tasks = append(tasks, task)
		}
	}
	return tasks
}

// audited reports whether the audit log has an entry with action and
// target, by user unless user is "".
func (f *webFlow) audited(action, target, user string) bool {
	f.t.Helper()

	answer := f.srv.API(f.t, http.MethodGet, "/api/v1/audit?limit=1000", nil)
	if answer.Status != http.StatusOK {
		f.t.Fatalf("listing the audit log: %s", answer)
	}
	entries, _ := answer.Body["entries"].([]any)
	for _, entry := range entries {
		e, _ := entry.(map[string]any)
		if e["action"] == action && e["target"] == target && (user == "" || e["user"] == user) {
			return true
		}
	}
	return false
}

// logOutCounselor ends the counselor's shift and signs out of the page,
// which leaves the console's browser on the login page.
func (f *webFlow) logOutCounselor() {
	b := f.console
	b.Click("#btn-logout")
	b.WaitVisible(`#state[data-state="logged_out"]`)
	b.Click("#signout")
	b.WaitVisible("#login-submit")
}

// workFollowUp logs the follow-up team in on the console's browser and
// assigns, annotates, reveals and closes task taskID through the page.
func (f *webFlow) workFollowUp(taskID string) {
	t, b := f.t, f.console
	logIn(b, "choi", "#followups")
	row := fmt.Sprintf(`.followup-row[data-id=%q]`, taskID)
	b.WaitVisible(row)
	if number := b.Text(row + " .number"); number != maskedCallerNumber {
		t.Errorf("follow-ups: task number reads %q, want %s", number, maskedCallerNumber)
	}
	f.shoot(b, "followups")

	rowJS := fmt.Sprintf(`document.querySelector('.followup-row[data-id=%q]')`, taskID)
	f.answerDialog(row+` [data-action="assign"]`, "choi")
	b.WaitTrue(rowJS + `?.cells[4].innerText === "choi"`)

	note := "다음 주 화요일 오전 방문 예정"
	f.answerDialog(row+` [data-action="note"]`, note)
	b.WaitTrue(fmt.Sprintf(`(%s?.querySelector(".followup-notes")?.innerText ?? "").includes(%q)`, rowJS, note))

	b.Click(row + ` [data-action="reveal"]`)
	b.WaitTrue(fmt.Sprintf(`%s?.querySelector(".number").textContent === %q`, rowJS, revealedCallerNumber))
	if !f.audited("reveal_number", taskID, "choi") {
		t.Errorf("the audit log has no reveal_number entry by choi for task %s", taskID)
	}

	outcome := "방문하여 안부 확인, 복지관 연계"
	f.answerDialog(row+` [data-action="close"]`, outcome)
	b.WaitTrue(rowJS + ` === null`)

	answer := f.srv.API(t, http.MethodGet, "/api/v1/followups/"+url.PathEscape(taskID), nil)
	if answer.Status != http.StatusOK {
		t.Fatalf("reading follow-up task %s: %s", taskID, answer)
	}
	want := map[string]string{"owner": "choi", "state": "closed", "outcome": outcome}
	for key, value := range want {
		if got := fmt.Sprint(answer.Body[key]); got != value {
			t.Errorf("follow-up task %s = %q, want %q", key, got, value)
		}
	}
	if notes := fmt.Sprint(answer.Body["notes"]); !strings.Contains(notes, "choi: "+note) {
		t.Errorf("follow-up task notes = %q, want the note by choi", notes)
	}
}

// answerDialog clicks button, types text into the dialog it opens and
// confirms.
func (f *webFlow) answerDialog(button, text string) {
	b := f.console
	b.Click(button)
	b.WaitVisible("#hl-dialog-input")
	b.SetValue("#hl-dialog-input", text)
	b.Click("#hl-dialog-ok")
	b.WaitNotVisible("#hl-dialog-input")
}

// bannerScript records in window.hlBanner when the reconnecting banner
// first shows and when it next hides. It returns whether the banner is
// hidden now.
const bannerScript = `(() => {
	const banner = document.getElementById("conn-status");
	window.hlBanner = { shown: 0, hidden: 0 };
	new MutationObserver(() => {
		const state = window.hlBanner;
		if (!banner.hidden && state.shown === 0) state.shown = Date.now();
		if (banner.hidden && state.shown !== 0 && state.hidden === 0) state.hidden = Date.now();
	}).observe(banner, { attributes: true, attributeFilter: ["hidden"] });
	return banner.hidden;
})()`

// reconnectBoard restarts the server and checks that the open board shows
// the reconnecting banner, clears it by itself and shows a new caller.
// The page's window.hlBanner survives throughout, so the page never
// reloaded.
func (f *webFlow) reconnectBoard() {
	t, b := f.t, f.board
	if !Eval[bool](b, bannerScript) {
		t.Errorf("board: the reconnecting banner shows before the restart")
	}

	f.srv.Restart(t, DefaultReadyTimeout)
	b.WaitTrue(`window.hlBanner.shown !== 0`)
	b.WaitTrue(`window.hlBanner.hidden !== 0`)
	down := Eval[int64](b, `window.hlBanner.hidden - window.hlBanner.shown`)
	t.Logf("board showed the reconnecting banner for %s", time.Duration(down)*time.Millisecond)

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_abandon.xml",
		Target:   f.srv.Addr(),
		Service:  "120",
		// The connecting prompt takes about 4 s, so the caller waits
		// about 8 s in the queue.
		Vars:    map[string]string{"abandon_ms": "12000"},
		Timeout: 60 * time.Second,
	})
	queued := f.srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "queue": "loneliness_ko"}), logTimeout)
	callID, _ := queued["call_id"].(string)
	b.WaitVisible(fmt.Sprintf(`.waiting-row[data-call-id=%q]`, callID))
	if !Eval[bool](b, `document.getElementById("conn-status").hidden`) {
		t.Errorf("board: the reconnecting banner shows while the board updates")
	}
	// Every counselor is logged out now, and the alert that says so has
	// no queue or time to name.
	alert := b.Text(`#alerts .alert[data-kind="no_counselor"]`)
	if alert != "받을 수 있는 상담사 없음: 모든 상담사가 로그아웃했습니다." {
		t.Errorf("board: the no_counselor alert reads %q", alert)
	}
	caller.Wait(t)
	b.WaitTrue(fmt.Sprintf(`document.querySelector('.waiting-row[data-call-id=%q]') === null`, callID))
}

// Settings of the repeat caller test.
const (
	// repeatRingTimeout is queue.ring_timeout: long enough that the
	// offer stays up while the test checks the ringing console.
	repeatRingTimeout = "90s"
	// supervisorID is the counselor entry with supervisor: true in
	// config/helpline.example.yaml.
	supervisorID = "1003"
	// wrapUpNotes are the notes of the first call's wrap-up, which the
	// history of the second call shows as its summary.
	wrapUpNotes = "혼자 지내며 끼니를 자주 거른다고 함. 방문 약속."
)

// The same number calls twice. The counselor's phone rings without
// answering, so the console shows the offered call before the counselor
// picks up. The second call's screen pop lists the first call and its
// open follow-up, and the supervisor listens to the second call from the
// board with a phone of their own.
func TestWebFlowRepeatCaller(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sipp", "baresip", chromiumCommand} {
		RequireTool(t, tool)
	}
	started := time.Now()

	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "queue.wrap_up", webFlowWrapUp)
		MustSetConfig(t, cfg, "queue.ring_timeout", repeatRingTimeout)
	}})
	flow := &webFlow{
		t:       t,
		srv:     srv,
		phone:   registeredPhone(t, srv, "1001", false),
		board:   StartBrowser(t, BrowserOptions{Timeout: webFlowStepTimeout}),
		console: StartBrowser(t, BrowserOptions{Timeout: webFlowStepTimeout}),
		shots:   "webflow-repeat-",
	}
	supervisor := registeredPhone(t, srv, supervisorID, true)

	flow.board.Navigate(flow.url("/board"))
	logIn(flow.board, "park", "#board")
	flow.board.WaitVisible(`.counselor-row[data-counselor="1001"]`)
	flow.openConsole()

	firstID, first := flow.ringCaller()
	flow.checkOffered(firstID)
	flow.answerOnPhone(firstID)
	taskID := flow.saveWrapUp(firstID)
	first.Wait(t)

	secondID, second := flow.ringCaller()
	flow.checkOffered(secondID)
	flow.checkHistory(firstID, taskID)
	flow.shoot(flow.console, "console-offered-history")
	flow.answerOnPhone(secondID)
	flow.listenFromBoard(secondID, supervisor)
	flow.listenAgain(secondID, supervisor)

	flow.phone.Hangup(t)
	supervisor.WaitEvent(t, EventCallClosed, phoneTimeout)
	if result := second.Wait(t); result.CallID != secondID {
		t.Errorf("SIPp's call %q is not the second call %q", result.CallID, secondID)
	}
	wantRecord(t, waitEndedRecord(t, srv, secondID), map[string]string{
		"outcome": "answered", "counselor": "1001", "hangup_side": "counselor",
	})

	noFullNumberInLogs(t, srv)
	t.Logf("repeat caller flow took %s", time.Since(started).Round(time.Millisecond))
}

// ringCaller starts a SIPp caller from callerNumber who presses 5 and 1
// into the Korean queue and waits there until the counselor hangs up.
// The caller is offered to the counselor at once, whose phone rings.
func (f *webFlow) ringCaller() (string, *SippProcess) {
	t := f.t
	from := f.srv.LogCount()
	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   f.srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "1000", "wait_bye": "1"},
		Timeout:  150 * time.Second,
	})
	queued := f.srv.WaitLogAfter(t, from, LogFields(map[string]any{"message": "caller queued", "queue": "loneliness_ko"}), logTimeout)
	callID, _ := queued["call_id"].(string)
	f.phone.WaitEvent(t, EventCallIncoming, phoneTimeout)
	return callID, caller
}

// waitedPattern matches a wait as the console shows it: 00:07, 1:02:03.
var waitedPattern = regexp.MustCompile(`(^|\n)(\d+:)?\d{2}:\d{2}(\n|$)`)

// checkOffered checks the console's screen pop while the counselor's
// phone rings for callID: the phase, the menu path, the language, the
// caller type and the wait.
func (f *webFlow) checkOffered(callID string) {
	t, b := f.t, f.console
	b.WaitVisible(fmt.Sprintf(`#screen-pop[data-phase="offered"][data-call-id=%q]`, callID))
	b.WaitVisible(`#state[data-state="offered"]`)

	pop := b.Text("#screen-pop")
	for _, want := range []string{"전화가 오고 있습니다", "외로움 상담(한국어)", "5 › 1", "한국어", "본인", "대기 시간"} {
		if !strings.Contains(pop, want) {
			t.Errorf("console: ringing screen pop reads %q, want %q in it", pop, want)
		}
	}
	if !waitedPattern.MatchString(pop) {
		t.Errorf("console: ringing screen pop reads %q, want the wait as mm:ss", pop)
	}
	// The caller still waits while the phone rings, so the wait keeps counting.
	wait := `#screen-pop .kv .hl-tick[data-since]`
	b.WaitVisible(wait)
	b.WaitTrue(fmt.Sprintf(`document.querySelector(%q).textContent > "00:00"`, wait))
	if !Eval[bool](b, `document.getElementById("emergency").hidden`) {
		t.Errorf("console: the emergency button shows before the call is answered")
	}
	if Eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, callerNumber)) {
		t.Errorf("console: the page HTML holds the caller's full number")
	}
}

// answerOnPhone answers the ringing call on the counselor's phone and
// waits for the console and the board to show the counselor on callID.
func (f *webFlow) answerOnPhone(callID string) {
	f.phone.Answer(f.t)
	f.phone.WaitEvent(f.t, EventCallEstablished, phoneTimeout)
	f.console.WaitVisible(fmt.Sprintf(`#screen-pop[data-phase="on_call"][data-call-id=%q]`, callID))
	f.console.WaitVisible(`#state[data-state="on_call"]`)
	f.console.WaitVisible("#btn-emergency")
	f.board.WaitVisible(`.counselor-row[data-counselor="1001"] .state-on_call`)
}

// checkHistory checks the earlier calls on the console's screen pop: the
// call firstID with its date, outcome, risk and summary, and the open
// follow-up task taskID.
func (f *webFlow) checkHistory(firstID, taskID string) {
	t, b := f.t, f.console
	row := fmt.Sprintf(`#history-body .history-row[data-call-id=%q]`, firstID)
	b.WaitVisible(row)
	if n := b.Count("#history-body .history-row"); n != 1 {
		t.Errorf("console: history lists %d earlier calls, want 1", n)
	}

	cells := Eval[[]string](b, fmt.Sprintf(`[...document.querySelector(%q).cells].map((c) => c.innerText.trim())`, row))
	if len(cells) != 4 {
		t.Fatalf("console: history row has cells %q, want date, outcome, risk and summary", cells)
	}
	if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$`).MatchString(cells[0]) {
		t.Errorf("console: history date reads %q, want YYYY-MM-DD HH:MM", cells[0])
	}
	want := []struct{ cell, text string }{{"outcome", "상담 완료"}, {"risk", "높음"}, {"summary", wrapUpNotes}}
	for i, w := range want {
		if !strings.Contains(cells[i+1], w.text) {
			t.Errorf("console: history %s reads %q, want %q in it", w.cell, cells[i+1], w.text)
		}
	}

	task := fmt.Sprintf(`#history-body .history-followup[data-id=%q]`, taskID)
	b.WaitVisible(task)
	due := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	text := b.Text(task)
	for _, want := range []string{"방문", "높음"} {
		if !strings.Contains(text, want) {
			t.Errorf("console: open follow-up reads %q, want %q in it", text, want)
		}
	}
	if !strings.Contains(text, due) {
		t.Errorf("console: open follow-up reads %q, want the due date %s in it", text, due)
	}
	if !f.audited("view_call", f.currentCall(), "kim") {
		t.Errorf("the audit log has no view_call entry by kim for the ringing call")
	}
}

// currentCall returns the call id on the console's screen pop.
func (f *webFlow) currentCall() string {
	return Eval[string](f.console, `document.getElementById("screen-pop").dataset.callId`)
}

// listenFromBoard has the supervisor listen to callID from the board.
// The listen action on the counselor's row prompts for the supervisor's
// phone, and the server calls that phone into the call, which goes on.
func (f *webFlow) listenFromBoard(callID string, supervisor *Phone) {
	t, b := f.t, f.board
	closedBefore := countPhoneEvents(f.phone.Events(), EventCallClosed)
	b.Click(`.counselor-row[data-counselor="1001"] [data-action="listen"]`)
	b.WaitVisible("#hl-dialog-input")
	b.SetValue("#hl-dialog-input", supervisorID)
	f.shoot(b, "board-listen")
	b.Click("#hl-dialog-ok")
	b.WaitNotVisible("#hl-dialog-input")
	b.WaitVisible("#notice.hl-ok")
	if text := b.Text("#notice"); !strings.Contains(text, supervisorID) {
		t.Errorf("board: notice after listen reads %q, want the supervisor's phone %s in it", text, supervisorID)
	}

	supervisor.WaitEvent(t, EventCallEstablished, phoneTimeout)
	f.waitMonitorStarted(callID, 1)
	// Caller and counselor are still talking with the supervisor on.
	f.checkCallGoesOn(callID, closedBefore)
}

// checkCallGoesOn checks that the counselor is still on callID: the
// counselor's phone reported no closed call since closedBefore of them,
// and console and board show the call.
func (f *webFlow) checkCallGoesOn(callID string, closedBefore int) {
	t, b := f.t, f.board
	if closed := countPhoneEvents(f.phone.Events(), EventCallClosed); closed != closedBefore {
		t.Errorf("the counselor's phone reported %d more closed calls while the supervisor came and went", closed-closedBefore)
	}
	if phase := f.currentCall(); phase != callID {
		t.Errorf("console: screen pop is for call %q while the supervisor came and went, want %q", phase, callID)
	}
	f.console.WaitVisible(`#screen-pop[data-phase="on_call"]`)
	b.WaitVisible(`.counselor-row[data-counselor="1001"] .state-on_call`)
}

// waitMonitorStarted waits for count monitor_started events of callID
// and checks that each started listening on the supervisor's phone.
func (f *webFlow) waitMonitorStarted(callID string, count int) {
	t := f.t
	started := func(list []map[string]any) []map[string]any {
		var found []map[string]any
		for _, e := range callEvents(list, callID) {
			if eventField(e, "type") == "monitor_started" {
				found = append(found, e)
			}
		}
		return found
	}
	list := f.srv.WaitEvents(t, func(list []map[string]any) bool { return len(started(list)) >= count }, eventTimeout)
	for _, e := range started(list) {
		got := map[string]string{"mode": eventData(e, "mode"), "supervisor": eventData(e, "supervisor"), "action": eventData(e, "action")}
		want := map[string]string{"mode": "listen", "supervisor": supervisorID, "action": "start"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("monitor_started event data = %v, want %v", got, want)
		}
		if counselor := eventField(e, "counselor_id"); counselor != "1001" {
			t.Errorf("monitor_started event counselor = %q, want 1001", counselor)
		}
	}
}

// listenAgain hangs up the supervisor's phone, which leaves the call
// going on, and listens again from the board. The board stored the
// supervisor's phone, so it prompts for it no more.
func (f *webFlow) listenAgain(callID string, supervisor *Phone) {
	t, b := f.t, f.board
	closedBefore := countPhoneEvents(f.phone.Events(), EventCallClosed)
	from := f.srv.LogCount()
	supervisor.Hangup(t)
	supervisor.WaitEvent(t, EventCallClosed, phoneTimeout)
	f.srv.WaitLogAfter(t, from, LogFields(map[string]any{"message": "third party left the call", "party": "supervisor", "call_id": callID}), logTimeout)
	f.checkCallGoesOn(callID, closedBefore)

	Eval[bool](b, `(() => { document.getElementById("notice").hidden = true; return true; })()`)
	b.Click(`.counselor-row[data-counselor="1001"] [data-action="listen"]`)
	b.WaitVisible("#notice.hl-ok")
	if Eval[bool](b, `document.querySelector("dialog.hl-dialog")?.open === true`) {
		t.Errorf("board: listening again asked for the supervisor's phone again")
	}
	supervisor.WaitEvent(t, EventCallEstablished, phoneTimeout)
	f.waitMonitorStarted(callID, 2)
	f.checkCallGoesOn(callID, closedBefore)
}
