// Supervisor board: queues, counselors, today's figures, alerts and a chart
// of the day, live from GET /api/v1/board/stream.

import {
  t, tv, el, api, act, notify, loadSession, initHeader, onLangChange, openStream, lang,
  ServerClock, formatDuration, formatPercent, formatClock, tick, askText, confirmAction, emergencyReason,
} from "/static/app.js";

// localStorage key of the supervisor's own SIP id, asked once for listening.
const SUPERVISOR_KEY = "hl_supervisor_sip";
const TICK_MS = 1000;

// Chart geometry in CSS pixels. The width follows the chart's box, so
// the text keeps its size at every screen width.
const CHART = { minWidth: 320, height: 240, left: 40, right: 48, top: 14, bottom: 30 };

const clock = new ServerClock();
let snapshot = null;
let alertsKey = "";

main();

async function main() {
  try {
    await loadSession();
  } catch (error) {
    notify(error.message, true);
    return;
  }
  initHeader("board");
  onLangChange(() => {
    alertsKey = "";
    render();
  });
  openStream("/api/v1/board/stream", "board", (data) => {
    snapshot = data;
    clock.sync(data.at);
    render();
  });
  setInterval(() => tick(document.getElementById("board"), clock), TICK_MS);
  redrawChartOnResize();
}

// Redraws the chart when its box changes width, as when the window is
// resized or the tablet is turned.
function redrawChartOnResize() {
  const box = document.getElementById("chart");
  let drawnWidth = chartWidth(box);
  new ResizeObserver(() => {
    const width = chartWidth(box);
    if (width === drawnWidth || !snapshot) return;
    drawnWidth = width;
    renderChart(snapshot.series ?? []);
  }).observe(box);
}

function render() {
  if (!snapshot) return;
  const focus = rememberFocus();

  renderAlerts(snapshot.alerts ?? []);
  renderFigures("figures-today", snapshot.today);
  renderFigures("figures-hour", snapshot.last_hour);
  renderQueues(snapshot.queues ?? []);
  renderCounselors(snapshot.counselors ?? []);
  renderChart(snapshot.series ?? []);
  document.getElementById("updated").textContent = t("board.updated", { time: formatClock(snapshot.at) });
  tick(document.getElementById("board"), clock);

  restoreFocus(focus);
}

// The alerts box is a live region, so it is redrawn only when the set of
// alerts changes. Otherwise screen readers would repeat it every update.
function renderAlerts(alerts) {
  const key = JSON.stringify(alerts.map((a) => [a.kind, a.queue, a.call_id, a.counselor, a.target, a.reason, a.since]));
  if (key === alertsKey) return;
  alertsKey = key;

  const box = document.getElementById("alerts");
  box.replaceChildren(...alerts.map((alert) => {
    const text = t(`alert.${alert.kind}`, {
      queue: queueLabel(alert.queue),
      counselor: alert.counselor ?? "",
      since: formatClock(alert.since),
      target: alert.target ?? "",
      reason: emergencyReason(alert.reason),
      kind: alert.kind,
    });
    const warn = alert.kind === "missed_pause";
    return el("p", { class: warn ? "alert alert-warn" : "alert", "data-kind": alert.kind, "data-call-id": alert.call_id }, text);
  }));
}

// Returns the display name of the queue named name in the page's
// language, from label_ko or label_en of the snapshot, or name itself.
function queueLabel(name) {
  if (!name) return "";
  const queue = (snapshot?.queues ?? []).find((q) => q.name === name);
  return queue?.[`label_${lang()}`] || name;
}

const FIGURES = ["offered", "answered", "abandoned", "abandon_rate", "service_level", "asa_s", "aht_s", "callbacks_pending"];

function renderFigures(id, figures) {
  const list = document.getElementById(id);
  if (!figures) {
    list.replaceChildren();
    return;
  }
  list.replaceChildren(...FIGURES.map((name) => el("div", { class: "figure", "data-figure": name },
    el("dt", {}, t(`fig.${name}`, { s: snapshot.service_level_s ?? "" })),
    el("dd", {}, formatFigure(name, figures[name])),
  )));
}

function formatFigure(name, value) {
  if (value === undefined || value === null) return "–";
  if (name === "abandon_rate" || name === "service_level") return formatPercent(value);
  if (name === "asa_s" || name === "aht_s") return formatDuration(value);
  return String(value);
}

function renderQueues(queues) {
  const box = document.getElementById("queues");
  box.replaceChildren(...queues.map(renderQueue));
}

function renderQueue(queue) {
  const waiting = queue.waiting ?? [];
  const oldest = waiting.reduce((min, w) => (!min || w.enqueued_at < min ? w.enqueued_at : min), "");
  const longest = oldest
    ? el("span", { class: "hl-tick", "data-since": oldest }, formatDuration(clock.secondsSince(oldest)))
    : el("span", { class: "hl-tick" }, formatDuration(queue.longest_wait_s ?? 0));

  const head = el("div", { class: "queue-head" },
    el("h3", {}, queueLabel(queue.name)),
    el("span", {}, t("board.queue_waiting", { count: waiting.length }), " · ",
      t("board.longest"), " ", longest),
  );

  if (waiting.length === 0) {
    return el("section", { class: "queue hl-card", "data-queue": queue.name }, head, el("p", { class: "hl-empty" }, t("board.no_waiting")));
  }

  const table = el("table", { class: "hl-table" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("board.col_number")),
      el("th", { scope: "col", class: "num" }, t("board.col_wait")),
      el("th", { scope: "col" }, t("board.col_type")),
      el("th", { scope: "col" }, t("board.col_actions")),
    )),
    el("tbody", {}, waiting.map(renderWaiting)),
  );
  return el("section", { class: "queue hl-card", "data-queue": queue.name }, head, table);
}

function renderWaiting(caller) {
  const waitedLong = snapshot.wait_alert_s > 0 && clock.secondsSince(caller.enqueued_at) >= snapshot.wait_alert_s;
  const classes = ["waiting-row", caller.high_risk ? "is-risk" : "", waitedLong ? "is-long" : ""].filter(Boolean).join(" ");

  const badges = el("div", { class: "hl-actions" },
    caller.high_risk ? el("span", { class: "hl-badge hl-badge-risk" }, t("badge.high_risk")) : null,
    el("span", { class: "hl-badge" }, tv("kind", caller.kind || "call")),
    caller.language ? el("span", { class: "hl-badge" }, tv("lang", caller.language)) : null,
    caller.caller_type ? el("span", { class: "hl-badge" }, tv("caller", caller.caller_type)) : null,
  );
  const offered = caller.offered_to ? el("div", { class: "hl-muted" }, t("board.offered_to", { id: caller.offered_to })) : null;

  const actions = el("div", { class: "hl-actions" });
  if (caller.kind === "callback") {
    actions.append(actionButton("cancel-callback", t("act.cancel_callback"), () => cancelCallback(caller), true));
  } else if (!caller.high_risk) {
    actions.append(actionButton("priority", t("act.priority"), () => raisePriority(caller), true));
  }

  return el("tr", { class: classes, "data-call-id": caller.call_id, "data-key": caller.call_id },
    el("td", {}, el("span", { class: "number" }, caller.number || "–"), offered),
    el("td", { class: "num" }, el("span", { class: "hl-tick", "data-since": caller.enqueued_at }, formatDuration(caller.waited_s))),
    el("td", {}, badges),
    el("td", {}, actions),
  );
}

function renderCounselors(counselors) {
  const body = document.querySelector("#counselors tbody");
  body.replaceChildren(...counselors.map(renderCounselor));
}

function renderCounselor(c) {
  const state = el("div", {},
    el("span", { class: `state state-${c.state}` }, tv("state", c.state)),
    c.reason ? el("span", { class: "hl-muted" }, ` (${c.reason})`) : null,
  );
  const badges = el("div", { class: "hl-actions" },
    c.registered === false ? el("span", { class: "hl-badge hl-badge-warn" }, t("board.not_registered")) : null,
    c.missed_pause ? el("span", { class: "hl-badge hl-badge-warn" }, t("board.missed")) : null,
    emergencyBadge(c.emergency),
  );
  const callLength = c.call_started_at
    ? el("span", { class: "hl-tick", "data-since": c.call_started_at }, formatDuration(clock.secondsSince(c.call_started_at)))
    : "–";

  const actions = el("div", { class: "hl-actions" });
  if (c.state === "break") {
    actions.append(actionButton("resume", t("act.resume"), () => setState(c, "available", "", t("done.resume"))));
  } else if (c.state === "available" || c.state === "wrap_up") {
    actions.append(actionButton("pause", t("act.pause"), () => pause(c)));
  }
  if (c.state === "on_call" && c.call_id) {
    actions.append(actionButton("listen", t("act.listen"), () => listen(c)));
  }

  return el("tr", { class: "counselor-row", "data-counselor": c.id, "data-key": c.id },
    el("td", {}, el("div", {}, c.name || c.id), el("div", { class: "hl-muted" }, c.id), badges),
    el("td", {}, state),
    el("td", { class: "num" }, el("span", { class: "hl-tick", "data-since": c.since }, formatDuration(clock.secondsSince(c.since)))),
    el("td", { class: "num" }, String(c.calls_today ?? 0)),
    el("td", { class: "num" }, callLength),
    el("td", {}, actions),
  );
}

// Returns the badge of a counselor whose call has an emergency service
// being called or on the call, or null. A failed call raises an alert
// instead.
function emergencyBadge(emergency) {
  const status = emergency?.status;
  if (status !== "calling" && status !== "joined") return null;
  return el("span", { class: "hl-badge hl-badge-risk emergency-badge", "data-status": status },
    t(`board.emergency_${status}`, { target: emergency.target }));
}

function actionButton(action, label, onclick, danger = false) {
  const classes = danger ? "hl-btn hl-btn-small hl-btn-danger" : "hl-btn hl-btn-small hl-btn-secondary";
  return el("button", { type: "button", class: classes, "data-action": action, onclick }, label);
}

async function pause(c) {
  const reason = await askText(t("ask.pause_title", { name: c.name || c.id }), t("ask.pause_label"), { maxLength: 200 });
  if (reason === null) return;
  await setState(c, "break", reason, t("done.pause"));
}

function setState(c, state, reason, done) {
  const body = state === "break" ? { state, reason } : { state };
  return act(() => api("POST", `/api/v1/counselors/${encodeURIComponent(c.id)}/state`, body), done);
}

async function raisePriority(caller) {
  if (!(await confirmAction(t("act.priority"), t("ask.priority", { number: caller.number })))) return;
  await act(() => api("POST", `/api/v1/calls/${encodeURIComponent(caller.call_id)}/priority`, { priority: "high_risk" }), t("done.priority"));
}

async function cancelCallback(caller) {
  const labels = { okLabel: t("ask.cancel_callback_ok"), cancelLabel: t("dialog.close") };
  if (!(await confirmAction(t("act.cancel_callback"), t("ask.cancel_callback", { number: caller.number }), labels))) return;
  await act(() => api("POST", `/api/v1/callbacks/${encodeURIComponent(caller.call_id)}/cancel`), t("done.cancel_callback"));
}

// Listens to the counselor's call from the supervisor's own phone. The
// supervisor's SIP id is requested once and kept in localStorage. A 403 or
// 422 (not a supervisor, missing id) removes it, so the next try requests
// it again.
async function listen(c) {
  let supervisor = localStorage.getItem(SUPERVISOR_KEY);
  if (!supervisor) {
    supervisor = await askText(t("ask.supervisor_title"), t("ask.supervisor_label"), { required: true, maxLength: 64 });
    if (!supervisor) return;
    localStorage.setItem(SUPERVISOR_KEY, supervisor);
  }
  try {
    await api("POST", `/api/v1/calls/${encodeURIComponent(c.call_id)}/monitor`, { supervisor, mode: "listen" });
    notify(t("done.listen", { id: supervisor }), false);
  } catch (error) {
    if (error.status === 403 || error.status === 422) localStorage.removeItem(SUPERVISOR_KEY);
    notify(error.message, true);
  }
}

// Draws series as an inline SVG: waiting callers (left axis) and service
// level in percent (right axis), one point per 15-minute bucket.
function renderChart(series) {
  const box = document.getElementById("chart");
  if (series.length === 0) {
    box.replaceChildren(el("p", { class: "hl-empty" }, t("board.chart_empty")));
    return;
  }

  const { height, left, right, top, bottom } = CHART;
  const width = chartWidth(box);
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const times = series.map((p) => Date.parse(p.at));
  const first = Math.min(...times);
  const span = Math.max(...times) - first;
  const maxWaiting = Math.max(1, ...series.map((p) => p.waiting ?? 0));
  const x = (at) => left + (span === 0 ? plotW / 2 : ((at - first) / span) * plotW);
  const yWaiting = (n) => top + plotH - (n / maxWaiting) * plotH;
  const ySL = (fraction) => top + plotH - Math.min(1, Math.max(0, fraction)) * plotH;

  const last = series[series.length - 1];
  const svg = el("svg", {
    svg: true,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": t("board.chart_label", { waiting: last.waiting ?? 0, sl: formatPercent(last.service_level) }),
  });

  svg.append(...chartAxes({ width, first, span, maxWaiting, plotW, plotH }));

  const waitingPoints = series.map((p, i) => [x(times[i]), yWaiting(p.waiting ?? 0)]);
  const slPoints = series.filter((p) => p.service_level !== null && p.service_level !== undefined)
    .map((p) => [x(Date.parse(p.at)), ySL(p.service_level)]);
  svg.append(
    polyline(waitingPoints, "#1f5fa8", "line-waiting"),
    polyline(slPoints, "#1e8a4a", "line-sl"),
  );
  series.forEach((p, i) => {
    const title = `${formatClock(p.at, false)} · ${t("board.legend_waiting")} ${p.waiting ?? 0} · ${t("board.legend_sl")} ${formatPercent(p.service_level)}`;
    svg.append(el("circle", { svg: true, class: "point point-waiting", cx: waitingPoints[i][0], cy: waitingPoints[i][1], r: 3.5, fill: "#1f5fa8" },
      el("title", { svg: true }, title)));
  });
  for (const [cx, cy] of slPoints) {
    svg.append(el("circle", { svg: true, class: "point point-sl", cx, cy, r: 3, fill: "#1e8a4a" }));
  }
  box.replaceChildren(svg);
}

function chartWidth(box) {
  return Math.max(CHART.minWidth, Math.floor(box.clientWidth));
}

function chartAxes({ width, first, span, maxWaiting, plotW, plotH }) {
  const { left, top, height, right, bottom } = CHART;
  const base = top + plotH;
  const label = (text, tx, ty, anchor) => el("text", { svg: true, x: tx, y: ty, "text-anchor": anchor, "font-size": 12, fill: "#5b6775" }, text);
  const line = (x1, y1, x2, y2, color) => el("line", { svg: true, x1, y1, x2, y2, stroke: color, "stroke-width": 1 });
  const time = (at) => formatClock(new Date(at).toISOString(), false);

  return [
    line(left, top, left + plotW, top, "#e1e6ec"),
    line(left, top + plotH / 2, left + plotW, top + plotH / 2, "#e1e6ec"),
    line(left, base, left + plotW, base, "#9aa6b2"),
    label(String(maxWaiting), left - 6, top + 4, "end"),
    label("0", left - 6, base + 4, "end"),
    label("100%", width - right + 6, top + 4, "start"),
    label("0%", width - right + 6, base + 4, "start"),
    label(time(first), left, height - bottom + 20, "start"),
    label(time(first + span), left + plotW, height - bottom + 20, "end"),
  ];
}

function polyline(points, color, className) {
  return el("polyline", {
    svg: true,
    class: className,
    points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
    fill: "none",
    stroke: color,
    "stroke-width": 2.5,
    "stroke-linejoin": "round",
  });
}

// rememberFocus and restoreFocus keep keyboard focus on the same action
// button across a redraw, which replaces the rows every update.
function rememberFocus() {
  const active = document.activeElement;
  const row = active?.closest?.("[data-key]");
  if (!row || !active.dataset.action) return null;
  return { key: row.dataset.key, action: active.dataset.action };
}

function restoreFocus(focus) {
  if (!focus) return;
  for (const row of document.querySelectorAll("[data-key]")) {
    if (row.dataset.key !== focus.key) continue;
    row.querySelector(`[data-action="${focus.action}"]`)?.focus();
    return;
  }
}
