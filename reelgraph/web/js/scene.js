// The canvas layer of the editor: grid, wires, nodes zoomed far out, and the minimap.
// A ScenePainter owns the canvas layer and the minimap (their bitmaps and when they are redrawn);
// it reads the editor's model (document, layouts, links, view, selection) and never edits it.

import { GRID, GROUP_COLORS, HEAD, OVERSCAN, PAD_T, STATE_COLORS, groupBounds, safeColor } from "./geometry.js";
import { typeColor } from "./types.js";
import { ROW } from "./widgets.js";

export class ScenePainter {
  /** `editor`: the model it draws; `canvas`: the wire/LOD layer; `minimap`: the overview canvas. */
  constructor(editor, canvas, minimap) {
    this.ed = editor;
    this.scene = canvas;
    // Opaque: it paints the canvas background too, so the compositor copies it instead of
    // blending it over the page (and skips what lies under it); groups are a layer above it.
    canvas.width = canvas.height = 0; // (an opaque canvas is black until its first drawing)
    this.ctx = canvas.getContext("2d", { alpha: false, desynchronized: true });
    this.minimap = minimap;
    this.mm = { w: 220, h: 150, dpr: window.devicePixelRatio || 1 };
    minimap.width = this.mm.w * this.mm.dpr;
    minimap.height = this.mm.h * this.mm.dpr;
    this.sceneDirty = true;
  }

  /** What is drawn is out of date: the next view update redraws instead of moving the old bitmap. */
  invalidate() { this.sceneDirty = true; }

  scheduleDraw() {
    this.sceneDirty = true; // what is drawn changed: the next view update redraws, never reuses
    if (this.drawFrame || this.ed.viewFrame) return;
    this.drawFrame = requestAnimationFrame(() => { this.drawFrame = 0; this.drawScene(); });
  }

  /** The canvas layer: grid, every wire, and (zoomed far out) the nodes themselves. */
  drawScene() {
    if (!this.ed.tab) return;
    // drawn now: a frame already asked for would only draw the same again
    if (this.drawFrame) { cancelAnimationFrame(this.drawFrame); this.drawFrame = 0; }
    const c = this.scene, ctx = this.ctx;
    const r = this.ed.rect || (this.ed.rect = this.ed.root.getBoundingClientRect());
    const dpr = window.devicePixelRatio || 1;
    // drawn OVERSCAN px larger than the view on every side, so a pan or a zoom step only
    // moves or scales this bitmap (compositor work) until the view rests or leaves it
    const M = OVERSCAN;
    const W = Math.round((r.width + 2 * M) * dpr), H = Math.round((r.height + 2 * M) * dpr);
    if (c.width !== W || c.height !== H) {
      c.width = W; c.height = H;
      c.style.width = `${r.width + 2 * M}px`; c.style.height = `${r.height + 2 * M}px`;
    }
    const zoom = this.ed.view.zoom, x = this.ed.view.x + M, y = this.ed.view.y + M;
    this.drawn = { x: this.ed.view.x, y: this.ed.view.y, zoom };
    this.sceneDirty = false;
    c.style.transform = `translate(${-M}px,${-M}px)`;
    this.setScaled(false);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    // background and grid: one opaque pattern fill (the tile holds the background too, its dots
    // already faded), from a tile exactly one cell (device px) in size, so the fill only
    // translates the pattern (a scaled pattern is filtered pixel by pixel: 10 ms a frame); an
    // opaque pattern is copied, not blended over a background filled first (a second full pass).
    // (Not by globalCompositeOperation "copy": that composites through a whole-canvas layer.)
    let cell = GRID * zoom;
    while (cell < 10) cell *= 5;
    const tile = Math.max(4, Math.round(cell * dpr));
    const fade = Math.min(1, Math.max(0.35, cell / 20));
    const key = `${tile}|${fade.toFixed(2)}`;
    if (!this.gridPattern || this.gridKey !== key) {
      const g = document.createElement("canvas");
      g.width = g.height = tile;
      const gc = g.getContext("2d", { alpha: false });
      gc.fillStyle = this.background || (this.background = getComputedStyle(this.ed.root).getPropertyValue("--canvas").trim() || "#1b1e24");
      gc.fillRect(0, 0, tile, tile);
      gc.globalAlpha = fade;
      gc.fillStyle = "#2c313b";
      const r = Math.max(0.8, (3.4 * tile) / 64);
      for (const [cx, cy] of [[0, 0], [tile, 0], [0, tile], [tile, tile]]) {
        gc.beginPath(); gc.arc(cx, cy, r, 0, Math.PI * 2); gc.fill();
      }
      this.gridPattern = ctx.createPattern(g, "repeat");
      this.gridKey = key;
    }
    const step = tile; // device px per cell, as drawn
    this.gridPattern.setTransform(new DOMMatrix([1, 0, 0, 1, Math.round(((x * dpr) % step + step) % step), Math.round(((y * dpr) % step + step) % step)]));
    ctx.fillStyle = this.gridPattern;
    ctx.fillRect(0, 0, W, H);
    ctx.setTransform(dpr * zoom, 0, 0, dpr * zoom, dpr * x, dpr * y);
    const vx0 = -x / zoom, vy0 = -y / zoom, vx1 = vx0 + (r.width + 2 * M) / zoom, vy1 = vy0 + (r.height + 2 * M) / zoom;
    // wires, one path per colour
    ctx.lineWidth = Math.max(2.4, 1.1 / zoom);
    ctx.lineCap = "round";
    const byColor = new Map();
    for (const l of this.ed.links.values()) {
      const a = this.ed.sockPos(l.from, "out", l.output), b = this.ed.sockPos(l.to, "in", l.input);
      if (!a || !b) continue;
      const pts = [a, ...this.ed.reroutesOf(l), b];
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      for (const p of pts) { minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]); }
      if (maxX + 220 < vx0 || minX - 220 > vx1 || maxY < vy0 - 40 || minY > vy1 + 40) continue;
      const hot = this.ed.selected.has(l.from) || this.ed.selected.has(l.to);
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
    // zoomed out every node is a box here; otherwise only those not shown yet (Editor.reveal)
    this.nodesDrawn = this.ed.canvasNodes;
    if (this.nodesDrawn) this.drawNodesLod(ctx, vx0, vy0, vx1, vy1, zoom);
  }

  /**
   * A view change: move and scale the bitmap drawn for an earlier view when it still covers
   * the canvas (and nothing in it changed); redraw once the view has rested.
   */
  updateScene() {
    const d = this.drawn;
    const r = this.ed.rect || (this.ed.rect = this.ed.root.getBoundingClientRect());
    const { x, y, zoom } = this.ed.view;
    clearTimeout(this.sceneTimer);
    if (d && !this.sceneDirty) {
      const k = zoom / d.zoom, M = OVERSCAN;
      const tx = x - (d.x + M) * k, ty = y - (d.y + M) * k;
      const covers = tx <= 0 && ty <= 0 && tx + (r.width + 2 * M) * k >= r.width && ty + (r.height + 2 * M) * k >= r.height;
      if (covers && k > 0.6 && k < 1.6) {
        this.scene.style.transform = `translate(${tx}px,${ty}px) scale(${k})`;
        // scaled, the bitmap is sampled nearest-neighbour until the redraw a moment later: a
        // filtered scale of the whole view cost the (software) compositor 7 ms a frame
        this.setScaled(k !== 1);
        if (k !== 1 || Math.abs(x - d.x) > M / 2 || Math.abs(y - d.y) > M / 2) {
          // (while node bands are still being shown, the redraw when the last one is does it)
          this.sceneTimer = setTimeout(() => { if (!this.ed.waiting.size) this.drawScene(); }, k !== 1 ? 90 : 160);
        }
        return;
      }
    }
    this.drawScene();
  }

  setScaled(scaled) {
    if (scaled === Boolean(this.scaled)) return;
    this.scaled = scaled;
    this.scene.style.imageRendering = scaled ? "pixelated" : "";
  }

  /** Zoomed far out: each node as a box with its title, state and selection; no DOM to paint. */
  drawNodesLod(ctx, vx0, vy0, vx1, vy1, zoom) {
    const run = this.ed.tab.run;
    const titles = zoom >= 0.2;
    const rects = [];
    for (const [id, n] of Object.entries(this.ed.doc.nodes)) {
      if (!this.ed.onCanvas(id)) continue;
      const p = (n.ui && n.ui.pos) || [0, 0];
      const lay = this.ed.layout(id);
      if (p[0] > vx1 || p[1] > vy1 || p[0] + lay.w < vx0 || p[1] + lay.h < vy0) continue;
      rects.push([id, n, p, lay]);
    }
    for (const [id, n, p, lay] of rects) {
      const known = this.ed.schemas.has(n.type);
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
      const sel = this.ed.selected.has(id);
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
        for (const { h } of lay.rows) {
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
        const t = this.ed.titleOf(id);
        ctx.fillText(t.length > 26 ? `${t.slice(0, 25)}…` : t, p[0] + 10, p[1] + 14, lay.w - 16);
      }
    }
  }

  /** The node under a screen point (for hit testing while nodes are drawn on the canvas). */
  nodeAt(sx, sy) {
    const [wx, wy] = this.ed.toWorld(sx, sy);
    const ids = Object.keys(this.ed.doc.nodes);
    for (let i = ids.length - 1; i >= 0; i--) {
      const n = this.ed.doc.nodes[ids[i]];
      const p = (n.ui && n.ui.pos) || [0, 0];
      const lay = this.ed.layout(ids[i]);
      if (wx >= p[0] && wy >= p[1] && wx <= p[0] + lay.w && wy <= p[1] + lay.h) return ids[i];
    }
    return null;
  }

  // ---------------------------------------------------------------- minimap
  drawMinimapBase() {
    clearTimeout(this.mmTimer);
    // after the frame that shows the graph: an overview can come a moment later
    this.mmTimer = setTimeout(() => {
      const b = this.ed.bounds();
      this.mmBounds = b;
      const c = this.mmBase || (this.mmBase = document.createElement("canvas"));
      c.width = this.minimap.width; c.height = this.minimap.height;
      const ctx = c.getContext("2d");
      ctx.setTransform(this.mm.dpr, 0, 0, this.mm.dpr, 0, 0);
      ctx.clearRect(0, 0, this.mm.w, this.mm.h);
      if (b) {
        const t = this.mmTransform();
        for (const g of this.ed.doc.groups || []) {
          const [x, y, w, h] = groupBounds(g);
          ctx.fillStyle = (/^#[0-9a-f]{6}$/i.test(g.color) ? g.color : GROUP_COLORS[0]) + "55";
          ctx.fillRect(t.x(x), t.y(y), w * t.s, h * t.s);
        }
        ctx.strokeStyle = "rgba(160,170,190,0.35)";
        ctx.lineWidth = 1;
        ctx.beginPath();
        for (const l of this.ed.links.values()) {
          const a = this.ed.sockPos(l.from, "out", l.output), z = this.ed.sockPos(l.to, "in", l.input);
          if (!a || !z) continue;
          ctx.moveTo(t.x(a[0]), t.y(a[1])); ctx.lineTo(t.x(z[0]), t.y(z[1]));
        }
        ctx.stroke();
        for (const [id, n] of Object.entries(this.ed.doc.nodes)) {
          const p = (n.ui && n.ui.pos) || [0, 0];
          const lay = this.ed.layout(id);
          const st = this.ed.tab.run && this.ed.tab.run.states[id];
          ctx.fillStyle = st && st.state === "failed" ? "#e5534b" : this.ed.selected.has(id) ? "#6cb6ff" : n.bypass ? "#8e6bbf" : "#8b93a6";
          ctx.fillRect(t.x(p[0]), t.y(p[1]), Math.max(2, lay.w * t.s), Math.max(2, lay.h * t.s));
        }
      }
      this.drawMinimap();
    }, 60);
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
    const r = this.ed.rect || this.ed.root.getBoundingClientRect();
    const x0 = -this.ed.view.x / this.ed.view.zoom, y0 = -this.ed.view.y / this.ed.view.zoom;
    // the view's rectangle, clipped to the minimap (a view larger than the graph shows as its frame)
    const W = this.mm.w, H = this.mm.h;
    const ax = Math.max(1, t.x(x0)), ay = Math.max(1, t.y(y0));
    const bx = Math.min(W - 1, t.x(x0) + (r.width / this.ed.view.zoom) * t.s), by = Math.min(H - 1, t.y(y0) + (r.height / this.ed.view.zoom) * t.s);
    if (bx <= ax || by <= ay) return;
    ctx.fillStyle = "rgba(108,182,255,0.08)";
    ctx.fillRect(ax, ay, bx - ax, by - ay);
    ctx.strokeStyle = "rgba(230,237,243,0.85)";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(ax, ay, bx - ax, by - ay);
  }
}
