// The application shell: it builds the page and wires its parts together, and owns what is
// neither a document nor a run: the toolbar, opening and saving files, the clipboard, uploads
// and the global keyboard. The parts, each with its dependencies passed in:
//   history.js  a tab's document and its undo history (every edit is recorded there)
//   editor.js   the canvas (scene.js draws it, interact.js takes its input)
//   tabs.js     tabs and local drafts          panels.js  Workflows, Params, Issues
//   runs.js     runs, events, previews, Queue  ui.js      toasts, menus, dialogs

import { api, Events } from "./api.js";
import { Editor } from "./editor.js";
import { History, emptyDoc } from "./history.js";
import { workflowFromFile } from "./embed.js";
import { Palette } from "./palette.js";
import { Panels } from "./panels.js";
import { Runs } from "./runs.js";
import { Tabs } from "./tabs.js";
import { setTypes } from "./types.js";
import { Dialogs } from "./ui.js";

const CLIP = "reelgraph.clipboard";

const $ = (s, el = document) => el.querySelector(s);

class App {
  constructor() {
    this.keys = { spaceDown: false, spaceUsed: false }; // Space held: a drag pans (interact.js reads it)
    this.ready = this.start();
  }

  // what tools and tests reach through window.reelgraph
  get tabs() { return this.tabbar.tabs; }
  get current() { return this.tabbar.current; }
  get runs() { return this.runner.runs; }
  switchTab(id) { this.tabbar.switchTab(id); }
  serialize(tab) { return this.tabbar.serialize(tab); }
  queue(targets) { return this.runner.queue(targets); }

  async start() {
    this.buildShell();
    this.ui = new Dialogs();
    this.edits = new History();
    this.edits.onChange((tab) => this.onChange(tab));
    // the canvas reaches the rest of the page only through these hooks
    this.editor = new Editor($("#canvas"), {
      keys: this.keys,
      onSelection: () => this.onSelection(),
      closeMenus: () => this.ui.closeMenus(),
      showMenu: (x, y, items) => this.ui.showMenu(x, y, items),
      openPalette: (x, y, ctx) => this.openPalette(x, y, ctx),
      pickUpload: (id, input, kind) => this.pickUpload(id, input, kind),
      renameGroup: (i) => this.panels.renameGroup(i),
      exposeParam: (id, input) => this.panels.exposeParam(id, input),
      removeParam: (name) => this.panels.removeParam(name),
      queue: (targets) => this.runner.queue(targets),
      copy: () => this.copy(),
      duplicate: () => this.duplicate(),
      pasteFromStore: (at) => this.pasteFromStore(at),
    }, this.edits);
    this.palette = new Palette(this.editor);
    this.tabbar = new Tabs({
      editor: this.editor, ui: this.ui,
      onSwitch: () => { this.palette.close(); this.panels.renderParams(); this.panels.renderIssues(); this.runner.updateRunButtons(); },
      onOpen: (tab, quiet) => this.panels.checkMissing(tab, quiet),
    });
    this.panels = new Panels({
      editor: this.editor, tabs: this.tabbar, ui: this.ui,
      openByName: (name, kind) => this.openByName(name, kind), onShowQueue: () => this.runner.refreshHistory(),
      run: () => this.runner.queue(), openApp: () => this.openApp(),
    });
    this.runner = new Runs({ editor: this.editor, tabs: this.tabbar, ui: this.ui, panels: this.panels, openDoc: (doc, label) => this.openDoc(doc, label) });
    const [nodes, types] = await Promise.all([api.nodes(), api.types()]);
    setTypes(types);
    this.editor.setSchemas(nodes.nodes);
    this.panels.loadErrors = nodes.load_errors || [];
    this.bindGlobal();
    this.events = new Events((ev) => this.runner.onEvent(ev), (h, p) => this.runner.onPreview(h, p), (up) => {
      $("#conn").classList.toggle("off", !up);
      $("#conn").title = up ? "connected to the server" : "reconnecting to the server…";
      if (up) this.runner.refreshHistory();
    });
    this.tabbar.restoreDrafts();
    const want = new URLSearchParams(location.search).get("workflow");
    if (want) await this.openByName(want);
    if (!this.tabbar.tabs.length) this.tabbar.newTab(emptyDoc());
    else if (!this.current) this.tabbar.switchTab(this.tabbar.tabs[0].id);
    this.panels.refreshWorkflows();
    this.runner.refreshHistory();
    document.body.classList.add("ready");
  }

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
    $(".newtab").addEventListener("click", () => this.tabbar.newTab(emptyDoc()));
    $(".topbar").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-act]");
      if (b) this.action(b.dataset.act);
      const tab = e.target.closest(".tab");
      if (tab && e.target.closest(".tclose")) { this.tabbar.closeTab(tab.dataset.tab); return; }
      if (tab) this.tabbar.switchTab(tab.dataset.tab);
    });
    $(".tabs").addEventListener("auxclick", (e) => {
      const tab = e.target.closest(".tab");
      if (tab && e.button === 1) this.tabbar.closeTab(tab.dataset.tab);
    });
    $(".sidetabs").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-panel]");
      if (b) this.panels.showPanel(b.dataset.panel);
    });
  }

  action(act) {
    const map = {
      open: () => { this.panels.showPanel("workflows"); $(".panel[data-panel=workflows] input")?.focus(); },
      save: () => this.save(), saveas: () => this.save(true), import: () => this.importFile(), export: () => this.exportFile(),
      undo: () => this.undo(), redo: () => this.redo(), help: () => this.ui.showShortcuts(),
      queue: () => this.runner.queue(), cancel: () => this.runner.cancelRun(),
      app: () => this.openApp(), gallery: () => { location.href = "/app/"; },
    };
    map[act]?.();
  }

  /** The app view runs the saved workflow (or the template): save first when there are changes. */
  async openApp() {
    const tab = this.current;
    if (!Object.keys(tab.doc.params || {}).length) {
      this.ui.toast("This workflow has no params yet: right-click a widget on a node to expose it as a form field", "warn", 6000);
      return;
    }
    let name = tab.name || (tab.source === "template" && !tab.dirty ? tab.template : null);
    if (!name || tab.dirty) {
      if (!(await this.save())) return;
      name = tab.name;
    }
    location.href = `/app/${encodeURIComponent(name)}`;
  }

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
    this.tabbar.renderTabs();
    if (tab !== this.current) { this.tabbar.saveDraftsSoon(); return; }
    clearTimeout(this.paramsTimer);
    this.paramsTimer = setTimeout(() => { this.panels.renderParams(); this.panels.renderIssues(); }, 150);
    this.tabbar.saveDraftsSoon();
  }

  onSelection() {
    const n = this.editor.selected.size;
    $(".queue").title = n ? `queue (Ctrl+Enter) — Ctrl+Shift+Enter runs up to the ${n} selected node(s)` : "queue the workflow (Ctrl+Enter)";
  }

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
    const existing = this.tabbar.tabs.find((t) => t.name === name && t.source === "workflow" && kind !== "template");
    try {
      let doc, source = "workflow";
      if (kind !== "template") {
        // look the name up first: a template name is not an error (and not a 404 in the console)
        const list = kind === "workflow" ? null : await api.workflows().catch(() => null);
        if (!list || list.workflows.some((w) => w.name === name)) doc = await api.workflow(name);
      }
      if (!doc) { doc = await api.template(name); source = "template"; }
      if (existing && source === "workflow") {
        if (existing.dirty && JSON.stringify(doc) !== existing.saved) { this.tabbar.switchTab(existing.id); return existing; }
        existing.doc = doc; existing.saved = JSON.stringify(doc); existing.dirty = false; existing.view = null;
        existing.undo = []; existing.redo = [];
        this.tabbar.switchTab(existing.id);
        this.panels.checkMissing(existing);
        return existing;
      }
      if (this.current && !this.current.dirty && !Object.keys(this.current.doc.nodes).length && !this.current.name) {
        this.tabbar.tabs.splice(this.tabbar.tabs.indexOf(this.current), 1); // replace an empty, untouched tab
      }
      return this.tabbar.newTab(doc, { name: source === "workflow" ? name : null, source, template: source === "template" ? name : null });
    } catch (e) {
      this.ui.toast(`Cannot open “${name}”: ${e.message}`, "bad", 6000);
      return null;
    }
  }

  openDoc(doc, label) {
    if (!doc || typeof doc !== "object" || doc.format !== "reelgraph.workflow" || typeof doc.nodes !== "object") {
      this.ui.toast(`${label}: not a reelgraph workflow`, "bad", 5000);
      return null;
    }
    const tab = this.tabbar.newTab(doc, { source: "import" });
    tab.dirty = true;
    this.tabbar.renderTabs();
    this.ui.toast(`Opened ${label}`, "ok");
    return tab;
  }

  async save(asNew = false) {
    const tab = this.current;
    let name = tab.name;
    if (!name || asNew) {
      const suggested = (tab.doc.name || "workflow").replace(/[^A-Za-z0-9 _.-]+/g, "").trim() || "workflow";
      name = await this.ui.prompt("Save workflow", "Name", suggested, "Letters, digits, spaces, '_', '-' or '.'");
      if (!name) return false;
      const list = await api.workflows().catch(() => ({ workflows: [] }));
      if (list.workflows.some((w) => w.name === name) && name !== tab.name
        && !(await this.ui.confirmDialog(`A workflow named “${name}” exists. Replace it? (The old version is kept as a backup.)`))) return false;
    }
    const doc = this.tabbar.serialize(tab);
    if (!doc.name || doc.name === "Untitled") doc.name = name;
    try {
      const res = await api.saveWorkflow(name, doc);
      tab.doc.name = doc.name;
      tab.name = name;
      tab.source = "workflow";
      tab.saved = JSON.stringify(tab.doc);
      tab.dirty = false;
      this.tabbar.renderTabs();
      this.tabbar.saveDrafts();
      const errors = (res.issues || []).filter((i) => (i.severity || "error") === "error");
      this.ui.toast(errors.length ? `Saved “${name}” — ${errors.length} problem(s) to fix before it runs` : `Saved “${name}”`, errors.length ? "warn" : "ok");
      this.panels.serverIssues = res.issues || [];
      this.panels.renderIssues();
      this.panels.refreshWorkflows();
      return true;
    } catch (e) {
      this.ui.toast(`Save failed: ${e.message}`, "bad", 6000);
      if (e.data && e.data.issues) { this.panels.serverIssues = e.data.issues; this.panels.renderIssues(); this.panels.showPanel("issues"); }
      return false;
    }
  }

  exportFile() {
    const doc = this.tabbar.serialize();
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
    if (res.error) { this.ui.toast(res.error, "bad", 6000); return null; }
    return this.openDoc(res.doc, file.name);
  }

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

  pickUpload(id, input, kind) {
    const pick = $(".filepick");
    pick.accept = kind ? `${kind}/*` : "";
    pick.onchange = async () => {
      const f = pick.files[0];
      pick.value = "";
      if (!f) return;
      this.ui.toast(`Uploading ${f.name}…`, "info", 1500);
      try {
        const res = await api.upload(f);
        this.editor.setInputValue(id, input, res.path);
        this.editor.refreshNodes([id]);
        this.ui.toast(`Uploaded ${res.name}`, "ok");
      } catch (e) { this.ui.toast(e.message, "bad", 6000); }
    };
    pick.click();
  }

  bindGlobal() {
    const editable = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
    document.addEventListener("keydown", (e) => {
      if (!$(".modal").hidden || this.palette.isOpen) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (mod && k === "s") { e.preventDefault(); this.save(e.shiftKey); return; }
      if (mod && k === "enter") { e.preventDefault(); this.runner.queue(e.shiftKey && this.editor.selected.size ? [...this.editor.selected] : null); return; }
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
      if (k === " ") { e.preventDefault(); if (!e.repeat) { this.keys.spaceDown = true; this.keys.spaceUsed = false; $("#canvas").classList.add("grab"); } return; }
      if (k === ".") { this.editor.fit(this.editor.selected); return; }
      if (k === "?") { this.ui.showShortcuts(); return; }
      if (k === "escape") { this.ui.closeMenus(); this.editor.select([]); }
    });
    document.addEventListener("keyup", (e) => {
      if (e.key === " " && this.keys.spaceDown) {
        this.keys.spaceDown = false;
        $("#canvas").classList.remove("grab");
        if (!this.keys.spaceUsed && !editable(e.target) && $(".modal").hidden) this.openPaletteAtPointer();
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
    document.addEventListener("pointerdown", (e) => { if (!e.target.closest(".menu")) this.ui.closeMenus(); });
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
      this.tabbar.saveDrafts(); // a local draft survives anyway; still warn about unsaved server state
      if (this.tabbar.tabs.some((t) => t.dirty)) { e.preventDefault(); e.returnValue = ""; }
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

export const app = new App();
window.reelgraph = app;
// for tools and tests: window.reelgraph.editor, .current.doc, .tabs, .runs, .serialize(), .openByName(), .lastOpenMs
