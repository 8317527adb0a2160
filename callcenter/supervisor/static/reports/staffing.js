// Staffing page: /api/v1/staffing from the log (GET) or from a pasted CSV forecast (POST).
import { drawChart, legend, fmt } from "./chart.js";

const form = document.getElementById("query");
const errorBox = document.getElementById("error");

function params() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
  return p;
}

async function csrfToken() {
  const res = await fetch("/api/v1/auth/me", { credentials: "same-origin" }).catch(() => null);
  const body = res && res.ok ? await res.json() : {};
  return body.csrf_token || "";
}

async function load(csv) {
  const p = params();
  errorBox.textContent = "";
  const init = { credentials: "same-origin" };
  if (csv !== undefined) {
    init.method = "POST";
    init.body = csv;
    init.headers = { "Content-Type": "text/csv", "X-CSRF-Token": await csrfToken() };
  }
  let res;
  try {
    res = await fetch(`/api/v1/staffing?${p}`, init);
  } catch (e) {
    errorBox.textContent = `The server did not answer (${e.message}).`;
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = body.error || {};
    errorBox.textContent = `${err.field ? err.field + ": " : ""}${err.message || res.statusText}`;
    return;
  }
  render(body);
}

function render(s) {
  const about = document.getElementById("about");
  const days = s.days_averaged.length ? `the mean of ${s.days_averaged.join(", ")}` : "no matching days in the log";
  if (!form.elements.date.value) form.elements.date.value = s.date; // the server's tomorrow, in the center's zone
  about.textContent = `${s.source === "csv" ? "Your forecast" : `Forecast for ${s.date}: ${days}`}. ` +
    `Times in ${s.timezone} (the center's time zone; today there is ${s.today}). ` +
    `Target ${fmt.pct(s.target.service_level)} within ${s.target.t} s. ` +
    `Patience ${s.patience_s == null ? "unknown (no abandons): no Erlang A" : fmt.s(s.patience_s)}. ` +
    `Peak agents: Erlang C ${s.summary.erlang_c?.peak_agents ?? "–"}, Erlang A ${s.summary.erlang_a?.peak_agents ?? "–"}.`;
  const labels = s.rows.map((r) => r.start);
  const series = [
    { label: "calls", values: s.rows.map((r) => r.calls), color: "#9fb7d9", kind: "bar" },
    { label: "agents (Erlang C)", values: s.rows.map((r) => r.erlang_c?.agents ?? null), color: "#2f6fde", kind: "line", axis: "right" },
    { label: "agents (Erlang A)", values: s.rows.map((r) => r.erlang_a?.agents ?? null), color: "#1f9d57", kind: "line", axis: "right" },
  ];
  drawChart(document.getElementById("chart"), labels, series, { rightFormat: (v) => Math.round(v) });
  legend(document.getElementById("legend"), series);
  const cols = [
    ["Start", (r) => r.start], ["Calls", (r) => fmt.n(r.calls)], ["AHT", (r) => fmt.s(r.aht_s)],
    ["Load (Erl)", (r) => fmt.n(r.load_erlangs)],
    ["C agents", (r) => fmt.n(r.erlang_c?.agents)], ["C scheduled", (r) => fmt.n(r.erlang_c?.scheduled)],
    ["C SL", (r) => fmt.pct(r.erlang_c?.service_level)], ["C ASA", (r) => fmt.s(r.erlang_c?.asa_s)],
    ["C occupancy", (r) => fmt.pct(r.erlang_c?.occupancy)],
    ["A agents", (r) => fmt.n(r.erlang_a?.agents)], ["A SL", (r) => fmt.pct(r.erlang_a?.service_level)],
    ["A abandon", (r) => fmt.pct(r.erlang_a?.p_abandon)],
  ];
  const table = document.getElementById("rows");
  table.tHead.innerHTML = "";
  const head = table.tHead.insertRow();
  for (const [name] of cols) head.append(Object.assign(document.createElement("th"), { textContent: name }));
  table.tBodies[0].replaceChildren();
  for (const r of s.rows) {
    const tr = table.tBodies[0].insertRow();
    for (const [, f] of cols) tr.insertCell().textContent = f(r);
  }
}

form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
document.getElementById("upload").addEventListener("click", () => load(document.getElementById("csv").value));
load();
