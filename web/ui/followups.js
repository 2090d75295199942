// Follow-up list: tasks from wrap-ups, callback requests and interrupted
// calls, with filters, owner, notes, closing, number reveal and CSV export.

import {
  t, tv, el, api, act, notify, loadSession, currentSession, initHeader, onLangChange,
  formatDateTime, askText,
} from "/static/app.js";

const FILTERS = ["state", "kind", "district", "risk"];
const EXPORT_ROLES = ["followup", "supervisor", "admin"];
const MAX_OUTCOME = 200;
const MAX_NOTE = 1000;

let rows = [];
// Numbers revealed on this page, by task id; they stay until a reload.
const revealed = new Map();
// Every district seen, so the district filter keeps its choices while a
// filter narrows the list.
const districts = new Set();

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

  document.getElementById("filters").addEventListener("change", load);
  document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("refresh").addEventListener("click", load);
  onLangChange(() => {
    drawDistricts();
    draw();
  });
  await load();
}

function filterQuery() {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    query.set(name, document.getElementById(`f-${name}`).value);
  }
  return query.toString();
}

async function load() {
  const data = await act(() => api("GET", `/api/v1/followups?${filterQuery()}`));
  if (!data) return;
  rows = data.followups ?? [];
  for (const row of rows) {
    if (row.district) districts.add(row.district);
  }
  drawDistricts();
  draw();
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
  const body = document.querySelector("#followups-table tbody");
  body.replaceChildren(...rows.map(drawRow));
  document.getElementById("followups-empty").hidden = rows.length > 0;
  document.getElementById("followups-count").textContent = t("followups.count", { count: rows.length });
}

function drawRow(f) {
  const today = new Date().toISOString().slice(0, 10);
  const overdue = f.state === "open" && f.due_date && f.due_date < today;
  const high = f.risk === "high" || f.risk === "imminent";

  const kind = el("td", {},
    el("div", {}, tv("followup", f.kind)),
    el("div", { class: "hl-muted" }, tv("origin", f.origin), " · ", tv("fstate", f.state)),
    f.outcome ? el("div", { class: "hl-muted" }, f.outcome) : null,
    f.notes ? el("div", { class: "followup-notes" }, f.notes) : null,
    el("div", { class: "hl-muted" }, t("followups.created", { time: formatDateTime(f.created_at) })),
  );

  const actions = el("div", { class: "hl-actions" },
    button("assign", t("act.assign"), () => assign(f)),
    button("note", t("act.note"), () => addNote(f)),
    f.state === "open" ? button("close", t("act.close"), () => closeTask(f)) : null,
    revealed.has(f.id) ? null : button("reveal", t("act.reveal"), () => reveal(f)),
  );

  return el("tr", { class: "followup-row", "data-id": f.id, "data-risk": f.risk, "data-kind": f.kind },
    el("td", {}, el("span", { class: high ? "hl-badge hl-badge-risk" : "hl-badge" }, tv("risk", f.risk))),
    kind,
    el("td", {}, f.district || "–"),
    el("td", {}, el("span", { class: "hl-tick" }, f.due_date || "–"),
      overdue ? el("div", {}, el("span", { class: "hl-badge hl-badge-warn" }, t("followups.overdue"))) : null),
    el("td", {}, f.owner || el("span", { class: "hl-muted" }, t("followups.unassigned"))),
    el("td", {}, el("span", { class: "number" }, revealed.get(f.id) ?? f.number ?? "–")),
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

async function reveal(f) {
  const data = await act(() => api("POST", taskPath(f, "reveal")));
  if (!data?.number) return;
  revealed.set(f.id, data.number);
  draw();
}
