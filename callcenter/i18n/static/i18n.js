// The words of a page in the user's language, from the server's message catalogues
// (GET /api/v1/i18n lists them, GET /api/v1/i18n/{language} gives one; docs/i18n.md).
//
// Static HTML names its words by key: data-i18n="chat.send" (the text), and
// data-i18n-aria-label, data-i18n-title, data-i18n-placeholder, data-i18n-value (that
// attribute); data-i18n-params='{"rating": 3}' fills placeholders. Script-built text goes
// through render(el, key, params) (which keeps the key, so a change of language repaints
// it) or t(key, params) for a plain string. Text a placeholder receives is the user's data
// (a name, a number): render() isolates it in <bdi data-user-content>. Keys are always
// written out whole in the source, never assembled, so a test can find every one.
const STORED = "callcenter.language";
const ATTRIBUTES = ["aria-label", "title", "placeholder", "value"];
const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/g;
const state = { language: "en", messages: {}, languages: [] };
const listeners = new Set();

/** The shipped language for preferred tags: a tag's exact code, then its first subtag
 * (zh, zh-Hans, zh-TW -> zh-CN), else English. The same rule as callcenter/i18n/catalogue.py. */
export function resolve(tags, shipped) {
  const exact = new Map(shipped.map((code) => [code.toLowerCase(), code]));
  const primary = new Map();
  for (const code of shipped) if (!primary.has(code.split("-")[0].toLowerCase())) primary.set(code.split("-")[0].toLowerCase(), code);
  for (const raw of tags || []) {
    const tag = String(raw).trim().toLowerCase();
    if (exact.has(tag)) return exact.get(tag);
    if (primary.has(tag.split("-")[0])) return primary.get(tag.split("-")[0]);
  }
  return "en";
}

async function getJson(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message || `${path}: ${res.status}`);
  return body;
}

/** Choose and load the page's language: `language` when given and shipped (a user's own
 * setting), else the one chosen here before (`remember`), else the browser's `tags`. */
export async function setup({ language = null, tags = navigator.languages, remember = false } = {}) {
  const list = await getJson("/api/v1/i18n");
  state.languages = list.languages;
  const shipped = list.languages.map((l) => l.code);
  let chosen = shipped.includes(language) ? language : null;
  if (!chosen && remember) {
    const stored = localStorage.getItem(STORED);
    if (shipped.includes(stored)) chosen = stored;
  }
  await use(chosen || resolve(tags, shipped));
  return state.language;
}

/** Switch to `language` (a shipped code): load it, repaint the page, tell the listeners. */
export async function use(language, { remember = false } = {}) {
  const body = await getJson(`/api/v1/i18n/${encodeURIComponent(language)}`);
  state.language = body.language;
  state.messages = body.messages;
  if (remember) localStorage.setItem(STORED, body.language);
  document.documentElement.lang = body.language;
  apply(document);
  for (const listener of listeners) listener(body.language);
}

export const language = () => state.language;
export const languages = () => state.languages.slice();
/** Call `listener(language)` after every change of language. */
export function onChange(listener) { listeners.add(listener); return () => listeners.delete(listener); }

function message(key) {
  const template = state.messages[key];
  if (template === undefined) { console.warn(`i18n: no message ${key}`); return key; }
  return template;
}

function shown(value) {
  return typeof value === "number" ? number(value) : String(value ?? "");
}

/** The message `key` as a plain string, its placeholders filled from `params`. */
export function t(key, params = {}) {
  return message(key).replace(PLACEHOLDER, (whole, name) => (name in params ? shown(params[name]) : whole));
}

/** Show message `key` as `el`'s content (kept on the element, so a change of language repaints it). */
export function render(el, key, params = null) {
  el.dataset.i18n = key;
  if (params) el.dataset.i18nParams = JSON.stringify(params);
  else delete el.dataset.i18nParams;
  paint(el);
  return el;
}

function paramsOf(el) {
  try { return el.dataset.i18nParams ? JSON.parse(el.dataset.i18nParams) : {}; } catch { return {}; }
}

function paint(el) {
  const params = paramsOf(el);
  const template = message(el.dataset.i18n);
  const parts = [];
  let at = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > at) parts.push(document.createTextNode(template.slice(at, m.index)));
    const value = params[m[1]];
    if (typeof value === "string") {
      const bdi = document.createElement("bdi");
      bdi.dataset.userContent = "";
      bdi.textContent = value;
      parts.push(bdi);
    } else parts.push(document.createTextNode(value === undefined ? m[0] : shown(value)));
    at = m.index + m[0].length;
  }
  if (at < template.length) parts.push(document.createTextNode(template.slice(at)));
  el.replaceChildren(...parts);
}

/** Translate `root` and everything under it: data-i18n texts and data-i18n-* attributes. */
export function apply(root = document) {
  const all = (selector) => [...(root.matches?.(selector) ? [root] : []), ...root.querySelectorAll(selector)];
  for (const el of all("[data-i18n]")) paint(el);
  for (const attr of ATTRIBUTES) {
    for (const el of all(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`), paramsOf(el)));
  }
}

/** A number in the page's language (Intl.NumberFormat options). */
export function number(value, options = {}) {
  return new Intl.NumberFormat(state.language, options).format(value);
}

/** A moment (epoch seconds or a Date) in the page's language; pass `timeZone` for the center's. */
export function dateTime(at, options = { hour: "2-digit", minute: "2-digit" }) {
  return new Intl.DateTimeFormat(state.language, options).format(at instanceof Date ? at : new Date(at * 1000));
}

/** Fill a <select> with the shipped languages (each named in itself, marked with its lang)
 * and switch the page when the user picks one; `remember` keeps the choice in this browser. */
export function languagePicker(select, { remember = true, onPick = null } = {}) {
  select.replaceChildren(...state.languages.map(({ code, name }) => {
    const option = document.createElement("option");
    option.value = code; option.lang = code; option.textContent = name;
    return option;
  }));
  select.value = state.language;
  onChange((code) => { select.value = code; });
  select.onchange = async () => {
    await use(select.value, { remember });
    if (onPick) onPick(select.value);
  };
}
