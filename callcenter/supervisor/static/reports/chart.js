// A small SVG chart: bars (stacked or side by side) and lines on a shared x axis.
// series: [{label, values, color, kind: "bar"|"line", axis: "left"|"right"}]; no dependencies
// but the page module of the words (a series' label is already in the page's language).
import { setup, t } from "/static/i18n/i18n.js";

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function drawChart(svg, labels, series, { rightMax = null, rightFormat = (v) => v } = {}) {
  svg.replaceChildren();
  const W = 900, H = 240, L = 44, R = 44, T = 10, B = 34;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const n = labels.length;
  if (!n) return;
  const left = series.filter((s) => s.axis !== "right");
  const right = series.filter((s) => s.axis === "right");
  const lmax = niceMax(Math.max(0, ...left.flatMap((s) => s.values.filter((v) => v != null))));
  const rmax = rightMax ?? niceMax(Math.max(0, ...right.flatMap((s) => s.values.filter((v) => v != null))));
  const x = (i) => L + ((i + 0.5) * (W - L - R)) / n;
  const yl = (v) => H - B - (v / lmax) * (H - T - B);
  const yr = (v) => H - B - (v / rmax) * (H - T - B);
  for (let k = 0; k <= 4; k++) {
    const y = T + (k * (H - T - B)) / 4;
    svg.append(el("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e6ebf1" }));
    svg.append(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, String(+(lmax * (1 - k / 4)).toFixed(1))));
    if (right.length) svg.append(el("text", { x: W - R + 6, y: y + 4 }, rightFormat(rmax * (1 - k / 4))));
  }
  const bars = left.filter((s) => s.kind === "bar");
  const slot = (W - L - R) / n, bw = Math.max(1, (slot * 0.8) / Math.max(1, bars.length));
  bars.forEach((s, j) => s.values.forEach((v, i) => {
    if (v == null || v <= 0) return;
    const bx = x(i) - (slot * 0.8) / 2 + j * bw;
    const bar = el("rect", { x: bx, y: yl(v), width: bw, height: H - B - yl(v), fill: s.color });
    bar.append(el("title", {}, `${labels[i]} ${s.label}: ${+v.toFixed(2)}`));
    svg.append(bar);
  }));
  for (const s of series.filter((s) => s.kind === "line")) {
    const y = s.axis === "right" ? yr : yl;
    let d = "", pen = false;  // a gap (no value) lifts the pen
    s.values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i)},${y(v)}`;
      pen = true;
    });
    if (d) svg.append(el("path", { d, fill: "none", stroke: s.color, "stroke-width": 2 }));
    s.values.forEach((v, i) => { if (v != null) svg.append(el("circle", { cx: x(i), cy: y(v), r: 2.5, fill: s.color })); });
  }
  const every = Math.ceil(n / 12);
  labels.forEach((t, i) => { if (i % every === 0) svg.append(el("text", { x: x(i), y: H - 12, "text-anchor": "middle" }, t)); });
}

export function legend(node, series) {
  node.replaceChildren(...series.map((s) => {
    const span = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = s.color;
    span.append(dot, s.label);
    return span;
  }));
}

export const fmt = {
  pct: (v) => (v == null ? "–" : `${(100 * v).toFixed(1)}%`),
  s: (v) => (v == null ? "–" : t("reports.seconds", { seconds: String(Math.round(v)) })),
  n: (v) => (v == null ? "–" : Number.isInteger(v) ? String(v) : v.toFixed(2)),
};

/** The user's own language (user.language of /api/v1/auth/me), loaded before the page draws. */
export async function startLanguage() {
  try {
    const me = await fetch("/api/v1/auth/me", { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : {}));
    await setup({ language: me.user?.language ?? null, tags: [] });
  } catch (err) { console.warn("reports: no catalogue", err); }
}
