// Follow-up list: tasks from wrap-ups, callback requests and interrupted
// calls, live from GET /api/v1/followups/stream, with filters, owner,
// notes, closing, number reveal and CSV export.

import {
  t, tv, el, api, act, notify, loadSession, currentSession, initHeader, onLangChange, openStream, lang,
  formatDateTime, askText,
} from "/static/app.js";

const FILTERS = ["state", "kind", "district", "risk"];
const EXPORT_ROLES = ["followup", "supervisor", "admin"];
const MAX_OUTCOME = 200;
const MAX_NOTE = 1000;
// How long a revealed number stays on screen before it is masked again.
const REVEAL_MS = 60 * 1000;

let rows = [];
// Numbers revealed on this page, by task id, with the timer that hides
// each again after REVEAL_MS.
const revealed = new Map();
// Every district seen, so the district filter keeps its choices while a
// filter narrows the list.
const districts = new Set();
// closeStream ends the stream of the current filters. streamGeneration
// numbers the streams, so that data from an older stream is dropped.
let closeStream = null;
let streamGeneration = 0;

main();

async function main() {
  try {
    await loadSession();
  } catch (error) {
    notify(error.message, true);
    return;
  }
  initHeader("followups");

  const session = currentSession();
  document.getElementById("export-csv-numbers").hidden = !EXPORT_ROLES.includes(session.role);

  document.getElementById("filters").addEventListener("change", () => {
    follow();
    updateExportLinks();
  });
  document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("refresh").addEventListener("click", load);
  onLangChange(() => {
    drawDistricts();
    draw();
    updateExportLinks();
  });
  updateExportLinks();
  follow();
}

function filterQuery() {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    query.set(name, document.getElementById(`f-${name}`).value);
  }
  return query;
}

// Opens the stream of the current filters, and closes the one before.
function follow() {
  if (closeStream) closeStream();
  streamGeneration += 1;
  const generation = streamGeneration;
  closeStream = openStream(`/api/v1/followups/stream?${filterQuery()}`, "followups", (data) => {
    if (generation === streamGeneration) show(data.followups ?? []);
  });
}

// Reads the list once, right after a change made on this page, so that it
// shows before the stream's next update.
// It leaves the notice alone on success, so that the error of the change
// just made stays on screen.
async function load() {
  try {
    const data = await api("GET", `/api/v1/followups?${filterQuery()}`);
    show(data.followups ?? []);
  } catch (error) {
    notify(error, true);
  }
}

function show(list) {
  rows = list;
  for (const row of rows) {
    if (row.district) districts.add(row.district);
  }
  drawDistricts();
  draw();
}

// Points the export links at the current filters and the page's language,
// so that a download contains the rows the list shows, with Korean
// headers on the Korean page.
function updateExportLinks() {
  for (const [id, reveal] of [["export-csv", "0"], ["export-csv-numbers", "1"]]) {
    const query = filterQuery();
    query.set("reveal", reveal);
    query.set("lang", lang());
    document.getElementById(id).href = `/api/v1/followups/export.csv?${query}`;
  }
}

function drawDistricts() {
  const select = document.getElementById("f-district");
  const chosen = select.value;
  const names = [...districts].sort((a, b) => a.localeCompare(b, "ko"));
  select.replaceChildren(
    el("option", { value: "" }, t("followups.all")),
    ...names.map((name) => el("option", { value: name }, name)),
  );
  select.value = chosen;
}

function draw() {
  const focus = rememberFocus();
  const body = document.querySelector("#followups-table tbody");
  body.replaceChildren(...rows.map(drawRow));
  document.getElementById("followups-empty").hidden = rows.length > 0;
  document.getElementById("followups-count").textContent = t("followups.count", { count: rows.length });
  restoreFocus(focus);
}

function drawRow(f) {
  const today = new Date().toISOString().slice(0, 10);
  const open = f.state === "open";
  const overdue = open && f.due_date && f.due_date < today;
  const high = f.risk === "high" || f.risk === "imminent";

  const kind = el("td", {},
    el("div", {}, tv("followup", f.kind)),
    el("div", { class: "hl-muted" }, tv("origin", f.origin), " · ", tv("fstate", f.state)),
    f.outcome ? el("div", { class: "hl-muted followup-outcome" }, tv("outcome", f.outcome)) : null,
    f.notes ? el("div", { class: "followup-notes" }, f.notes) : null,
    el("div", { class: "hl-muted" }, t("followups.created", { time: formatDateTime(f.created_at) })),
  );

  // A closed task cannot change, so it offers no change.
  const shown = revealed.get(f.id);
  const actions = el("div", { class: "hl-actions" },
    open ? button("assign", t("act.assign"), () => assign(f)) : null,
    open ? button("note", t("act.note"), () => addNote(f)) : null,
    open ? button("close", t("act.close"), () => closeTask(f)) : null,
    shown ? button("hide", t("act.hide"), () => hide(f.id)) : button("reveal", t("act.reveal"), () => reveal(f)),
  );

  return el("tr", { class: "followup-row", "data-id": f.id, "data-key": f.id, "data-risk": f.risk, "data-kind": f.kind, "data-state": f.state },
    el("td", {}, el("span", { class: high ? "hl-badge hl-badge-risk" : "hl-badge" }, tv("risk", f.risk))),
    kind,
    el("td", {}, f.district || "–"),
    el("td", {}, el("span", { class: "hl-tick" }, f.due_date || "–"),
      overdue ? el("div", {}, el("span", { class: "hl-badge hl-badge-warn" }, t("followups.overdue"))) : null),
    el("td", {}, f.owner || el("span", { class: "hl-muted" }, t("followups.unassigned"))),
    el("td", {}, el("span", { class: "number" }, shown?.number ?? f.number ?? "–")),
    el("td", {}, actions),
  );
}

function button(action, label, onclick) {
  return el("button", { type: "button", class: "hl-btn hl-btn-small hl-btn-secondary", "data-action": action, onclick }, label);
}

function taskPath(f, action) {
  return `/api/v1/followups/${encodeURIComponent(f.id)}/${action}`;
}

async function assign(f) {
  const owner = await askText(t("ask.assign_title"), t("ask.assign_label"), { value: f.owner ?? "", required: true, maxLength: 64 });
  if (owner === null) return;
  await act(() => api("POST", taskPath(f, "assign"), { owner }), t("done.assign"));
  await load();
}

async function addNote(f) {
  const note = await askText(t("ask.note_title"), t("ask.note_label"), { required: true, maxLength: MAX_NOTE });
  if (note === null) return;
  await act(() => api("POST", taskPath(f, "notes"), { note }), t("done.note"));
  await load();
}

async function closeTask(f) {
  const outcome = await askText(t("ask.close_title"), t("ask.close_label"), { required: true, maxLength: MAX_OUTCOME });
  if (outcome === null) return;
  await act(() => api("POST", taskPath(f, "close"), { outcome }), t("done.close"));
  await load();
}

// Shows the full number of f, grouped like the masked one (the server's
// "formatted"), until "Hide" or REVEAL_MS, whichever comes first.
async function reveal(f) {
  const data = await act(() => api("POST", taskPath(f, "reveal")));
  if (!data?.number) return;
  hide(f.id, false);
  const timer = setTimeout(() => hide(f.id), REVEAL_MS);
  revealed.set(f.id, { number: data.formatted || data.number, timer });
  draw();
}

function hide(id, redraw = true) {
  const shown = revealed.get(id);
  if (!shown) return;
  clearTimeout(shown.timer);
  revealed.delete(id);
  if (redraw) draw();
}

// rememberFocus and restoreFocus keep keyboard focus on the same action
// button across a redraw, which replaces the rows on every update.
function rememberFocus() {
  const active = document.activeElement;
  const row = active?.closest?.("[data-key]");
  if (!row || !active.dataset.action) return null;
  return { key: row.dataset.key, action: active.dataset.action };
}

function restoreFocus(focus) {
  if (!focus) return;
  const row = document.querySelector(`.followup-row[data-key="${CSS.escape(focus.key)}"]`);
  const target = row?.querySelector(`[data-action="${focus.action}"]`)
    ?? row?.querySelector(`[data-action="${focus.action === "hide" ? "reveal" : "hide"}"]`);
  target?.focus();
}
