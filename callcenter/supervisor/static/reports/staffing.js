// Staffing page: /api/v1/staffing from the log (GET) or from a pasted CSV forecast (POST).
// Its words are the catalogues' "reports.*" keys in the user's own language (docs/i18n.md);
// the CSV a user pastes keeps its English column names (interval,calls,aht).
import { drawChart, legend, fmt, startLanguage } from "./chart.js";
import { render as say, t } from "/static/i18n/i18n.js";

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
    errorBox.textContent = t("reports.no_answer", { error: e.message });
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
  if (!form.elements.date.value) form.elements.date.value = s.date; // the server's tomorrow, in the center's zone
  // the forecast's sentence as plain text (dates only), the center's zone as its data
  const forecast = s.source === "csv" ? t("reports.staffing.about_csv")
    : s.days_averaged.length ? t("reports.staffing.about_days", { date: s.date, days: s.days_averaged.join(", ") })
      : t("reports.staffing.about_no_days", { date: s.date });
  const peak = (f) => (f?.peak_agents ?? "–");
  about.replaceChildren(`${forecast} `, say(document.createElement("span"), "reports.staffing.about_zone", { timezone: s.timezone, today: s.today }),
    ` ${t("reports.staffing.about_target", { level: fmt.pct(s.target.service_level), seconds: String(s.target.t) })} ` +
    `${s.patience_s == null ? t("reports.staffing.about_no_patience") : t("reports.staffing.about_patience", { patience: fmt.s(s.patience_s) })} ` +
    t("reports.staffing.about_peak", { erlang_c: String(peak(s.summary.erlang_c)), erlang_a: String(peak(s.summary.erlang_a)) }));
  const labels = s.rows.map((r) => r.start);
  const series = [
    { label: t("reports.staffing.series.calls"), values: s.rows.map((r) => r.calls), color: "#9fb7d9", kind: "bar" },
    { label: t("reports.staffing.series.erlang_c"), values: s.rows.map((r) => r.erlang_c?.agents ?? null), color: "#2f6fde", kind: "line", axis: "right" },
    { label: t("reports.staffing.series.erlang_a"), values: s.rows.map((r) => r.erlang_a?.agents ?? null), color: "#1f9d57", kind: "line", axis: "right" },
  ];
  drawChart(document.getElementById("chart"), labels, series, { rightFormat: (v) => Math.round(v) });
  legend(document.getElementById("legend"), series);
  const cols = [
    ["reports.col.start", (r) => r.start], ["reports.staffing.col.calls", (r) => fmt.n(r.calls)], ["reports.col.aht", (r) => fmt.s(r.aht_s)],
    ["reports.staffing.col.load", (r) => fmt.n(r.load_erlangs)],
    ["reports.staffing.col.c_agents", (r) => fmt.n(r.erlang_c?.agents)], ["reports.staffing.col.c_scheduled", (r) => fmt.n(r.erlang_c?.scheduled)],
    ["reports.staffing.col.c_sl", (r) => fmt.pct(r.erlang_c?.service_level)], ["reports.staffing.col.c_asa", (r) => fmt.s(r.erlang_c?.asa_s)],
    ["reports.staffing.col.c_occupancy", (r) => fmt.pct(r.erlang_c?.occupancy)],
    ["reports.staffing.col.a_agents", (r) => fmt.n(r.erlang_a?.agents)], ["reports.staffing.col.a_sl", (r) => fmt.pct(r.erlang_a?.service_level)],
    ["reports.staffing.col.a_abandon", (r) => fmt.pct(r.erlang_a?.p_abandon)],
  ];
  const table = document.getElementById("rows");
  table.tHead.innerHTML = "";
  const head = table.tHead.insertRow();
  for (const [name] of cols) head.append(Object.assign(document.createElement("th"), { textContent: t(name) }));
  table.tBodies[0].replaceChildren();
  for (const r of s.rows) {
    const tr = table.tBodies[0].insertRow();
    for (const [, f] of cols) tr.insertCell().textContent = f(r);
  }
}

form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
document.getElementById("upload").addEventListener("click", () => load(document.getElementById("csv").value));
await startLanguage();
document.title = t("reports.staffing.page_title"); // a bare <title> in the HTML (the page test reads it)
load();
