// Counselor console: the counselor's state and its buttons, the screen pop
// of the offered or connected call with the caller's history, the wrap-up
// form and the emergency button, live from GET /api/v1/console/stream.

import {
  t, tv, el, api, act, notify, loadSession, currentSession, initHeader, onLangChange, openStream,
  ServerClock, formatDuration, formatDateTime, formatClock, tick, confirmAction,
} from "/static/app.js";

const TICK_MS = 1000;

const clock = new ServerClock();
let counselorId = "";
let snapshot = null;
// The call whose history is shown and whose wrap-up the form is for.
let historyCallId = "";
let history = null;
let formCallId = "";
let savedCallId = "";
// Whether #wrapup-error lists missing fields, so that filling them in
// shortens the list instead of leaving a stale message.
let missingShown = false;

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

  bindStateButtons();
  bindWrapUpForm();
  bindEmergency();
  onLangChange(render);

  const query = session.role === "counselor" ? "" : `?counselor=${encodeURIComponent(counselorId)}`;
  openStream(`/api/v1/console/stream${query}`, "console", (data) => {
    snapshot = data;
    clock.sync(data.at ?? new Date().toISOString());
    render();
  });
  setInterval(() => tick(document.getElementById("console"), clock), TICK_MS);
}

function render() {
  if (!snapshot) return;
  renderState(snapshot.counselor ?? {});
  renderCall(snapshot.call);
  tick(document.getElementById("console"), clock);
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
  if (c.reason) notes.push(c.reason);
  if (c.wrap_up_until) notes.push(t("console.wrapup_until", { time: formatClock(c.wrap_up_until) }));
  document.getElementById("state-note").textContent = notes.join(" · ");

  const login = document.getElementById("btn-login");
  login.textContent = c.state === "break" ? t("console.resume") : t("console.login");
  login.disabled = !(c.state === "logged_out" || c.state === "break");
  document.getElementById("btn-break").disabled = !(c.state === "available" || c.state === "wrap_up");
  document.getElementById("btn-end-wrapup").disabled = c.state !== "wrap_up";
  document.getElementById("btn-logout").disabled = c.state === "logged_out" || !c.state;
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
  document.getElementById("btn-end-wrapup").addEventListener("click", () =>
    act(() => api("POST", `${path()}/wrap-up/end`)));
}

function renderCall(call) {
  const pop = document.getElementById("screen-pop");
  const body = document.getElementById("pop-body");
  pop.classList.toggle("pop-risk", Boolean(call?.high_risk));
  pop.dataset.phase = call?.phase ?? "";
  pop.dataset.callId = call?.call_id ?? "";

  if (!call) {
    body.replaceChildren(el("p", { class: "hl-empty" }, t("console.no_call")));
  } else {
    body.replaceChildren(screenPop(call));
  }
  document.getElementById("emergency").hidden = call?.phase !== "on_call";

  updateHistory(call);
  updateWrapUp(call);
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
      row("console.queue", call.queue || "–"),
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

function drawHistory() {
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

// Shows the wrap-up form for a connected call or a call in wrap-up whose
// wrap-up is not saved yet, and clears it when the call changes.
function updateWrapUp(call) {
  const section = document.getElementById("wrapup");
  const id = call && (call.phase === "on_call" || call.phase === "wrap_up") ? call.call_id : "";
  const saved = Boolean(call?.wrap_up_saved) || (id !== "" && id === savedCallId);

  if (id !== formCallId) {
    formCallId = id;
    resetWrapUpForm();
  }
  section.hidden = id === "";
  document.getElementById("wrapup-form").hidden = saved;
  document.getElementById("wrapup-saved").hidden = !saved;
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

function bindWrapUpForm() {
  const form = document.getElementById("wrapup-form");
  form.addEventListener("change", (event) => {
    if (event.target.name === "isolation_item") drawScore();
    if (event.target.name === "followup") showFollowUpDetails();
    if (missingShown) showMissing(readWrapUp(form).missing);
  });
  form.addEventListener("input", () => {
    if (missingShown) showMissing(readWrapUp(form).missing);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitWrapUp();
  });
  onLangChange(drawScore);
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

  const callId = formCallId;
  const submit = document.getElementById("wrapup-submit");
  submit.disabled = true;
  error.textContent = "";
  try {
    await api("POST", `/api/v1/calls/${encodeURIComponent(callId)}/wrap-up`, values);
    savedCallId = callId;
    updateWrapUp(snapshot?.call);
    // Saving ends the wrap-up, so the next update hides the form and its
    // confirmation. The notice stays until the next message.
    notify(t("wrapup.saved"), false);
  } catch (failure) {
    error.textContent = failure.message;
  } finally {
    submit.disabled = false;
  }
}

// Fills the target select from the button's data-targets and calls the
// chosen service into the connected call after a confirmation.
function bindEmergency() {
  const button = document.getElementById("btn-emergency");
  const select = document.getElementById("emergency-target");
  const targets = (button.dataset.targets || "119").split(",").map((s) => s.trim()).filter(Boolean);
  const drawTargets = () => {
    const chosen = select.value;
    select.replaceChildren(...targets.map((target) => el("option", { value: target }, tv("console.target", target))));
    if (chosen) select.value = chosen;
  };
  drawTargets();
  onLangChange(drawTargets);

  button.addEventListener("click", async () => {
    const call = snapshot?.call;
    if (call?.phase !== "on_call") return;
    const target = select.value;
    const label = tv("console.target", target);
    if (!(await confirmAction(t("console.emergency"), t("console.ask_emergency", { target: label })))) return;
    await act(() => api("POST", `/api/v1/calls/${encodeURIComponent(call.call_id)}/emergency`, { target }),
      t("console.done_emergency", { target: label }));
  });
}
