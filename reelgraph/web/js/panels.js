// The side panels about the current document: Workflows (saved and templates), Params (the
// workflow's public inputs), Issues (missing node types, unlinked inputs, server validation).
// Edits go through the editor (one undo step each); the Queue panel belongs to runs.js.

import { api } from "./api.js";
import { esc, isLink } from "./widgets.js";

/** The types a workflow param can have (engine/workflow.py PARAM_TYPES; tests/editor/test_parity.py). */
export const PARAM_TYPE_NAMES = ["TEXT", "INT", "FLOAT", "BOOL"];
/** A widget's kind -> the type of a param exposed from it (everything else is TEXT). */
export const PARAM_TYPES = { INT: "INT", FLOAT: "FLOAT", BOOL: "BOOL" };
const $ = (s, el = document) => el.querySelector(s);

export class Panels {
  /**
   * `editor`: the canvas (selection, fit, edits); `tabs`: whose current document is shown;
   * `ui`: toasts and dialogs; `openByName(name, kind)`: opens a workflow from the list;
   * `onShowQueue()`: the Queue panel was shown; `run()` queues the document with its param
   * defaults, `openApp()` opens it as a form.
   */
  constructor({ editor, tabs, ui, openByName, onShowQueue, run, openApp }) {
    this.editor = editor;
    this.run = run;
    this.openApp = openApp;
    this.tabs = tabs;
    this.ui = ui;
    this.openByName = openByName;
    this.onShowQueue = onShowQueue;
    this.serverIssues = [];
    this.loadErrors = [];
  }

  get current() { return this.tabs.current; }

  showPanel(name) {
    for (const b of document.querySelectorAll(".sidetabs button")) b.classList.toggle("on", b.dataset.panel === name);
    for (const p of document.querySelectorAll(".panel")) p.hidden = p.dataset.panel !== name;
    if (name === "params") this.renderParams();
    if (name === "queue") this.onShowQueue();
    if (name === "workflows") this.refreshWorkflows();
  }

  async refreshWorkflows() {
    const panel = $(".panel[data-panel=workflows]");
    let data;
    try { data = await api.workflows(); } catch (e) { panel.innerHTML = `<p class="muted">${esc(e.message)}</p>`; return; }
    const filter = (panel.querySelector("input")?.value || "").toLowerCase();
    const row = (w, kind) => `<li class="wf" data-name="${esc(w.name)}" data-kind="${kind}" title="${esc(w.description || "")}">` +
      `<span class="wname">${esc(w.title || w.name)}</span>` +
      `<span class="wmeta">${kind === "workflow" ? esc(w.name) + " · " + new Date(w.modified * 1000).toLocaleString() : "template"}` +
      `${w.params && w.params.length ? ` · ${w.params.length} param${w.params.length > 1 ? "s" : ""}` : ""}</span>` +
      (kind === "workflow" ? `<button class="wdel icon" title="delete (a backup is kept)">×</button>` : "") + `</li>`;
    const match = (w) => !filter || `${w.name} ${w.title || ""}`.toLowerCase().includes(filter);
    panel.innerHTML = `<input class="wfilter" placeholder="Filter workflows…" value="${esc(filter)}">` +
      `<h3>Saved</h3><ul class="wlist">${data.workflows.filter(match).map((w) => row(w, "workflow")).join("") || '<li class="muted">Nothing saved yet — Ctrl+S saves this tab.</li>'}</ul>` +
      `<h3>Templates</h3><ul class="wlist">${data.templates.filter(match).map((w) => row(w, "template")).join("")}</ul>`;
    const input = panel.querySelector(".wfilter");
    input.oninput = () => { clearTimeout(this.wfTimer); this.wfTimer = setTimeout(() => this.refreshWorkflows().then(() => { const i = panel.querySelector(".wfilter"); i.focus(); i.setSelectionRange(i.value.length, i.value.length); }), 150); };
    panel.onclick = async (e) => {
      const li = e.target.closest(".wf");
      if (!li) return;
      if (e.target.closest(".wdel")) {
        if (await this.ui.confirmDialog(`Delete “${li.dataset.name}”? A backup copy stays in the server's workflows/.backups folder.`)) {
          await api.deleteWorkflow(li.dataset.name).catch((err) => this.ui.toast(err.message, "bad"));
          this.refreshWorkflows();
        }
        return;
      }
      this.openByName(li.dataset.name, li.dataset.kind);
    };
  }

  checkMissing(tab, quiet = false) {
    const missing = {};
    for (const [id, n] of Object.entries(tab.doc.nodes || {})) {
      if (!this.editor.schemas.has(n.type)) (missing[n.type] = missing[n.type] || []).push(id);
    }
    tab.missing = missing;
    const types = Object.keys(missing);
    if (types.length && tab === this.current && !quiet) {
      this.ui.toast(`${types.length} node type${types.length > 1 ? "s are" : " is"} not installed: ${types.join(", ")} — shown as placeholders, kept as they are`, "warn", 7000);
      this.showPanel("issues");
    }
    this.renderIssues();
  }

  renderIssues() {
    const panel = $(".panel[data-panel=issues]");
    const tab = this.current;
    if (!tab) return;
    const missing = tab.missing || {};
    const local = this.localIssues(tab);
    const server = this.serverIssues || [];
    const count = Object.keys(missing).length + local.length;
    const badge = $(".sidetabs .count");
    badge.hidden = !count;
    badge.textContent = count;
    let html = "";
    if (Object.keys(missing).length) {
      html += `<h3>Missing node types</h3><ul class="issues">` + Object.entries(missing).map(([type, ids]) =>
        `<li class="issue bad"><b>${esc(type)}</b> — ${ids.length} node${ids.length > 1 ? "s" : ""}: ${ids.map((i) => `<a href="#" data-node="${esc(i)}">${esc(i)}</a>`).join(", ")}` +
        `<div class="muted">Install the node pack that provides it. The nodes keep all their data when saved.</div></li>`).join("") + `</ul>`;
    }
    if (local.length) {
      html += `<h3>To fix before running</h3><ul class="issues">` + local.map((i) =>
        `<li class="issue"><a href="#" data-node="${esc(i.node)}">${esc(i.node)}</a>: ${esc(i.message)}</li>`).join("") + `</ul>`;
    }
    if (server.length) {
      html += `<h3>Server validation (last save / queue)</h3><ul class="issues">` + server.map((i) =>
        `<li class="issue ${i.severity === "warning" ? "" : "bad"}">${i.node ? `<a href="#" data-node="${esc(i.node)}">${esc(i.node)}</a>${i.input ? "." + esc(i.input) : ""}: ` : ""}${esc(i.message || i.code)}</li>`).join("") + `</ul>`;
    }
    if (this.loadErrors && this.loadErrors.length) {
      html += `<h3>Node packs that failed to load</h3><ul class="issues">` + this.loadErrors.map((e) => `<li class="issue bad"><b>${esc(e.source)}</b>: ${esc(e.message)}</li>`).join("") + `</ul>`;
    }
    panel.innerHTML = html || `<p class="muted">No problems found in this workflow.</p>`;
    panel.onclick = (e) => {
      const a = e.target.closest("a[data-node]");
      if (!a) return;
      e.preventDefault();
      if (this.current.doc.nodes[a.dataset.node]) { this.editor.select([a.dataset.node]); this.editor.fit(new Set([a.dataset.node])); }
    };
  }

  /** Cheap client-side checks: required sockets without a link. */
  localIssues(tab) {
    const out = [];
    for (const [id, n] of Object.entries(tab.doc.nodes || {})) {
      const s = this.editor.schemas.get(n.type);
      if (!s || n.bypass) continue;
      for (const i of s.inputs) {
        if (!i.widget && !i.optional && !isLink((n.inputs || {})[i.name])) out.push({ node: id, message: `input “${i.name}” (${i.type}) needs a link` });
      }
    }
    return out.slice(0, 100);
  }

  renderParams() {
    const panel = $(".panel[data-panel=params]");
    if (!this.current || panel.hidden) return;
    const doc = this.current.doc;
    const params = Object.entries(doc.params || {});
    panel.innerHTML = `<p class="muted">Params are the workflow's public inputs: <code>reelgraph run wf.json --set name=value</code>, batch CSV columns, app forms. Right-click a widget on a node to expose it.</p>` +
      (params.length ? `<div class="pacts"><button class="primary prun" title="queue the workflow with these values (Ctrl+Enter)">▶ Run with these values</button>` +
        `<button class="popenapp" title="the params as a form, without the graph">Open as app</button></div>` : "") +
      (params.length ? `<ul class="params">` + params.map(([name, p]) => {
        const ok = p && doc.nodes[p.node];
        return `<li class="param${ok ? "" : " bad"}" data-param="${esc(name)}">` +
          `<div class="prow"><input class="pname" value="${esc(name)}" title="param name" aria-label="param name"><select class="ptype" title="param type" aria-label="param type">${PARAM_TYPE_NAMES.map((t) => `<option${t === p.type ? " selected" : ""}>${t}</option>`).join("")}</select>` +
          `<button class="icon pdel" title="remove param">×</button></div>` +
          `<div class="ptarget">→ <a href="#" data-node="${esc(p.node)}">${esc(p.node)}</a>.${esc(p.input)}${ok ? "" : " (missing node)"}</div>` +
          `<label class="pfield"><span>Default</span>${this.defaultControl(p, ok ? this.editor.inputSpec(p.node, p.input) : null)}</label>` +
          `<label class="pfield"><span>Label in the app</span><input class="plabel" value="${esc(p.label || "")}" placeholder="${esc(name)}"></label>` +
          `<label class="pfield"><span>Help text in the app</span><textarea class="pdescr" rows="${Math.min(6, Math.max(2, Math.ceil(String(p.description || "").length / 34)))}" placeholder="optional">${esc(p.description || "")}</textarea></label></li>`;
      }).join("") + `</ul>` : `<p class="empty">No params yet.</p>`);
    panel.onchange = (e) => {
      const li = e.target.closest(".param");
      if (!li) return;
      const name = li.dataset.param;
      const f = e.target;
      if (f.classList.contains("pname")) return this.renameParam(name, f.value.trim());
      this.editor.edit((d) => {
        const p = d.params[name];
        if (f.classList.contains("ptype")) p.type = f.value;
        if (f.classList.contains("plabel")) { if (f.value) p.label = f.value; else delete p.label; }
        if (f.classList.contains("pdescr")) { if (f.value) p.description = f.value; else delete p.description; }
        if (f.classList.contains("pdefault")) {
          const v = f.type === "checkbox" ? f.checked : coerce(f.value, p.type);
          if (v === undefined) { this.ui.toast(`“${f.value}” is not a valid ${p.type}`, "bad"); return; }
          p.default = v;
          if (d.nodes[p.node]) { d.nodes[p.node].inputs = d.nodes[p.node].inputs || {}; d.nodes[p.node].inputs[p.input] = v; }
        }
      }, [doc.params[name]?.node].filter((id) => doc.nodes[id]));
    };
    panel.onclick = (e) => {
      if (e.target.closest(".prun")) return this.run();
      if (e.target.closest(".popenapp")) return this.openApp();
      const del = e.target.closest(".pdel");
      if (del) return this.removeParam(del.closest(".param").dataset.param);
      const a = e.target.closest("a[data-node]");
      if (a) { e.preventDefault(); if (doc.nodes[a.dataset.node]) { this.editor.select([a.dataset.node]); this.editor.fit(new Set([a.dataset.node])); } }
    };
  }

  /** The default's field: the widget of the input the param fills (a voice is a drop-down). */
  defaultControl(p, spec) {
    const fmt = (v) => (typeof v === "string" ? v : JSON.stringify(v));
    const v = p.default ?? "";
    const w = (spec && spec.widget) || {};
    if (w.kind === "COMBO" && Array.isArray(w.options) && p.type === "TEXT") {
      const options = w.options.includes(v) || v === "" ? [...w.options] : [v, ...w.options];
      return `<select class="pdefault">${options.map((o) => `<option${o === v ? " selected" : ""} value="${esc(o)}">${esc(o)}</option>`).join("")}</select>`;
    }
    if (p.type === "BOOL") return `<input class="pdefault" type="checkbox"${v === true ? " checked" : ""}>`;
    if (p.type === "INT" || p.type === "FLOAT") {
      const b = (k) => (typeof w[k] === "number" ? ` ${k}="${w[k]}"` : "");
      return `<input class="pdefault" type="number"${b("min")}${b("max")} step="${typeof w.step === "number" ? w.step : p.type === "INT" ? 1 : "any"}" value="${esc(fmt(v))}">`;
    }
    if (p.type === "TEXT" && (w.multiline || String(v).includes("\n"))) return `<textarea class="pdefault" rows="4">${esc(fmt(v))}</textarea>`;
    return `<input class="pdefault" value="${esc(fmt(v))}">`;
  }

  async exposeParam(id, input) {
    const spec = this.editor.inputSpec(id, input);
    const doc = this.current.doc;
    let name = input;
    for (let i = 2; doc.params && doc.params[name]; i++) name = `${input}${i}`;
    const chosen = await this.ui.prompt("Expose as workflow param", "Param name", name, `Fills ${id}.${input}; set it with --set NAME=value`);
    if (!chosen) return;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(chosen)) { this.ui.toast("Param names are letters, digits, '_' or '-'", "bad"); return; }
    if (doc.params && doc.params[chosen]) { this.ui.toast(`A param named “${chosen}” exists`, "bad"); return; }
    const value = (doc.nodes[id].inputs || {})[input];
    this.editor.edit((d) => {
      d.params = d.params && typeof d.params === "object" ? d.params : {};
      d.params[chosen] = { node: id, input, type: PARAM_TYPES[spec.widget.kind] || "TEXT", default: value ?? spec.default ?? "" };
    }, [id]);
    this.showPanel("params");
    this.ui.toast(`Param “${chosen}” → ${id}.${input}`, "ok");
  }

  removeParam(name) {
    const p = this.current.doc.params[name];
    this.editor.edit((d) => { delete d.params[name]; }, p && this.current.doc.nodes[p.node] ? [p.node] : null);
    this.renderParams();
  }

  renameParam(old, name) {
    const doc = this.current.doc;
    if (!name || name === old) return this.renderParams();
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) || doc.params[name]) {
      this.ui.toast(doc.params[name] ? `A param named “${name}” exists` : "Param names are letters, digits, '_' or '-'", "bad");
      return this.renderParams();
    }
    const node = doc.params[old].node;
    this.editor.edit((d) => {
      const out = {};
      for (const [k, v] of Object.entries(d.params)) out[k === old ? name : k] = v;
      d.params = out;
    }, doc.nodes[node] ? [node] : null);
    this.renderParams();
  }

  async renameGroup(i) {
    const g = this.current.doc.groups[i];
    const t = await this.ui.prompt("Rename group", "Title", g.title || "Group");
    if (t !== null && t !== undefined) this.editor.edit((d) => { d.groups[i].title = t; }, "groups");
  }
}

function coerce(text, type) {
  if (type === "INT") { const n = Number(text); return Number.isInteger(n) ? n : undefined; }
  if (type === "FLOAT") { const n = Number(text); return Number.isFinite(n) ? n : undefined; }
  if (type === "BOOL") { const t = text.trim().toLowerCase(); return ["true", "1", "yes", "on"].includes(t) ? true : ["false", "0", "no", "off"].includes(t) ? false : undefined; }
  return text;
}
