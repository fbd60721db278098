// The canvas: nodes as DOM elements, wires as one SVG, pan/zoom as a single
// transform on the world layer. Node rows have fixed heights, so socket
// positions are computed, never measured: opening 500 nodes costs one layout.

import { canConnect, compatibility, typeColor } from "./types.js";
import { ROW, esc, initialValue, isLink, parseValue, widgetHTML, widgetHeight, formatNumber, clampNumber } from "./widgets.js";

const HEAD = 28;
const PAD_T = 4;
const PAD_B = 8;
const NODE_W = 220;
const GRID = 20;
const MIN_ZOOM = 0.04;
const MAX_ZOOM = 4;
const LOD_ZOOM = 0.4; // below this, nodes are drawn on the canvas (their DOM is display:none)

export const GROUP_COLORS = ["#3f6fb5", "#4b8f5a", "#a0783c", "#8e4b8a", "#a14848", "#4a8c96", "#6b6b78"];
export const NODE_COLORS = ["", "#37506e", "#3c5e45", "#6a5530", "#5b3c5a", "#6a3434", "#335c62"];

const clone = (o) => JSON.parse(JSON.stringify(o));
// colours come from documents anyone may share: only plain colour values reach a style attribute
const safeColor = (c) => (typeof c === "string" && /^(#[0-9a-f]{3,8}|[a-z]{3,20}|rgba?\([\d\s.,%]+\))$/i.test(c) ? c : "");
// one link per input: the input identifies it (a key that survives HTML attribute parsing)
const linkKey = (to, input) => JSON.stringify([to, input]);
const linkAttr = (l) => `${l.from}.${l.output}->${l.to}.${l.input}`;

export class Editor {
  constructor(root, app) {
    this.app = app;
    this.root = root;
    this.schemas = new Map();
    this.view = { x: 0, y: 0, zoom: 1 };
    this.selected = new Set();
    this.layouts = new Map();
    this.nodeEls = new Map();
    this.links = new Map(); // "to\0input" -> link
    this.linksByNode = new Map();
    this.tab = null;
    this.buildDOM();
    this.bindEvents();
  }

  // ---------------------------------------------------------------- structure
  buildDOM() {
    this.root.innerHTML = `
      <div class="world back"><div class="groups"></div></div>
      <canvas class="scene"></canvas>
      <div class="world front">
        <svg class="wires" width="1" height="1"><g class="links"></g><g class="reroutes"></g><path class="wire temp" d=""></path></svg>
        <div class="notes"></div>
        <div class="nodes"></div>
      </div>
      <div class="boxsel" hidden></div>
      <canvas class="minimap" style="width:220px;height:150px" title="minimap: click or drag to move the view"></canvas>
      <div class="zoomctl"><button data-act="zoom-out" title="zoom out">−</button><span class="zoomval">100%</span><button data-act="zoom-in" title="zoom in">+</button><button data-act="fit" title="fit to view (.)">⤢</button><button data-act="snap" class="snapbtn" title="snap to grid">#</button></div>
      <div class="hint" hidden></div>
      <div class="emptystate"><b>An empty canvas</b><span>Double-click (or press Tab) to add a node, open a template from the Workflows panel, or drop a workflow JSON, PNG or MP4 here.</span></div>`;
    const q = (s) => this.root.querySelector(s);
    this.worldBack = q(".world.back");
    this.world = q(".world.front");
    this.scene = q("canvas.scene");
    this.ctx = this.scene.getContext("2d");
    this.groupsEl = q(".groups");
    this.svg = q(".wires");
    this.linksG = q(".links");
    this.reroutesG = q(".reroutes");
    this.tempWire = q(".wire.temp");
    this.notesEl = q(".notes");
    this.nodesEl = q(".nodes");
    this.boxEl = q(".boxsel");
    this.minimap = q(".minimap");
    this.mm = { w: 220, h: 150, dpr: window.devicePixelRatio || 1 };
    this.minimap.width = this.mm.w * this.mm.dpr;
    this.minimap.height = this.mm.h * this.mm.dpr;
    this.zoomVal = q(".zoomval");
    this.hintEl = q(".hint");
    this.snap = localStorage.getItem("reelgraph.snap") !== "0";
    q(".snapbtn").classList.toggle("on", this.snap);
  }

  setSchemas(list) {
    this.schemas = new Map(list.map((s) => [s.id, s]));
  }

  get doc() { return this.tab && this.tab.doc; }

  // ---------------------------------------------------------------- documents
  /** Show a tab: full render, its viewport (or fit), its run states. */
  show(tab) {
    this.tab = tab;
    this.selected.clear();
    this.layouts.clear();
    // Decide the view (and so the level of detail) before the DOM is built: a fitted
    // 500-node graph then never lays its node elements out at all.
    this.rect = this.root.getBoundingClientRect();
    tab.doc.nodes = tab.doc.nodes && typeof tab.doc.nodes === "object" ? tab.doc.nodes : {};
    const vp = tab.doc.ui && tab.doc.ui.viewport;
    if (tab.view) this.setView(tab.view, true);
    else if (vp && typeof vp.zoom === "number" && !(vp.x === 0 && vp.y === 0 && vp.zoom === 1)) this.setView(vp, true);
    else this.fit(null, true);
    this.render();
    this.applyView();
    this.app.onSelection();
  }

  render() {
    const doc = this.doc;
    doc.nodes = doc.nodes && typeof doc.nodes === "object" ? doc.nodes : {};
    this.layouts.clear();
    this.nodeEls.clear();
    // Nodes out of view get a shell (header and size, no widgets) and are filled in when they
    // come into view: a 500-node workflow saved at 100 % builds only what is on screen.
    this.shells = new Set();
    const vis = this.lod ? null : this.viewRect(400);
    const html = [];
    for (const [id, node] of Object.entries(doc.nodes)) {
      const full = vis !== null && this.intersects(id, vis);
      if (!full) this.shells.add(id);
      html.push(this.nodeHTML(id, node, full));
    }
    this.nodesEl.innerHTML = html.join("");
    for (const el of this.nodesEl.children) this.nodeEls.set(el.dataset.nodeId, el);
    this.rebuildLinks();
    this.renderGroups();
    this.renderNotes();
    this.applyRunStates();
    this.drawMinimapBase();
    this.scheduleDraw();
    this.root.classList.toggle("empty", !Object.keys(doc.nodes).length && !(doc.notes || []).length && !(doc.groups || []).length);
  }

  // ---------------------------------------------------------------- node model
  schemaOf(node) { return this.schemas.get(node.type) || null; }

  /** Inputs/outputs of a node: from its schema, or guessed from its data for a placeholder. */
  portsOf(id) {
    const node = this.doc.nodes[id];
    const schema = this.schemaOf(node);
    if (schema) {
      return { inputs: schema.inputs, outputs: schema.outputs, known: true };
    }
    const inputs = Object.entries(node.inputs || {}).map(([name, v]) => (
      isLink(v) ? { name, type: "ANY" } : { name, type: "ANY", readonly: true, value: v }));
    const outs = new Set();
    for (const other of Object.values(this.doc.nodes)) {
      for (const v of Object.values(other.inputs || {})) if (isLink(v) && v.from === id) outs.add(v.output);
    }
    return { inputs, outputs: [...outs].map((name) => ({ name, type: "ANY" })), known: false };
  }

  /** Computed geometry of a node: size and socket y offsets. */
  layout(id) {
    let lay = this.layouts.get(id);
    if (lay) return lay;
    const node = this.doc.nodes[id];
    const ports = this.portsOf(id);
    const w = Math.max(160, Number(node.ui && node.ui.width) || NODE_W);
    const ins = {}, outs = {};
    const sockIns = ports.inputs.filter((i) => !i.widget && !i.readonly);
    const widgetIns = ports.inputs.filter((i) => i.widget || i.readonly);
    const ioRows = Math.max(sockIns.length, ports.outputs.length);
    sockIns.forEach((s, i) => { ins[s.name] = HEAD + PAD_T + i * ROW + ROW / 2; });
    ports.outputs.forEach((s, i) => { outs[s.name] = HEAD + PAD_T + i * ROW + ROW / 2; });
    let y = HEAD + PAD_T + ioRows * ROW;
    const rows = [];
    for (const spec of widgetIns) {
      const linked = isLink((node.inputs || {})[spec.name]);
      const h = spec.readonly ? ROW : widgetHeight(spec, linked);
      ins[spec.name] = y + ROW / 2;
      rows.push({ spec, h });
      y += h;
    }
    const h = y + PAD_B;
    if (node.ui && node.ui.collapsed) {
      for (const k of Object.keys(ins)) ins[k] = HEAD / 2;
      for (const k of Object.keys(outs)) outs[k] = HEAD / 2;
      lay = { w, h: HEAD, ins, outs, ports, sockIns, widgetIns, ioRows, fullH: h };
    } else lay = { w, h, ins, outs, ports, sockIns, widgetIns, ioRows, fullH: h };
    this.layouts.set(id, lay);
    return lay;
  }

  outputType(id, output) {
    const node = this.doc.nodes[id];
    if (!node) return "ANY";
    const schema = this.schemaOf(node);
    const o = schema && schema.outputs.find((x) => x.name === output);
    return o ? o.type : "ANY";
  }

  inputSpec(id, input) {
    const node = this.doc.nodes[id];
    const schema = node && this.schemaOf(node);
    return schema ? schema.inputs.find((x) => x.name === input) || null : null;
  }

  paramFor(id, input) {
    for (const [name, p] of Object.entries(this.doc.params || {})) {
      if (p && p.node === id && p.input === input) return name;
    }
    return null;
  }

  titleOf(id) {
    const node = this.doc.nodes[id];
    const schema = this.schemaOf(node);
    return (node.ui && node.ui.title) || (schema ? schema.display_name : node.type);
  }

  /** The visible world rectangle, grown by `margin` screen pixels. */
  viewRect(margin = 0) {
    const r = this.rect || (this.rect = this.root.getBoundingClientRect());
    const { x, y, zoom } = this.view;
    return [(-x - margin) / zoom, (-y - margin) / zoom, (r.width - x + margin) / zoom, (r.height - y + margin) / zoom];
  }

  intersects(id, [x0, y0, x1, y1]) {
    const n = this.doc.nodes[id];
    const p = (n.ui && n.ui.pos) || [0, 0];
    const lay = this.layout(id);
    return p[0] < x1 && p[0] + lay.w > x0 && p[1] < y1 && p[1] + lay.h > y0;
  }

  /** Fill in the shells that are (nearly) in view. */
  hydrate() {
    if (this.lod || !this.shells || !this.shells.size) return;
    const vis = this.viewRect(300);
    for (const id of [...this.shells]) {
      if (!this.doc.nodes[id] || !this.intersects(id, vis)) continue;
      const el = this.nodeEls.get(id);
      this.shells.delete(id);
      if (!el) continue;
      el.querySelector(".nbody").innerHTML = this.bodyHTML(id, this.doc.nodes[id]);
      el.removeAttribute("data-shell");
    }
  }

  nodeHTML(id, node, full = true) {
    const lay = this.layout(id);
    const { ports } = lay;
    const ui = node.ui || {};
    const pos = Array.isArray(ui.pos) ? ui.pos : [0, 0];
    const classes = ["node"];
    if (!ports.known) classes.push("placeholder");
    if (ui.collapsed) classes.push("collapsed");
    if (node.bypass) classes.push("bypassed");
    if (this.selected.has(id)) classes.push("sel");
    const schema = this.schemaOf(node);
    if (schema && schema.output_node) classes.push("output");
    const body = full ? this.bodyHTML(id, node) : "";
    const title = esc(this.titleOf(id));
    const sub = ports.known ? "" : `<span class="ntag" title="node type not installed">missing</span>`;
    const color = safeColor(ui.color);
    return `<div class="${classes.join(" ")}" data-node-id="${esc(id)}" data-type="${esc(node.type)}"${full ? "" : " data-shell"} ` +
      `style="transform:translate(${Number(pos[0]) || 0}px,${Number(pos[1]) || 0}px);width:${lay.w}px;height:${lay.h}px;${color ? `--nc:${color}` : ""}">` +
      `<div class="nhead"><button class="ncollapse" tabindex="-1" title="collapse (Alt+C)">${ui.collapsed ? "▸" : "▾"}</button>` +
      `<span class="ntitle" title="${esc(node.type)} · ${esc(id)}">${title}</span>${sub}<span class="nbadge"></span></div>` +
      `<div class="nbody">${body}</div><div class="nprogress"><i></i></div><div class="nbelow"></div><div class="nwresize" title="drag to resize"></div></div>`;
  }

  /** The rows of a node: socket rows, then one row per widget. */
  bodyHTML(id, node) {
    const lay = this.layout(id);
    const { ports } = lay;
    const ui = node.ui || {};
    const sock = (dir, spec, linked) => {
      const list = /^list\[/.test(spec.type) ? " list" : "";
      return `<span class="sock ${dir}${list}${linked ? " on" : ""}" data-dir="${dir}" data-name="${esc(spec.name)}" style="--c:${typeColor(spec.type)}" title="${esc(spec.name)}: ${esc(spec.type)}"></span>`;
    };
    const inputs = node.inputs || {};
    const usedOutputs = new Set();
    for (const k of this.linksByNode.get(id) || []) {
      const l = this.links.get(k);
      if (l && l.from === id) usedOutputs.add(l.output);
    }
    let body = "";
    for (let i = 0; i < lay.ioRows; i++) {
      const a = lay.sockIns[i], b = ports.outputs[i];
      body += `<div class="row io">` +
        (a ? `<span class="in">${sock("in", a, isLink(inputs[a.name]))}<span class="pl">${esc(a.name)}${a.optional ? '<i class="opt">?</i>' : ""}</span></span>` : "<span></span>") +
        (b ? `<span class="out"><span class="pl">${esc(b.name)}</span>${sock("out", b, usedOutputs.has(b.name))}</span>` : "") +
        `</div>`;
    }
    for (const { spec } of lay.widgetIns.map((spec) => ({ spec }))) {
      const v = inputs[spec.name];
      if (spec.readonly) {
        body += `<div class="row w ro" data-input="${esc(spec.name)}"><span class="wl">${esc(spec.name)}</span><span class="wlink">${esc(JSON.stringify(spec.value)).slice(0, 60)}</span></div>`;
        continue;
      }
      const linked = isLink(v) ? `← ${this.titleOfSafe(v.from)}.${v.output}` : null;
      const value = v === undefined ? initialValue(spec) : v;
      const seedMode = ((ui.seed_modes || {})[spec.name]) || "fixed";
      body += widgetHTML(spec, value, {
        sock: sock("in", spec, Boolean(linked)), linked, param: this.paramFor(id, spec.name), seedMode,
      });
    }
    return body;
  }

  titleOfSafe(id) {
    return this.doc.nodes[id] ? this.titleOf(id) : id;
  }

  /** Re-render some nodes in place (and their wires). */
  refreshNodes(ids) {
    for (const id of ids) {
      this.layouts.delete(id);
      const old = this.nodeEls.get(id);
      const node = this.doc.nodes[id];
      if (!node) {
        if (old) old.remove();
        this.nodeEls.delete(id);
        continue;
      }
      this.shells?.delete(id);
      const tmp = document.createElement("div");
      tmp.innerHTML = this.nodeHTML(id, node);
      const el = tmp.firstElementChild;
      if (old) old.replaceWith(el); else this.nodesEl.append(el);
      this.nodeEls.set(id, el);
    }
    this.rebuildLinks();
    this.applyRunStates(ids);
    this.drawMinimapBase();
  }

  // ---------------------------------------------------------------- wires
  rebuildLinks() {
    this.links.clear();
    this.linksByNode.clear();
    const add = (id, key) => {
      let s = this.linksByNode.get(id);
      if (!s) this.linksByNode.set(id, (s = new Set()));
      s.add(key);
    };
    for (const [to, node] of Object.entries(this.doc.nodes)) {
      for (const [input, v] of Object.entries(node.inputs || {})) {
        if (!isLink(v)) continue;
        const key = linkKey(to, input);
        this.links.set(key, { from: v.from, output: v.output, to, input, key, color: typeColor(this.outputType(v.from, v.output)) });
        add(to, key);
        add(v.from, key);
      }
    }
    const paths = [];
    for (const l of this.links.values()) {
      const d = this.linkPath(l);
      if (d === null) continue;
      paths.push(`<path class="wire" data-link="${esc(linkAttr(l))}" data-key="${esc(l.key)}" d="${d}"></path>`);
    }
    this.linksG.innerHTML = paths.join("");
    this.linkEls = new Map();
    for (const p of this.linksG.children) this.linkEls.set(p.dataset.key, p);
    this.renderReroutes();
    this.scheduleDraw();
    // output sockets that feed something are drawn filled
    for (const [id, el] of this.nodeEls) {
      const used = new Set();
      for (const k of this.linksByNode.get(id) || []) {
        const l = this.links.get(k);
        if (l.from === id) used.add(l.output);
      }
      for (const s of el.querySelectorAll(".sock.out")) s.classList.toggle("on", used.has(s.dataset.name));
    }
  }

  sockPos(id, dir, name) {
    const node = this.doc.nodes[id];
    if (!node) return null;
    const lay = this.layout(id);
    const pos = (node.ui && node.ui.pos) || [0, 0];
    const y = (dir === "in" ? lay.ins : lay.outs)[name];
    if (y === undefined) return null;
    return [pos[0] + (dir === "in" ? 0 : lay.w), pos[1] + y];
  }

  reroutesOf(l) {
    const node = this.doc.nodes[l.to];
    const r = node && node.ui && node.ui.reroutes && node.ui.reroutes[l.input];
    return Array.isArray(r) ? r : [];
  }

  linkPath(l) {
    const a = this.sockPos(l.from, "out", l.output);
    const b = this.sockPos(l.to, "in", l.input);
    if (!a || !b) return null;
    return curve([a, ...this.reroutesOf(l), b]);
  }

  updateLinksOf(ids) {
    const done = new Set();
    for (const id of ids) {
      for (const k of this.linksByNode.get(id) || []) {
        if (done.has(k)) continue;
        done.add(k);
        const el = this.linkEls.get(k);
        const d = this.linkPath(this.links.get(k));
        if (el && d) el.setAttribute("d", d);
      }
    }
    this.scheduleDraw();
  }

  renderReroutes() {
    const out = [];
    for (const l of this.links.values()) {
      this.reroutesOf(l).forEach((p, i) => {
        out.push(`<circle class="reroute" r="6" cx="${p[0]}" cy="${p[1]}" data-key="${esc(l.key)}" data-index="${i}" stroke="${typeColor(this.outputType(l.from, l.output))}"></circle>`);
      });
    }
    this.reroutesG.innerHTML = out.join("");
  }

  // ---------------------------------------------------------------- groups & notes
  renderGroups() {
    const groups = Array.isArray(this.doc.groups) ? this.doc.groups : [];
    this.groupsEl.innerHTML = groups.map((g, i) => {
      const [x, y, w, h] = groupBounds(g);
      const c = safeColor(g.color) || GROUP_COLORS[0];
      return `<div class="group" data-group="${i}" style="transform:translate(${x}px,${y}px);width:${w}px;height:${h}px;--gc:${c}">` +
        `<div class="gtitle">${esc(g.title || "Group")}</div><div class="gresize"></div></div>`;
    }).join("");
  }

  renderNotes() {
    const notes = Array.isArray(this.doc.notes) ? this.doc.notes : [];
    this.notesEl.innerHTML = notes.map((n, i) => {
      const [x, y] = Array.isArray(n.pos) ? n.pos : [0, 0];
      const [w, h] = Array.isArray(n.size) ? n.size : [240, 140];
      return `<div class="note" data-note="${i}" style="transform:translate(${x}px,${y}px);width:${w}px;height:${h}px">` +
        `<div class="notehead">Note<button class="noteclose" title="delete note">×</button></div>` +
        `<textarea spellcheck="false" placeholder="Write a note…">${esc(n.text || "")}</textarea><div class="nresize"></div></div>`;
    }).join("");
  }

  // ---------------------------------------------------------------- view
  setView(v, now = false) {
    this.view = { x: Number(v.x) || 0, y: Number(v.y) || 0, zoom: Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Number(v.zoom) || 1)) };
    if (now) { this.setLod(this.view.zoom < LOD_ZOOM); if (this.tab) this.tab.view = this.view; } else this.scheduleView();
  }

  setLod(lod) {
    if (lod === this.lod) return;
    this.lod = lod;
    this.world.classList.toggle("lod", lod);
    this.root.classList.toggle("lod", lod);
  }

  scheduleView() {
    if (this.tab) this.tab.view = this.view;
    if (this.viewFrame) return;
    this.viewFrame = requestAnimationFrame(() => {
      this.viewFrame = 0;
      this.applyView();
    });
  }

  applyView() {
    const { x, y, zoom } = this.view;
    const t = `translate(${x}px,${y}px) scale(${zoom})`;
    this.world.style.transform = t;
    this.worldBack.style.transform = t;
    this.setLod(zoom < LOD_ZOOM);
    this.hydrate();
    const label = `${Math.round(zoom * 100)}%`;
    if (this.zoomVal.textContent !== label) this.zoomVal.textContent = label;
    this.drawScene();
    this.drawMinimap();
    // While zooming, the node layer scales as a bitmap (fast); once the zoom rests,
    // drop and re-add the layer hint so Chromium rasterises the text crisply at the new scale.
    clearTimeout(this.settleTimer);
    if (this.rasterZoom !== zoom && !this.lod) {
      this.settleTimer = setTimeout(() => {
        this.rasterZoom = this.view.zoom;
        this.world.style.willChange = "auto";
        requestAnimationFrame(() => requestAnimationFrame(() => { this.world.style.willChange = ""; }));
      }, 300);
    }
  }

  scheduleDraw() {
    if (this.drawFrame || this.viewFrame) return;
    this.drawFrame = requestAnimationFrame(() => { this.drawFrame = 0; this.drawScene(); });
  }

  /** The canvas layer: grid, every wire, and (zoomed far out) the nodes themselves. */
  drawScene() {
    if (!this.tab) return;
    const c = this.scene, ctx = this.ctx;
    const r = this.rect || (this.rect = this.root.getBoundingClientRect());
    const dpr = window.devicePixelRatio || 1;
    const W = Math.round(r.width * dpr), H = Math.round(r.height * dpr);
    if (c.width !== W || c.height !== H) {
      c.width = W; c.height = H;
      c.style.width = `${r.width}px`; c.style.height = `${r.height}px`;
    }
    const { x, y, zoom } = this.view;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    // grid: one pattern fill
    let cell = GRID * zoom;
    while (cell < 10) cell *= 5;
    if (!this.gridPattern) {
      const g = document.createElement("canvas");
      g.width = g.height = 64;
      const gc = g.getContext("2d");
      gc.fillStyle = "#2c313b";
      for (const [cx, cy] of [[0, 0], [64, 0], [0, 64], [64, 64]]) {
        gc.beginPath(); gc.arc(cx, cy, 3.4, 0, Math.PI * 2); gc.fill();
      }
      this.gridPattern = ctx.createPattern(g, "repeat");
    }
    const k = (cell * dpr) / 64;
    this.gridPattern.setTransform(new DOMMatrix([k, 0, 0, k, (x % cell) * dpr, (y % cell) * dpr]));
    ctx.fillStyle = this.gridPattern;
    ctx.globalAlpha = Math.min(1, Math.max(0.35, cell / 20));
    ctx.fillRect(0, 0, W, H);
    ctx.globalAlpha = 1;
    ctx.setTransform(dpr * zoom, 0, 0, dpr * zoom, dpr * x, dpr * y);
    const vx0 = -x / zoom, vy0 = -y / zoom, vx1 = vx0 + r.width / zoom, vy1 = vy0 + r.height / zoom;
    // wires, one path per colour
    ctx.lineWidth = Math.max(2.4, 1.1 / zoom);
    ctx.lineCap = "round";
    const byColor = new Map();
    for (const l of this.links.values()) {
      const a = this.sockPos(l.from, "out", l.output), b = this.sockPos(l.to, "in", l.input);
      if (!a || !b) continue;
      const pts = [a, ...this.reroutesOf(l), b];
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      for (const p of pts) { minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]); }
      if (maxX + 220 < vx0 || minX - 220 > vx1 || maxY < vy0 - 40 || minY > vy1 + 40) continue;
      const hot = this.selected.has(l.from) || this.selected.has(l.to);
      const group = hot ? `hot${l.color}` : l.color;
      let list = byColor.get(group);
      if (!list) byColor.set(group, (list = []));
      list.push(pts);
    }
    const base = ctx.lineWidth;
    for (const [group, list] of [...byColor].sort((a, b) => a[0].startsWith("hot") - b[0].startsWith("hot"))) {
      const hot = group.startsWith("hot");
      ctx.strokeStyle = hot ? group.slice(3) : group;
      ctx.lineWidth = hot ? base * 1.7 : base;
      ctx.beginPath();
      for (const pts of list) {
        ctx.moveTo(pts[0][0], pts[0][1]);
        for (let i = 1; i < pts.length; i++) {
          const [x1, y1] = pts[i - 1], [x2, y2] = pts[i];
          const kk = Math.max(30, Math.min(200, Math.abs(x2 - x1) * 0.5 + Math.abs(y2 - y1) * 0.15));
          ctx.bezierCurveTo(x1 + kk, y1, x2 - kk, y2, x2, y2);
        }
      }
      ctx.stroke();
    }
    if (this.lod) this.drawNodesLod(ctx, vx0, vy0, vx1, vy1, zoom);
  }

  /** Zoomed far out: each node as a box with its title, state and selection; no DOM to paint. */
  drawNodesLod(ctx, vx0, vy0, vx1, vy1, zoom) {
    const run = this.tab.run;
    const titles = zoom >= 0.2;
    const rects = [];
    for (const [id, n] of Object.entries(this.doc.nodes)) {
      const p = (n.ui && n.ui.pos) || [0, 0];
      const lay = this.layout(id);
      if (p[0] > vx1 || p[1] > vy1 || p[0] + lay.w < vx0 || p[1] + lay.h < vy0) continue;
      rects.push([id, n, p, lay]);
    }
    for (const [id, n, p, lay] of rects) {
      const known = this.schemas.has(n.type);
      ctx.globalAlpha = n.bypass ? 0.6 : 1;
      ctx.fillStyle = known ? "#2a2e37" : "#2a2326";
      ctx.beginPath();
      ctx.roundRect(p[0], p[1], lay.w, lay.h, 8);
      ctx.fill();
      ctx.fillStyle = n.bypass ? "#4a3a6b" : safeColor(n.ui && n.ui.color) || (known ? "#323743" : "#3a2a2e");
      ctx.beginPath();
      ctx.roundRect(p[0], p[1], lay.w, Math.min(28, lay.h), [8, 8, lay.h > 28 ? 0 : 8, lay.h > 28 ? 0 : 8]);
      ctx.fill();
      const st = run && run.states[id];
      const sel = this.selected.has(id);
      const edge = sel ? "#6cb6ff" : st ? STATE_COLORS[st.state] : known ? null : "#e5534b";
      if (edge) {
        ctx.strokeStyle = edge;
        ctx.lineWidth = Math.max(2, 2 / zoom);
        ctx.beginPath();
        ctx.roundRect(p[0], p[1], lay.w, lay.h, 8);
        ctx.stroke();
      }
      if (st && st.state === "running" && st.progress && st.progress.max) {
        ctx.fillStyle = "#6cb6ff";
        ctx.fillRect(p[0], p[1] + 24, (lay.w * st.progress.value) / st.progress.max, 4);
      }
    }
    ctx.globalAlpha = 1;
    if (zoom >= 0.22) {
      // rows as bars and sockets as dots: the node's shape reads without its text
      ctx.fillStyle = "#383d48";
      for (const [, n, p, lay] of rects) {
        if (n.ui && n.ui.collapsed) continue;
        const x0 = p[0] + 14, x1 = p[0] + lay.w - 14;
        for (let i = 0; i < lay.ioRows; i++) {
          const y = p[1] + HEAD + PAD_T + i * ROW + 9;
          if (lay.sockIns[i]) ctx.fillRect(x0, y, 44, 6);
          if (lay.ports.outputs[i]) ctx.fillRect(x1 - 44, y, 44, 6);
        }
        let y = p[1] + HEAD + PAD_T + lay.ioRows * ROW;
        for (const spec of lay.widgetIns) {
          const h = spec.readonly ? ROW : widgetHeight(spec, isLink((n.inputs || {})[spec.name]));
          ctx.fillRect(x0, y + 9, x1 - x0, h > ROW ? h - 14 : 6);
          y += h;
        }
      }
      for (const [id, n, p, lay] of rects) {
        for (const spec of lay.ports.inputs) {
          const yy = lay.ins[spec.name];
          if (yy === undefined || spec.readonly) continue;
          ctx.fillStyle = typeColor(spec.type);
          ctx.fillRect(p[0] - 5, p[1] + yy - 5, 10, 10);
        }
        for (const spec of lay.ports.outputs) {
          const yy = lay.outs[spec.name];
          if (yy === undefined) continue;
          ctx.fillStyle = typeColor(spec.type);
          ctx.fillRect(p[0] + lay.w - 5, p[1] + yy - 5, 10, 10);
        }
        void id;
      }
    }
    if (titles) {
      ctx.fillStyle = "#dfe4ec";
      ctx.font = "600 15px system-ui, sans-serif";
      ctx.textBaseline = "middle";
      for (const [id, , p, lay] of rects) {
        const t = this.titleOf(id);
        ctx.fillText(t.length > 26 ? `${t.slice(0, 25)}…` : t, p[0] + 10, p[1] + 14, lay.w - 16);
      }
    }
  }

  /** The node under a screen point (for hit testing while nodes are drawn on the canvas). */
  nodeAt(sx, sy) {
    const [wx, wy] = this.toWorld(sx, sy);
    const ids = Object.keys(this.doc.nodes);
    for (let i = ids.length - 1; i >= 0; i--) {
      const n = this.doc.nodes[ids[i]];
      const p = (n.ui && n.ui.pos) || [0, 0];
      const lay = this.layout(ids[i]);
      if (wx >= p[0] && wy >= p[1] && wx <= p[0] + lay.w && wy <= p[1] + lay.h) return ids[i];
    }
    return null;
  }

  zoomAt(factor, sx, sy) {
    const r = this.root.getBoundingClientRect();
    const px = sx - r.left, py = sy - r.top;
    const z = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.view.zoom * factor));
    const k = z / this.view.zoom;
    this.view = { x: px - (px - this.view.x) * k, y: py - (py - this.view.y) * k, zoom: z };
    this.scheduleView();
  }

  toWorld(sx, sy) {
    const r = this.rect || this.root.getBoundingClientRect();
    return [(sx - r.left - this.view.x) / this.view.zoom, (sy - r.top - this.view.y) / this.view.zoom];
  }

  bounds(ids) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const list = ids ? [...ids] : Object.keys(this.doc.nodes);
    for (const id of list) {
      const n = this.doc.nodes[id];
      if (!n) continue;
      const p = (n.ui && n.ui.pos) || [0, 0];
      const lay = this.layout(id);
      x0 = Math.min(x0, p[0]); y0 = Math.min(y0, p[1]);
      x1 = Math.max(x1, p[0] + lay.w); y1 = Math.max(y1, p[1] + lay.h);
    }
    if (!ids) {
      for (const g of this.doc.groups || []) {
        const [x, y, w, h] = groupBounds(g);
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + w); y1 = Math.max(y1, y + h);
      }
      for (const n of this.doc.notes || []) {
        const [x, y] = n.pos || [0, 0];
        const [w, h] = n.size || [240, 140];
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + w); y1 = Math.max(y1, y + h);
      }
    }
    return x0 === Infinity ? null : [x0, y0, x1, y1];
  }

  fit(ids, now = false) {
    const b = this.bounds(ids && ids.size ? ids : null);
    const r = this.rect || this.root.getBoundingClientRect();
    if (!b) { this.setView({ x: r.width / 2 - 200, y: r.height / 3, zoom: 1 }, now); return; }
    const pad = 40;
    const zoom = Math.min(1.25, Math.max(MIN_ZOOM, Math.min((r.width - 2 * pad) / (b[2] - b[0]), (r.height - 2 * pad) / (b[3] - b[1]))));
    this.setView({
      x: (r.width - (b[2] - b[0]) * zoom) / 2 - b[0] * zoom,
      y: (r.height - (b[3] - b[1]) * zoom) / 2 - b[1] * zoom,
      zoom,
    }, now);
  }

  // ---------------------------------------------------------------- minimap
  drawMinimapBase() {
    clearTimeout(this.mmTimer);
    this.mmTimer = setTimeout(() => {
      const b = this.bounds();
      this.mmBounds = b;
      const c = this.mmBase || (this.mmBase = document.createElement("canvas"));
      c.width = this.minimap.width; c.height = this.minimap.height;
      const ctx = c.getContext("2d");
      ctx.setTransform(this.mm.dpr, 0, 0, this.mm.dpr, 0, 0);
      ctx.clearRect(0, 0, this.mm.w, this.mm.h);
      if (b) {
        const t = this.mmTransform();
        for (const g of this.doc.groups || []) {
          const [x, y, w, h] = groupBounds(g);
          ctx.fillStyle = (/^#[0-9a-f]{6}$/i.test(g.color) ? g.color : GROUP_COLORS[0]) + "55";
          ctx.fillRect(t.x(x), t.y(y), w * t.s, h * t.s);
        }
        ctx.strokeStyle = "rgba(160,170,190,0.35)";
        ctx.lineWidth = 1;
        ctx.beginPath();
        for (const l of this.links.values()) {
          const a = this.sockPos(l.from, "out", l.output), z = this.sockPos(l.to, "in", l.input);
          if (!a || !z) continue;
          ctx.moveTo(t.x(a[0]), t.y(a[1])); ctx.lineTo(t.x(z[0]), t.y(z[1]));
        }
        ctx.stroke();
        for (const [id, n] of Object.entries(this.doc.nodes)) {
          const p = (n.ui && n.ui.pos) || [0, 0];
          const lay = this.layout(id);
          const st = this.tab.run && this.tab.run.states[id];
          ctx.fillStyle = st && st.state === "failed" ? "#e5534b" : this.selected.has(id) ? "#6cb6ff" : n.bypass ? "#8e6bbf" : "#8b93a6";
          ctx.fillRect(t.x(p[0]), t.y(p[1]), Math.max(2, lay.w * t.s), Math.max(2, lay.h * t.s));
        }
      }
      this.drawMinimap();
    }, 30);
  }

  mmTransform() {
    const b = this.mmBounds || [0, 0, 1, 1];
    const W = this.mm.w, H = this.mm.h, pad = 8;
    const s = Math.min((W - 2 * pad) / Math.max(1, b[2] - b[0]), (H - 2 * pad) / Math.max(1, b[3] - b[1]));
    const ox = pad + ((W - 2 * pad) - (b[2] - b[0]) * s) / 2, oy = pad + ((H - 2 * pad) - (b[3] - b[1]) * s) / 2;
    return { s, x: (x) => ox + (x - b[0]) * s, y: (y) => oy + (y - b[1]) * s, ix: (px) => (px - ox) / s + b[0], iy: (py) => (py - oy) / s + b[1] };
  }

  drawMinimap() {
    const ctx = this.minimap.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.minimap.width, this.minimap.height);
    if (this.mmBase) ctx.drawImage(this.mmBase, 0, 0);
    ctx.setTransform(this.mm.dpr, 0, 0, this.mm.dpr, 0, 0);
    if (!this.mmBounds) return;
    const t = this.mmTransform();
    const r = this.rect || this.root.getBoundingClientRect();
    const x0 = -this.view.x / this.view.zoom, y0 = -this.view.y / this.view.zoom;
    // the view's rectangle, clipped to the minimap (a view larger than the graph shows as its frame)
    const W = this.mm.w, H = this.mm.h;
    const ax = Math.max(1, t.x(x0)), ay = Math.max(1, t.y(y0));
    const bx = Math.min(W - 1, t.x(x0) + (r.width / this.view.zoom) * t.s), by = Math.min(H - 1, t.y(y0) + (r.height / this.view.zoom) * t.s);
    if (bx <= ax || by <= ay) return;
    ctx.fillStyle = "rgba(108,182,255,0.08)";
    ctx.fillRect(ax, ay, bx - ax, by - ay);
    ctx.strokeStyle = "rgba(230,237,243,0.85)";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(ax, ay, bx - ax, by - ay);
  }

  // ---------------------------------------------------------------- selection
  select(ids, additive = false) {
    if (!additive) {
      for (const id of this.selected) this.nodeEls.get(id)?.classList.remove("sel");
      this.selected.clear();
    }
    for (const id of ids) {
      if (!this.doc.nodes[id]) continue;
      this.selected.add(id);
      this.nodeEls.get(id)?.classList.add("sel");
    }
    this.drawMinimapBase();
    this.scheduleDraw();
    this.app.onSelection();
  }

  toggleSelect(id) {
    if (this.selected.has(id)) {
      this.selected.delete(id);
      this.nodeEls.get(id)?.classList.remove("sel");
      this.scheduleDraw();
      this.app.onSelection();
    } else this.select([id], true);
  }

  // ---------------------------------------------------------------- edits
  /** Every document change goes through here: one undo step, then a re-render of what changed. */
  edit(fn, refresh = "all") {
    const before = JSON.stringify(this.doc);
    const result = fn(this.doc);
    const after = JSON.stringify(this.doc);
    if (after === before) return result;
    this.app.pushUndo(this.tab, before);
    if (refresh === "all") this.render();
    else if (Array.isArray(refresh)) this.refreshNodes(refresh);
    else if (refresh === "groups") { this.renderGroups(); this.drawMinimapBase(); }
    else if (refresh === "notes") this.renderNotes();
    else if (refresh === "links") { this.rebuildLinks(); this.drawMinimapBase(); }
    this.app.onChange();
    return result;
  }

  newId(type) {
    const base = (type.split(".").pop() || "node").replace(/[^A-Za-z0-9_]/g, "").toLowerCase() || "node";
    if (!this.doc.nodes[base]) return base;
    for (let i = 2; ; i++) if (!this.doc.nodes[`${base}${i}`]) return `${base}${i}`;
  }

  snapXY(x, y) {
    return this.snap ? [Math.round(x / GRID) * GRID, Math.round(y / GRID) * GRID] : [Math.round(x), Math.round(y)];
  }

  addNode(type, x, y, connect) {
    const schema = this.schemas.get(type);
    if (!schema) return null;
    const id = this.newId(type);
    const inputs = {};
    for (const spec of schema.inputs) if (spec.widget) inputs[spec.name] = initialValue(spec);
    this.edit((doc) => {
      doc.nodes[id] = { type, type_version: schema.version, inputs, ui: { pos: this.snapXY(x, y) } };
      if (connect) this.connectInto(doc, connect, id, schema);
    });
    this.select([id]);
    return id;
  }

  /** After "drop a wire on empty canvas": link the new node's first compatible port. */
  connectInto(doc, c, id, schema) {
    if (c.dir === "out") {
      const spec = schema.inputs.find((i) => canConnect(c.type, i.type) && !i.widget)
        || schema.inputs.find((i) => canConnect(c.type, i.type));
      if (spec) doc.nodes[id].inputs[spec.name] = { from: c.node, output: c.name };
    } else {
      const out = schema.outputs.find((o) => canConnect(o.type, c.type));
      if (out) doc.nodes[c.node].inputs[c.name] = { from: id, output: out.name };
    }
  }

  /** Try to link from.output -> to.input; refuse with a hint on a type mismatch. */
  connect(from, output, to, input) {
    if (from === to) { this.hint("A node cannot feed itself"); return false; }
    const st = this.outputType(from, output);
    const spec = this.inputSpec(to, input);
    const dt = spec ? spec.type : "ANY";
    if (!canConnect(st, dt)) {
      this.hint(`Cannot connect ${st} to ${dt}: “${input}” takes ${dt}`, true);
      return false;
    }
    if (this.reaches(to, from)) { this.hint("That link would make a cycle", true); return false; }
    const how = compatibility(st, dt);
    this.edit((doc) => {
      const node = doc.nodes[to];
      node.inputs = node.inputs || {};
      node.inputs[input] = { from, output };
      const p = this.paramFor(to, input);
      if (p) delete doc.params[p];
      if (node.ui && node.ui.reroutes) delete node.ui.reroutes[input];
    }, [to, from]);
    if (how === "map") this.hint(`${st} into ${dt}: the node runs once per element`);
    else if (how === "wrap") this.hint(`${st} into ${dt}: becomes a one-element list`);
    return true;
  }

  /** Is there a path of links from a to b? (a cycle check for a new b -> a link). */
  reaches(a, b) {
    const seen = new Set([a]);
    const stack = [a];
    while (stack.length) {
      const id = stack.pop();
      if (id === b) return true;
      for (const k of this.linksByNode.get(id) || []) {
        const l = this.links.get(k);
        if (l.from === id && !seen.has(l.to)) { seen.add(l.to); stack.push(l.to); }
      }
    }
    return false;
  }

  disconnect(to, input) {
    this.edit((doc) => {
      const node = doc.nodes[to];
      const spec = this.inputSpec(to, input);
      if (spec && spec.widget) node.inputs[input] = initialValue(spec);
      else delete node.inputs[input];
      if (node.ui && node.ui.reroutes) delete node.ui.reroutes[input];
    }, [to, ...this.peers(to)]);
  }

  peers(id) {
    const out = new Set();
    for (const k of this.linksByNode.get(id) || []) {
      const l = this.links.get(k);
      out.add(l.from); out.add(l.to);
    }
    out.delete(id);
    return out;
  }

  deleteSelection() {
    const ids = [...this.selected];
    if (!ids.length) return;
    this.edit((doc) => {
      for (const id of ids) delete doc.nodes[id];
      for (const node of Object.values(doc.nodes)) {
        for (const [k, v] of Object.entries(node.inputs || {})) {
          if (isLink(v) && ids.includes(v.from)) {
            const spec = this.schemaOf(node)?.inputs.find((i) => i.name === k);
            if (spec && spec.widget) node.inputs[k] = initialValue(spec); else delete node.inputs[k];
            if (node.ui && node.ui.reroutes) delete node.ui.reroutes[k];
          }
        }
      }
      for (const [name, p] of Object.entries(doc.params || {})) if (p && ids.includes(p.node)) delete doc.params[name];
    });
    this.selected.clear();
    this.app.onSelection();
  }

  setInputValue(id, input, value, undoable = true) {
    const apply = (doc) => {
      doc.nodes[id].inputs = doc.nodes[id].inputs || {};
      doc.nodes[id].inputs[input] = value;
      const p = this.paramFor(id, input);
      if (p) doc.params[p].default = value; // the param's default is what a run uses
    };
    if (undoable) this.edit(apply, null);
    else { apply(this.doc); this.app.onChange(); }
  }

  setNodeFlag(ids, fn) {
    this.edit((doc) => { for (const id of ids) if (doc.nodes[id]) fn(doc.nodes[id], id); }, [...ids, ...[...ids].flatMap((i) => [...this.peers(i)])]);
  }

  /** Arrow keys: move the selection by one grid step (Shift: five). */
  nudge(dx, dy) {
    const ids = [...this.selected];
    if (!ids.length) return;
    this.edit((doc) => {
      for (const id of ids) {
        const n = doc.nodes[id];
        n.ui = n.ui || {};
        const p = n.ui.pos || [0, 0];
        n.ui.pos = [p[0] + dx, p[1] + dy];
      }
    }, null);
    for (const id of ids) {
      const p = this.doc.nodes[id].ui.pos;
      this.nodeEls.get(id).style.transform = `translate(${p[0]}px,${p[1]}px)`;
    }
    this.updateLinksOf(ids);
    this.drawMinimapBase();
  }

  toggleBypass(ids = this.selected) {
    const on = [...ids].some((id) => !this.doc.nodes[id].bypass);
    this.setNodeFlag(ids, (n) => { if (on) n.bypass = true; else delete n.bypass; });
  }

  toggleCollapse(ids = this.selected) {
    const on = [...ids].some((id) => !(this.doc.nodes[id].ui || {}).collapsed);
    this.setNodeFlag(ids, (n) => { n.ui = n.ui || {}; if (on) n.ui.collapsed = true; else delete n.ui.collapsed; });
  }

  /** Nodes (with their links among themselves) as a clipboard document. */
  copySelection() {
    if (!this.selected.size) return null;
    const nodes = {};
    for (const id of this.selected) nodes[id] = clone(this.doc.nodes[id]);
    return { format: "reelgraph.clipboard", version: 1, nodes };
  }

  paste(clip, at) {
    if (!clip || typeof clip.nodes !== "object") return;
    const entries = Object.entries(clip.nodes);
    if (!entries.length) return;
    let x0 = Infinity, y0 = Infinity;
    for (const [, n] of entries) {
      const p = (n.ui && n.ui.pos) || [0, 0];
      x0 = Math.min(x0, p[0]); y0 = Math.min(y0, p[1]);
    }
    const map = {};
    const added = [];
    this.edit((doc) => {
      for (const [old, n] of entries) {
        const id = this.newId(n.type || "node");
        map[old] = id;
        doc.nodes[id] = {}; // reserve the id
      }
      for (const [old, n] of entries) {
        const copy = clone(n);
        const p = (copy.ui && copy.ui.pos) || [0, 0];
        copy.ui = copy.ui || {};
        copy.ui.pos = this.snapXY(at[0] + p[0] - x0, at[1] + p[1] - y0);
        for (const [k, v] of Object.entries(copy.inputs || {})) {
          if (!isLink(v)) continue;
          if (map[v.from]) v.from = map[v.from];
          else if (!doc.nodes[v.from]) {
            const spec = this.schemas.get(copy.type)?.inputs.find((i) => i.name === k);
            if (spec && spec.widget) copy.inputs[k] = initialValue(spec); else delete copy.inputs[k];
          }
        }
        doc.nodes[map[old]] = copy;
        added.push(map[old]);
      }
    });
    this.select(added);
    return map;
  }

  addGroupAround(ids) {
    const b = ids.size ? this.bounds(ids) : null;
    const [mx, my] = this.toWorld(this.mouse?.[0] ?? 300, this.mouse?.[1] ?? 300);
    const bounds = b ? [b[0] - 20, b[1] - 48, b[2] - b[0] + 40, b[3] - b[1] + 68] : [mx, my, 400, 260];
    this.edit((doc) => {
      doc.groups = Array.isArray(doc.groups) ? doc.groups : [];
      doc.groups.push({ title: "Group", color: GROUP_COLORS[doc.groups.length % GROUP_COLORS.length], bounds: bounds.map(Math.round) });
    }, "groups");
  }

  addNote(x, y) {
    this.edit((doc) => {
      doc.notes = Array.isArray(doc.notes) ? doc.notes : [];
      doc.notes.push({ text: "", pos: this.snapXY(x, y), size: [260, 150] });
    }, "notes");
    const tas = this.notesEl.querySelectorAll("textarea");
    tas[tas.length - 1]?.focus();
  }

  hint(text, bad = false) {
    this.hintEl.textContent = text;
    this.hintEl.hidden = false;
    this.hintEl.classList.toggle("bad", bad);
    clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => { this.hintEl.hidden = true; }, 2600);
  }

  // ---------------------------------------------------------------- run states and previews
  applyRunStates(ids) {
    const run = this.tab && this.tab.run;
    const list = ids || [...this.nodeEls.keys()];
    for (const id of list) {
      const el = this.nodeEls.get(id);
      if (!el) continue;
      this.paintState(id, el, run ? run.states[id] : null, run ? run.previews[id] : null);
    }
  }

  paintState(id, el, st, preview) {
    if (this.lod) this.scheduleDraw();
    el.classList.remove("st-queued", "st-running", "st-cached", "st-done", "st-failed", "st-skipped", "st-cancelled");
    const badge = el.querySelector(".nbadge");
    const bar = el.querySelector(".nprogress i");
    const below = el.querySelector(".nbelow");
    badge.textContent = "";
    badge.title = "";
    bar.style.width = "0";
    let html = "";
    if (st) {
      el.classList.add(`st-${st.state}`);
      if (st.state === "done" && typeof st.seconds === "number") {
        badge.textContent = fmtSeconds(st.seconds);
        badge.title = `ran in ${st.seconds.toFixed(3)} s` + (st.peak_rss_mb ? `, peak ${Math.round(st.peak_rss_mb)} MB` : "");
      } else if (st.state === "cached") badge.textContent = "cached";
      else if (st.state === "queued") badge.textContent = "queued";
      else if (st.state === "running") {
        badge.textContent = st.progress ? `${st.progress.value}/${st.progress.max}` : "running";
        if (st.progress && st.progress.max) bar.style.width = `${(100 * st.progress.value) / st.progress.max}%`;
        else bar.style.width = "100%";
      } else if (st.state === "failed") badge.textContent = "failed";
      else if (st.state === "cancelled") badge.textContent = "cancelled";
      if (st.state === "failed" && st.error) {
        html += `<div class="nerror"><div class="emsg">${esc(st.error.message || "failed")}</div>` +
          (st.error.traceback ? `<details><summary>Traceback</summary><pre>${esc(st.error.traceback)}</pre></details>` : "") + `</div>`;
      }
    }
    if (preview) html += previewHTML(preview);
    if (below.dataset.html !== html) {
      below.innerHTML = html;
      below.dataset.html = html;
      const frames = below.querySelector(".flip");
      if (frames) startFlipbook(frames);
    }
  }

  // ---------------------------------------------------------------- events
  bindEvents() {
    const root = this.root;
    root.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    root.addEventListener("dblclick", (e) => this.onDblClick(e));
    root.addEventListener("contextmenu", (e) => this.onContextMenu(e));
    root.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    root.addEventListener("pointermove", (e) => { this.mouse = [e.clientX, e.clientY]; });
    root.addEventListener("focusin", (e) => this.onFocusIn(e));
    root.addEventListener("input", (e) => this.onInput(e));
    root.addEventListener("change", (e) => this.onFieldChange(e));
    root.addEventListener("keydown", (e) => this.onFieldKey(e));
    root.addEventListener("click", (e) => this.onClick(e));
    window.addEventListener("resize", () => { this.rect = null; this.scheduleView(); });
    this.minimap.addEventListener("pointerdown", (e) => this.onMinimap(e));
  }

  onWheel(e) {
    if (e.target.closest("textarea, select, .nerror pre") && !e.ctrlKey) {
      const t = e.target.closest("textarea, .nerror pre");
      if (t && t.scrollHeight > t.clientHeight) return;
    }
    e.preventDefault();
    this.rect = this.root.getBoundingClientRect();
    const mouseWheel = e.deltaX === 0 && Number.isInteger(e.deltaY) && Math.abs(e.deltaY) >= 50;
    if (e.ctrlKey || (mouseWheel && !e.shiftKey)) {
      const d = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
      this.zoomAt(Math.exp(-d * (e.ctrlKey && !mouseWheel ? 0.01 : 0.0015)), e.clientX, e.clientY);
    } else {
      const dx = e.shiftKey && e.deltaX === 0 ? e.deltaY : e.deltaX;
      const dy = e.shiftKey && e.deltaX === 0 ? 0 : e.deltaY;
      this.view = { ...this.view, x: this.view.x - dx, y: this.view.y - dy };
      this.scheduleView();
    }
  }

  /** A pointer drag: move(e) on every pointermove, up(e, moved) at the end. */
  drag(e, move, up) {
    const startX = e.clientX, startY = e.clientY;
    let moved = false;
    // window listeners, not pointer capture: capture would retarget click/dblclick to the canvas
    const target = window;
    const onMove = (ev) => {
      if (!moved && Math.hypot(ev.clientX - startX, ev.clientY - startY) < 3) return;
      moved = true;
      move(ev);
    };
    const onUp = (ev) => {
      target.removeEventListener("pointermove", onMove);
      target.removeEventListener("pointerup", onUp);
      target.removeEventListener("pointercancel", onUp);
      up?.(ev, moved);
    };
    target.addEventListener("pointermove", onMove);
    target.addEventListener("pointerup", onUp);
    target.addEventListener("pointercancel", onUp);
  }

  onPointerDown(e) {
    this.app.closeMenus();
    this.rect = this.root.getBoundingClientRect();
    const t = e.target;
    // a press outside the field being edited ends the edit (commits it), like any desktop app
    const active = document.activeElement;
    if (active && active !== t && !t.closest("input, textarea, select") && active.matches("input, textarea, select")) active.blur();
    if (t.closest(".minimap, .zoomctl")) return;
    if (e.button === 1 || (e.button === 0 && this.app.spaceDown)) {
      e.preventDefault();
      this.app.spaceUsed = true;
      return this.panDrag(e);
    }
    if (e.button !== 0) return;
    const sock = t.closest(".sock");
    if (sock) { e.preventDefault(); return this.wireDrag(e, sock); }
    const rr = t.closest(".reroute");
    if (rr) { e.preventDefault(); return this.rerouteDrag(e, rr); }
    const scrub = t.closest(".num .scrub");
    if (scrub) { e.preventDefault(); return this.scrubDrag(e, scrub); }
    if (t.closest("input, textarea, select, button, summary, pre, video, audio, a, .toggle")) return;
    const groupEl = t.closest(".group");
    if (groupEl && t.closest(".gresize")) return this.groupResize(e, groupEl);
    if (groupEl && t.closest(".gtitle")) return this.groupDrag(e, groupEl);
    const noteEl = t.closest(".note");
    if (noteEl) {
      if (t.closest(".nresize")) return this.noteResize(e, noteEl);
      if (t.closest(".notehead")) return this.noteDrag(e, noteEl);
      return;
    }
    if (t.closest(".nwresize")) return this.nodeResize(e, t.closest(".node"));
    let nodeEl = t.closest(".node");
    if (!nodeEl && this.lod) nodeEl = this.nodeEls.get(this.nodeAt(e.clientX, e.clientY)) || null;
    if (nodeEl) return this.nodeDrag(e, nodeEl);
    if (e.shiftKey || e.ctrlKey || e.metaKey) return this.boxSelect(e);
    return this.panDrag(e, true);
  }

  panDrag(e, clearOnClick = false) {
    const sx = e.clientX, sy = e.clientY;
    const v0 = { ...this.view };
    this.root.classList.add("panning");
    this.drag(e, (ev) => {
      this.view = { ...this.view, x: v0.x + ev.clientX - sx, y: v0.y + ev.clientY - sy };
      this.scheduleView();
    }, (ev, moved) => {
      this.root.classList.remove("panning");
      if (!moved && clearOnClick && this.selected.size) this.select([]);
    });
  }

  boxSelect(e) {
    const r = this.rect;
    const sx = e.clientX, sy = e.clientY;
    const additive = e.shiftKey;
    const box = this.boxEl;
    this.drag(e, (ev) => {
      box.hidden = false;
      const x = Math.min(sx, ev.clientX) - r.left, y = Math.min(sy, ev.clientY) - r.top;
      box.style.transform = `translate(${x}px,${y}px)`;
      box.style.width = `${Math.abs(ev.clientX - sx)}px`;
      box.style.height = `${Math.abs(ev.clientY - sy)}px`;
    }, (ev, moved) => {
      box.hidden = true;
      if (!moved) { if (!additive) this.select([]); return; }
      const [ax, ay] = this.toWorld(Math.min(sx, ev.clientX), Math.min(sy, ev.clientY));
      const [bx, by] = this.toWorld(Math.max(sx, ev.clientX), Math.max(sy, ev.clientY));
      const hit = [];
      for (const [id, n] of Object.entries(this.doc.nodes)) {
        const p = (n.ui && n.ui.pos) || [0, 0];
        const lay = this.layout(id);
        if (p[0] < bx && p[0] + lay.w > ax && p[1] < by && p[1] + lay.h > ay) hit.push(id);
      }
      this.select(hit, additive);
    });
  }

  nodeDrag(e, nodeEl) {
    let id = nodeEl.dataset.nodeId;
    if (e.altKey) {
      // Alt+drag drags a copy (of the whole selection when the node is part of it)
      if (!this.selected.has(id)) this.select([id]);
      const clip = this.copySelection();
      const at = this.bounds(this.selected);
      const map = this.paste(clip, [at[0], at[1]]);
      id = map[id];
      nodeEl = this.nodeEls.get(id);
      if (!nodeEl) return;
    }
    if (e.shiftKey || e.ctrlKey || e.metaKey) { this.toggleSelect(id); if (!this.selected.has(id)) return; }
    else if (!this.selected.has(id)) this.select([id]);
    if (e.target.closest(".ncollapse")) return;
    const ids = [...this.selected];
    const start = ids.map((i) => [...((this.doc.nodes[i].ui && this.doc.nodes[i].ui.pos) || [0, 0])]);
    const before = JSON.stringify(this.doc);
    const sx = e.clientX, sy = e.clientY;
    nodeEl.classList.add("dragging");
    this.drag(e, (ev) => {
      const dx = (ev.clientX - sx) / this.view.zoom, dy = (ev.clientY - sy) / this.view.zoom;
      ids.forEach((i, k) => {
        const n = this.doc.nodes[i];
        n.ui = n.ui || {};
        n.ui.pos = this.snapXY(start[k][0] + dx, start[k][1] + dy);
        this.nodeEls.get(i).style.transform = `translate(${n.ui.pos[0]}px,${n.ui.pos[1]}px)`;
      });
      if (!this.moveFrame) {
        this.moveFrame = requestAnimationFrame(() => { this.moveFrame = 0; this.updateLinksOf(ids); });
      }
    }, (ev, moved) => {
      nodeEl.classList.remove("dragging");
      if (!moved) {
        if (!(e.shiftKey || e.ctrlKey || e.metaKey) && this.selected.size > 1) this.select([id]);
        return;
      }
      this.updateLinksOf(ids);
      this.app.pushUndo(this.tab, before);
      this.app.onChange();
      this.drawMinimapBase();
    });
  }

  nodeResize(e, el) {
    const id = el.dataset.nodeId;
    const n = this.doc.nodes[id];
    const w0 = this.layout(id).w;
    const before = JSON.stringify(this.doc);
    const sx = e.clientX;
    this.drag(e, (ev) => {
      n.ui = n.ui || {};
      n.ui.width = Math.max(160, Math.round((w0 + (ev.clientX - sx) / this.view.zoom) / 10) * 10);
      this.layouts.delete(id);
      el.style.width = `${this.layout(id).w}px`;
      this.updateLinksOf([id]);
    }, (ev, moved) => {
      if (!moved || JSON.stringify(this.doc) === before) return;
      this.app.pushUndo(this.tab, before);
      this.app.onChange();
      this.drawMinimapBase();
    });
  }

  groupNodes(g) {
    const [x, y, w, h] = groupBounds(g);
    return Object.entries(this.doc.nodes).filter(([, n]) => {
      const p = (n.ui && n.ui.pos) || [0, 0];
      return p[0] >= x && p[1] >= y && p[0] < x + w && p[1] < y + h;
    }).map(([id]) => id);
  }

  groupDrag(e, groupEl) {
    const i = Number(groupEl.dataset.group);
    const g = this.doc.groups[i];
    const b0 = groupBounds(g);
    const ids = this.groupNodes(g);
    const start = ids.map((id) => [...this.doc.nodes[id].ui.pos]);
    const before = JSON.stringify(this.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      const [dx, dy] = this.snapXY((ev.clientX - sx) / this.view.zoom, (ev.clientY - sy) / this.view.zoom);
      g.bounds = [b0[0] + dx, b0[1] + dy, b0[2], b0[3]];
      groupEl.style.transform = `translate(${g.bounds[0]}px,${g.bounds[1]}px)`;
      ids.forEach((id, k) => {
        const n = this.doc.nodes[id];
        n.ui.pos = [start[k][0] + dx, start[k][1] + dy];
        this.nodeEls.get(id).style.transform = `translate(${n.ui.pos[0]}px,${n.ui.pos[1]}px)`;
      });
      this.updateLinksOf(ids);
    }, (ev, moved) => {
      if (!moved) return;
      this.app.pushUndo(this.tab, before);
      this.app.onChange();
      this.drawMinimapBase();
    });
  }

  groupResize(e, groupEl) {
    const g = this.doc.groups[Number(groupEl.dataset.group)];
    const b0 = groupBounds(g);
    const before = JSON.stringify(this.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      const w = Math.max(120, b0[2] + (ev.clientX - sx) / this.view.zoom);
      const h = Math.max(80, b0[3] + (ev.clientY - sy) / this.view.zoom);
      g.bounds = [b0[0], b0[1], ...this.snapXY(w, h)];
      groupEl.style.width = `${g.bounds[2]}px`;
      groupEl.style.height = `${g.bounds[3]}px`;
    }, (ev, moved) => {
      if (moved) { this.app.pushUndo(this.tab, before); this.app.onChange(); this.drawMinimapBase(); }
    });
  }

  noteDrag(e, noteEl) {
    if (e.target.closest(".noteclose")) return;
    const n = this.doc.notes[Number(noteEl.dataset.note)];
    const p0 = [...(n.pos || [0, 0])];
    const before = JSON.stringify(this.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      n.pos = this.snapXY(p0[0] + (ev.clientX - sx) / this.view.zoom, p0[1] + (ev.clientY - sy) / this.view.zoom);
      noteEl.style.transform = `translate(${n.pos[0]}px,${n.pos[1]}px)`;
    }, (ev, moved) => { if (moved) { this.app.pushUndo(this.tab, before); this.app.onChange(); } });
  }

  noteResize(e, noteEl) {
    const n = this.doc.notes[Number(noteEl.dataset.note)];
    const s0 = [...(n.size || [240, 140])];
    const before = JSON.stringify(this.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      n.size = [Math.max(140, Math.round(s0[0] + (ev.clientX - sx) / this.view.zoom)), Math.max(80, Math.round(s0[1] + (ev.clientY - sy) / this.view.zoom))];
      noteEl.style.width = `${n.size[0]}px`;
      noteEl.style.height = `${n.size[1]}px`;
    }, (ev, moved) => { if (moved) { this.app.pushUndo(this.tab, before); this.app.onChange(); } });
  }

  rerouteDrag(e, el) {
    const l = this.links.get(el.dataset.key);
    const i = Number(el.dataset.index);
    const before = JSON.stringify(this.doc);
    this.drag(e, (ev) => {
      const p = this.snapXY(...this.toWorld(ev.clientX, ev.clientY));
      this.doc.nodes[l.to].ui.reroutes[l.input][i] = p;
      el.setAttribute("cx", p[0]); el.setAttribute("cy", p[1]);
      this.linkEls.get(l.key)?.setAttribute("d", this.linkPath(l));
    }, (ev, moved) => { if (moved) { this.app.pushUndo(this.tab, before); this.app.onChange(); } });
  }

  /** Drag a wire from a socket. From a linked input, picks the existing link up. */
  wireDrag(e, sock) {
    const nodeEl = sock.closest(".node");
    let id = nodeEl.dataset.nodeId;
    let dir = sock.dataset.dir;
    let name = sock.dataset.name;
    let detached = null;
    if (dir === "in") {
      const v = (this.doc.nodes[id].inputs || {})[name];
      if (isLink(v)) { // pick the link up by its input end
        detached = { to: id, input: name };
        id = v.from; name = v.output; dir = "out";
      }
    }
    const type = dir === "out" ? this.outputType(id, name) : (this.inputSpec(id, name)?.type || "ANY");
    const anchor = this.sockPos(id, dir, name);
    this.tempWire.setAttribute("stroke", typeColor(type));
    this.tempWire.style.display = "";
    if (detached) this.linkEls.get(linkKey(detached.to, detached.input))?.classList.add("ghost");
    // mark every socket as a fit or not for this wire
    this.root.classList.add("wiring");
    for (const el of this.nodesEl.querySelectorAll(".sock")) {
      const nid = el.closest(".node").dataset.nodeId;
      let ok = false;
      if (dir === "out" && el.dataset.dir === "in") ok = nid !== id && canConnect(type, this.inputSpec(nid, el.dataset.name)?.type || "ANY");
      if (dir === "in" && el.dataset.dir === "out") ok = nid !== id && canConnect(this.outputType(nid, el.dataset.name), type);
      el.classList.toggle("fit", ok);
    }
    const draw = (ev) => {
      const p = this.toWorld(ev.clientX, ev.clientY);
      this.tempWire.setAttribute("d", dir === "out" ? curve([anchor, p]) : curve([p, anchor]));
    };
    draw(e);
    this.drag(e, draw, (ev, moved) => {
      this.tempWire.style.display = "none";
      this.root.classList.remove("wiring");
      for (const el of this.nodesEl.querySelectorAll(".sock.fit")) el.classList.remove("fit");
      if (detached) this.linkEls.get(linkKey(detached.to, detached.input))?.classList.remove("ghost");
      if (!moved) return;
      const over = document.elementFromPoint(ev.clientX, ev.clientY);
      const target = over && over.closest(".sock");
      const targetNode = over && over.closest(".node");
      if (target && target.dataset.dir !== dir) {
        const tid = target.closest(".node").dataset.nodeId;
        if (detached && dir === "out" && tid === detached.to && target.dataset.name === detached.input) return;
        const ok = dir === "out" ? this.connect(id, name, tid, target.dataset.name) : this.connect(tid, target.dataset.name, id, name);
        if (ok && detached) this.disconnectIfSame(detached, tid, target.dataset.name);
        return;
      }
      if (targetNode && targetNode.dataset.nodeId !== id) {
        // dropped on a node body: its first fitting port
        const tid = targetNode.dataset.nodeId;
        const lay = this.layout(tid);
        if (dir === "out") {
          const spec = lay.ports.inputs.find((i) => !i.readonly && canConnect(type, i.type) && !isLink(this.doc.nodes[tid].inputs?.[i.name]))
            || lay.ports.inputs.find((i) => !i.readonly && canConnect(type, i.type));
          if (spec) { if (this.connect(id, name, tid, spec.name) && detached) this.disconnectIfSame(detached, tid, spec.name); }
          else this.hint(`${this.titleOf(tid)} has no input that takes ${type}`, true);
        } else {
          const out = lay.ports.outputs.find((o) => canConnect(o.type, type));
          if (out) this.connect(tid, out.name, id, name);
          else this.hint(`${this.titleOf(tid)} has no output that fits ${type}`, true);
        }
        return;
      }
      if (detached) { this.disconnect(detached.to, detached.input); return; }
      // dropped on empty canvas: palette filtered to compatible nodes, connects the chosen one
      const at = this.toWorld(ev.clientX, ev.clientY);
      this.app.openPalette(ev.clientX, ev.clientY, { dir, type, node: id, name, at });
    });
  }

  disconnectIfSame(detached, tid, input) {
    if (detached.to === tid && detached.input === input) return;
    this.disconnect(detached.to, detached.input);
  }

  scrubDrag(e, scrub) {
    const row = scrub.closest(".row");
    const id = row.closest(".node").dataset.nodeId;
    const input = row.dataset.input;
    const spec = this.inputSpec(id, input);
    const w = spec.widget;
    const v0 = Number(this.doc.nodes[id].inputs?.[input] ?? initialValue(spec));
    const before = JSON.stringify(this.doc);
    const sx = e.clientX;
    const step = w.step || (w.kind === "INT" ? 1 : 0.01);
    const valueEl = row.querySelector(".wv");
    let last = v0;
    this.drag(e, (ev) => {
      const v = clampNumber(v0 + Math.round((ev.clientX - sx) / 6) * step * (ev.shiftKey ? 10 : 1), w);
      if (v === null || v === last) return;
      last = v;
      this.setInputValue(id, input, v, false);
      valueEl.textContent = formatNumber(v, w);
    }, (ev, moved) => {
      if (moved) {
        if (last !== v0) { this.app.pushUndo(this.tab, before); this.app.onChange(); }
        return;
      }
      this.editNumber(row, id, input, spec);
    });
  }

  /** Click on a number: type a value. */
  editNumber(row, id, input, spec) {
    const scrub = row.querySelector(".scrub");
    const field = document.createElement("input");
    field.className = "numedit";
    field.value = formatNumber(this.doc.nodes[id].inputs?.[input] ?? initialValue(spec), spec.widget);
    scrub.replaceWith(field);
    field.focus();
    field.select();
    let done = false;
    const finish = (commit) => {
      if (done) return;
      done = true;
      const v = commit ? parseValue(spec, field.value) : null;
      if (v !== null && v !== this.doc.nodes[id].inputs?.[input]) this.setInputValue(id, input, v);
      this.refreshNodes([id]);
    };
    field.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") finish(true);
      if (ev.key === "Escape") finish(false);
      ev.stopPropagation();
    });
    field.addEventListener("blur", () => finish(true));
  }

  onClick(e) {
    const t = e.target;
    const act = t.closest(".zoomctl button");
    if (act) {
      const r = this.root.getBoundingClientRect();
      if (act.dataset.act === "zoom-in") this.zoomAt(1.2, r.left + r.width / 2, r.top + r.height / 2);
      if (act.dataset.act === "zoom-out") this.zoomAt(1 / 1.2, r.left + r.width / 2, r.top + r.height / 2);
      if (act.dataset.act === "fit") this.fit(this.selected);
      if (act.dataset.act === "snap") {
        this.snap = !this.snap;
        localStorage.setItem("reelgraph.snap", this.snap ? "1" : "0");
        act.classList.toggle("on", this.snap);
      }
      return;
    }
    const row = t.closest(".num");
    if (row && t.closest(".step")) {
      const id = row.closest(".node").dataset.nodeId;
      const input = row.dataset.input;
      const spec = this.inputSpec(id, input);
      const step = spec.widget.step || (spec.widget.kind === "INT" ? 1 : 0.01);
      const v0 = Number(this.doc.nodes[id].inputs?.[input] ?? initialValue(spec));
      const v = clampNumber(v0 + (t.closest(".inc") ? step : -step), spec.widget);
      if (v !== null && v !== v0) {
        this.setInputValue(id, input, v);
        row.querySelector(".wv").textContent = formatNumber(v, spec.widget);
      }
      return;
    }
    const collapse = t.closest(".ncollapse");
    if (collapse) { this.toggleCollapse([collapse.closest(".node").dataset.nodeId]); return; }
    const up = t.closest(".upload");
    if (up) { e.preventDefault(); this.app.pickUpload(up.closest(".node").dataset.nodeId, up.closest(".row").dataset.input, up.dataset.accept); return; }
    const close = t.closest(".noteclose");
    if (close) {
      const i = Number(close.closest(".note").dataset.note);
      this.edit((doc) => { doc.notes.splice(i, 1); }, "notes");
    }
  }

  onFocusIn(e) {
    const f = e.target;
    if (f.matches(".row textarea, .row input[type=text], .note textarea")) this.fieldBefore = JSON.stringify(this.doc);
  }

  onInput(e) {
    const f = e.target;
    const note = f.closest(".note");
    if (note) { this.doc.notes[Number(note.dataset.note)].text = f.value; this.app.onChange(); return; }
    const row = f.closest(".row.w");
    if (!row || !f.matches("textarea, input[type=text]")) return;
    const id = row.closest(".node").dataset.nodeId;
    this.setInputValue(id, row.dataset.input, f.value, false); // live; one undo step on change
  }

  onFieldChange(e) {
    const f = e.target;
    if (f.closest(".note")) { this.commitField(); return; }
    const row = f.closest(".row.w");
    if (!row) return;
    const id = row.closest(".node").dataset.nodeId;
    const input = row.dataset.input;
    if (f.classList.contains("seedmode")) {
      this.edit((doc) => {
        const ui = (doc.nodes[id].ui = doc.nodes[id].ui || {});
        ui.seed_modes = { ...(ui.seed_modes || {}), [input]: f.value };
      }, null);
      return;
    }
    if (f.matches("select")) this.setInputValue(id, input, f.value);
    else if (f.matches("input[type=checkbox]")) this.setInputValue(id, input, f.checked);
    else this.commitField();
  }

  commitField() {
    if (this.fieldBefore && this.fieldBefore !== JSON.stringify(this.doc)) {
      this.app.pushUndo(this.tab, this.fieldBefore);
      this.app.onChange();
    }
    this.fieldBefore = JSON.stringify(this.doc);
  }

  onFieldKey(e) {
    if (e.target.matches(".row input[type=text]") && e.key === "Enter") e.target.blur();
  }

  onDblClick(e) {
    const t = e.target;
    if (t.closest("input, textarea, select, button, .minimap, .zoomctl, .nbelow")) return;
    const title = t.closest(".ntitle");
    if (title) return this.renameNode(title.closest(".node").dataset.nodeId);
    const gt = t.closest(".gtitle");
    if (gt) return this.app.renameGroup(Number(gt.closest(".group").dataset.group));
    const rr = t.closest(".reroute");
    if (rr) {
      const l = this.links.get(rr.dataset.key);
      this.edit((doc) => {
        const list = doc.nodes[l.to].ui.reroutes[l.input];
        list.splice(Number(rr.dataset.index), 1);
        if (!list.length) delete doc.nodes[l.to].ui.reroutes[l.input];
      }, "links");
      return;
    }
    const wire = t.closest(".wire");
    if (wire && wire.dataset.key) return this.addReroute(this.links.get(wire.dataset.key), this.toWorld(e.clientX, e.clientY));
    if (t.closest(".node, .note") || (this.lod && this.nodeAt(e.clientX, e.clientY))) return;
    this.app.openPalette(e.clientX, e.clientY, { at: this.toWorld(e.clientX, e.clientY) });
  }

  addReroute(l, p) {
    const pts = this.reroutesOf(l);
    // insert in the order along the wire: by x between its neighbours
    const a = this.sockPos(l.from, "out", l.output);
    const chain = [a, ...pts];
    let at = pts.length;
    for (let i = 0; i < pts.length; i++) if (p[0] < pts[i][0] && p[0] >= chain[i][0]) { at = i; break; }
    this.edit((doc) => {
      const ui = (doc.nodes[l.to].ui = doc.nodes[l.to].ui || {});
      ui.reroutes = ui.reroutes || {};
      const list = [...(ui.reroutes[l.input] || [])];
      list.splice(at, 0, p.map(Math.round));
      ui.reroutes[l.input] = list;
    }, "links");
  }

  renameNode(id) {
    const el = this.nodeEls.get(id);
    const title = el.querySelector(".ntitle");
    const field = document.createElement("input");
    field.className = "titleedit";
    field.value = this.titleOf(id);
    title.replaceWith(field);
    field.focus();
    field.select();
    let done = false;
    const finish = (commit) => {
      if (done) return;
      done = true;
      const v = field.value.trim();
      if (commit && v !== this.titleOf(id)) {
        this.setNodeFlag([id], (n) => {
          n.ui = n.ui || {};
          const schema = this.schemaOf(n);
          if (!v || (schema && v === schema.display_name)) delete n.ui.title; else n.ui.title = v;
        });
      } else this.refreshNodes([id]);
    };
    field.addEventListener("keydown", (ev) => {
      ev.stopPropagation();
      if (ev.key === "Enter") finish(true);
      if (ev.key === "Escape") finish(false);
    });
    field.addEventListener("blur", () => finish(true));
  }

  onContextMenu(e) {
    const t = e.target;
    if (t.closest("input, textarea")) return;
    e.preventDefault();
    const [wx, wy] = this.toWorld(e.clientX, e.clientY);
    const nodeEl = t.closest(".node") || (this.lod ? this.nodeEls.get(this.nodeAt(e.clientX, e.clientY)) : null);
    const wire = t.closest(".wire");
    const groupEl = t.closest(".group");
    const items = [];
    if (nodeEl) {
      const id = nodeEl.dataset.nodeId;
      if (!this.selected.has(id)) this.select([id]);
      const ids = [...this.selected];
      const n = this.doc.nodes[id];
      const row = t.closest(".row.w");
      if (row && ids.length === 1) {
        const input = row.dataset.input;
        const spec = this.inputSpec(id, input);
        const p = this.paramFor(id, input);
        if (spec && spec.widget && !row.classList.contains("linked")) {
          if (p) items.push({ label: `Remove param “${p}”`, run: () => this.app.removeParam(p) });
          else items.push({ label: `Expose “${input}” as a workflow param…`, run: () => this.app.exposeParam(id, input) });
        }
        if (row.classList.contains("linked")) items.push({ label: `Disconnect “${input}”`, run: () => this.disconnect(id, input) });
        items.push(null);
      }
      items.push({ label: "Run to here", key: "Ctrl+Shift+Enter", run: () => this.app.queue([...this.selected]) });
      items.push({ label: ids.length > 1 ? `Rename…` : "Rename", disabled: ids.length > 1, run: () => this.renameNode(id) });
      items.push({ label: n.ui && n.ui.collapsed ? "Expand" : "Collapse", key: "Alt+C", run: () => this.toggleCollapse() });
      items.push({ label: n.bypass ? "Stop bypassing" : "Bypass", key: "Ctrl+B", run: () => this.toggleBypass() });
      items.push({
        label: "Colour", colors: NODE_COLORS, run: (c) => this.setNodeFlag(this.selected, (node) => {
          node.ui = node.ui || {};
          if (c) node.ui.color = c; else delete node.ui.color;
        }),
      });
      items.push(null);
      items.push({ label: "Copy", key: "Ctrl+C", run: () => this.app.copy() });
      items.push({ label: "Duplicate", key: "Ctrl+D", run: () => this.app.duplicate() });
      items.push({ label: "Group selection", key: "Ctrl+G", run: () => this.addGroupAround(this.selected) });
      items.push({ label: "Delete", key: "Del", danger: true, run: () => this.deleteSelection() });
    } else if (wire && wire.dataset.key) {
      const l = this.links.get(wire.dataset.key);
      items.push({ label: "Add reroute point", run: () => this.addReroute(l, [wx, wy]) });
      items.push({ label: "Delete link", danger: true, run: () => this.disconnect(l.to, l.input) });
    } else if (groupEl && t.closest(".gtitle")) {
      const i = Number(groupEl.dataset.group);
      items.push({ label: "Rename group", run: () => this.app.renameGroup(i) });
      items.push({ label: "Select its nodes", run: () => this.select(this.groupNodes(this.doc.groups[i])) });
      items.push({ label: "Colour", colors: GROUP_COLORS, run: (c) => this.edit((doc) => { doc.groups[i].color = c || GROUP_COLORS[0]; }, "groups") });
      items.push({ label: "Remove group (keep nodes)", danger: true, run: () => this.edit((doc) => { doc.groups.splice(i, 1); }, "groups") });
    } else {
      items.push({ label: "Add node…", key: "Tab", run: () => this.app.openPalette(e.clientX, e.clientY, { at: [wx, wy] }) });
      items.push({ label: "Add note", run: () => this.addNote(wx, wy) });
      items.push({ label: "Add group", key: "Ctrl+G", run: () => this.addGroupAround(new Set()) });
      items.push({ label: "Paste", key: "Ctrl+V", run: () => this.app.pasteFromStore([wx, wy]) });
      items.push(null);
      items.push({ label: "Fit to view", key: ".", run: () => this.fit() });
      items.push({ label: "Select all", key: "Ctrl+A", run: () => this.select(Object.keys(this.doc.nodes)) });
    }
    this.app.showMenu(e.clientX, e.clientY, items);
  }

  onMinimap(e) {
    e.stopPropagation();
    const move = (ev) => {
      const r = this.minimap.getBoundingClientRect();
      const t = this.mmTransform();
      const wx = t.ix(ev.clientX - r.left), wy = t.iy(ev.clientY - r.top);
      const vr = this.root.getBoundingClientRect();
      this.view = { ...this.view, x: vr.width / 2 - wx * this.view.zoom, y: vr.height / 2 - wy * this.view.zoom };
      this.scheduleView();
    };
    move(e);
    const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }
}

const STATE_COLORS = { queued: "#6b7384", running: "#6cb6ff", done: "#57ab5a", cached: "#8e9aaf", failed: "#e5534b", cancelled: "#d4a72c", skipped: null };

export function groupBounds(g) {
  const b = Array.isArray(g.bounds) ? g.bounds : [0, 0, 400, 300];
  return [Number(b[0]) || 0, Number(b[1]) || 0, Number(b[2]) || 400, Number(b[3]) || 300];
}

/** A smooth wire through points, leaving and entering each one horizontally. */
export function curve(pts) {
  let d = `M${pts[0][0].toFixed(1)},${pts[0][1].toFixed(1)}`;
  for (let i = 1; i < pts.length; i++) {
    const [x1, y1] = pts[i - 1], [x2, y2] = pts[i];
    const k = Math.max(30, Math.min(200, Math.abs(x2 - x1) * 0.5 + Math.abs(y2 - y1) * 0.15));
    d += `C${(x1 + k).toFixed(1)},${y1.toFixed(1)} ${(x2 - k).toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
  }
  return d;
}

export function fmtSeconds(s) {
  if (s < 0.01) return `${Math.round(s * 1000)} ms`;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
}

function previewHTML(p) {
  if (p.kind === "file") {
    const url = esc(p.url);
    if (p.media === "video") return `<div class="npreview"><video src="${url}" controls loop muted playsinline preload="metadata"></video><a class="plink" href="${url}" target="_blank">${esc(p.name)}</a></div>`;
    if (p.media === "image") return `<div class="npreview"><img src="${url}" alt=""><a class="plink" href="${url}" target="_blank">${esc(p.name)}</a></div>`;
    if (p.media === "audio") return `<div class="npreview"><audio src="${url}" controls preload="none"></audio></div>`;
    return `<div class="npreview"><a class="plink" href="${url}" target="_blank">${esc(p.name)}</a></div>`;
  }
  if (p.kind === "image") return `<div class="npreview"><img src="${p.urls[0]}" alt="">${p.urls.length > 1 ? `<span class="pcount">${p.urls.length} images</span>` : ""}</div>`;
  if (p.kind === "video") return `<div class="npreview"><img class="flip" src="${p.urls[0]}" data-frames="${p.urls.join(" ")}" alt=""><span class="pcount">${esc(p.meta || "video")}</span></div>`;
  if (p.kind === "audio") return `<div class="npreview"><audio src="${p.urls[0]}" controls></audio></div>`;
  return "";
}

function startFlipbook(img) {
  const frames = img.dataset.frames.split(" ");
  if (frames.length < 2) return;
  let i = 0;
  const timer = setInterval(() => {
    if (!img.isConnected) { clearInterval(timer); return; }
    i = (i + 1) % frames.length;
    img.src = frames[i];
  }, 600);
}
