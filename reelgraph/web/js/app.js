// The application shell: tabs, toolbar, side panels, shortcuts, saving, drafts and runs.

import { api, Events } from "./api.js";
import { Editor, fmtSeconds } from "./editor.js";
import { History } from "./history.js";
import { workflowFromFile } from "./embed.js";
import { Palette } from "./palette.js";
import { setTypes } from "./types.js";
import { esc, isLink, SEED_MODES } from "./widgets.js";

const DRAFTS = "reelgraph.drafts.v1";
const CLIP = "reelgraph.clipboard";
const PARAM_TYPES = { INT: "INT", FLOAT: "FLOAT", BOOL: "BOOL" };

const $ = (s, el = document) => el.querySelector(s);

const SHORTCUTS = [
  ["Canvas", [
    ["Drag empty space, Space+drag, middle drag", "Pan"], ["Wheel / pinch", "Zoom at the cursor"], ["Two-finger scroll", "Pan"],
    [".", "Fit to view (the selection, if any)"], ["Shift/Ctrl+drag", "Box select"], ["Shift/Ctrl+click", "Add to selection"],
    ["Ctrl+A", "Select all"], ["Arrow keys (Shift: ×5)", "Move the selection"], ["Delete / Backspace", "Delete selection"]]],
  ["Nodes", [
    ["Double-click canvas, Space, Tab", "Search nodes"], ["Drop a wire on empty canvas", "Add a node that fits, linked"],
    ["Drag from a linked input", "Move or remove the link"], ["Double-click a wire", "Add a reroute point"],
    ["Double-click a title", "Rename"], ["Alt+C", "Collapse / expand"], ["Ctrl+B", "Bypass"], ["Ctrl+G", "Group selection"],
    ["Right-click a widget", "Expose as workflow param"]]],
  ["Edit", [
    ["Ctrl+Z", "Undo"], ["Ctrl+Shift+Z, Ctrl+Y", "Redo"], ["Ctrl+C / Ctrl+X / Ctrl+V", "Copy / cut / paste (also between tabs)"],
    ["Ctrl+D, Alt+drag", "Duplicate"]]],
  ["Workflow", [
    ["Ctrl+S", "Save"], ["Ctrl+Shift+S", "Save as"], ["Ctrl+O", "Open"], ["Ctrl+Enter", "Queue"],
    ["Ctrl+Shift+Enter", "Run to the selected nodes"], ["Drop .json / .png / .mp4", "Open the workflow inside"], ["?", "This sheet"]]],
];

export function emptyDoc(name = "Untitled") {
  return { format: "reelgraph.workflow", version: 1, name, nodes: {}, params: {}, groups: [], notes: [] };
}

let tabSeq = 0;

class App {
  constructor() {
    this.tabs = [];
    this.current = null;
    this.runs = new Map(); // run id -> {tabId, status, name, ...}
    this.spaceDown = false;
    this.spaceUsed = false;
    this.ready = this.start();
  }

  async start() {
    this.buildShell();
    this.edits = new History();
    this.edits.onChange((tab) => this.onChange(tab));
    this.editor = new Editor($("#canvas"), this, this.edits);
    this.palette = new Palette(this);
    const [nodes, types] = await Promise.all([api.nodes(), api.types()]);
    setTypes(types);
    this.editor.setSchemas(nodes.nodes);
    this.loadErrors = nodes.load_errors || [];
    this.bindGlobal();
    this.events = new Events((ev) => this.onEvent(ev), (h, p) => this.onPreview(h, p), (up) => {
      $("#conn").classList.toggle("off", !up);
      $("#conn").title = up ? "connected to the server" : "reconnecting to the server…";
      if (up) this.refreshHistory();
    });
    this.restoreDrafts();
    const want = new URLSearchParams(location.search).get("workflow");
    if (want) await this.openByName(want);
    if (!this.tabs.length) this.newTab(emptyDoc());
    else if (!this.current) this.switchTab(this.tabs[0].id);
    this.refreshWorkflows();
    this.refreshHistory();
    document.body.classList.add("ready");
  }

  // ------------------------------------------------------------------ shell
  buildShell() {
    document.body.innerHTML = `
    <header class="topbar">
      <div class="brand"><span class="logo">◆</span>reelgraph</div>
      <nav class="tabs" role="tablist"></nav>
      <button class="icon newtab" title="new workflow tab">+</button>
      <div class="spacer"></div>
      <div class="menubar">
        <button data-act="open" title="open a saved workflow or template (Ctrl+O)">Open</button>
        <button data-act="save" title="save to the server (Ctrl+S)">Save</button>
        <button data-act="import" title="import a workflow JSON, PNG or MP4">Import</button>
        <button data-act="export" title="download the workflow as JSON">Export</button>
        <button data-act="undo" class="icon" title="undo (Ctrl+Z)">↶</button>
        <button data-act="redo" class="icon" title="redo (Ctrl+Shift+Z)">↷</button>
        <button data-act="help" class="icon" title="keyboard shortcuts (?)">?</button>
        <button data-act="app" class="appbtn" title="use this workflow as a form: its params as fields, a Run button, no graph">App view</button>
        <button data-act="gallery" title="all templates and apps, with pictures">Gallery</button>
      </div>
      <div class="runbar">
        <span id="conn" class="conn off" title="connecting…"></span>
        <button data-act="cancel" class="cancel" title="cancel the running workflow" disabled>Cancel</button>
        <button data-act="queue" class="queue primary" title="queue the workflow (Ctrl+Enter)">▶ Queue</button>
      </div>
    </header>
    <main>
      <div id="canvas" class="canvas" tabindex="-1"></div>
      <aside class="side">
        <div class="sidetabs" role="tablist">
          <button data-panel="workflows" class="on">Workflows</button>
          <button data-panel="params">Params</button>
          <button data-panel="queue">Queue</button>
          <button data-panel="issues">Issues<span class="count" hidden></span></button>
        </div>
        <section class="panel" data-panel="workflows"></section>
        <section class="panel" data-panel="params" hidden></section>
        <section class="panel" data-panel="queue" hidden></section>
        <section class="panel" data-panel="issues" hidden></section>
      </aside>
    </main>
    <div class="toasts"></div>
    <div class="menu" hidden></div>
    <div class="modal" hidden><div class="dialog"></div></div>
    <div class="dropzone" hidden><div>Drop a workflow JSON, or a PNG / MP4 made by reelgraph</div></div>
    <input type="file" class="filepick" hidden>`;
    $(".newtab").addEventListener("click", () => this.newTab(emptyDoc()));
    $(".topbar").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-act]");
      if (b) this.action(b.dataset.act);
      const tab = e.target.closest(".tab");
      if (tab && e.target.closest(".tclose")) { this.closeTab(tab.dataset.tab); return; }
      if (tab) this.switchTab(tab.dataset.tab);
    });
    $(".tabs").addEventListener("auxclick", (e) => {
      const tab = e.target.closest(".tab");
      if (tab && e.button === 1) this.closeTab(tab.dataset.tab);
    });
    $(".sidetabs").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-panel]");
      if (b) this.showPanel(b.dataset.panel);
    });
  }

  showPanel(name) {
    for (const b of document.querySelectorAll(".sidetabs button")) b.classList.toggle("on", b.dataset.panel === name);
    for (const p of document.querySelectorAll(".panel")) p.hidden = p.dataset.panel !== name;
    if (name === "params") this.renderParams();
    if (name === "queue") this.refreshHistory();
    if (name === "workflows") this.refreshWorkflows();
  }

  action(act) {
    const map = {
      open: () => { this.showPanel("workflows"); $(".panel[data-panel=workflows] input")?.focus(); },
      save: () => this.save(), saveas: () => this.save(true), import: () => this.importFile(), export: () => this.exportFile(),
      undo: () => this.undo(), redo: () => this.redo(), help: () => this.showShortcuts(),
      queue: () => this.queue(), cancel: () => this.cancelRun(),
      app: () => this.openApp(), gallery: () => { location.href = "/app/"; },
    };
    map[act]?.();
  }

  /** The app view runs the saved workflow (or the template): save first when there are changes. */
  async openApp() {
    const tab = this.current;
    if (!Object.keys(tab.doc.params || {}).length) {
      this.toast("This workflow has no params yet: right-click a widget on a node to expose it as a form field", "warn", 6000);
      return;
    }
    let name = tab.name || (tab.source === "template" && !tab.dirty ? tab.template : null);
    if (!name || tab.dirty) {
      if (!(await this.save())) return;
      name = tab.name;
    }
    location.href = `/app/${encodeURIComponent(name)}`;
  }

  toast(text, kind = "info", ms = 3500) {
    const el = document.createElement("div");
    el.className = `toast ${kind}`;
    el.textContent = text;
    $(".toasts").append(el);
    setTimeout(() => { el.classList.add("out"); setTimeout(() => el.remove(), 300); }, ms);
  }

  // ------------------------------------------------------------------ tabs
  newTab(doc, meta = {}) {
    const tab = { id: `t${++tabSeq}`, doc, undo: [], redo: [], dirty: false, name: meta.name || null,
      source: meta.source || null, template: meta.template || null, run: null, view: null, saved: meta.name ? JSON.stringify(doc) : null };
    this.tabs.push(tab);
    this.switchTab(tab.id);
    this.checkMissing(tab);
    this.saveDrafts();
    return tab;
  }

  tab(id) { return this.tabs.find((t) => t.id === id); }

  switchTab(id) {
    const tab = this.tab(id);
    if (!tab) return;
    this.palette?.close();
    this.current = tab;
    this.editor.show(tab);
    this.renderTabs();
    this.renderParams();
    this.renderIssues();
    this.updateRunButtons();
  }

  closeTab(id) {
    const tab = this.tab(id);
    if (!tab) return;
    if (tab.dirty && !confirm(`“${this.tabTitle(tab)}” has unsaved changes. Close it anyway?`)) return;
    const i = this.tabs.indexOf(tab);
    this.tabs.splice(i, 1);
    if (!this.tabs.length) this.newTab(emptyDoc());
    else if (this.current === tab) this.switchTab(this.tabs[Math.max(0, i - 1)].id);
    else this.renderTabs();
    this.saveDrafts();
  }

  tabTitle(tab) { return tab.name || tab.doc.name || "Untitled"; }

  renderTabs() {
    $(".tabs").innerHTML = this.tabs.map((t) => `<div class="tab${t === this.current ? " on" : ""}${t.dirty ? " dirty" : ""}" data-tab="${t.id}" role="tab" title="${esc(t.name ? `saved as ${t.name}` : t.source === "template" ? "from a template: not saved yet" : "not saved yet")}">` +
      `<span class="tname">${esc(this.tabTitle(t))}</span><span class="tdot" title="unsaved changes">●</span><button class="tclose" title="close tab">×</button></div>`).join("");
    const on = $(".tabs .tab.on");
    if (on) { // keep the active tab in view when the strip scrolls
      const strip = $(".tabs");
      const a = on.getBoundingClientRect(), b = strip.getBoundingClientRect();
      if (a.left < b.left) strip.scrollLeft -= b.left - a.left;
      else if (a.right > b.right) strip.scrollLeft += a.right - b.right;
    }
    document.title = `${this.current ? this.tabTitle(this.current) + (this.current.dirty ? " •" : "") + " — " : ""}reelgraph`;
  }

  // ------------------------------------------------------------------ history (js/history.js)
  undo() {
    if (!this.edits.undo(this.current)) { this.editor.hint("Nothing to undo"); return; }
    this.afterHistory();
  }

  redo() {
    if (!this.edits.redo(this.current)) { this.editor.hint("Nothing to redo"); return; }
    this.afterHistory();
  }

  afterHistory() {
    const sel = [...this.editor.selected].filter((id) => this.current.doc.nodes[id]);
    this.editor.selected = new Set(sel);
    this.editor.render();
    this.edits.changed(this.current);
  }

  /** A tab's document changed: its tab, the panels (soon) and the local draft. */
  onChange(tab = this.current) {
    this.renderTabs();
    if (tab !== this.current) { this.saveDraftsSoon(); return; }
    clearTimeout(this.paramsTimer);
    this.paramsTimer = setTimeout(() => { this.renderParams(); this.renderIssues(); }, 150);
    this.saveDraftsSoon();
  }

  onSelection() {
    const n = this.editor.selected.size;
    $(".queue").title = n ? `queue (Ctrl+Enter) — Ctrl+Shift+Enter runs up to the ${n} selected node(s)` : "queue the workflow (Ctrl+Enter)";
  }

  // ------------------------------------------------------------------ drafts: nothing is lost
  saveDraftsSoon() {
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => this.saveDrafts(), 400);
  }

  saveDrafts() {
    try {
      const data = {
        current: this.tabs.indexOf(this.current),
        tabs: this.tabs.map((t) => ({ doc: this.serialize(t), name: t.name, source: t.source, template: t.template, dirty: t.dirty, saved: t.saved })),
      };
      localStorage.setItem(DRAFTS, JSON.stringify(data));
    } catch (e) {
      if (!this.draftWarned) { this.toast(`Cannot keep a local draft: ${e.message}`, "bad"); this.draftWarned = true; }
    }
  }

  restoreDrafts() {
    let data;
    try { data = JSON.parse(localStorage.getItem(DRAFTS) || "null"); } catch { data = null; }
    if (!data || !Array.isArray(data.tabs)) return;
    for (const t of data.tabs) {
      if (!t || !t.doc || typeof t.doc.nodes !== "object") continue;
      const tab = { id: `t${++tabSeq}`, doc: t.doc, undo: [], redo: [], dirty: Boolean(t.dirty), name: t.name || null,
        source: t.source || null, template: t.template || null, run: null, view: null, saved: t.saved ?? null };
      this.tabs.push(tab);
      this.checkMissing(tab, true);
    }
    const cur = this.tabs[data.current] || this.tabs[0];
    if (cur) this.switchTab(cur.id);
    const dirty = this.tabs.filter((t) => t.dirty).length;
    if (dirty) this.toast(`Restored ${dirty} unsaved draft${dirty > 1 ? "s" : ""} from this browser`, "info", 5000);
  }

  /** The document as saved: the live doc plus the current viewport. */
  serialize(tab = this.current) {
    const doc = JSON.parse(JSON.stringify(tab.doc));
    const view = tab === this.current ? this.editor.view : tab.view;
    if (view) {
      doc.ui = doc.ui && typeof doc.ui === "object" ? doc.ui : {};
      doc.ui.viewport = { x: Math.round(view.x), y: Math.round(view.y), zoom: Math.round(view.zoom * 1000) / 1000 };
    }
    return doc;
  }

  // ------------------------------------------------------------------ open / save
  /** Open a saved workflow or template by name; `lastOpenMs` is the time to its first painted frame. */
  async openByName(name, kind) {
    const t0 = performance.now();
    const tab = await this.openByNameInner(name, kind);
    if (tab) {
      await afterPaint();
      this.lastOpenMs = performance.now() - t0;
    }
    return tab;
  }

  async openByNameInner(name, kind) {
    const existing = this.tabs.find((t) => t.name === name && t.source === "workflow" && kind !== "template");
    try {
      let doc, source = "workflow";
      if (kind !== "template") {
        // look the name up first: a template name is not an error (and not a 404 in the console)
        const list = kind === "workflow" ? null : await api.workflows().catch(() => null);
        if (!list || list.workflows.some((w) => w.name === name)) doc = await api.workflow(name);
      }
      if (!doc) { doc = await api.template(name); source = "template"; }
      if (existing && source === "workflow") {
        if (existing.dirty && JSON.stringify(doc) !== existing.saved) { this.switchTab(existing.id); return existing; }
        existing.doc = doc; existing.saved = JSON.stringify(doc); existing.dirty = false; existing.view = null;
        existing.undo = []; existing.redo = [];
        this.switchTab(existing.id);
        this.checkMissing(existing);
        return existing;
      }
      if (this.current && !this.current.dirty && !Object.keys(this.current.doc.nodes).length && !this.current.name) {
        this.tabs.splice(this.tabs.indexOf(this.current), 1); // replace an empty, untouched tab
      }
      return this.newTab(doc, { name: source === "workflow" ? name : null, source, template: source === "template" ? name : null });
    } catch (e) {
      this.toast(`Cannot open “${name}”: ${e.message}`, "bad", 6000);
      return null;
    }
  }

  openDoc(doc, label) {
    if (!doc || typeof doc !== "object" || doc.format !== "reelgraph.workflow" || typeof doc.nodes !== "object") {
      this.toast(`${label}: not a reelgraph workflow`, "bad", 5000);
      return null;
    }
    const tab = this.newTab(doc, { source: "import" });
    tab.dirty = true;
    this.renderTabs();
    this.toast(`Opened ${label}`, "ok");
    return tab;
  }

  async save(asNew = false) {
    const tab = this.current;
    let name = tab.name;
    if (!name || asNew) {
      const suggested = (tab.doc.name || "workflow").replace(/[^A-Za-z0-9 _.-]+/g, "").trim() || "workflow";
      name = await this.prompt("Save workflow", "Name", suggested, "Letters, digits, spaces, '_', '-' or '.'");
      if (!name) return false;
      const list = await api.workflows().catch(() => ({ workflows: [] }));
      if (list.workflows.some((w) => w.name === name) && name !== tab.name
        && !(await this.confirmDialog(`A workflow named “${name}” exists. Replace it? (The old version is kept as a backup.)`))) return false;
    }
    const doc = this.serialize(tab);
    if (!doc.name || doc.name === "Untitled") doc.name = name;
    try {
      const res = await api.saveWorkflow(name, doc);
      tab.doc.name = doc.name;
      tab.name = name;
      tab.source = "workflow";
      tab.saved = JSON.stringify(tab.doc);
      tab.dirty = false;
      this.renderTabs();
      this.saveDrafts();
      const errors = (res.issues || []).filter((i) => (i.severity || "error") === "error");
      this.toast(errors.length ? `Saved “${name}” — ${errors.length} problem(s) to fix before it runs` : `Saved “${name}”`, errors.length ? "warn" : "ok");
      this.serverIssues = res.issues || [];
      this.renderIssues();
      this.refreshWorkflows();
      return true;
    } catch (e) {
      this.toast(`Save failed: ${e.message}`, "bad", 6000);
      if (e.data && e.data.issues) { this.serverIssues = e.data.issues; this.renderIssues(); this.showPanel("issues"); }
      return false;
    }
  }

  exportFile() {
    const doc = this.serialize();
    const blob = new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${(this.current.name || doc.name || "workflow").replace(/[^A-Za-z0-9 _.-]+/g, "_")}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }

  importFile() {
    const pick = $(".filepick");
    pick.accept = ".json,.png,.mp4,application/json,image/png,video/mp4";
    pick.onchange = async () => {
      const f = pick.files[0];
      pick.value = "";
      if (f) await this.openFile(f);
    };
    pick.click();
  }

  async openFile(file) {
    const res = await workflowFromFile(file);
    if (res.error) { this.toast(res.error, "bad", 6000); return null; }
    return this.openDoc(res.doc, file.name);
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
        if (await this.confirmDialog(`Delete “${li.dataset.name}”? A backup copy stays in the server's workflows/.backups folder.`)) {
          await api.deleteWorkflow(li.dataset.name).catch((err) => this.toast(err.message, "bad"));
          this.refreshWorkflows();
        }
        return;
      }
      this.openByName(li.dataset.name, li.dataset.kind);
    };
  }

  // ------------------------------------------------------------------ missing nodes and issues
  checkMissing(tab, quiet = false) {
    const missing = {};
    for (const [id, n] of Object.entries(tab.doc.nodes || {})) {
      if (!this.editor.schemas.has(n.type)) (missing[n.type] = missing[n.type] || []).push(id);
    }
    tab.missing = missing;
    const types = Object.keys(missing);
    if (types.length && tab === this.current && !quiet) {
      this.toast(`${types.length} node type${types.length > 1 ? "s are" : " is"} not installed: ${types.join(", ")} — shown as placeholders, kept as they are`, "warn", 7000);
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

  // ------------------------------------------------------------------ params
  renderParams() {
    const panel = $(".panel[data-panel=params]");
    if (!this.current || panel.hidden) return;
    const doc = this.current.doc;
    const params = Object.entries(doc.params || {});
    const fmt = (v) => (typeof v === "string" ? v : JSON.stringify(v));
    panel.innerHTML = `<p class="muted">Params are the workflow's public inputs: <code>reelgraph run wf.json --set name=value</code>, batch CSV columns, app forms. Right-click a widget on a node to expose it.</p>` +
      (params.length ? `<ul class="params">` + params.map(([name, p]) => {
        const ok = p && doc.nodes[p.node];
        return `<li class="param${ok ? "" : " bad"}" data-param="${esc(name)}">` +
          `<div class="prow"><input class="pname" value="${esc(name)}" title="param name"><select class="ptype">${["TEXT", "INT", "FLOAT", "BOOL"].map((t) => `<option${t === p.type ? " selected" : ""}>${t}</option>`).join("")}</select>` +
          `<button class="icon pdel" title="remove param">×</button></div>` +
          `<div class="ptarget">→ <a href="#" data-node="${esc(p.node)}">${esc(p.node)}</a>.${esc(p.input)}${ok ? "" : " (missing node)"}</div>` +
          (p.type === "TEXT" && String(p.default ?? "").includes("\n")
            ? `<textarea class="pdefault" rows="3">${esc(fmt(p.default ?? ""))}</textarea>`
            : `<input class="pdefault" value="${esc(fmt(p.default ?? ""))}" title="default">`) +
          `<input class="plabel" value="${esc(p.label || "")}" placeholder="label in the app view (optional)">` +
          `<input class="pdescr" value="${esc(p.description || "")}" placeholder="help text in the app view (optional)"></li>`;
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
          const v = coerce(f.value, p.type);
          if (v === undefined) { this.toast(`“${f.value}” is not a valid ${p.type}`, "bad"); return; }
          p.default = v;
          if (d.nodes[p.node]) { d.nodes[p.node].inputs = d.nodes[p.node].inputs || {}; d.nodes[p.node].inputs[p.input] = v; }
        }
      }, [doc.params[name]?.node].filter((id) => doc.nodes[id]));
    };
    panel.onclick = (e) => {
      const del = e.target.closest(".pdel");
      if (del) return this.removeParam(del.closest(".param").dataset.param);
      const a = e.target.closest("a[data-node]");
      if (a) { e.preventDefault(); if (doc.nodes[a.dataset.node]) { this.editor.select([a.dataset.node]); this.editor.fit(new Set([a.dataset.node])); } }
    };
  }

  async exposeParam(id, input) {
    const spec = this.editor.inputSpec(id, input);
    const doc = this.current.doc;
    let name = input;
    for (let i = 2; doc.params && doc.params[name]; i++) name = `${input}${i}`;
    const chosen = await this.prompt("Expose as workflow param", "Param name", name, `Fills ${id}.${input}; set it with --set NAME=value`);
    if (!chosen) return;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(chosen)) { this.toast("Param names are letters, digits, '_' or '-'", "bad"); return; }
    if (doc.params && doc.params[chosen]) { this.toast(`A param named “${chosen}” exists`, "bad"); return; }
    const value = (doc.nodes[id].inputs || {})[input];
    this.editor.edit((d) => {
      d.params = d.params && typeof d.params === "object" ? d.params : {};
      d.params[chosen] = { node: id, input, type: PARAM_TYPES[spec.widget.kind] || "TEXT", default: value ?? spec.default ?? "" };
    }, [id]);
    this.showPanel("params");
    this.toast(`Param “${chosen}” → ${id}.${input}`, "ok");
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
      this.toast(doc.params[name] ? `A param named “${name}” exists` : "Param names are letters, digits, '_' or '-'", "bad");
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
    const t = await this.prompt("Rename group", "Title", g.title || "Group");
    if (t !== null && t !== undefined) this.editor.edit((d) => { d.groups[i].title = t; }, "groups");
  }

  // ------------------------------------------------------------------ running
  /** Seeds in "increment"/"randomize" mode change at queue time; the change is stored in the workflow. */
  applySeedModes(tab) {
    const changed = [];
    const doc = tab.doc;
    for (const [id, n] of Object.entries(doc.nodes)) {
      const modes = n.ui && n.ui.seed_modes;
      if (!modes) continue;
      const s = this.editor.schemas.get(n.type);
      for (const [input, mode] of Object.entries(modes)) {
        const spec = s && s.inputs.find((i) => i.name === input);
        if (!spec || !SEED_MODES.includes(mode) || mode === "fixed" || isLink(n.inputs?.[input])) continue;
        const lo = spec.widget.min ?? 0, hi = Math.min(spec.widget.max ?? 2 ** 32 - 1, Number.MAX_SAFE_INTEGER);
        const cur = Number(n.inputs?.[input] ?? spec.default ?? 0);
        const next = mode === "increment" ? (cur + 1 > hi ? lo : cur + 1) : lo + Math.floor(Math.random() * (hi - lo + 1));
        changed.push([id, input, next]);
      }
    }
    if (changed.length) {
      this.editor.edit((d) => {
        for (const [id, input, v] of changed) {
          d.nodes[id].inputs[input] = v;
          for (const p of Object.values(d.params || {})) if (p.node === id && p.input === input) p.default = v;
        }
      }, changed.map((c) => c[0]));
    }
  }

  async queue(targets = null) {
    const tab = this.current;
    if (!Object.keys(tab.doc.nodes).length) { this.toast("Add some nodes first: double-click the canvas", "warn"); return null; }
    this.applySeedModes(tab);
    const doc = this.serialize(tab);
    try {
      const body = { workflow: doc, name: this.tabTitle(tab) };
      if (targets && targets.length) body.targets = targets;
      const res = await api.queue(body);
      this.serverIssues = res.warnings || [];
      this.renderIssues();
      this.runs.set(res.run_id, { tabId: tab.id, status: "queued", name: body.name });
      // fresh states: every node the run may touch starts as queued
      // previews stay until this run replaces them: a cached node sends none, and its result is unchanged
      tab.run = { id: res.run_id, states: {}, previews: { ...((tab.run && tab.run.previews) || {}) } };
      for (const [id, n] of Object.entries(tab.doc.nodes)) if (!n.bypass) tab.run.states[id] = { state: "queued" };
      if (tab === this.current) this.editor.applyRunStates();
      const early = this.early && this.early.get(res.run_id);
      if (early) { this.early.delete(res.run_id); for (const ev of early) this.onEvent(ev); }
      const earlyPreviews = this.earlyPreviews && this.earlyPreviews.get(res.run_id);
      if (earlyPreviews) { this.earlyPreviews.delete(res.run_id); for (const [h, payload] of earlyPreviews) this.onPreview(h, payload); }
      this.updateRunButtons();
      this.toast(targets ? `Queued up to ${targets.join(", ")}` : `Queued${res.position > 1 ? ` (position ${res.position})` : ""}`, "ok", 2000);
      this.refreshHistory();
      return res.run_id;
    } catch (e) {
      const issues = (e.data && e.data.issues) || [];
      this.serverIssues = issues;
      this.renderIssues();
      if (issues.length) {
        this.showPanel("issues");
        for (const i of issues) {
          if (i.node && tab.doc.nodes[i.node]) {
            tab.run = tab.run || { id: null, states: {}, previews: {} };
            tab.run.states[i.node] = { state: "failed", error: { message: `${i.input ? i.input + ": " : ""}${i.message || i.code}` } };
          }
        }
        this.editor.applyRunStates();
      }
      this.toast(`Cannot queue: ${e.message}${issues.length ? ` (${issues.length} problem${issues.length > 1 ? "s" : ""})` : ""}`, "bad", 6000);
      return null;
    }
  }

  /** After a reload: a run still executing whose name is one of our tabs shows its live states again. */
  async attachRun(runId) {
    if (this.runs.has(runId)) return;
    let run;
    try { run = await api.run(runId); } catch { return; }
    const tab = this.tabs.find((t) => this.tabTitle(t) === run.name && !(t.run && t.run.id));
    if (!tab || !["queued", "running"].includes(run.status)) return;
    tab.run = { id: runId, states: {}, previews: {} };
    for (const [id, info] of Object.entries(run.nodes || {})) {
      if (!tab.doc.nodes[id]) continue;
      const st = info.state === "finished" ? "done" : info.state === "pending" ? "queued" : info.state;
      tab.run.states[id] = { state: st, seconds: info.seconds, progress: info.progress };
    }
    this.runs.set(runId, { tabId: tab.id, status: run.status, name: run.name });
    const early = this.early && this.early.get(runId);
    if (early) { this.early.delete(runId); for (const e of early) this.onEvent(e); }
    if (tab === this.current) this.editor.applyRunStates();
    this.updateRunButtons();
  }

  async cancelRun() {
    const tab = this.current;
    const id = tab.run && tab.run.id;
    if (!id) return;
    try { await api.cancel(id); this.toast("Cancelling…", "info", 1500); } catch (e) { this.toast(e.message, "bad"); }
  }

  updateRunButtons() {
    const tab = this.current;
    const r = tab && tab.run && tab.run.id && this.runs.get(tab.run.id);
    $(".cancel").disabled = !(r && (r.status === "queued" || r.status === "running"));
  }

  tabOfRun(runId) {
    const r = this.runs.get(runId);
    return r ? this.tab(r.tabId) : null;
  }

  onEvent(ev) {
    const t = ev.type;
    if (t === "hello" && ev.running) { this.attachRun(ev.running); return; }
    if (t === "hello" || t === "pong") return;
    if (ev.run_id && !this.runs.has(ev.run_id) && t !== "run.deleted") {
      // A run's first events can arrive before POST /api/runs answers: keep them for a moment.
      const early = this.early || (this.early = new Map());
      if (!early.has(ev.run_id)) {
        early.set(ev.run_id, []);
        setTimeout(() => early.delete(ev.run_id), 30000);
      }
      const list = early.get(ev.run_id);
      if (list.length < 2000) list.push(ev);
      if (t.startsWith("run.")) { clearTimeout(this.histTimer); this.histTimer = setTimeout(() => this.refreshHistory(), 200); }
      return;
    }
    if (t.startsWith("run.")) {
      const r = this.runs.get(ev.run_id);
      if (r) {
        const status = { "run.queued": "queued", "run.started": "running", "run.finished": "finished",
          "run.failed": "failed", "run.cancelled": "cancelled" }[t];
        if (status) r.status = status;
        const tab = this.tab(r.tabId);
        if (tab && tab.run && tab.run.id === ev.run_id && ["finished", "failed", "cancelled"].includes(r.status)) {
          for (const [id, st] of Object.entries(tab.run.states)) {
            if (st.state === "running") tab.run.states[id] = { state: r.status === "cancelled" ? "cancelled" : "skipped" };
            else if (st.state === "queued") tab.run.states[id] = { state: "skipped" };
          }
          this.loadRunOutputs(ev.run_id, tab);
          if (r.status === "failed") this.toast(`Run failed: ${(ev.error && ev.error.message) || "see the failing node"}`, "bad", 6000);
          else if (r.status === "finished") this.toast(`Finished in ${fmtSeconds(ev.seconds || 0)}${ev.cached ? ` · ${ev.cached} cached` : ""}`, "ok");
          else this.toast("Run cancelled", "warn");
          if (tab === this.current) this.editor.applyRunStates();
        }
        this.updateRunButtons();
      }
      clearTimeout(this.histTimer);
      this.histTimer = setTimeout(() => this.refreshHistory(), 200);
      return;
    }
    if (!t.startsWith("node.") || !ev.node_id) return;
    const tab = this.tabOfRun(ev.run_id);
    if (!tab || !tab.run || tab.run.id !== ev.run_id) return;
    const prev = tab.run.states[ev.node_id] || {};
    let st = prev;
    if (t === "node.started") st = { state: "running" };
    else if (t === "node.progress") st = { ...prev, state: "running", progress: { value: ev.value, max: ev.max } };
    else if (t === "node.cached") st = { state: "cached" };
    else if (t === "node.finished") st = { state: "done", seconds: ev.seconds, peak_rss_mb: ev.peak_rss_mb };
    else if (t === "node.failed") st = { state: "failed", error: { message: ev.message, traceback: ev.traceback } };
    else return;
    tab.run.states[ev.node_id] = st;
    if (tab === this.current) {
      const el = this.editor.nodeEls.get(ev.node_id);
      if (el) this.editor.paintState(ev.node_id, el, st, tab.run.previews[ev.node_id]);
      if (t === "node.failed") this.editor.drawMinimapBase();
    }
  }

  onPreview(h, payload) {
    const tab = this.tabOfRun(h.run_id);
    if (!tab && h.run_id && !this.runs.has(h.run_id)) {
      // a fast node's preview can arrive before the POST that queued its run answers
      this.earlyPreviews = this.earlyPreviews || new Map();
      if (this.earlyPreviews.size > 50) this.earlyPreviews.clear();
      const list = this.earlyPreviews.get(h.run_id) || [];
      if (list.length < 16) list.push([h, payload]);
      this.earlyPreviews.set(h.run_id, list);
      return;
    }
    if (!tab || !tab.run || tab.run.id !== h.run_id || !h.node_id) return;
    const url = URL.createObjectURL(new Blob([payload], { type: h.mime }));
    const prev = tab.run.previews[h.node_id];
    let p;
    if (h.kind === "video") {
      const keep = prev && prev.kind === "video" && prev.item === h.item ? prev.urls : [];
      p = { kind: "video", item: h.item, urls: [...keep, url].slice(-8), meta: `${h.video_width || ""}×${h.video_height || ""} · ${h.frame_count} frames @ ${Math.round(h.fps)} fps` };
    } else if (h.kind === "image") {
      const keep = prev && prev.kind === "image" && h.index > 0 ? prev.urls : [];
      p = { kind: "image", urls: [...keep, url].slice(0, 8) };
    } else if (h.kind === "audio") p = { kind: "audio", urls: [url] };
    else if (h.kind === "table") {
      // the scenes a script becomes, as a small table on the node (JSON, not a media file)
      URL.revokeObjectURL(url);
      try { p = { kind: "table", table: JSON.parse(new TextDecoder().decode(payload)) }; } catch { return; }
    } else return;
    if (prev && prev.kind === "file") return; // the final output wins
    tab.run.previews[h.node_id] = p;
    if (tab === this.current) {
      const el = this.editor.nodeEls.get(h.node_id);
      if (el) this.editor.paintState(h.node_id, el, tab.run.states[h.node_id], p);
    }
  }

  /** After a run: its files (video/image/audio outputs) as previews on their nodes; final states. */
  async loadRunOutputs(runId, tab) {
    let run;
    try { run = await api.run(runId); } catch { return; }
    if (!tab.run || tab.run.id !== runId) return;
    for (const [id, info] of Object.entries(run.nodes || {})) {
      if (!tab.doc.nodes[id]) continue;
      const st = info.state;
      if (st === "finished") tab.run.states[id] = { state: "done", seconds: info.seconds, peak_rss_mb: info.peak_rss_mb };
      else if (st === "cached") tab.run.states[id] = { state: "cached" };
      else if (st === "failed") {
        const failure = ((run.error && run.error.failures) || []).find((f) => f.node_id === id) || info.error || {};
        tab.run.states[id] = { state: "failed", error: { message: failure.message || "failed", traceback: failure.traceback } };
      } else if (st === "not_run" || st === "pending") tab.run.states[id] = { state: "skipped" };
    }
    for (const [id, outs] of Object.entries(run.outputs || {})) {
      const file = firstFile(outs);
      if (file && tab.doc.nodes[id]) tab.run.previews[id] = file;
    }
    if (tab === this.current) this.editor.applyRunStates();
    this.renderHistoryList();
  }

  async refreshHistory() {
    try { this.history = await api.runs(30); } catch { return; }
    this.renderHistoryList();
  }

  renderHistoryList() {
    const panel = $(".panel[data-panel=queue]");
    if (!this.history || panel.hidden) return;
    const runs = this.history.runs;
    panel.innerHTML = `<div class="qhead"><span>${this.history.counts.queued || 0} queued · ${this.history.running ? "1 running" : "idle"}</span><button class="qrefresh icon" title="refresh">⟳</button></div>` +
      `<ul class="runs">${runs.map((r) => `<li class="runitem st-${esc(r.status)}" data-run="${esc(r.id)}">` +
        `<div class="rtop"><span class="rstate">${esc(r.status)}</span><span class="rname">${esc(r.name || r.id)}</span>` +
        `<span class="rtime">${r.summary && typeof r.summary.seconds === "number" ? fmtSeconds(r.summary.seconds) : ""}</span></div>` +
        `<div class="rmeta">${new Date(r.created * 1000).toLocaleTimeString()} · ${esc(r.id)}${r.summary && r.summary.cached ? ` · ${r.summary.cached} cached` : ""}</div>` +
        (r.error ? `<div class="rerr">${esc(r.error)}</div>` : "") +
        `<div class="routs" data-outs="${esc(r.id)}"></div>` +
        `<div class="racts">${["queued", "running"].includes(r.status) ? `<button class="rcancel">Cancel</button>` : `<button class="routputs">Outputs</button><button class="ropen">Open workflow</button>`}</div></li>`).join("") || '<li class="muted">No runs yet. Ctrl+Enter queues this workflow.</li>'}</ul>`;
    panel.onclick = async (e) => {
      if (e.target.closest(".qrefresh")) return this.refreshHistory();
      const li = e.target.closest(".runitem");
      if (!li) return;
      const id = li.dataset.run;
      if (e.target.closest(".rcancel")) { await api.cancel(id).catch((err) => this.toast(err.message, "bad")); return; }
      if (e.target.closest(".ropen")) {
        const run = await api.run(id);
        this.openDoc(run.workflow, `run ${id}`);
        return;
      }
      if (e.target.closest(".routputs")) this.showRunOutputs(id, li.querySelector(".routs"));
    };
    // the latest finished runs show their outputs without a click
    for (const li of [...panel.querySelectorAll(".runitem.st-finished")].slice(0, 4)) {
      this.showRunOutputs(li.dataset.run, li.querySelector(".routs"));
    }
  }

  async showRunOutputs(id, box) {
    this.runFiles = this.runFiles || new Map();
    let files = this.runFiles.get(id);
    if (!files) {
      let run;
      try { run = await api.run(id); } catch { return; }
      files = [];
      collectFiles(run.outputs || {}, files);
      if (["finished", "failed", "cancelled"].includes(run.status)) this.runFiles.set(id, files);
    }
    if (!box.isConnected) return;
    box.innerHTML = files.length ? files.slice(0, 12).map((f) => f.media === "video" ? `<video src="${esc(f.url)}" controls preload="metadata"></video><a href="${esc(f.url)}" target="_blank">${esc(f.name)}</a>`
      : f.media === "image" ? `<a href="${esc(f.url)}" target="_blank" title="${esc(f.name)}"><img src="${esc(f.url)}" alt="${esc(f.name)}"></a>`
        : f.media === "audio" ? `<audio src="${esc(f.url)}" controls preload="none"></audio>` : `<a href="${esc(f.url)}" target="_blank">${esc(f.name)}</a>`).join("") : '<span class="muted">No files.</span>';
  }

  // ------------------------------------------------------------------ clipboard
  copy(e) {
    const clip = this.editor.copySelection();
    if (!clip) return false;
    const text = JSON.stringify(clip);
    localStorage.setItem(CLIP, text);
    if (e && e.clipboardData) { e.clipboardData.setData("text/plain", text); e.preventDefault(); }
    else navigator.clipboard?.writeText(text).catch(() => {});
    this.editor.hint(`Copied ${Object.keys(clip.nodes).length} node(s)`);
    return true;
  }

  pasteText(text, at) {
    let clip = null;
    try { clip = JSON.parse(text); } catch { return false; }
    if (clip && clip.format === "reelgraph.workflow" && clip.nodes) { this.openDoc(clip, "pasted workflow"); return true; }
    if (!clip || clip.format !== "reelgraph.clipboard") return false;
    this.editor.paste(clip, at || this.pointerWorld());
    return true;
  }

  pasteFromStore(at) {
    const text = localStorage.getItem(CLIP);
    if (text) this.pasteText(text, at);
  }

  pointerWorld() {
    const m = this.editor.mouse;
    const r = this.editor.root.getBoundingClientRect();
    return m ? this.editor.toWorld(m[0], m[1]) : this.editor.toWorld(r.left + r.width / 2, r.top + r.height / 2);
  }

  duplicate() {
    const clip = this.editor.copySelection();
    if (!clip) return;
    const b = this.editor.bounds(this.editor.selected);
    this.editor.paste(clip, [b[0] + 40, b[1] + 40]);
  }

  // ------------------------------------------------------------------ uploads
  pickUpload(id, input, kind) {
    const pick = $(".filepick");
    pick.accept = kind ? `${kind}/*` : "";
    pick.onchange = async () => {
      const f = pick.files[0];
      pick.value = "";
      if (!f) return;
      this.toast(`Uploading ${f.name}…`, "info", 1500);
      try {
        const res = await api.upload(f);
        this.editor.setInputValue(id, input, res.path);
        this.editor.refreshNodes([id]);
        this.toast(`Uploaded ${res.name}`, "ok");
      } catch (e) { this.toast(e.message, "bad", 6000); }
    };
    pick.click();
  }

  // ------------------------------------------------------------------ menus & dialogs
  showMenu(x, y, items) {
    const m = $(".menu");
    m.innerHTML = items.map((it, i) => it === null ? `<div class="msep"></div>`
      : it.colors ? `<div class="mitem colors"><span>${esc(it.label)}</span><span class="swatches">${it.colors.map((c) => `<button class="sw" data-i="${i}" data-c="${esc(c)}" style="--c:${c || "var(--node)"}" title="${c || "default"}"></button>`).join("")}</span></div>`
        : `<button class="mitem${it.danger ? " danger" : ""}" data-i="${i}"${it.disabled ? " disabled" : ""}><span>${esc(it.label)}</span>${it.key ? `<kbd>${esc(it.key)}</kbd>` : ""}</button>`).join("");
    m.hidden = false;
    const r = m.getBoundingClientRect();
    m.style.left = `${Math.min(x, innerWidth - r.width - 6)}px`;
    m.style.top = `${Math.min(y, innerHeight - r.height - 6)}px`;
    m.onclick = (e) => {
      const b = e.target.closest("[data-i]");
      if (!b) return;
      const it = items[Number(b.dataset.i)];
      this.closeMenus();
      it.run(b.dataset.c);
    };
  }

  closeMenus() { $(".menu").hidden = true; }

  dialog(html, init) {
    return new Promise((resolve) => {
      const modal = $(".modal");
      const box = $(".dialog", modal);
      box.innerHTML = html;
      modal.hidden = false;
      const done = (v) => { modal.hidden = true; box.innerHTML = ""; resolve(v); };
      init(box, done);
      modal.onpointerdown = (e) => { if (e.target === modal) done(null); };
    });
  }

  prompt(title, label, value = "", help = "") {
    return this.dialog(`<h2>${esc(title)}</h2><label class="field"><span>${esc(label)}</span><input class="dlg-input" value="${esc(value)}"></label>` +
      (help ? `<p class="muted">${esc(help)}</p>` : "") + `<div class="dlg-actions"><button class="dlg-cancel">Cancel</button><button class="dlg-ok primary">OK</button></div>`, (box, done) => {
      const input = $(".dlg-input", box);
      input.focus();
      input.select();
      $(".dlg-ok", box).onclick = () => done(input.value.trim() || null);
      $(".dlg-cancel", box).onclick = () => done(null);
      input.onkeydown = (e) => {
        e.stopPropagation();
        if (e.key === "Enter") done(input.value.trim() || null);
        if (e.key === "Escape") done(null);
      };
    });
  }

  confirmDialog(text) {
    return this.dialog(`<p>${esc(text)}</p><div class="dlg-actions"><button class="dlg-cancel">Cancel</button><button class="dlg-ok primary">OK</button></div>`, (box, done) => {
      $(".dlg-ok", box).onclick = () => done(true);
      $(".dlg-cancel", box).onclick = () => done(false);
      $(".dlg-ok", box).focus();
    });
  }

  showShortcuts() {
    this.dialog(`<h2>Keyboard and mouse</h2><div class="sheet">${SHORTCUTS.map(([title, rows]) => `<section><h3>${esc(title)}</h3><table>${rows.map(([k, v]) => `<tr><td><kbd>${esc(k)}</kbd></td><td>${esc(v)}</td></tr>`).join("")}</table></section>`).join("")}</div>` +
      `<div class="dlg-actions"><button class="dlg-ok primary">Close</button></div>`, (box, done) => {
      $(".dlg-ok", box).onclick = () => done(true);
      $(".dlg-ok", box).focus();
      box.onkeydown = (e) => { if (e.key === "Escape" || e.key === "?") { e.stopPropagation(); done(true); } };
    });
  }

  // ------------------------------------------------------------------ global input
  bindGlobal() {
    const editable = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
    document.addEventListener("keydown", (e) => {
      if (!$(".modal").hidden || this.palette.isOpen) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (mod && k === "s") { e.preventDefault(); this.save(e.shiftKey); return; }
      if (mod && k === "enter") { e.preventDefault(); this.queue(e.shiftKey && this.editor.selected.size ? [...this.editor.selected] : null); return; }
      if (mod && k === "o") { e.preventDefault(); this.action("open"); return; }
      if (mod && k === "v") this.pasteKeyAt = performance.now();
      if (editable(e.target)) return;
      if (mod && k === "z") { e.preventDefault(); if (e.shiftKey) this.redo(); else this.undo(); return; }
      if (mod && k === "y") { e.preventDefault(); this.redo(); return; }
      if (mod && k === "a") { e.preventDefault(); this.editor.select(Object.keys(this.current.doc.nodes)); return; }
      if (mod && k === "d") { e.preventDefault(); this.duplicate(); return; }
      if (mod && k === "g") { e.preventDefault(); this.editor.addGroupAround(this.editor.selected); return; }
      if (mod && k === "b") { e.preventDefault(); if (this.editor.selected.size) this.editor.toggleBypass(); return; }
      if (e.altKey && k === "c") { e.preventDefault(); if (this.editor.selected.size) this.editor.toggleCollapse(); return; }
      if (mod) return;
      if (k === "delete" || k === "backspace") { e.preventDefault(); this.editor.deleteSelection(); return; }
      if (k === "tab") { e.preventDefault(); this.openPaletteAtPointer(); return; }
      const arrow = { arrowleft: [-1, 0], arrowright: [1, 0], arrowup: [0, -1], arrowdown: [0, 1] }[k];
      if (arrow && this.editor.selected.size) {
        e.preventDefault();
        const step = 20 * (e.shiftKey ? 5 : 1);
        this.editor.nudge(arrow[0] * step, arrow[1] * step);
        return;
      }
      if (k === " ") { e.preventDefault(); if (!e.repeat) { this.spaceDown = true; this.spaceUsed = false; $("#canvas").classList.add("grab"); } return; }
      if (k === ".") { this.editor.fit(this.editor.selected); return; }
      if (k === "?") { this.showShortcuts(); return; }
      if (k === "escape") { this.closeMenus(); this.editor.select([]); }
    });
    document.addEventListener("keyup", (e) => {
      if (e.key === " " && this.spaceDown) {
        this.spaceDown = false;
        $("#canvas").classList.remove("grab");
        if (!this.spaceUsed && !editable(e.target) && $(".modal").hidden) this.openPaletteAtPointer();
      }
    });
    document.addEventListener("copy", (e) => { if (!editable(e.target)) this.copy(e); });
    document.addEventListener("cut", (e) => { if (!editable(e.target) && this.copy(e)) this.editor.deleteSelection(); });
    document.addEventListener("paste", (e) => {
      if (editable(e.target)) return;
      const text = e.clipboardData && e.clipboardData.getData("text/plain");
      if (text && this.pasteText(text)) { e.preventDefault(); return; }
      const file = e.clipboardData && e.clipboardData.files[0];
      if (file) { e.preventDefault(); this.openFile(file); return; }
      // Only a paste asked for with the keyboard falls back to our own clipboard: a middle click
      // on Linux pastes the primary selection, and that event comes with no text at all.
      if (this.pasteKeyAt && performance.now() - this.pasteKeyAt < 1500) this.pasteFromStore();
      this.pasteKeyAt = 0;
    });
    document.addEventListener("pointerdown", (e) => { if (!e.target.closest(".menu")) this.closeMenus(); });
    // drag and drop of workflow files
    let depth = 0;
    const dz = $(".dropzone");
    window.addEventListener("dragenter", (e) => { if (e.dataTransfer.types.includes("Files")) { depth++; dz.hidden = false; } });
    window.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) dz.hidden = true; });
    window.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("Files")) e.preventDefault(); });
    window.addEventListener("drop", (e) => {
      depth = 0;
      dz.hidden = true;
      if (!e.dataTransfer.files.length) return;
      e.preventDefault();
      for (const f of e.dataTransfer.files) this.openFile(f);
    });
    window.addEventListener("beforeunload", (e) => {
      this.saveDrafts(); // a local draft survives anyway; still warn about unsaved server state
      if (this.tabs.some((t) => t.dirty)) { e.preventDefault(); e.returnValue = ""; }
    });
  }

  openPaletteAtPointer() {
    const m = this.editor.mouse;
    const r = $("#canvas").getBoundingClientRect();
    const [x, y] = m || [r.left + r.width / 2, r.top + r.height / 3];
    this.openPalette(x, y, { at: this.editor.toWorld(x, y) });
  }

  openPalette(x, y, ctx) { this.palette.open(x, y, ctx); }
}

/** Resolves once the frame after the current one has been produced (render + paint done). */
export const afterPaint = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

function coerce(text, type) {
  if (type === "INT") { const n = Number(text); return Number.isInteger(n) ? n : undefined; }
  if (type === "FLOAT") { const n = Number(text); return Number.isFinite(n) ? n : undefined; }
  if (type === "BOOL") { const t = text.trim().toLowerCase(); return ["true", "1", "yes", "on"].includes(t) ? true : ["false", "0", "no", "off"].includes(t) ? false : undefined; }
  return text;
}

const MEDIA = { mp4: "video", webm: "video", mov: "video", mkv: "video", png: "image", jpg: "image", jpeg: "image", webp: "image", gif: "image", wav: "audio", mp3: "audio", ogg: "audio", flac: "audio" };

function collectFiles(v, out) {
  if (Array.isArray(v)) { for (const x of v) collectFiles(x, out); return; }
  if (!v || typeof v !== "object") return;
  if (typeof v.url === "string" && typeof v.file === "string") {
    const name = v.file.split("/").pop();
    out.push({ kind: "file", url: v.url, name, media: MEDIA[name.split(".").pop().toLowerCase()] || "other" });
    return;
  }
  for (const x of Object.values(v)) collectFiles(x, out);
}

function firstFile(outs) {
  const files = [];
  collectFiles(outs, files);
  return files.find((f) => f.media === "video") || files.find((f) => f.media === "image") || files.find((f) => f.media === "audio") || files[0] || null;
}

export const app = new App();
window.reelgraph = app;
// for tools and tests: window.reelgraph.editor, .current.doc, .serialize(), .openByName(), .lastOpenMs
