// The node search palette: fuzzy match over name, id, category and description;
// filtered to compatible nodes when opened from a dropped wire.

import { canConnect, typeColor } from "./types.js";
import { esc } from "./widgets.js";

/** Subsequence match score (higher is better), or -1. Word starts and runs score more. */
export function fuzzyScore(query, text) {
  if (!query) return 0;
  const q = query.toLowerCase(), t = text.toLowerCase();
  const at = t.indexOf(q);
  if (at >= 0) return 1000 - at * 2 - (t.length - q.length) * 0.5 + (at === 0 || /[\s._/]/.test(t[at - 1]) ? 200 : 0);
  let score = 0, ti = 0, run = 0;
  for (const ch of q) {
    const found = t.indexOf(ch, ti);
    if (found < 0) return -1;
    run = found === ti ? run + 1 : 0;
    score += 10 + run * 5 + (found === 0 || /[\s._/]/.test(t[found - 1]) ? 15 : 0) - Math.min(9, found - ti);
    ti = found + 1;
  }
  return score;
}

/** Every word of the query must match the node's name, id or category (fuzzily) or its description (as is). */
export function nodeScore(query, s) {
  let total = 0;
  for (const word of query.toLowerCase().split(/\s+/).filter(Boolean)) {
    const scores = [[fuzzyScore(word, s.display_name), 40], [fuzzyScore(word, s.id), 0], [fuzzyScore(word, s.category), -30]]
      .filter(([v]) => v >= 0).map(([v, bonus]) => v + bonus);
    if (!scores.length) {
      if ((s.description || "").toLowerCase().includes(word)) { total += 5; continue; }
      return -1;
    }
    total += Math.max(...scores);
  }
  return total;
}

export class Palette {
  /** `editor`: where a chosen node or note is added (and whose schemas are listed). */
  constructor(editor) {
    this.editor = editor;
    this.el = document.createElement("div");
    this.el.className = "palette";
    this.el.hidden = true;
    this.el.innerHTML = `<input class="psearch" placeholder="Search nodes…" spellcheck="false" autocomplete="off">
      <div class="pfilter" hidden></div><div class="plist" role="listbox"></div><div class="pdesc"></div>`;
    document.body.append(this.el);
    this.input = this.el.querySelector(".psearch");
    this.list = this.el.querySelector(".plist");
    this.desc = this.el.querySelector(".pdesc");
    this.filterEl = this.el.querySelector(".pfilter");
    this.input.addEventListener("input", () => this.update());
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.list.addEventListener("pointerdown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const item = e.target.closest(".pitem");
      if (item) this.choose(Number(item.dataset.index));
    });
    this.list.addEventListener("mousemove", (e) => {
      const item = e.target.closest(".pitem");
      if (item && Number(item.dataset.index) !== this.active) this.setActive(Number(item.dataset.index));
    });
    this.input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== this.input) this.close(); }, 120));
  }

  open(x, y, ctx) {
    this.ctx = ctx;
    const W = 380, H = 420;
    this.el.style.left = `${Math.max(8, Math.min(x - 20, innerWidth - W - 8))}px`;
    this.el.style.top = `${Math.max(8, Math.min(y - 20, innerHeight - H - 8))}px`;
    this.el.hidden = false;
    this.input.value = "";
    if (ctx.type) {
      this.filterEl.hidden = false;
      this.filterEl.innerHTML = `<span class="sockdot" style="--c:${typeColor(ctx.type)}"></span>` +
        `<span>nodes that ${ctx.dir === "out" ? "take" : "give"} <b>${esc(ctx.type)}</b></span>`;
    } else this.filterEl.hidden = true;
    this.update();
    this.input.focus();
  }

  close() {
    this.el.hidden = true;
    this.ctx = null;
  }

  get isOpen() { return !this.el.hidden; }

  candidates() {
    const ctx = this.ctx || {};
    let nodes = [...this.editor.schemas.values()];
    if (ctx.type) {
      nodes = nodes.filter((s) => ctx.dir === "out"
        ? s.inputs.some((i) => canConnect(ctx.type, i.type))
        : s.outputs.some((o) => canConnect(o.type, ctx.type)));
    }
    return nodes;
  }

  update() {
    const q = this.input.value.trim();
    let items = this.candidates().map((s) => ({ s, score: q ? nodeScore(q, s) : 0 }));
    if (!this.ctx?.type && (!q || fuzzyScore(q, "note") > 0)) items.push({ note: true, score: q ? fuzzyScore(q, "note") + 40 : -1 });
    if (q) items = items.filter((i) => i.score >= 0).sort((a, b) => b.score - a.score);
    else items.sort((a, b) => (a.note ? "zz" : `${a.s.category}/${a.s.display_name}`).localeCompare(b.note ? "zz" : `${b.s.category}/${b.s.display_name}`));
    this.items = items;
    let html = "", lastCat = null;
    items.forEach((it, i) => {
      const cat = it.note ? "editor" : it.s.category;
      if (!q && cat !== lastCat) { html += `<div class="pcat">${esc(cat)}</div>`; lastCat = cat; }
      if (it.note) html += `<div class="pitem" data-index="${i}"><span class="pname">Note</span><span class="pid">sticky text on the canvas</span></div>`;
      else html += `<div class="pitem" data-index="${i}" data-type="${esc(it.s.id)}"><span class="pname">${esc(it.s.display_name)}</span>` +
        `<span class="pid">${q ? `${esc(it.s.category)} · ` : ""}${esc(it.s.id)}</span></div>`;
    });
    this.list.innerHTML = html || `<div class="pempty">No node matches “${esc(q)}”</div>`;
    this.setActive(0);
  }

  setActive(i) {
    this.active = i;
    for (const el of this.list.querySelectorAll(".pitem.on")) el.classList.remove("on");
    const el = this.list.querySelector(`.pitem[data-index="${i}"]`);
    if (el) { el.classList.add("on"); el.scrollIntoView({ block: "nearest" }); }
    const it = this.items[i];
    if (!it || it.note) { this.desc.textContent = it ? "A free text note." : ""; return; }
    const socks = (list) => list.map((x) => `<span class="ptype" style="--c:${typeColor(x.type)}">${esc(x.type)}</span>`).join(" ");
    const ins = it.s.inputs.filter((x) => !x.widget);
    this.desc.innerHTML = `<div class="pio">${ins.length ? socks(ins) : '<span class="muted">no sockets</span>'} → ${socks(it.s.outputs) || '<span class="muted">nothing</span>'}</div>` +
      `<div>${esc((it.s.description || "").split("\n\n")[0])}</div>`;
  }

  onKey(e) {
    if (e.key === "ArrowDown") { e.preventDefault(); this.setActive(Math.min(this.items.length - 1, this.active + 1)); }
    else if (e.key === "ArrowUp") { e.preventDefault(); this.setActive(Math.max(0, this.active - 1)); }
    else if (e.key === "Enter") { e.preventDefault(); this.choose(this.active); }
    else if (e.key === "Escape") { e.preventDefault(); this.close(); }
    e.stopPropagation();
  }

  choose(i) {
    const it = this.items[i];
    const ctx = this.ctx || {};
    this.close();
    if (!it) return;
    const at = ctx.at || [0, 0];
    if (it.note) { this.editor.addNote(at[0], at[1]); return; }
    const connect = ctx.type ? { dir: ctx.dir, type: ctx.type, node: ctx.node, name: ctx.name } : null;
    const x = ctx.type && ctx.dir === "in" ? at[0] - 240 : at[0];
    this.editor.addNode(it.s.id, x, at[1] - 14, connect);
  }
}
