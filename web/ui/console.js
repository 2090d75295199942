// Counselor console: the counselor's state and its buttons, and the screen
// pop of the offered or connected call with the caller's history. Below
// them come the wrap-up form with its draft, the calls still without a
// wrap-up and the emergency button, whose call's state stays in a banner
// under the header until the call ends. Updates come live from
// GET /api/v1/console/stream.

import {
  t, tv, el, api, act, notify, loadSession, currentSession, initHeader, onLangChange, openStream,
  ServerClock, formatDuration, formatDateTime, formatClock, tick, confirmAction, addStrings, emergencyReason, lang,
} from "/static/app.js";

addStrings({
  ko: {
    "console.login_needs_phone": "전화기가 등록되어야 로그인할 수 있습니다. 소프트폰을 켜십시오.",
    "console.reason_break": "휴식",
    "console.reason_missed": "미응답 반복으로 휴식",
    "console.reason_media_timeout": "통화 중 전화의 소리가 끊겨 휴식: 전화를 다시 켠 뒤 복귀하십시오",
    "console.emergency_unavailable": "긴급 연결이 설정되지 않았습니다. 감독자에게 알리십시오.",
    "console.flag_earlier_risk": "이전 상담 고위험",
    "console.flag_open_followup": "진행 중인 후속 조치 있음",
    "console.pending": "정리 안 된 통화",
    "console.pending_hint": "최근 24시간 동안 받은 통화 중 상담 정리를 저장하지 않은 통화입니다.",
    "console.no_pending": "정리할 통화가 없습니다.",
    "console.pending_open": "정리 쓰기",
    "console.pending_draft": "작성 중",
    "console.pending_in_form": "양식에 열림",
    "console.col_talked": "통화 시각",
    "console.ask_end_wrapup": "저장하지 않은 상담 정리가 있습니다. 정리 시간을 끝내도 입력한 내용은 남고, '정리 안 된 통화'에서 다시 열 수 있습니다. 정리 시간을 끝낼까요?",
    "wrapup.for_current": "지금 통화의 정리",
    "wrapup.for_call": "{time}에 받은 통화의 정리 ({queue})",
    "wrapup.for_earlier": "지난 통화의 정리",
    "wrapup.draft_kept": "입력한 내용은 저장할 때까지 이 브라우저 탭에 남습니다.",
    "wrapup.due_past": "처리 기한이 지난 날짜입니다. 오늘이나 그 뒤의 날짜를 고르십시오.",
    "console.emergency_calling": "{target} 연결 중",
    "console.emergency_joined": "{target} 연결됨: 통화에 참여했습니다.",
    "console.emergency_failed": "{target} 연결 실패: {reason}. 직접 {target}에 전화하십시오.",
    "console.emergency_left": "{target} 통화가 끝났습니다.",
    "console.emergency_retry": "다시 연결",
    "console.emergency_retrying": "{target} 다시 거는 중",
  },
  en: {
    "console.login_needs_phone": "Your phone must be registered before you log in. Start the softphone.",
    "console.reason_break": "Break",
    "console.reason_missed": "Paused after missed calls",
    "console.reason_media_timeout": "Paused: your phone stopped sending audio during a call. Restart it, then come back",
    "console.emergency_unavailable": "Emergency calling is not set up: tell your supervisor.",
    "console.flag_earlier_risk": "High risk in an earlier call",
    "console.flag_open_followup": "Open follow-up",
    "console.pending": "Calls without a wrap-up",
    "console.pending_hint": "Calls you took in the last 24 hours whose wrap-up is not saved.",
    "console.no_pending": "Every call has its wrap-up.",
    "console.pending_open": "Write wrap-up",
    "console.pending_draft": "Draft",
    "console.pending_in_form": "In the form",
    "console.col_talked": "Time",
    "console.ask_end_wrapup": "The wrap-up is not saved. Ending the wrap-up time keeps what you typed, and you can open it again under \"Calls without a wrap-up\". End the wrap-up time?",
    "wrapup.for_current": "Wrap-up of the current call",
    "wrapup.for_call": "Wrap-up of the call taken at {time} ({queue})",
    "wrapup.for_earlier": "Wrap-up of an earlier call",
    "wrapup.draft_kept": "What you type stays in this browser tab until you save it.",
    "wrapup.due_past": "The due date is in the past: choose today or a later date.",
    "console.emergency_calling": "Calling {target}",
    "console.emergency_joined": "{target} joined the call.",
    "console.emergency_failed": "{target} could not be reached: {reason}. Call {target} directly.",
    "console.emergency_left": "{target} left the call.",
    "console.emergency_retry": "Try again",
    "console.emergency_retrying": "Calling {target} again",
  },
});

const TICK_MS = 1000;
// Drafts of wrap-ups live in sessionStorage under
// hl_wrapup_draft:<counselor>:<call id>, and never leave the browser.
// sessionStorage ends with the tab, so notes do not outlast it on a
// shared computer, and a draft older than a day is dropped at start.
const DRAFT_PREFIX = "hl_wrapup_draft";
const DRAFT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
// Default break reasons of the server and their dictionary keys.
const REASON_KEYS = {
  "break": "console.reason_break",
  "missed calls": "console.reason_missed",
  "media timeout": "console.reason_media_timeout",
};

const clock = new ServerClock();
let counselorId = "";
let snapshot = null;
// The call whose history is shown.
let historyCallId = "";
let history = null;
// The call the wrap-up form is for, and its queue and time of talk.
let formCallId = "";
let formInfo = null;
// Calls whose wrap-up this page saved or saw saved.
const savedCallIds = new Set();
// Calls without a wrap-up, from GET /api/v1/console/pending-wrap-ups.
let pending = [];
// The counselor's state and call of the last snapshot, to notice changes.
let lastStateKey = "";
let lastState = "";
// The connected or wrapped-up call of the last snapshot, or "".
let lastCurrentCallId = "";
// Whether #wrapup-error lists missing fields, so that filling them in
// shortens the list instead of leaving a stale message.
let missingShown = false;
// An emergency request that the server rejected or never got, shown like
// a failed emergency call until a snapshot brings a newer emergency state
// or another call: {callId, target, reason, seenKey}, or null.
let requestFailure = null;

main();

async function main() {
  try {
    await loadSession();
  } catch (error) {
    notify(error.message, true);
    return;
  }
  initHeader("console");

  const session = currentSession();
  const asked = new URLSearchParams(location.search).get("counselor") ?? "";
  counselorId = session.role === "counselor" ? session.counselor : asked || session.counselor || "";
  if (!counselorId) {
    notify(t("console.pick_counselor"), true);
    return;
  }

  pruneDrafts();
  bindStateButtons();
  bindWrapUpForm();
  bindEmergency();
  warnBeforeLeaving();
  onLangChange(render);
  onLangChange(drawPending);

  const query = session.role === "counselor" ? "" : `?counselor=${encodeURIComponent(counselorId)}`;
  openStream(`/api/v1/console/stream${query}`, "console", (data) => {
    snapshot = data;
    clock.sync(data.at ?? new Date().toISOString());
    render();
  });
  // The emergency banner sits outside #console, so the whole body ticks.
  setInterval(() => tick(document.body, clock), TICK_MS);
}

function render() {
  if (!snapshot) return;
  renderState(snapshot.counselor ?? {});
  renderCall(snapshot.call);
  renderEmergency(snapshot.call, snapshot.emergency);
  renderEmergencyStatus(snapshot.call, snapshot.emergency);
  refreshPendingOnChange(snapshot);
  tick(document.body, clock);
}

// Returns the text of a break reason: the server's default reasons in the
// page's language, a counselor's own reason as typed.
function reasonText(reason) {
  return REASON_KEYS[reason] ? t(REASON_KEYS[reason]) : reason;
}

function renderState(c) {
  const state = document.getElementById("state");
  state.textContent = tv("state", c.state) || "–";
  state.className = `console-state state state-${c.state}`;
  state.dataset.state = c.state ?? "";

  const since = document.getElementById("state-since");
  if (c.since) {
    since.dataset.since = c.since;
  } else {
    delete since.dataset.since;
    since.textContent = "";
  }

  document.getElementById("counselor-name").textContent = t("console.state_of", { name: c.name || c.id || counselorId, id: c.id || counselorId });
  document.getElementById("not-registered").hidden = c.registered !== false;

  const notes = [];
  if (c.reason) notes.push(reasonText(c.reason));
  if (c.wrap_up_until) notes.push(t("console.wrapup_until", { time: formatClock(c.wrap_up_until) }));
  document.getElementById("state-note").textContent = notes.join(" · ");

  // A counselor without a registered phone would only miss the calls
  // offered to them, so the page does not let them take calls.
  const unregistered = c.registered === false;
  const login = document.getElementById("btn-login");
  login.textContent = c.state === "break" ? t("console.resume") : t("console.login");
  login.disabled = !(c.state === "logged_out" || c.state === "break") || unregistered;
  login.title = unregistered ? t("console.login_needs_phone") : "";
  document.getElementById("btn-break").disabled = !(c.state === "available" || c.state === "wrap_up");
  document.getElementById("btn-end-wrapup").disabled = c.state !== "wrap_up";
  document.getElementById("btn-logout").disabled = c.state === "logged_out" || !c.state;

  // The reason of a break that ended is no reason for the next one.
  if (lastState === "break" && c.state !== "break") document.getElementById("break-reason").value = "";
  lastState = c.state ?? "";
}

function bindStateButtons() {
  const path = () => `/api/v1/counselors/${encodeURIComponent(counselorId)}`;
  document.getElementById("btn-login").addEventListener("click", () =>
    act(() => api("POST", `${path()}/state`, { state: "available" })));
  document.getElementById("btn-break").addEventListener("click", () => {
    const reason = document.getElementById("break-reason").value.trim();
    return act(() => api("POST", `${path()}/state`, { state: "break", reason }));
  });
  document.getElementById("btn-logout").addEventListener("click", () =>
    act(() => api("POST", `${path()}/state`, { state: "logged_out" })));
  document.getElementById("btn-end-wrapup").addEventListener("click", async () => {
    if (formHasUnsavedInput() && !(await confirmAction(t("console.end_wrapup"), t("console.ask_end_wrapup")))) return;
    await act(() => api("POST", `${path()}/wrap-up/end`));
  });
}

function renderCall(call) {
  const pop = document.getElementById("screen-pop");
  const body = document.getElementById("pop-body");
  pop.classList.toggle("pop-risk", Boolean(call?.high_risk) || historyFlags().length > 0);
  pop.dataset.phase = call?.phase ?? "";
  pop.dataset.callId = call?.call_id ?? "";

  if (!call) {
    body.replaceChildren(el("p", { class: "hl-empty" }, t("console.no_call")));
  } else {
    body.replaceChildren(screenPop(call));
  }
  updateHistory(call);
  updateWrapUp(call);
}

// Returns the display name of queue in the page's language, from the
// snapshot's queue_labels, or the queue's name when none is configured.
function queueLabel(queue) {
  if (!queue) return "–";
  const label = snapshot?.queue_labels?.[queue];
  const text = lang() === "en" ? label?.label_en : label?.label_ko;
  return text || queue;
}

function screenPop(call) {
  const row = (key, value) => [el("dt", {}, t(key)), el("dd", {}, value)];
  const digits = (call.digits ?? "").split("").join(" › ");
  return el("div", {},
    el("p", { class: "hl-actions" },
      el("strong", {}, t(`console.phase.${call.phase}`)),
      call.high_risk ? el("span", { class: "hl-badge hl-badge-risk" }, t("badge.high_risk")) : null,
      call.kind === "callback" ? el("span", { class: "hl-badge" }, t("kind.callback")) : null,
    ),
    el("dl", { class: "kv" },
      row("console.queue", queueLabel(call.queue)),
      row("console.digits", el("span", { class: "digits" }, digits || "–")),
      row("console.language", tv("lang", call.language) || "–"),
      row("console.caller_type", tv("caller", call.caller_type) || "–"),
      row("console.wait", waitValue(call)),
    ),
  );
}

// The caller's wait, which keeps counting while the phone rings.
function waitValue(call) {
  const text = formatDuration(call.waited_s);
  if (!call.waiting_since) return text;
  return el("span", { class: "hl-tick", "data-since": call.waiting_since }, text);
}

// Loads the caller's history once per call and draws it.
async function updateHistory(call) {
  const id = call?.call_id ?? "";
  if (id === historyCallId) {
    drawHistory();
    return;
  }
  historyCallId = id;
  history = null;
  drawHistory();
  if (!id) return;

  try {
    const data = await api("GET", `/api/v1/calls/${encodeURIComponent(id)}/history`);
    if (historyCallId === id) {
      history = data;
      drawHistory();
    }
  } catch (error) {
    notify(error.message, true);
  }
}

// Returns the warnings the caller's history gives for the screen pop: an
// earlier call judged high or imminent risk, and an open follow-up.
function historyFlags() {
  const flags = [];
  if ((history?.calls ?? []).some((c) => c.risk === "high" || c.risk === "imminent")) {
    flags.push({ flag: "earlier-risk", key: "console.flag_earlier_risk" });
  }
  if ((history?.open_followups ?? []).length > 0) {
    flags.push({ flag: "open-followup", key: "console.flag_open_followup" });
  }
  return flags;
}

function drawPopFlags() {
  const box = document.getElementById("pop-flags");
  const flags = historyFlags();
  box.replaceChildren(...flags.map((f) => el("span", { class: "hl-badge hl-badge-risk pop-flag", "data-flag": f.flag }, t(f.key))));
  box.hidden = flags.length === 0;
  document.getElementById("screen-pop").classList.toggle("pop-risk", Boolean(snapshot?.call?.high_risk) || flags.length > 0);
}

function drawHistory() {
  drawPopFlags();
  const body = document.getElementById("history-body");
  const calls = history?.calls ?? [];
  const open = history?.open_followups ?? [];
  if (calls.length === 0 && open.length === 0) {
    body.replaceChildren(el("p", { class: "hl-empty" }, t("console.no_history")));
    return;
  }

  const parts = [];
  if (calls.length > 0) {
    parts.push(el("table", { class: "hl-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, t("console.col_date")),
        el("th", { scope: "col" }, t("console.col_outcome")),
        el("th", { scope: "col" }, t("console.col_risk")),
        el("th", { scope: "col" }, t("console.col_summary")),
      )),
      el("tbody", {}, calls.map((c) => el("tr", { class: "history-row", "data-call-id": c.call_id },
        el("td", { class: "hl-tick" }, formatDateTime(c.started_at)),
        el("td", {}, tv("outcome", c.outcome), c.followup && c.followup !== "none" ? el("div", { class: "hl-muted" }, tv("followup", c.followup)) : null),
        el("td", {}, riskBadge(c.risk)),
        el("td", {}, c.summary ?? ""),
      ))),
    ));
  }
  if (open.length > 0) {
    parts.push(el("h3", {}, t("console.open_followups")));
    parts.push(el("ul", {}, open.map((f) => el("li", { class: "history-followup", "data-id": f.id },
      tv("followup", f.kind), " · ", riskBadge(f.risk), " · ", f.due_date ?? "", f.owner ? ` · ${f.owner}` : ""))));
  }
  body.replaceChildren(...parts);
}

function riskBadge(risk) {
  if (!risk) return "–";
  const high = risk === "high" || risk === "imminent";
  return el("span", { class: high ? "hl-badge hl-badge-risk" : "hl-badge" }, tv("risk", risk));
}

// Keeps the wrap-up form on the right call. A call that connects (or is
// in wrap-up when the page opens) takes the form, unless its wrap-up is
// saved and the form contains unsaved input for another call. Otherwise the
// form stays on its call until that wrap-up is saved, also when the
// wrap-up time ends or the next call rings. A call that leaves the form
// keeps its draft and stays in the list of calls without a wrap-up.
function updateWrapUp(call) {
  const current = call && (call.phase === "on_call" || call.phase === "wrap_up") ? call : null;
  const currentId = current?.call_id ?? "";
  if (current?.wrap_up_saved) {
    savedCallIds.add(currentId);
    clearDraft(currentId);
  }

  if (currentId && currentId !== lastCurrentCallId && currentId !== formCallId) {
    if (!savedCallIds.has(currentId) || !formHasUnsavedInput()) {
      openWrapUp(currentId, { current: true, queue: current.queue });
    }
  } else if (formCallId && savedCallIds.has(formCallId) && formCallId !== currentId) {
    closeWrapUp();
  }
  lastCurrentCallId = currentId;
  if (formInfo) formInfo.current = formCallId === currentId;
  drawWrapUp();
}

// Points the form at callId, filled from its draft when there is one.
function openWrapUp(callId, info) {
  formCallId = callId;
  formInfo = info;
  resetWrapUpForm();
  const draft = readDraft(callId);
  if (draft) fillForm(draft);
  drawWrapUp();
  drawPending();
}

function closeWrapUp() {
  formCallId = "";
  formInfo = null;
  resetWrapUpForm();
  drawWrapUp();
  drawPending();
}

function drawWrapUp() {
  const section = document.getElementById("wrapup");
  const saved = savedCallIds.has(formCallId);
  section.hidden = formCallId === "";
  section.dataset.callId = formCallId;
  document.getElementById("wrapup-form").hidden = saved;
  document.getElementById("wrapup-saved").hidden = !saved;

  const line = document.getElementById("wrapup-for");
  const listed = pending.find((p) => p.call_id === formCallId);
  const talkedAt = formatDateTime(listed?.talked_at ?? formInfo?.talked_at);
  if (!formCallId) {
    line.textContent = "";
  } else if (formInfo?.current) {
    line.textContent = t("wrapup.for_current");
  } else if (talkedAt) {
    line.textContent = t("wrapup.for_call", { time: talkedAt, queue: queueLabel(listed?.queue || formInfo?.queue) });
  } else {
    line.textContent = t("wrapup.for_earlier");
  }
}

function resetWrapUpForm() {
  const form = document.getElementById("wrapup-form");
  form.reset();
  form.elements.isolation_score.value = "0";
  document.getElementById("wrapup-error").textContent = "";
  missingShown = false;
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  showFollowUpDetails();
  drawScore();
}

// Returns the form's fields as typed, for a draft.
function captureForm() {
  const form = document.getElementById("wrapup-form");
  return {
    reporter: form.elements.reporter.value,
    items: [...form.querySelectorAll("[name=isolation_item]:checked")].map((box) => box.value),
    risk: form.elements.risk.value,
    notes: form.elements.notes.value,
    followup: form.elements.followup.value,
    due_date: form.elements.due_date.value,
    district: form.elements.district.value,
  };
}

function fillForm(draft) {
  const form = document.getElementById("wrapup-form");
  for (const radio of form.querySelectorAll("[name=reporter]")) radio.checked = radio.value === draft.reporter;
  const items = new Set(draft.items ?? []);
  for (const box of form.querySelectorAll("[name=isolation_item]")) box.checked = items.has(box.value);
  form.elements.risk.value = draft.risk ?? "";
  form.elements.notes.value = draft.notes ?? "";
  form.elements.followup.value = draft.followup ?? "";
  form.elements.due_date.value = draft.due_date ?? "";
  form.elements.district.value = draft.district ?? "";
  showFollowUpDetails();
  drawScore();
}

function hasInput(values) {
  return values.reporter !== "" || values.items.length > 0 || values.risk !== "" || values.notes.trim() !== "" ||
    values.followup !== "" || values.due_date !== "" || values.district.trim() !== "";
}

// Reports whether the form contains input for a call whose wrap-up is not
// saved.
function formHasUnsavedInput() {
  return formCallId !== "" && !savedCallIds.has(formCallId) && hasInput(captureForm());
}

// Stores the form as the draft of its call, or drops the draft of an
// emptied form.
function keepDraft() {
  if (!formCallId || savedCallIds.has(formCallId)) return;
  const hadDraft = readDraft(formCallId) !== null;
  const values = captureForm();
  if (hasInput(values)) {
    writeDraft(formCallId, values);
  } else {
    clearDraft(formCallId);
  }
  if (hadDraft !== hasInput(values)) drawPending();
}

function draftKey(callId) {
  return `${DRAFT_PREFIX}:${counselorId}:${callId}`;
}

function readDraft(callId) {
  try {
    const stored = JSON.parse(sessionStorage.getItem(draftKey(callId)) ?? "null");
    return stored && typeof stored === "object" ? stored : null;
  } catch {
    return null;
  }
}

function writeDraft(callId, values) {
  try {
    sessionStorage.setItem(draftKey(callId), JSON.stringify({ ...values, kept_at: Date.now() }));
  } catch {
    // A browser without storage keeps the input in the open form only.
  }
}

function clearDraft(callId) {
  try {
    sessionStorage.removeItem(draftKey(callId));
  } catch {
    // Nothing was stored.
  }
}

// Drops drafts older than a day, whose calls the server no longer lists.
function pruneDrafts() {
  try {
    for (const key of Object.keys(sessionStorage)) {
      if (!key.startsWith(`${DRAFT_PREFIX}:`)) continue;
      const keptAt = Number(JSON.parse(sessionStorage.getItem(key) ?? "{}")?.kept_at);
      if (!(keptAt > Date.now() - DRAFT_MAX_AGE_MS)) sessionStorage.removeItem(key);
    }
  } catch {
    // Without storage there is nothing to drop.
  }
}

// Loads the calls without a wrap-up again when the counselor's state or
// call changes, which is when a call may join or leave the list.
function refreshPendingOnChange(data) {
  const c = data.counselor ?? {};
  const key = `${c.state}|${c.call_id ?? ""}|${data.call?.call_id ?? ""}|${Boolean(data.call?.wrap_up_saved)}`;
  if (key === lastStateKey) return;
  lastStateKey = key;
  loadPending();
}

async function loadPending() {
  const session = currentSession();
  const query = session?.role === "counselor" ? "" : `?counselor=${encodeURIComponent(counselorId)}`;
  let data;
  try {
    data = await api("GET", `/api/v1/console/pending-wrap-ups${query}`);
  } catch (error) {
    notify(error.message, true);
    return;
  }
  pending = data?.calls ?? [];
  drawPending();
  drawWrapUp();
  openDraftAfterReload();
}

// After a reload with no call in progress, reopens the newest call
// without a wrap-up that has a draft.
function openDraftAfterReload() {
  if (formCallId || snapshot?.call) return;
  const withDraft = pending.find((p) => readDraft(p.call_id));
  if (withDraft) openWrapUp(withDraft.call_id, pendingInfo(withDraft));
}

function pendingInfo(p) {
  return { current: false, queue: p.queue, talked_at: p.talked_at };
}

function drawPending() {
  const body = document.getElementById("pending-body");
  const list = pending.filter((p) => !savedCallIds.has(p.call_id));
  if (list.length === 0) {
    body.replaceChildren(el("p", { class: "hl-empty" }, t("console.no_pending")));
    return;
  }
  body.replaceChildren(el("table", { class: "hl-table" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("console.col_talked")),
      el("th", { scope: "col" }, t("console.queue")),
      el("th", { scope: "col" }, t("console.caller_type")),
      el("th", { scope: "col" }, t("wrapup.title")),
    )),
    el("tbody", {}, list.map(pendingRow)),
  ));
}

function pendingRow(p) {
  const inForm = p.call_id === formCallId;
  const open = el("button", { type: "button", class: "hl-btn hl-btn-small pending-open" }, t("console.pending_open"));
  open.addEventListener("click", () => {
    if (p.call_id !== formCallId) openWrapUp(p.call_id, pendingInfo(p));
    const section = document.getElementById("wrapup");
    section.scrollIntoView({ block: "start" });
    section.querySelector("input, select, textarea")?.focus();
  });
  return el("tr", { class: "pending-row", "data-call-id": p.call_id, "aria-current": inForm ? "true" : undefined },
    el("td", { class: "hl-tick" }, formatDateTime(p.talked_at || p.started_at)),
    el("td", {}, queueLabel(p.queue), el("div", { class: "hl-muted" }, tv("lang", p.language))),
    el("td", {}, tv("caller", p.caller_type) || "–", p.kind === "callback" ? el("div", {}, el("span", { class: "hl-badge" }, t("kind.callback"))) : null),
    el("td", {}, el("div", { class: "hl-actions" },
      readDraft(p.call_id) ? el("span", { class: "hl-badge hl-badge-warn pending-draft" }, t("console.pending_draft")) : null,
      inForm ? el("span", { class: "hl-muted" }, t("console.pending_in_form")) : open,
    )),
  );
}

function bindWrapUpForm() {
  const form = document.getElementById("wrapup-form");
  form.addEventListener("change", (event) => {
    if (event.target.name === "isolation_item") drawScore();
    if (event.target.name === "followup") showFollowUpDetails();
    if (missingShown) showMissing(readWrapUp(form).missing);
  });
  form.addEventListener("input", () => {
    if (missingShown) showMissing(readWrapUp(form).missing);
    keepDraft();
  });
  form.addEventListener("change", keepDraft);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitWrapUp();
  });
  onLangChange(drawScore);
  onLangChange(drawWrapUp);
}

function drawScore() {
  const form = document.getElementById("wrapup-form");
  const score = form.querySelectorAll("[name=isolation_item]:checked").length;
  form.elements.isolation_score.value = String(score);
  document.getElementById("isolation-score").textContent = t("wrapup.score", { score });
}

function needsDetails(followup) {
  return followup !== "" && followup !== "none";
}

function showFollowUpDetails() {
  const form = document.getElementById("wrapup-form");
  const needed = needsDetails(form.elements.followup.value);
  document.getElementById("followup-details").hidden = !needed;
  form.elements.due_date.min = todayISO();
  form.elements.due_date.required = needed;
  form.elements.district.required = needed;
}

// Reads the form into the wrap-up body and lists the labels of the
// required fields that are empty.
function readWrapUp(form) {
  const values = {
    reporter: form.elements.reporter.value,
    isolation_score: Number(form.elements.isolation_score.value),
    risk: form.elements.risk.value,
    notes: form.elements.notes.value.trim(),
    followup: form.elements.followup.value,
  };
  const missing = [];
  const check = (ok, labelKey, node) => {
    if (ok) {
      node.removeAttribute("aria-invalid");
      return;
    }
    missing.push({ label: t(labelKey), node });
    node.setAttribute("aria-invalid", "true");
  };
  check(values.reporter !== "", "wrapup.reporter", document.getElementById("field-reporter"));
  check(values.risk !== "", "wrapup.risk", form.elements.risk);
  check(values.followup !== "", "wrapup.followup", form.elements.followup);

  if (needsDetails(values.followup)) {
    values.due_date = form.elements.due_date.value;
    values.district = form.elements.district.value.trim();
    check(values.due_date !== "", "wrapup.due_date", form.elements.due_date);
    check(values.district !== "", "wrapup.district", form.elements.district);
  }
  return { values, missing };
}

// Returns today's date in the browser's time zone as YYYY-MM-DD, the form
// of a date input's value.
function todayISO() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

// Reports whether a due date was given and lies before today. Dates in
// YYYY-MM-DD compare as strings.
function dueInPast(values) {
  return Boolean(values.due_date) && values.due_date < todayISO();
}

// Lists the missing fields in #wrapup-error, or clears it when none is
// missing.
function showMissing(missing) {
  missingShown = missing.length > 0;
  document.getElementById("wrapup-error").textContent = missingShown
    ? t("wrapup.missing", { fields: missing.map((m) => m.label).join(", ") })
    : "";
}

async function submitWrapUp() {
  const form = document.getElementById("wrapup-form");
  const error = document.getElementById("wrapup-error");
  const { values, missing } = readWrapUp(form);
  showMissing(missing);
  if (missing.length > 0) {
    const first = missing[0].node;
    (first.querySelector?.("input") ?? first).focus();
    return;
  }
  if (dueInPast(values)) {
    form.elements.due_date.setAttribute("aria-invalid", "true");
    error.textContent = t("wrapup.due_past");
    form.elements.due_date.focus();
    return;
  }

  const callId = formCallId;
  const submit = document.getElementById("wrapup-submit");
  submit.disabled = true;
  error.textContent = "";
  try {
    await api("POST", `/api/v1/calls/${encodeURIComponent(callId)}/wrap-up`, values);
    markSaved(callId);
    // The notice stays until the next message.
    notify(t("wrapup.saved"), false);
  } catch (failure) {
    error.textContent = failure.message;
    // 409: the wrap-up was saved elsewhere, so the draft is of no use.
    if (failure.status === 409) markSaved(callId);
  } finally {
    submit.disabled = false;
  }
}

// Drops the draft of a saved wrap-up. The form of the current call shows
// the confirmation until the call leaves the console, which saving makes
// happen at once by ending the wrap-up time. The form of an earlier call
// closes at once.
function markSaved(callId) {
  savedCallIds.add(callId);
  clearDraft(callId);
  const current = snapshot?.call;
  const isCurrent = current && current.call_id === callId && (current.phase === "on_call" || current.phase === "wrap_up");
  if (callId === formCallId && !isCurrent) {
    closeWrapUp();
  } else {
    drawWrapUp();
  }
  drawPending();
  loadPending();
}

// Shows the emergency box during a call. Without an outbound route the
// button is disabled with an explanation, so that a counselor learns it
// before a crisis and not during one. The targets come from the server.
function renderEmergency(call, emergency) {
  const box = document.getElementById("emergency");
  const available = Boolean(emergency?.available);
  box.hidden = call?.phase !== "on_call";
  document.getElementById("btn-emergency").disabled = !available;
  document.getElementById("emergency-target").disabled = !available;
  document.getElementById("emergency-unavailable").hidden = available;

  const targets = emergency?.targets ?? [];
  if (targets.join(",") !== emergencyTargets.join(",")) {
    emergencyTargets = targets;
    drawTargets();
  }
}

// The targets the select shows, from the last snapshot.
let emergencyTargets = [];

function drawTargets() {
  const select = document.getElementById("emergency-target");
  const chosen = select.value;
  select.replaceChildren(...emergencyTargets.map((target) => el("option", { value: target }, tv("console.target", target))));
  if (emergencyTargets.includes(chosen)) select.value = chosen;
}

// Calls the chosen service into the connected call after a confirmation.
function bindEmergency() {
  const button = document.getElementById("btn-emergency");
  const select = document.getElementById("emergency-target");
  onLangChange(drawTargets);

  button.addEventListener("click", async () => {
    const call = snapshot?.call;
    if (call?.phase !== "on_call" || !snapshot?.emergency?.available) return;
    const target = select.value;
    if (!target) return;
    const label = tv("console.target", target);
    if (!(await confirmAction(t("console.emergency"), t("console.ask_emergency", { target: label })))) return;
    await requestEmergency(call.call_id, target);
  });

  // Trying again needs no confirmation: the counselor confirmed this
  // target already, and every second counts.
  document.getElementById("btn-emergency-retry").addEventListener("click", async (event) => {
    const callId = snapshot?.call?.call_id;
    const target = event.currentTarget.dataset.target;
    if (snapshot?.call?.phase !== "on_call" || !callId || !target) return;
    await requestEmergency(callId, target);
  });
}

// Asks the server to call target into the call. A request that fails
// shows the failure banner, because the counselor must then call the
// service directly.
async function requestEmergency(callId, target) {
  const label = tv("console.target", target);
  try {
    await api("POST", `/api/v1/calls/${encodeURIComponent(callId)}/emergency`, { target });
  } catch (error) {
    notify(error, true);
    // A request that never reached the server, or that it failed to
    // handle, leaves the caller without help. Other statuses mean that
    // the request was wrong (another call, a target already being called).
    if (error.status === 0 || error.status >= 500) {
      requestFailure = { callId, target, reason: error.detail || error.message, seenKey: emergencyKey(snapshot?.emergency?.call) };
      renderEmergencyStatus(snapshot?.call, snapshot?.emergency);
    }
    return;
  }
  requestFailure = null;
  notify(t("console.done_emergency", { target: label }), false);
}

// Returns a key that changes whenever the server's emergency state does.
function emergencyKey(state) {
  return state ? `${state.target}|${state.status}|${state.at}` : "";
}

// Shows the state of the call's emergency call under the header until
// the call ends: calling with the time since, joined, left, or failed in
// red with the reason, the advice to call directly and a retry button.
// A new attempt after a failure (status calling with a reason) stays red
// until the service answers. The banner never fades, unlike #notice.
function renderEmergencyStatus(call, emergency) {
  const box = document.getElementById("emergency-status");
  const onCall = call?.phase === "on_call";
  const state = onCall ? shownEmergency(call.call_id, emergency?.call) : null;
  if (!state) {
    box.hidden = true;
    delete box.dataset.status;
    return;
  }

  const failed = state.status === "failed";
  const shownStatus = state.status === "calling" && state.reasonText ? "retrying" : state.status;
  if (box.dataset.status !== shownStatus) {
    box.setAttribute("role", failed || shownStatus === "retrying" ? "alert" : "status");
    box.dataset.status = shownStatus;
  }
  box.dataset.target = state.target;
  document.getElementById("emergency-status-text").replaceChildren(...emergencyStatusText(state));
  const retry = document.getElementById("btn-emergency-retry");
  retry.hidden = !failed || !emergency?.available;
  retry.dataset.target = state.target;
  box.hidden = false;
}

// Returns the emergency state to show for callId: the server's, unless a
// request failed since the server's last change.
function shownEmergency(callId, serverState) {
  if (requestFailure && (requestFailure.callId !== callId || requestFailure.seenKey !== emergencyKey(serverState))) {
    requestFailure = null;
  }
  if (requestFailure) {
    return { target: requestFailure.target, status: "failed", reasonText: requestFailure.reason };
  }
  if (!serverState?.status) return null;
  return { ...serverState, reasonText: emergencyReason(serverState.reason, serverState.sip_status) };
}

function emergencyStatusText(state) {
  const target = state.target;
  const since = () => el("span", { class: "hl-tick", "data-since": state.at }, formatDuration(clock.secondsSince(state.at)));
  switch (state.status) {
    case "calling":
      if (state.reasonText) {
        return [t("console.emergency_failed", { target, reason: state.reasonText }), el("br"),
          t("console.emergency_retrying", { target }), " ", since()];
      }
      return [t("console.emergency_calling", { target }), " ", since()];
    case "joined":
      return [t("console.emergency_joined", { target })];
    case "left":
      return [t("console.emergency_left", { target })];
    default:
      return [t("console.emergency_failed", { target, reason: state.reasonText || "–" })];
  }
}

// Asks before the tab closes or reloads while the wrap-up form contains
// typed input that is not saved. The draft survives a reload in
// sessionStorage, but not a closed tab.
function warnBeforeLeaving() {
  window.addEventListener("beforeunload", (event) => {
    if (!formHasUnsavedInput()) return;
    event.preventDefault();
    // Older browsers show the prompt only when returnValue is set.
    event.returnValue = "";
  });
}
