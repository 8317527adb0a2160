// Reports page: asks /api/v1/reports, shows totals, two charts and the table; CSV link.
// Its words are the catalogues' "reports.*" keys in the user's own language (docs/i18n.md);
// the CSV keeps the API's English column names.
import { drawChart, legend, fmt, startLanguage } from "./chart.js";
import { showContacts } from "/static/recordings/contacts.js";
import { render as say, t } from "/static/i18n/i18n.js";

const COLUMNS = [
  ["contacts", "reports.col.contacts", fmt.n], ["offered", "reports.col.offered", fmt.n], ["answered", "reports.col.answered", fmt.n],
  ["abandoned", "reports.col.abandoned", fmt.n], ["short_abandoned", "reports.col.short_abandoned", fmt.n],
  ["overflowed", "reports.col.overflowed", fmt.n], ["service_level", "reports.col.service_level", fmt.pct],
  ["asa_s", "reports.col.asa", fmt.s], ["aht_s", "reports.col.aht", fmt.s], ["hold_s", "reports.col.hold", fmt.s],
  ["wrap_s", "reports.col.wrap", fmt.s], ["occupancy", "reports.col.occupancy", fmt.pct], ["transfers", "reports.col.transfers", fmt.n],
  ["abandon_rate", "reports.col.abandon_rate", fmt.pct], ["csat", "reports.col.csat", fmt.pct], ["csat_mean", "reports.col.rating", fmt.n],
  ["repeat_rate", "reports.col.repeat_rate", fmt.pct],
];
const form = document.getElementById("query");
const errorBox = document.getElementById("error");

function params() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
  return p;
}

function label(row, interval) {
  return interval === "day" ? row.start.slice(5, 10) : row.start.slice(11, 16);
}

async function load() {
  const p = params();
  history.replaceState(null, "", `?${p}`);
  document.getElementById("csv").href = `/api/v1/reports?${p}&format=csv`;
  errorBox.textContent = "";
  let res;
  try {
    res = await fetch(`/api/v1/reports?${p}`, { credentials: "same-origin" });
  } catch (e) {
    errorBox.textContent = t("reports.no_answer", { error: e.message });
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = body.error || {};
    errorBox.textContent = `${err.field ? err.field + ": " : ""}${err.message || res.statusText}`;
    if (res.status === 401) location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    return;
  }
  render(body);
  showContacts(body); // each contact links to its timeline and recordings
}

function render(report) {
  const total = report.total;
  // "today" is the center's day, which the server names: the browser's date may differ
  if (!form.elements.from.value) form.elements.from.value = report.today || report.from.slice(0, 10);
  if (!form.elements.to.value) form.elements.to.value = form.elements.from.value;
  say(document.getElementById("zone"), "reports.zone", { timezone: report.timezone });
  say(document.getElementById("counting"), "reports.counting");
  document.getElementById("totals").replaceChildren(...COLUMNS.map(([k, name, f]) => {
    const d = document.createElement("div");
    d.innerHTML = `<b></b><span></span>`;
    d.querySelector("b").textContent = f(total[k]);
    d.querySelector("span").textContent = t(name);
    return d;
  }));
  const rows = report.by ? aggregateForCharts(report.rows) : report.rows;
  const labels = rows.map((r) => label(r, report.interval));
  const volume = [
    { label: t("reports.series.offered"), values: rows.map((r) => r.offered), color: "#9fb7d9", kind: "bar" },
    { label: t("reports.series.answered"), values: rows.map((r) => r.answered), color: "#2f6fde", kind: "bar" },
    { label: t("reports.series.abandoned"), values: rows.map((r) => r.abandoned), color: "#d23f44", kind: "bar" },
    { label: t("reports.series.service_level"), values: rows.map((r) => r.service_level), color: "#1f9d57", kind: "line", axis: "right" },
  ];
  drawChart(document.getElementById("volume"), labels, volume, { rightMax: 1, rightFormat: (v) => `${Math.round(v * 100)}%` });
  legend(document.getElementById("volume-legend"), volume);
  const times = [
    { label: t("reports.series.asa"), values: rows.map((r) => r.asa_s), color: "#c98500", kind: "line" },
    { label: t("reports.series.aht"), values: rows.map((r) => r.aht_s), color: "#7a4fd6", kind: "line" },
    { label: t("reports.series.occupancy"), values: rows.map((r) => r.occupancy), color: "#1f9d57", kind: "line", axis: "right" },
  ];
  drawChart(document.getElementById("times"), labels, times, { rightMax: 1, rightFormat: (v) => `${Math.round(v * 100)}%` });
  legend(document.getElementById("times-legend"), times);
  const table = document.getElementById("rows");
  const extra = report.by ? [[report.by, report.by === "queue" ? "reports.col.queue" : "reports.col.agent", (v) => v ?? ""]] : [];
  const cols = [["start", "reports.col.start", (v) => v.replace("T", " ").slice(0, 16)], ...extra, ...COLUMNS];
  table.tHead.innerHTML = "";
  const head = table.tHead.insertRow();
  for (const [, name] of cols) head.append(Object.assign(document.createElement("th"), { textContent: t(name) }));
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const r of report.rows) {
    const tr = body.insertRow();
    for (const [k, , f] of cols) {
      const cell = tr.insertCell();
      cell.textContent = f(r[k]);
      if (k === report.by) cell.dataset.userContent = ""; // a queue's or agent's name
    }
  }
}

// With rows per queue or agent, the charts show the per-interval counts summed over them.
function aggregateForCharts(rows) {
  const by = new Map();
  for (const r of rows) {
    const a = by.get(r.start) || { start: r.start, offered: 0, answered: 0, abandoned: 0 };
    a.offered += r.offered; a.answered += r.answered; a.abandoned += r.abandoned;
    by.set(r.start, a);
  }
  return [...by.values()];
}

// Without dates in the address the server's default is its own today (the center's zone);
// render() then fills the form with the day the report covers.
const initial = new URLSearchParams(location.search);
for (const el of form.elements) if (el.name) el.value = initial.get(el.name) ?? el.value;
if (form.elements.from.value && !form.elements.to.value) form.elements.to.value = form.elements.from.value;
form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
await startLanguage();
document.title = t("reports.page_title"); // a bare <title> in the HTML (the page test reads it)
load();
