// Widgets from the node schema, rendered as HTML strings (fast for 500 nodes) and
// handled by event delegation in the editor. Fixed row heights keep socket
// positions computable without measuring the DOM.

export const ROW = 24;
export const ML_ROW = 88; // multi-line text: label line + textarea

export const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => (
  { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

export function isLink(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && typeof v.from === "string";
}

export const ML_MIN = 64;
export const ML_MAX = 800;

/** A row's height: `custom` is the user's height for a multi-line text box (node.ui.heights). */
export function widgetHeight(spec, linked, custom) {
  if (linked) return ROW;
  if (!(spec.widget && spec.widget.kind === "STRING" && spec.widget.multiline)) return ROW;
  const h = Number(custom);
  return Number.isFinite(h) && h > 0 ? Math.round(Math.min(ML_MAX, Math.max(ML_MIN, h))) : ML_ROW;
}

const measure = { ctx: null, cache: new Map() };
/** Width in CSS pixels of a label in the node font (13px UI font), measured once per string. */
export function textWidth(text) {
  let w = measure.cache.get(text);
  if (w !== undefined) return w;
  if (!measure.ctx) {
    measure.ctx = document.createElement("canvas").getContext("2d");
    measure.ctx.font = `13px ${getComputedStyle(document.body).fontFamily || "sans-serif"}`;
  }
  w = Math.ceil(measure.ctx.measureText(String(text)).width);
  measure.cache.set(text, w);
  return w;
}

/** The value a new node starts with for this input (explicit in the saved document). */
export function initialValue(spec) {
  if ("default" in spec && spec.default !== null && spec.default !== undefined) return spec.default;
  const w = spec.widget || {};
  if (w.kind === "INT" || w.kind === "FLOAT") return Math.max(0, w.min ?? 0);
  if (w.kind === "BOOL") return false;
  if (w.kind === "COMBO") return (w.options || [])[0] ?? "";
  return "";
}

export function formatNumber(v, w) {
  if (typeof v !== "number" || !isFinite(v)) return String(v ?? "");
  if (w.kind === "INT") return String(Math.round(v));
  const step = w.step || 0.01;
  const decimals = Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
  return v.toFixed(Math.max(decimals, 0));
}

export function clampNumber(v, w) {
  if (!isFinite(v)) return null;
  if (w.min !== undefined && w.min !== null) v = Math.max(w.min, v);
  if (w.max !== undefined && w.max !== null) v = Math.min(w.max, v);
  if (w.kind === "INT") v = Math.round(v);
  else v = Math.round(v * 1e6) / 1e6;
  return v;
}

export const SEED_MODES = ["fixed", "increment", "randomize"];

/** HTML of one widget row. `value` is the node's literal for this input. */
export function widgetHTML(spec, value, opts) {
  const w = spec.widget;
  const name = esc(spec.name);
  const param = opts.param ? `<span class="pbadge" title="workflow param ${esc(opts.param)}">${esc(opts.param)}</span>` : "";
  const sock = opts.sock;
  if (opts.linked) {
    return `<div class="row w linked" data-input="${name}">${sock}<span class="wl" title="${name}">${name}</span>` +
      `<span class="wlink">${esc(opts.linked)}</span></div>`;
  }
  switch (w.kind) {
    case "INT":
    case "FLOAT": {
      const seed = w.role === "seed"
        ? `<select class="seedmode" title="after each queue">${SEED_MODES.map((m) =>
          `<option${m === opts.seedMode ? " selected" : ""}>${m}</option>`).join("")}</select>` : "";
      return `<div class="row w num${seed ? " seed" : ""}" data-input="${name}">${sock}` +
        `<button class="step dec" tabindex="-1" aria-label="decrease">‹</button>` +
        `<span class="scrub"><span class="wl" title="${name}">${name}</span>${param}<span class="wv">${esc(formatNumber(value, w))}</span></span>` +
        `<button class="step inc" tabindex="-1" aria-label="increase">›</button>${seed}</div>`;
    }
    case "BOOL":
      return `<label class="row w bool" data-input="${name}">${sock}<span class="wl" title="${name}">${name}</span>${param}` +
        `<input type="checkbox"${value ? " checked" : ""}><span class="toggle"></span></label>`;
    case "COMBO": {
      const options = [...(w.options || [])];
      if (value !== undefined && value !== null && !options.includes(value)) options.unshift(value);
      return `<label class="row w combo" data-input="${name}">${sock}<span class="wl" title="${name}">${name}</span>${param}` +
        `<select>${options.map((o) => `<option${o === value ? " selected" : ""} value="${esc(o)}">${esc(o)}</option>`).join("")}</select></label>`;
    }
    default: {
      if (w.multiline) {
        const tall = opts.height && opts.height !== ML_ROW ? ` style="height:${Number(opts.height)}px"` : "";
        return `<div class="row w ml" data-input="${name}"${tall}>${sock}<span class="mlhead"><span class="wl" title="${name}">${name}</span>${param}</span>` +
          `<textarea spellcheck="false" placeholder="${esc(w.placeholder || "")}">${esc(value)}</textarea>` +
          `<div class="mlresize" title="drag to make the text box taller or shorter"></div></div>`;
      }
      const up = w.upload
        ? `<button class="upload" tabindex="-1" title="upload a ${esc(w.upload)} file" data-accept="${esc(w.upload)}">⇪</button>` : "";
      return `<label class="row w str${up ? " up" : ""}" data-input="${name}">${sock}<span class="wl" title="${name}">${name}</span>${param}` +
        `<input type="text" spellcheck="false" value="${esc(value)}" placeholder="${esc(w.placeholder || "")}">${up}</label>`;
    }
  }
}

/** Parse a widget field's text back into the input's value (null if it does not fit). */
export function parseValue(spec, text) {
  const w = spec.widget;
  if (w.kind === "INT" || w.kind === "FLOAT") {
    const n = Number(String(text).trim());
    return Number.isFinite(n) ? clampNumber(n, w) : null;
  }
  if (w.kind === "BOOL") return Boolean(text);
  return String(text);
}
