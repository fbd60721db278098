// The open tabs (each a document, its undo stacks, its save state and its last run) and the
// local drafts that keep every tab across a reload. The shell is told about a switch and about
// a newly opened document through the callbacks it passes in; nothing here calls back into it.

import { emptyDoc } from "./history.js";
import { esc } from "./widgets.js";

const DRAFTS = "reelgraph.drafts.v1";
const $ = (s, el = document) => el.querySelector(s);

let tabSeq = 0;

/** A tab's state around its document. */
function tabRecord(doc, meta = {}) {
  return { id: `t${++tabSeq}`, doc, undo: [], redo: [], dirty: Boolean(meta.dirty), name: meta.name || null,
    source: meta.source || null, template: meta.template || null, run: null, view: null,
    saved: meta.saved !== undefined ? meta.saved : meta.name ? JSON.stringify(doc) : null };
}

export class Tabs {
  /**
   * `editor` shows the current tab; `ui` gives toasts; `onSwitch(tab)` after another tab became
   * current; `onOpen(tab, quiet)` when a document was opened or restored into a tab.
   */
  constructor({ editor, ui, onSwitch, onOpen }) {
    this.editor = editor;
    this.ui = ui;
    this.onSwitch = onSwitch;
    this.onOpen = onOpen;
    this.tabs = [];
    this.current = null;
  }

  newTab(doc, meta = {}) {
    const tab = tabRecord(doc, meta);
    this.tabs.push(tab);
    this.switchTab(tab.id);
    this.onOpen(tab);
    this.saveDrafts();
    return tab;
  }

  tab(id) { return this.tabs.find((t) => t.id === id); }

  switchTab(id) {
    const tab = this.tab(id);
    if (!tab) return;
    this.current = tab;
    this.editor.show(tab);
    this.renderTabs();
    this.onSwitch(tab);
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

  /** The strip fades out on a side where more tabs are scrolled away (the wheel scrolls it). */
  markOverflow() {
    const strip = $(".tabs");
    if (!strip) return;
    if (!strip.dataset.bound) {
      strip.dataset.bound = "1";
      strip.addEventListener("scroll", () => this.markOverflow(), { passive: true });
      strip.addEventListener("wheel", (e) => {
        if (strip.scrollWidth <= strip.clientWidth || Math.abs(e.deltaX) > Math.abs(e.deltaY)) return;
        e.preventDefault();
        strip.scrollLeft += e.deltaY;
      });
    }
    strip.classList.toggle("more-left", strip.scrollLeft > 1);
    strip.classList.toggle("more-right", strip.scrollLeft + strip.clientWidth < strip.scrollWidth - 1);
  }

  renderTabs() {
    $(".tabs").innerHTML = this.tabs.map((t) => `<div class="tab${t === this.current ? " on" : ""}${t.dirty ? " dirty" : ""}" data-tab="${t.id}" role="tab" title="${esc(`${this.tabTitle(t)} — ${t.name ? `saved as ${t.name}` : t.source === "template" ? "from a template, not saved yet" : "not saved yet"}`)}">` +
      `<span class="tname">${esc(this.tabTitle(t))}</span><span class="tdot" title="unsaved changes">●</span><button class="tclose" title="close tab">×</button></div>`).join("");
    const on = $(".tabs .tab.on");
    if (on) { // keep the active tab in view when the strip scrolls
      const strip = $(".tabs");
      const a = on.getBoundingClientRect(), b = strip.getBoundingClientRect();
      if (a.left < b.left) strip.scrollLeft -= b.left - a.left;
      else if (a.right > b.right) strip.scrollLeft += a.right - b.right;
    }
    this.markOverflow();
    document.title = `${this.current ? this.tabTitle(this.current) + (this.current.dirty ? " •" : "") + " — " : ""}reelgraph`;
  }

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
      if (!this.draftWarned) { this.ui.toast(`Cannot keep a local draft: ${e.message}`, "bad"); this.draftWarned = true; }
    }
  }

  restoreDrafts() {
    let data;
    try { data = JSON.parse(localStorage.getItem(DRAFTS) || "null"); } catch { data = null; }
    if (!data || !Array.isArray(data.tabs)) return;
    for (const t of data.tabs) {
      if (!t || !t.doc || typeof t.doc.nodes !== "object") continue;
      const tab = tabRecord(t.doc, { dirty: t.dirty, name: t.name, source: t.source, template: t.template, saved: t.saved ?? null });
      this.tabs.push(tab);
      this.onOpen(tab, true);
    }
    const cur = this.tabs[data.current] || this.tabs[0];
    if (cur) this.switchTab(cur.id);
    const dirty = this.tabs.filter((t) => t.dirty).length;
    if (dirty) this.ui.toast(`Restored ${dirty} unsaved draft${dirty > 1 ? "s" : ""} from this browser`, "info", 5000);
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
}
