// Reports page: asks /api/v1/reports, shows totals, two charts and the table; CSV link.
import { drawChart, legend, fmt } from "./chart.js";

const COLUMNS = [
  ["contacts", "Contacts", fmt.n], ["offered", "Offered", fmt.n], ["answered", "Answered", fmt.n], ["abandoned", "Abandoned", fmt.n],
  ["short_abandoned", "Short ab.", fmt.n], ["overflowed", "Overflowed", fmt.n], ["service_level", "SL", fmt.pct],
  ["asa_s", "ASA", fmt.s], ["aht_s", "AHT", fmt.s], ["hold_s", "Hold", fmt.s], ["wrap_s", "Wrap", fmt.s],
  ["occupancy", "Occupancy", fmt.pct], ["transfers", "Transfers", fmt.n], ["abandon_rate", "Abandon %", fmt.pct],
  ["csat", "CSAT (4-5)", fmt.pct], ["csat_mean", "Rating", fmt.n], ["repeat_rate", "Repeat %", fmt.pct],
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
    errorBox.textContent = `The server did not answer (${e.message}).`;
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
}

function render(report) {
  const t = report.total;
  // "today" is the center's day, which the server names: the browser's date may differ
  if (!form.elements.from.value) form.elements.from.value = report.today || report.from.slice(0, 10);
  if (!form.elements.to.value) form.elements.to.value = form.elements.from.value;
  document.getElementById("zone").textContent = `Times in ${report.timezone} (the center's time zone).`;
  document.getElementById("counting").textContent =
    "Contacts counts each contact once; Offered counts it once in each queue it was offered to " +
    "(a transferred contact is 1 contact, offered to two queues).";
  document.getElementById("totals").replaceChildren(...COLUMNS.map(([k, name, f]) => {
    const d = document.createElement("div");
    d.innerHTML = `<b></b><span></span>`;
    d.querySelector("b").textContent = f(t[k]);
    d.querySelector("span").textContent = name;
    return d;
  }));
  const rows = report.by ? aggregateForCharts(report.rows) : report.rows;
  const labels = rows.map((r) => label(r, report.interval));
  const volume = [
    { label: "offered", values: rows.map((r) => r.offered), color: "#9fb7d9", kind: "bar" },
    { label: "answered", values: rows.map((r) => r.answered), color: "#2f6fde", kind: "bar" },
    { label: "abandoned", values: rows.map((r) => r.abandoned), color: "#d23f44", kind: "bar" },
    { label: "service level", values: rows.map((r) => r.service_level), color: "#1f9d57", kind: "line", axis: "right" },
  ];
  drawChart(document.getElementById("volume"), labels, volume, { rightMax: 1, rightFormat: (v) => `${Math.round(v * 100)}%` });
  legend(document.getElementById("volume-legend"), volume);
  const times = [
    { label: "ASA (s)", values: rows.map((r) => r.asa_s), color: "#c98500", kind: "line" },
    { label: "AHT (s)", values: rows.map((r) => r.aht_s), color: "#7a4fd6", kind: "line" },
    { label: "occupancy", values: rows.map((r) => r.occupancy), color: "#1f9d57", kind: "line", axis: "right" },
  ];
  drawChart(document.getElementById("times"), labels, times, { rightMax: 1, rightFormat: (v) => `${Math.round(v * 100)}%` });
  legend(document.getElementById("times-legend"), times);
  const table = document.getElementById("rows");
  const extra = report.by ? [[report.by, report.by === "queue" ? "Queue" : "Agent", (v) => v ?? ""]] : [];
  const cols = [["start", "Start", (v) => v.replace("T", " ").slice(0, 16)], ...extra, ...COLUMNS];
  table.tHead.innerHTML = "";
  const head = table.tHead.insertRow();
  for (const [, name] of cols) head.append(Object.assign(document.createElement("th"), { textContent: name }));
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const r of report.rows) {
    const tr = body.insertRow();
    for (const [k, , f] of cols) tr.insertCell().textContent = f(r[k]);
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
load();
