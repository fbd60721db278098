// The canvas model and its DOM: nodes as elements (built from the schema as HTML strings),
// links, groups, notes, the view, selection, and every edit (one undo step each).
// Drawing is a ScenePainter (scene.js), pointer and keyboard handling an Interaction (interact.js):
// each gets the editor (and the interaction the shell's hooks) when it is made.
// Node rows have fixed heights, so socket positions are computed, never measured.

import { DETAIL_ZOOM, GRID, GROUP_COLORS, HEAD, placeNode, LOD_ZOOM, MAX_ZOOM, MIN_ZOOM, NODE_W, PAD_B, PAD_T, READABLE_ZOOM, curve, groupBounds, linkKey, safeColor } from "./geometry.js";
import { Interaction } from "./interact.js";
import { ScenePainter } from "./scene.js";
import { canConnect, compatibility, typeColor } from "./types.js";
import { ROW, esc, formatNumber, initialValue, isLink, textWidth, widgetHTML, widgetHeight } from "./widgets.js";

export { GROUP_COLORS, NODE_COLORS, curve, groupBounds } from "./geometry.js";

const HYDRATE_BUDGET_MS = 6;
// Node elements are dealt into this many bands, by vertical stripes of the world (a band is
// every BANDS-th stripe). Coming back from the canvas view the bands are shown one a frame, the
// canvas drawing the others' nodes as boxes meanwhile: zooming in across the level-of-detail
// cut-off brings some 165 nodes back, and painting them in one frame stalled it. A band is
// hidden with content-visibility, which keeps its layout and styles, so showing it again costs
// its paint; stripes (not nodes taken in turn) keep each frame's re-rasterised tiles to a part
// of the view. A stripe is a quarter of the view's width at the cut-off (1280 px / 0.4 / 4).
const BANDS = 4;
const STRIPE = 800;
const bandOf = (pos) => (((Math.floor((Number(pos && pos[0]) || 0) / STRIPE)) % BANDS) + BANDS) % BANDS;
// Nodes further than this outside the view are display:none: the browser then neither paints,
// layerises nor hit-tests them, so a pan at 100 % costs what is on screen. Screen px at 100 %,
// the same world distance when zoomed out (else at 45 % nearly every node would stay in).
const CULL_MARGIN = 480;
const cullMargin = (zoom) => CULL_MARGIN * Math.min(1, zoom);
// The zooms a workflow may open at, best first (see openView): READABLE_ZOOM, then a step closer
// or further in turn, from 60 % (the least that still reads) to 100 %.
const OPEN_ZOOMS = [0.75, 0.8, 0.7, 0.85, 0.65, 0.9, 0.6, 0.95, 1];
const OPEN_SHIFT = 160; // px
const SESSION = Math.random().toString(36).slice(2, 10);
const clone = (o) => JSON.parse(JSON.stringify(o));
const linkAttr = (l) => `${l.from}.${l.output}->${l.to}.${l.input}`;

export class Editor {
  /**
   * `root`: the canvas element; `shell`: hooks into the page around the canvas (see Interaction;
   * `onSelection` is the one the editor itself calls); `edits`: the History every document change
   * is recorded and announced in.
   */
  constructor(root, shell, edits) {
    this.shell = shell;
    this.edits = edits;
    this.root = root;
    this.schemas = new Map();
    this.view = { x: 0, y: 0, zoom: 1 };
    this.selected = new Set();
    this.layouts = new Map();
    this.autoWidths = new Map();
    this.nodeEls = new Map();
    this.links = new Map(); // linkKey(to, input) -> link
    this.linksByNode = new Map();
    this.waiting = new Set(); // bands not shown yet (see reveal())
    this.tab = null;
    this.buildDOM();
    this.input = new Interaction(this, shell);
  }

  // ---------------------------------------------------------------- structure
  buildDOM() {
    this.root.innerHTML = `
      <canvas class="scene"></canvas>
      <div class="world back"><div class="layerbox"></div><div class="groups"></div></div>
      <div class="world front">
        <div class="layerbox"></div>
        <svg class="wires" width="1" height="1"><g class="links"></g><g class="reroutes"></g><path class="wire temp" d=""></path></svg>
        <div class="notes"></div>
        <div class="nodes">${'<div class="nband"></div>'.repeat(BANDS)}</div>
      </div>
      <div class="boxsel" hidden></div>
      <canvas class="minimap" style="width:220px;height:150px" title="minimap: click or drag to move the view"></canvas>
      <div class="zoomctl"><button data-act="zoom-out" title="zoom out">−</button><span class="zoomval">100%</span><button data-act="zoom-in" title="zoom in">+</button><button data-act="fit" title="fit to view (.)">⤢</button><button data-act="snap" class="snapbtn" title="snap to grid">#</button><button data-act="minimap" class="mmbtn on" title="show or hide the minimap">▣</button></div>
      <div class="hint" hidden></div>
      <div class="emptystate"><b>An empty canvas</b><span>Double-click (or press Tab) to add a node, open a template from the Workflows panel, or drop a workflow JSON, PNG or MP4 here.</span></div>`;
    const q = (s) => this.root.querySelector(s);
    this.worldBack = q(".world.back");
    this.world = q(".world.front");
    this.groupsEl = q(".groups");
    this.svg = q(".wires");
    this.linksG = q(".links");
    this.reroutesG = q(".reroutes");
    this.tempWire = q(".wire.temp");
    this.notesEl = q(".notes");
    this.nodesEl = q(".nodes");
    this.bands = [...this.nodesEl.children];
    this.boxEl = q(".boxsel");
    this.layerBoxes = this.root.querySelectorAll(".layerbox");
    this.painter = new ScenePainter(this, q("canvas.scene"), q(".minimap"));
    this.minimap = this.painter.minimap;
    this.zoomVal = q(".zoomval");
    this.hintEl = q(".hint");
    this.snap = localStorage.getItem("reelgraph.snap") !== "0";
    q(".snapbtn").classList.toggle("on", this.snap);
    this.minimapWanted = localStorage.getItem("reelgraph.minimap") !== "0";
    this.showMinimap(this.minimapWanted);
  }

  /** Show or hide (fold away) the minimap; `remember`: the user's own choice, kept for next time. */
  showMinimap(shown, remember = false) {
    if (remember) {
      this.minimapWanted = shown;
      if (this.tab) this.tab.minimapFolded = false;
      localStorage.setItem("reelgraph.minimap", shown ? "1" : "0");
    }
    this.root.classList.toggle("nominimap", !shown);
    this.root.querySelector(".mmbtn").classList.toggle("on", shown);
    if (shown) this.painter.drawMinimap();
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
    this.markEmpty(); // before the view is chosen: it keeps clear of the minimap, if shown
    this.showMinimap(this.minimapWanted && !tab.minimapFolded); // (folded for this tab by openView)
    const vp = tab.doc.ui && tab.doc.ui.viewport;
    if (tab.view) this.setView(tab.view, true);
    else if (vp && typeof vp.zoom === "number" && !(vp.x === 0 && vp.y === 0 && vp.zoom === 1)) this.setView(vp, true);
    else this.openView(true);
    this.render();
    this.applyView();
    this.shell.onSelection();
  }

  render() {
    const doc = this.doc;
    doc.nodes = doc.nodes && typeof doc.nodes === "object" ? doc.nodes : {};
    this.layouts.clear();
    this.nodeEls.clear();
    // Nodes out of view get a shell (header and size, no widgets) and are filled in when they
    // come into view: a 500-node workflow saved at 100 % builds only what is on screen.
    this.shells = new Set();
    const vis = this.lod || this.view.zoom < DETAIL_ZOOM ? null : this.viewRect(400);
    this.indexLinks(); // the sockets' filled state comes from it
    const html = this.bands.map(() => []);
    for (const [id, node] of Object.entries(doc.nodes)) {
      const full = vis !== null && this.intersects(id, vis);
      if (!full) this.shells.add(id);
      html[bandOf(node.ui && node.ui.pos)].push(this.nodeHTML(id, node, full));
    }
    this.showAllBands(); // a fresh build is shown at once (bands waiting from an earlier document do not apply)
    this.bands.forEach((band, b) => { band.innerHTML = html[b].join(""); });
    for (const band of this.bands) for (const el of band.children) this.nodeEls.set(el.dataset.nodeId, el);
    this.cull(true);
    this.rebuildLinks(true);
    this.renderGroups();
    this.renderNotes();
    if (this.tab.run) this.applyRunStates(); // fresh elements show no state until a run has one
    this.drawMinimapBase();
    this.scheduleDraw();
    this.markEmpty();
  }

  /** An empty document hides the minimap (and shows how to start). */
  markEmpty() {
    const doc = this.doc;
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
    const sockIns = ports.inputs.filter((i) => !i.widget && !i.readonly);
    const widgetIns = ports.inputs.filter((i) => i.widget || i.readonly);
    // a width the user chose wins; otherwise wide enough for every label and value in full
    let w = Math.max(160, Number(node.ui && node.ui.width) || this.autoWidth(node, ports, sockIns, widgetIns));
    const ins = {}, outs = {};
    const ioRows = Math.max(sockIns.length, ports.outputs.length);
    sockIns.forEach((s, i) => { ins[s.name] = HEAD + PAD_T + i * ROW + ROW / 2; });
    ports.outputs.forEach((s, i) => { outs[s.name] = HEAD + PAD_T + i * ROW + ROW / 2; });
    let y = HEAD + PAD_T + ioRows * ROW;
    const rows = [];
    const heights = (node.ui && node.ui.heights) || {};
    for (const spec of widgetIns) {
      const linked = isLink((node.inputs || {})[spec.name]);
      const h = spec.readonly ? ROW : widgetHeight(spec, linked, heights[spec.name]);
      ins[spec.name] = y + ROW / 2;
      rows.push({ spec, h });
      y += h;
    }
    const h = y + PAD_B;
    // a wider default never runs into the node to its right (layouts made for 220 px nodes)
    if (w > NODE_W && !(node.ui && node.ui.width)) w = Math.max(NODE_W, Math.min(w, this.roomToTheRight(id, node.ui && node.ui.collapsed ? HEAD : h) - 20));
    if (node.ui && node.ui.collapsed) {
      for (const k of Object.keys(ins)) ins[k] = HEAD / 2;
      for (const k of Object.keys(outs)) outs[k] = HEAD / 2;
      lay = { w, h: HEAD, ins, outs, ports, sockIns, widgetIns, rows, ioRows, fullH: h };
    } else lay = { w, h, ins, outs, ports, sockIns, widgetIns, rows, ioRows, fullH: h };
    this.layouts.set(id, lay);
    return lay;
  }

  /** How far (world px) the node can reach right before it meets another node beside it. */
  roomToTheRight(id, h) {
    const p = (this.doc.nodes[id].ui && this.doc.nodes[id].ui.pos) || [0, 0];
    let room = Infinity;
    for (const [other, n] of Object.entries(this.doc.nodes)) {
      const q = (n.ui && n.ui.pos) || [0, 0];
      if (other === id || q[0] <= p[0] || q[0] - p[0] >= room) continue;
      const oh = this.layouts.get(other)?.h ?? HEAD + 4 * ROW; // its height, or a guess while it is being laid out
      if (q[1] < p[1] + h && q[1] + oh > p[1]) room = q[0] - p[0];
    }
    return room;
  }

  /** The default width of a node: its longest row (label, value and controls) in full. */
  autoWidth(node, ports, sockIns, widgetIns) {
    // only the rows that fill a workflow param show its badge
    const params = new Set(Object.values(this.doc.params || {}).filter((p) => p && p.node && this.doc.nodes[p.node] === node).map((p) => p.input));
    const key = `${node.type}|${[...params].sort().join(",")}`;
    let w = this.autoWidths.get(key);
    if (w) return w;
    const tw = (t) => textWidth(t);
    w = NODE_W;
    for (let i = 0; i < Math.max(sockIns.length, ports.outputs.length); i++) {
      const a = sockIns[i], b = ports.outputs[i];
      w = Math.max(w, 24 + (a ? tw(a.name) + (a.optional ? 10 : 0) : 0) + 24 + (b ? tw(b.name) : 0) + 20);
    }
    for (const spec of widgetIns) {
      const wd = spec.widget || {};
      const label = tw(spec.name) + (params.has(spec.name) ? 76 : 0);
      let row;
      if (wd.kind === "INT" || wd.kind === "FLOAT") {
        // room for the widest value it can take (a seed: ten digits)
        const widest = wd.role === "seed" ? 4294967295 : Math.min(Math.abs(wd.max ?? 0), 99999999);
        const value = Math.max(tw(formatNumber(initialValue(spec), wd)), tw(formatNumber(widest, wd))) + 8;
        row = 20 + 18 + 12 + label + 6 + Math.max(44, value) + 18 + (wd.role === "seed" ? 84 : 0);
      } else if (wd.kind === "BOOL") row = 24 + label + 40;
      else if (wd.kind === "STRING" && wd.multiline) row = 24 + label;
      else row = 24 + label + 6 + 96 + (wd.upload ? 34 : 0);
      w = Math.max(w, row);
    }
    w = Math.min(420, Math.ceil(w / 10) * 10);
    this.autoWidths.set(key, w);
    return w;
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

  /**
   * Hide the nodes far outside the view, show those coming near it. Runs again only when the
   * view has moved a good part of the margin or zoomed by more than a tenth.
   */
  cull(force = false) {
    if (this.lod && !force) return; // the node layer is hidden as a whole
    const c = this.culledRect, z = this.culledZoom;
    if (!force && c) {
      // still inside what was shown (with a third of the margin to spare), and not zoomed in
      // so far that most of it is off screen: nothing to do
      const [x0, y0, x1, y1] = this.viewRect(cullMargin(this.view.zoom) / 3);
      if (x0 >= c[0] && y0 >= c[1] && x1 <= c[2] && y1 <= c[3] && this.view.zoom < z * 1.6) return;
    }
    this.culledZoom = this.view.zoom;
    const vis = (this.culledRect = this.viewRect(cullMargin(this.view.zoom)));
    for (const [id, el] of this.nodeEls) {
      const off = !this.intersects(id, vis) && !this.selected.has(id);
      if (el.classList.contains("culled") !== off) el.classList.toggle("culled", off);
    }
  }

  /** Nodes are drawn on the canvas: all of them (zoomed out), or those of bands not shown yet. */
  get canvasNodes() { return this.lod || this.waiting.size > 0; }

  /** Whether node `id` is drawn on the canvas rather than shown as its element. */
  onCanvas(id) {
    if (this.lod) return true;
    const el = this.waiting.size && this.nodeEls.get(id);
    return Boolean(el && this.waiting.has(el.parentNode));
  }

  /** Stop revealing band by band: every band is shown (none waits). */
  showAllBands() {
    cancelAnimationFrame(this.revealFrame);
    this.revealFrame = 0;
    for (const band of this.waiting) band.classList.remove("wait");
    this.waiting.clear();
  }

  /** Show the next waiting band, and ask for the frame after for the one after it. */
  reveal() {
    cancelAnimationFrame(this.revealFrame);
    this.revealFrame = 0;
    if (this.lod || !this.waiting.size) return;
    const [band] = this.waiting;
    this.waiting.delete(band);
    band.classList.remove("wait");
    if (this.waiting.size) this.revealFrame = requestAnimationFrame(() => this.reveal());
    else if (this.painter.nodesDrawn) this.scheduleDraw(); // the boxes under the nodes go
  }

  /**
   * Zoomed out past the cut-off the node layer is hidden: its nodes go back to shells (filled
   * in again once the view is at DETAIL_ZOOM or closer), so zooming back in paints headers,
   * not three hundred nodes' widgets in one frame. A node holding the focus keeps its rows.
   */
  dehydrate() {
    if (!this.shells) return;
    const focused = document.activeElement && document.activeElement.closest?.(".node");
    for (const [id, el] of this.nodeEls) {
      if (this.shells.has(id) || el === focused) continue;
      el.querySelector(".nbody").textContent = "";
      el.setAttribute("data-shell", "");
      this.shells.add(id);
    }
  }

  /**
   * Fill in the shells that are (nearly) in view, a few milliseconds' worth per frame: zooming
   * in across the level-of-detail cut-off brings a hundred nodes into view at once, and
   * building all their widgets in one frame stalled it. Nodes in view come first.
   */
  hydrate() {
    if (this.lod || this.view.zoom < DETAIL_ZOOM || !this.shells || !this.shells.size) return;
    const t0 = performance.now();
    const near = this.viewRect(0), vis = this.viewRect(300);
    const order = [...this.shells].filter((id) => this.doc.nodes[id] && this.intersects(id, vis));
    order.sort((a, b) => this.intersects(b, near) - this.intersects(a, near));
    let left = false;
    for (const id of order) {
      if (performance.now() - t0 > HYDRATE_BUDGET_MS) { left = true; break; }
      const el = this.nodeEls.get(id);
      this.shells.delete(id);
      if (!el) continue;
      el.querySelector(".nbody").innerHTML = this.bodyHTML(id, this.doc.nodes[id]);
      el.removeAttribute("data-shell");
    }
    if (left && !this.hydrateFrame) {
      this.hydrateFrame = requestAnimationFrame(() => { this.hydrateFrame = 0; this.hydrate(); });
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
      `style="left:${Number(pos[0]) || 0}px;top:${Number(pos[1]) || 0}px;width:${lay.w}px;height:${lay.h}px;${color ? `--nc:${color}` : ""}">` +
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
    for (const { spec, h } of lay.rows) {
      const v = inputs[spec.name];
      if (spec.readonly) {
        body += `<div class="row w ro" data-input="${esc(spec.name)}"><span class="wl">${esc(spec.name)}</span><span class="wlink">${esc(JSON.stringify(spec.value)).slice(0, 60)}</span></div>`;
        continue;
      }
      const linked = isLink(v) ? `← ${this.titleOfSafe(v.from)}.${v.output}` : null;
      const value = v === undefined ? initialValue(spec) : v;
      const seedMode = ((ui.seed_modes || {})[spec.name]) || "fixed";
      body += widgetHTML(spec, value, {
        sock: sock("in", spec, Boolean(linked)), linked, param: this.paramFor(id, spec.name), seedMode, height: h,
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
      if (old) old.replaceWith(el); else this.bands[bandOf(node.ui && node.ui.pos)].append(el);
      this.nodeEls.set(id, el);
      if (this.culledRect && !this.intersects(id, this.culledRect)) el.classList.add("culled");
    }
    this.rebuildLinks();
    this.applyRunStates(ids);
    this.drawMinimapBase();
  }

  // ---------------------------------------------------------------- wires
  /** The links of the document, by key and by node (no DOM). */
  indexLinks() {
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
  }

  /** The wires' DOM (hit areas) and the canvas; `fresh`: node elements were just built from this index. */
  rebuildLinks(fresh = false) {
    if (!fresh) this.indexLinks();
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
    if (fresh) return;
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

  // ---------------------------------------------------------------- drawing (scene.js)
  scheduleDraw() { this.painter.scheduleDraw(); }
  drawMinimapBase() { this.fitLayerBoxes(); this.painter.drawMinimapBase(); }

  /** The layer boxes span the graph and a margin (see .layerbox in style.css). */
  fitLayerBoxes() {
    const b = this.bounds(), m = 2000;
    const [x0, y0, x1, y1] = b ? [b[0] - m, b[1] - m, b[2] + m, b[3] + m] : [0, 0, 0, 0];
    const css = `left:${x0}px;top:${y0}px;width:${x1 - x0}px;height:${y1 - y0}px`;
    if (css === this.layerBoxCss) return;
    this.layerBoxCss = css;
    for (const el of this.layerBoxes) el.style.cssText = css;
  }
  nodeAt(sx, sy) { return this.painter.nodeAt(sx, sy); }

  // ---------------------------------------------------------------- view
  setView(v, now = false) {
    this.view = { x: Number(v.x) || 0, y: Number(v.y) || 0, zoom: Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Number(v.zoom) || 1)) };
    if (now) this.snapView();
    if (now) { this.setLod(this.view.zoom < LOD_ZOOM); if (this.tab) this.tab.view = this.view; } else this.scheduleView();
  }

  setLod(lod) {
    if (lod === this.lod) return;
    this.lod = lod;
    if (lod) {
      this.dehydrate();
      this.showAllBands();
      this.painter.invalidate(); // the canvas starts drawing the nodes
    } else if (this.nodeEls.size) {
      // Back from the canvas view: the bands wait, and are shown one a frame from the next
      // frame on (this one restyles what the zoom changed); the canvas keeps its boxes meanwhile.
      for (const band of this.bands) { band.classList.add("wait"); this.waiting.add(band); }
      cancelAnimationFrame(this.revealFrame);
      this.revealFrame = requestAnimationFrame(() => this.reveal());
      this.cull(true); // only the nodes near the view come back
    }
    this.world.classList.toggle("lod", lod);
    this.root.classList.toggle("lod", lod);
  }

  /**
   * Put the view's offset on whole device pixels. A mouse drag moves by fractions of a pixel
   * (and a zoom step leaves them): a layer translated by a fraction is resampled (filtered) by
   * the compositor every frame, which in software costs 8 ms for the wire canvas alone; on
   * whole pixels it is a plain copy.
   */
  snapView() {
    const dpr = window.devicePixelRatio || 1, v = this.view;
    const x = Math.round(v.x * dpr) / dpr, y = Math.round(v.y * dpr) / dpr;
    if (x !== v.x || y !== v.y) this.view = { x, y, zoom: v.zoom };
  }

  scheduleView() {
    this.snapView();
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
    this.cull();
    this.hydrate();
    const label = `${Math.round(zoom * 100)}%`;
    if (this.zoomVal.textContent !== label) this.zoomVal.textContent = label;
    this.painter.updateScene();
    this.painter.drawMinimap();
    // While zooming, the node layer scales as a bitmap (fast); once the zoom rests,
    // drop and re-add the layer hint so Chromium rasterises the text crisply at the new scale.
    // That re-layerises every node in view (20-50 ms), so it is done only when needed: the
    // bitmap is being enlarged (blurred text), or shrunk past half (aliased, memory wasted).
    clearTimeout(this.settleTimer);
    const r = this.rasterZoom;
    if (!this.lod && (r === undefined || zoom > r * 1.02 || zoom < r * 0.5)) {
      this.settleTimer = setTimeout(() => {
        this.rasterZoom = this.view.zoom;
        this.world.style.willChange = "auto";
        requestAnimationFrame(() => requestAnimationFrame(() => { this.world.style.willChange = ""; }));
      }, 300);
    }
  }

  zoomAt(factor, sx, sy) {
    const r = this.rect || (this.rect = this.root.getBoundingClientRect());
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

  /**
   * The canvas area nothing covers, in canvas pixels [x0, y0, x1, y1], for bounds `b`: the
   * minimap and the zoom buttons sit in the bottom-right corner, so a graph goes either left
   * of them or above them, whichever shows it larger.
   */
  freeArea(b) {
    const r = this.rect || (this.rect = this.root.getBoundingClientRect());
    const W = r.width, H = r.height;
    const covered = this.overlayRects(10);
    const left = Math.min(W, ...covered.map((q) => q[0])), top = Math.min(H, ...covered.map((q) => q[1]));
    const areas = [[0, 0, left, H], [0, 0, W, top]];
    if (!b) return areas[1];
    const scale = (a) => Math.min((a[2] - a[0]) / Math.max(1, b[2] - b[0]), (a[3] - a[1]) / Math.max(1, b[3] - b[1]));
    return scale(areas[0]) >= scale(areas[1]) ? areas[0] : areas[1];
  }

  fitZoom(b, a, pad = 30) {
    return Math.min(1.25, Math.max(MIN_ZOOM, Math.min((a[2] - a[0] - 2 * pad) / Math.max(1, b[2] - b[0]), (a[3] - a[1] - 2 * pad) / Math.max(1, b[3] - b[1]))));
  }

  /** Fit the nodes (all of them, or `ids`) into the free area of the canvas. */
  fit(ids, now = false) {
    const b = this.bounds(ids && ids.size ? ids : null);
    const r = this.rect || this.root.getBoundingClientRect();
    if (!b) { this.setView({ x: r.width / 2 - 200, y: r.height / 3, zoom: 1 }, now); return; }
    const a = this.freeArea(b);
    const zoom = this.fitZoom(b, a);
    this.setView({
      x: a[0] + (a[2] - a[0] - (b[2] - b[0]) * zoom) / 2 - b[0] * zoom,
      y: a[1] + (a[3] - a[1] - (b[3] - b[1]) * zoom) / 2 - b[1] * zoom,
      zoom,
    }, now);
  }

  /**
   * The view a workflow opens at when it has none saved: fitted when that is readable, else a
   * readable zoom with the graph's first nodes (its top-left corner) in view. Of the readable
   * zooms, the one nearest READABLE_ZOOM at which no node lies under the minimap or the zoom
   * buttons: a graph larger than the view runs past its bottom edge, where both sit.
   */
  openView(now = false) {
    const b = this.bounds();
    if (!b) return this.fit(null, now);
    const a = this.freeArea(b);
    if (this.fitZoom(b, a) >= READABLE_ZOOM) return this.fit(null, now);
    const pad = 30;
    const viewAt = (zoom) => {
      const tall = (b[3] - b[1]) * zoom > a[3] - a[1] - 2 * pad;
      return {
        x: a[0] + pad - b[0] * zoom,
        y: tall ? a[1] + pad - b[1] * zoom : a[1] + (a[3] - a[1] - (b[3] - b[1]) * zoom) / 2 - b[1] * zoom,
        zoom,
      };
    };
    const clear = (v) => Object.keys(this.doc.nodes).every((id) => {
      const p = (this.doc.nodes[id].ui && this.doc.nodes[id].ui.pos) || [0, 0], lay = this.layout(id);
      const x0 = v.x + p[0] * v.zoom, y0 = v.y + p[1] * v.zoom, x1 = x0 + lay.w * v.zoom, y1 = y0 + lay.h * v.zoom;
      return covered.every(([u0, w0, u1, w1]) => x1 <= u0 || x0 >= u1 || y1 <= w0 || y0 >= w1);
    });
    // the graph may also start a little further in from the top-left corner (its first nodes
    // still in view): a node that would sit under the minimap or the buttons then moves off screen
    // the clear view that changes least: a 5 % zoom step weighs as much as a 20 px shift
    const search = () => {
      let best = null, bestCost = Infinity;
      for (const zoom of OPEN_ZOOMS) {
        const v = viewAt(zoom);
        for (let dy = 0; dy <= OPEN_SHIFT; dy += 10) {
          for (let dx = 0; dx <= OPEN_SHIFT; dx += 20) {
            const cost = Math.abs(zoom - READABLE_ZOOM) * 400 + dx + dy;
            if (cost >= bestCost) continue;
            const s = { x: v.x + dx, y: v.y + dy, zoom };
            if (clear(s)) { best = s; bestCost = cost; }
          }
        }
      }
      return best;
    };
    let covered = this.overlayRects();
    let view = search();
    if (!view && this.minimapWanted) {
      // a graph too dense for any of those: the minimap folds away for it (its button in the
      // zoom bar brings it back), and the view keeps clear of the zoom buttons alone
      this.showMinimap(false);
      this.tab.minimapFolded = true;
      covered = this.overlayRects();
      view = search();
    }
    this.setView(view || viewAt(READABLE_ZOOM), now);
  }

  /** The canvas areas the minimap and the zoom buttons cover (canvas px, with a gap around). */
  overlayRects(gap = 8) {
    const r = this.rect || (this.rect = this.root.getBoundingClientRect());
    return [this.minimap, this.root.querySelector(".zoomctl")]
      .map((el) => el.getBoundingClientRect())
      .filter((q) => q.width && q.height)
      .map((q) => [q.left - r.left - gap, q.top - r.top - gap, q.right - r.left + gap, q.bottom - r.top + gap]);
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
    this.shell.onSelection();
  }

  toggleSelect(id) {
    if (this.selected.has(id)) {
      this.selected.delete(id);
      this.nodeEls.get(id)?.classList.remove("sel");
      this.scheduleDraw();
      this.shell.onSelection();
    } else this.select([id], true);
  }

  // ---------------------------------------------------------------- edits
  /** Every document change goes through here: one undo step, then a re-render of what changed. */
  edit(fn, refresh = "all") {
    const before = JSON.stringify(this.doc);
    const result = fn(this.doc);
    const after = JSON.stringify(this.doc);
    if (after === before) return result;
    this.edits.record(this.tab, before);
    if (refresh === "all") this.render();
    else if (Array.isArray(refresh)) this.refreshNodes(refresh);
    else if (refresh === "groups") { this.renderGroups(); this.drawMinimapBase(); }
    else if (refresh === "notes") this.renderNotes();
    else if (refresh === "links") { this.rebuildLinks(); this.drawMinimapBase(); }
    this.edits.changed(this.tab);
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
    this.shell.onSelection();
  }

  setInputValue(id, input, value, undoable = true) {
    const apply = (doc) => {
      doc.nodes[id].inputs = doc.nodes[id].inputs || {};
      doc.nodes[id].inputs[input] = value;
      const p = this.paramFor(id, input);
      if (p) doc.params[p].default = value; // the param's default is what a run uses
    };
    if (undoable) this.edit(apply, null);
    else { apply(this.doc); this.edits.changed(this.tab); }
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
      placeNode(this.nodeEls.get(id), p);
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
    return { format: "reelgraph.clipboard", version: 1, nodes, origin: this.origin() };
  }

  /** Identifies this tab's document in clipboards (unique across tabs and page loads). */
  origin() { return `${SESSION}:${this.tab ? this.tab.id : ""}`; }

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
          // a link to a node outside the clipboard is kept only in the document it was copied from:
          // elsewhere a node with the same id is an unrelated node
          else if (clip.origin !== this.origin() || !doc.nodes[v.from]) {
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
    // a node showing a preview or an error sits above its neighbours: what hangs below it stays readable
    el.classList.toggle("haspreview", Boolean(html));
    if (below.dataset.html !== html) {
      below.innerHTML = html;
      below.dataset.html = html;
      const frames = below.querySelector(".flip");
      if (frames) startFlipbook(frames);
    }
  }

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
  if (p.kind === "table") return tablePreviewHTML(p.table);
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


/** The scenes a script becomes: number, title, seconds; the narration on hover. */
function tablePreviewHTML(t) {
  const rows = (t.rows || []).map((r, i) =>
    `<tr title="${esc(String(r.narration || ""))}"><td>${Number.isInteger(r.index) ? r.index + 1 : i + 1}</td><td>${esc(String(r.title || ""))}</td><td>${r.seconds != null ? esc(String(r.seconds)) + " s" : ""}</td></tr>`).join("");
  const more = t.total_rows > (t.rows || []).length ? `<span class="pcount">${t.total_rows - t.rows.length} more</span>` : "";
  const total = t.total_seconds != null ? ` · ${esc(String(t.total_seconds))} s` : "";
  return `<div class="npreview ptable"><div class="ptitle">${t.total_rows} scenes${total}</div><table>${rows}</table>${more}</div>`;
}
