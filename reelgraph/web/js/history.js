// A tab's document and its undo history: the one place an edit is recorded. The canvas and
// the panels call it; whoever shows documents (the shell: tabs, drafts, panels) listens for
// changes. Undo and redo swap whole snapshots, so a restored state is the earlier document
// byte for byte.

export const UNDO_LIMIT = 200;

export class History {
  constructor() { this.listeners = new Set(); }

  /** fn(tab) after every change to a tab's document (an edit, an undo, a redo). */
  onChange(fn) { this.listeners.add(fn); }

  /** One undo step: `before` is the document's JSON from before the edit. */
  record(tab, before) {
    tab.undo.push(before);
    if (tab.undo.length > UNDO_LIMIT) tab.undo.shift();
    tab.redo = [];
  }

  /** The document changed (recorded or not): recompute dirtiness and tell the listeners. */
  changed(tab) {
    tab.dirty = tab.saved === null ? (Object.keys(tab.doc.nodes).length > 0 || tab.undo.length > 0) : JSON.stringify(tab.doc) !== tab.saved;
    for (const fn of this.listeners) fn(tab);
  }

  /** Step back; false when there is nothing to undo. */
  undo(tab) { return this.swap(tab, tab.undo, tab.redo); }

  /** Step forward again; false when there is nothing to redo. */
  redo(tab) { return this.swap(tab, tab.redo, tab.undo); }

  swap(tab, from, to) {
    if (!from.length) return false;
    to.push(JSON.stringify(tab.doc));
    tab.doc = JSON.parse(from.pop());
    return true;
  }
}

/** A new, empty workflow document. */
export function emptyDoc(name = "Untitled") {
  return { format: "reelgraph.workflow", version: 1, name, nodes: {}, params: {}, groups: [], notes: [] };
}
