// Waiting contacts and service level over the last hours, drawn as SVG (no library).
// Points come from the server (one a minute, six hours kept): {t, waiting, service_level,
// queues: {name: {waiting, service_level}}}. Thresholds from the config draw dashed lines,
// and the stretches where the queue (or the center) was in trouble are shaded red.
import { t } from "/static/i18n/i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 800, H = 220, L = 34, R = 44, T = 14, B = 22;

const mk = (tag, attrs = {}, text) => {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
};
// Times in the center's zone (the wallboard passes the frames' timezone), not the browser's.
let zone;
let locale = "en-GB";
const hhmm = (at) => new Date(at * 1000).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone: zone });

// The values of one queue (or of the whole center when queue is "") at each point.
export function pick(series, queue) {
  return series.map((p) => {
    const q = queue ? (p.queues || {})[queue] || {} : p;
    return { t: p.t, waiting: q.waiting ?? 0, sl: q.service_level ?? null };
  });
}

// "trouble" when a point breaks a trouble threshold, "warning" for a warning one, else "".
export function level(p, th) {
  if (p.waiting >= (th.trouble_waiting ?? Infinity) || (p.sl !== null && p.sl < (th.trouble_service_level ?? 0))) return "trouble";
  if (p.waiting >= (th.warn_waiting ?? Infinity)) return "warning";
  return "";
}

export function drawChart(svg, series, thresholds, queue = "", timeZone = undefined, timeLocale = "en-GB") {
  zone = timeZone; locale = timeLocale;
  const th = thresholds || {};
  const pts = pick(series || [], queue);
  svg.dataset.points = String(pts.length);
  if (pts.length < 2) {
    svg.replaceChildren(mk("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#8a9bb0", "font-size": 13 }, t("wallboard.chart.collecting")));
    svg.dataset.troubleBands = "0";
    return;
  }
  const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  const maxW = Math.max(5, (th.trouble_waiting || 0) + 1, ...pts.map((p) => p.waiting));
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const yW = (v) => H - B - (v / maxW) * (H - T - B);
  const yS = (v) => H - B - v * (H - T - B);
  const kids = [];
  // Shaded stretches: from a point in trouble (or warning) to the next point.
  let bands = 0;
  for (let i = 0; i < pts.length - 1; i++) {
    const lv = level(pts[i], th);
    if (!lv) continue;
    bands += lv === "trouble";
    kids.push(mk("rect", { class: `band ${lv}`, x: x(pts[i].t).toFixed(1), y: T, width: Math.max(1, x(pts[i + 1].t) - x(pts[i].t)).toFixed(1), height: H - T - B,
      fill: lv === "trouble" ? "rgba(229,72,77,.22)" : "rgba(240,162,2,.14)" }));
  }
  kids.push(mk("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#33455f" }));
  // Hour ticks (or the two ends when the span is short).
  const ticks = [];
  for (let t = Math.ceil(t0 / 3600) * 3600; t <= t1; t += 3600) ticks.push(t);
  for (const t of ticks.length ? ticks : [t0, t1]) {
    kids.push(mk("line", { x1: x(t), x2: x(t), y1: T, y2: H - B, stroke: "#22324a" }));
    kids.push(mk("text", { x: x(t), y: H - 6, "text-anchor": "middle", fill: "#8a9bb0", "font-size": 11 }, hhmm(t)));
  }
  kids.push(mk("text", { x: 2, y: T + 4, fill: "#4c9aff", "font-size": 11 }, String(maxW)));
  kids.push(mk("text", { x: W - R + 4, y: T + 4, fill: "#2fbf71", "font-size": 11 }, "100%"));
  if (th.trouble_service_level !== undefined) {
    const y = yS(th.trouble_service_level).toFixed(1);
    kids.push(mk("line", { class: "limit sl", x1: L, x2: W - R, y1: y, y2: y, stroke: "#e5484d", "stroke-dasharray": "6 4" }));
    kids.push(mk("text", { x: W - R + 4, y: Number(y) + 4, fill: "#e5484d", "font-size": 11 }, `${Math.round(th.trouble_service_level * 100)}%`));
  }
  if (th.trouble_waiting !== undefined) {
    const y = yW(th.trouble_waiting).toFixed(1);
    kids.push(mk("line", { class: "limit waiting", x1: L, x2: W - R, y1: y, y2: y, stroke: "#f0a202", "stroke-dasharray": "2 4" }));
    kids.push(mk("text", { x: 2, y: Number(y) + 4, fill: "#f0a202", "font-size": 11 }, String(th.trouble_waiting)));
  }
  // Waiting is a count held until the next point: a step line. Service level is a ratio: a line.
  const step = pts.map((p, i) => `${i ? `H${x(p.t).toFixed(1)}V` : `M${x(p.t).toFixed(1)},`}${yW(p.waiting).toFixed(1)}`).join("");
  kids.push(mk("path", { class: "waiting", d: step, fill: "none", stroke: "#4c9aff", "stroke-width": 2 }));
  const withSl = pts.filter((p) => p.sl !== null);
  if (withSl.length) {
    const d = withSl.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${yS(p.sl).toFixed(1)}`).join("");
    kids.push(mk("path", { class: "sl", d, fill: "none", stroke: "#2fbf71", "stroke-width": 2 }));
  }
  svg.replaceChildren(...kids);
  const last = pts[pts.length - 1];
  svg.dataset.lastWaiting = String(last.waiting);
  svg.dataset.lastSl = last.sl === null ? "" : String(last.sl);
  svg.dataset.troubleBands = String(bands);
  svg.setAttribute("aria-label", t("wallboard.chart.label", {
    queue: queue || t("wallboard.chart.all_queues"), waiting: last.waiting,
    level: last.sl === null ? t("wallboard.chart.no_level") : `${Math.round(last.sl * 100)}%`, from: hhmm(t0), to: hhmm(t1),
  }));
}
