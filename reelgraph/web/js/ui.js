// Toasts, menus and dialogs: the page's small UI pieces, used by the shell and its panels.
// They know nothing of documents or runs.

import { esc } from "./widgets.js";

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

export class Dialogs {
  toast(text, kind = "info", ms = 3500) {
    const el = document.createElement("div");
    el.className = `toast ${kind}`;
    el.textContent = text;
    $(".toasts").append(el);
    setTimeout(() => { el.classList.add("out"); setTimeout(() => el.remove(), 300); }, ms);
  }

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
}
