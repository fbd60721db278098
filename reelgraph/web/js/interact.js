// Pointer, wheel, keyboard-in-fields and context menus on the canvas.
// An Interaction turns input on the canvas into calls on the editor (and, for what is not the
// canvas, on the shell's hooks); it keeps only the state of the gesture in progress.

import { GROUP_COLORS, NODE_COLORS, curve, groupBounds, linkKey, placeNode } from "./geometry.js";
import { canConnect, typeColor } from "./types.js";
import { clampNumber, formatNumber, initialValue, isLink, parseValue, widgetHeight } from "./widgets.js";

/**
 * Replace `target` with a text field holding `value`; Enter or blur commits, Escape
 * cancels. `done(commit, text)` runs once; it re-renders the node, which removes the field.
 */
function inlineEdit(target, className, value, done) {
  const field = document.createElement("input");
  field.className = className;
  field.value = value;
  target.replaceWith(field);
  field.focus();
  field.select();
  let finished = false;
  const finish = (commit) => {
    if (finished) return;
    finished = true;
    done(commit, field.value);
  };
  field.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if (ev.key === "Enter") finish(true);
    if (ev.key === "Escape") finish(false);
  });
  field.addEventListener("blur", () => finish(true));
}

export class Interaction {
  /**
   * `editor`: the canvas model it edits; `shell`: what the page around the canvas provides
   * (menus, the node palette, uploads, params, runs, the clipboard, the Space key's state).
   */
  constructor(editor, shell) {
    this.ed = editor;
    this.shell = shell;
    this.bindEvents();
  }

  // ---------------------------------------------------------------- events
  bindEvents() {
    const root = this.ed.root;
    root.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    root.addEventListener("dblclick", (e) => this.onDblClick(e));
    root.addEventListener("contextmenu", (e) => this.onContextMenu(e));
    root.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    root.addEventListener("pointermove", (e) => { this.ed.mouse = [e.clientX, e.clientY]; });
    root.addEventListener("focusin", (e) => this.onFocusIn(e));
    root.addEventListener("input", (e) => this.onInput(e));
    root.addEventListener("change", (e) => this.onFieldChange(e));
    root.addEventListener("keydown", (e) => this.onFieldKey(e));
    root.addEventListener("click", (e) => this.onClick(e));
    const resized = () => { this.ed.rect = null; this.ed.painter.invalidate(); this.ed.scheduleView(); };
    window.addEventListener("resize", resized);
    // the canvas also changes size without the window (the side panel): the cached rect goes
    new ResizeObserver(([entry]) => {
      const r = this.ed.rect, box = entry.contentRect;
      if (r && (Math.abs(r.width - box.width) > 0.5 || Math.abs(r.height - box.height) > 0.5)) resized();
    }).observe(root);
    this.ed.minimap.addEventListener("pointerdown", (e) => this.onMinimap(e));
  }

  onWheel(e) {
    if (e.target.closest("textarea, select, .nerror pre") && !e.ctrlKey) {
      const t = e.target.closest("textarea, .nerror pre");
      if (t && t.scrollHeight > t.clientHeight) return;
    }
    e.preventDefault();
    // (no getBoundingClientRect here: the rect is cached, and measuring it on every wheel event
    // forced a layout of whatever the last frame changed, twice per event)
    const mouseWheel = e.deltaX === 0 && Number.isInteger(e.deltaY) && Math.abs(e.deltaY) >= 50;
    if (e.ctrlKey || (mouseWheel && !e.shiftKey)) {
      const d = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
      this.ed.zoomAt(Math.exp(-d * (e.ctrlKey && !mouseWheel ? 0.01 : 0.0015)), e.clientX, e.clientY);
    } else {
      const dx = e.shiftKey && e.deltaX === 0 ? e.deltaY : e.deltaX;
      const dy = e.shiftKey && e.deltaX === 0 ? 0 : e.deltaY;
      this.ed.view = { ...this.ed.view, x: this.ed.view.x - dx, y: this.ed.view.y - dy };
      this.ed.scheduleView();
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
    this.shell.closeMenus();
    this.ed.rect = this.ed.root.getBoundingClientRect();
    const t = e.target;
    // a press outside the field being edited ends the edit (commits it), like any desktop app
    const active = document.activeElement;
    if (active && active !== t && !t.closest("input, textarea, select") && active.matches("input, textarea, select")) active.blur();
    if (t.closest(".minimap, .zoomctl")) return;
    if (e.button === 1 || (e.button === 0 && this.shell.keys.spaceDown)) {
      e.preventDefault();
      this.shell.keys.spaceUsed = true;
      return this.panDrag(e);
    }
    if (e.button !== 0) return;
    const sock = t.closest(".sock");
    if (sock) { e.preventDefault(); return this.wireDrag(e, sock); }
    const rr = t.closest(".reroute");
    if (rr) { e.preventDefault(); return this.rerouteDrag(e, rr); }
    const mlr = t.closest(".mlresize");
    if (mlr) { e.preventDefault(); return this.textBoxResize(e, mlr); }
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
    if (!nodeEl && this.ed.canvasNodes) nodeEl = this.ed.nodeEls.get(this.ed.nodeAt(e.clientX, e.clientY)) || null;
    if (nodeEl) return this.nodeDrag(e, nodeEl);
    if (e.shiftKey || e.ctrlKey || e.metaKey) return this.boxSelect(e);
    return this.panDrag(e, true);
  }

  panDrag(e, clearOnClick = false) {
    const sx = e.clientX, sy = e.clientY;
    const v0 = { ...this.ed.view };
    this.ed.root.classList.add("panning");
    let captured = false;
    this.drag(e, (ev) => {
      // once it is a pan, the canvas takes the pointer: the browser then stops hit testing
      // every move against the nodes under it (a click that never moved is not retargeted)
      if (!captured) {
        captured = true;
        try { this.ed.root.setPointerCapture(ev.pointerId); } catch { /* the pointer is gone already */ }
      }
      this.ed.view = { ...this.ed.view, x: v0.x + ev.clientX - sx, y: v0.y + ev.clientY - sy };
      this.ed.scheduleView();
    }, (ev, moved) => {
      this.ed.root.classList.remove("panning");
      if (!moved && clearOnClick && this.ed.selected.size) this.ed.select([]);
    });
  }

  boxSelect(e) {
    const r = this.ed.rect;
    const sx = e.clientX, sy = e.clientY;
    const additive = e.shiftKey;
    const box = this.ed.boxEl;
    this.drag(e, (ev) => {
      box.hidden = false;
      const x = Math.min(sx, ev.clientX) - r.left, y = Math.min(sy, ev.clientY) - r.top;
      box.style.transform = `translate(${x}px,${y}px)`;
      box.style.width = `${Math.abs(ev.clientX - sx)}px`;
      box.style.height = `${Math.abs(ev.clientY - sy)}px`;
    }, (ev, moved) => {
      box.hidden = true;
      if (!moved) { if (!additive) this.ed.select([]); return; }
      const [ax, ay] = this.ed.toWorld(Math.min(sx, ev.clientX), Math.min(sy, ev.clientY));
      const [bx, by] = this.ed.toWorld(Math.max(sx, ev.clientX), Math.max(sy, ev.clientY));
      const hit = [];
      for (const [id, n] of Object.entries(this.ed.doc.nodes)) {
        const p = (n.ui && n.ui.pos) || [0, 0];
        const lay = this.ed.layout(id);
        if (p[0] < bx && p[0] + lay.w > ax && p[1] < by && p[1] + lay.h > ay) hit.push(id);
      }
      this.ed.select(hit, additive);
    });
  }

  nodeDrag(e, nodeEl) {
    let id = nodeEl.dataset.nodeId;
    if (e.altKey) {
      // Alt+drag drags a copy (of the whole selection when the node is part of it)
      if (!this.ed.selected.has(id)) this.ed.select([id]);
      const clip = this.ed.copySelection();
      const at = this.ed.bounds(this.ed.selected);
      const map = this.ed.paste(clip, [at[0], at[1]]);
      id = map[id];
      nodeEl = this.ed.nodeEls.get(id);
      if (!nodeEl) return;
    }
    if (e.shiftKey || e.ctrlKey || e.metaKey) { this.ed.toggleSelect(id); if (!this.ed.selected.has(id)) return; }
    else if (!this.ed.selected.has(id)) this.ed.select([id]);
    if (e.target.closest(".ncollapse")) return;
    const ids = [...this.ed.selected];
    const start = ids.map((i) => [...((this.ed.doc.nodes[i].ui && this.ed.doc.nodes[i].ui.pos) || [0, 0])]);
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX, sy = e.clientY;
    nodeEl.classList.add("dragging");
    this.drag(e, (ev) => {
      const dx = (ev.clientX - sx) / this.ed.view.zoom, dy = (ev.clientY - sy) / this.ed.view.zoom;
      ids.forEach((i, k) => {
        const n = this.ed.doc.nodes[i];
        n.ui = n.ui || {};
        n.ui.pos = this.ed.snapXY(start[k][0] + dx, start[k][1] + dy);
        placeNode(this.ed.nodeEls.get(i), n.ui.pos);
      });
      if (!this.moveFrame) {
        this.moveFrame = requestAnimationFrame(() => { this.moveFrame = 0; this.ed.updateLinksOf(ids); });
      }
    }, (ev, moved) => {
      nodeEl.classList.remove("dragging");
      if (!moved) {
        if (!(e.shiftKey || e.ctrlKey || e.metaKey) && this.ed.selected.size > 1) this.ed.select([id]);
        return;
      }
      this.ed.updateLinksOf(ids);
      this.ed.edits.record(this.ed.tab, before);
      this.ed.edits.changed(this.ed.tab);
      this.ed.drawMinimapBase();
    });
  }

  nodeResize(e, el) {
    const id = el.dataset.nodeId;
    const n = this.ed.doc.nodes[id];
    const w0 = this.ed.layout(id).w;
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX;
    this.drag(e, (ev) => {
      n.ui = n.ui || {};
      n.ui.width = Math.max(160, Math.round((w0 + (ev.clientX - sx) / this.ed.view.zoom) / 10) * 10);
      this.ed.layouts.delete(id);
      el.style.width = `${this.ed.layout(id).w}px`;
      this.ed.updateLinksOf([id]);
    }, (ev, moved) => {
      if (!moved || JSON.stringify(this.ed.doc) === before) return;
      this.ed.edits.record(this.ed.tab, before);
      this.ed.edits.changed(this.ed.tab);
      this.ed.drawMinimapBase();
    });
  }

  groupNodes(g) {
    const [x, y, w, h] = groupBounds(g);
    return Object.entries(this.ed.doc.nodes).filter(([, n]) => {
      const p = (n.ui && n.ui.pos) || [0, 0];
      return p[0] >= x && p[1] >= y && p[0] < x + w && p[1] < y + h;
    }).map(([id]) => id);
  }

  groupDrag(e, groupEl) {
    const i = Number(groupEl.dataset.group);
    const g = this.ed.doc.groups[i];
    const b0 = groupBounds(g);
    const ids = this.groupNodes(g);
    const start = ids.map((id) => [...this.ed.doc.nodes[id].ui.pos]);
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      const [dx, dy] = this.ed.snapXY((ev.clientX - sx) / this.ed.view.zoom, (ev.clientY - sy) / this.ed.view.zoom);
      g.bounds = [b0[0] + dx, b0[1] + dy, b0[2], b0[3]];
      groupEl.style.transform = `translate(${g.bounds[0]}px,${g.bounds[1]}px)`;
      ids.forEach((id, k) => {
        const n = this.ed.doc.nodes[id];
        n.ui.pos = [start[k][0] + dx, start[k][1] + dy];
        placeNode(this.ed.nodeEls.get(id), n.ui.pos);
      });
      this.ed.updateLinksOf(ids);
    }, (ev, moved) => {
      if (!moved) return;
      this.ed.edits.record(this.ed.tab, before);
      this.ed.edits.changed(this.ed.tab);
      this.ed.drawMinimapBase();
    });
  }

  groupResize(e, groupEl) {
    const g = this.ed.doc.groups[Number(groupEl.dataset.group)];
    const b0 = groupBounds(g);
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      const w = Math.max(120, b0[2] + (ev.clientX - sx) / this.ed.view.zoom);
      const h = Math.max(80, b0[3] + (ev.clientY - sy) / this.ed.view.zoom);
      g.bounds = [b0[0], b0[1], ...this.ed.snapXY(w, h)];
      groupEl.style.width = `${g.bounds[2]}px`;
      groupEl.style.height = `${g.bounds[3]}px`;
    }, (ev, moved) => {
      if (moved) { this.ed.edits.record(this.ed.tab, before); this.ed.edits.changed(this.ed.tab); this.ed.drawMinimapBase(); }
    });
  }

  noteDrag(e, noteEl) {
    if (e.target.closest(".noteclose")) return;
    const n = this.ed.doc.notes[Number(noteEl.dataset.note)];
    const p0 = [...(n.pos || [0, 0])];
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      n.pos = this.ed.snapXY(p0[0] + (ev.clientX - sx) / this.ed.view.zoom, p0[1] + (ev.clientY - sy) / this.ed.view.zoom);
      noteEl.style.transform = `translate(${n.pos[0]}px,${n.pos[1]}px)`;
    }, (ev, moved) => { if (moved) { this.ed.edits.record(this.ed.tab, before); this.ed.edits.changed(this.ed.tab); } });
  }

  noteResize(e, noteEl) {
    const n = this.ed.doc.notes[Number(noteEl.dataset.note)];
    const s0 = [...(n.size || [240, 140])];
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX, sy = e.clientY;
    this.drag(e, (ev) => {
      n.size = [Math.max(140, Math.round(s0[0] + (ev.clientX - sx) / this.ed.view.zoom)), Math.max(80, Math.round(s0[1] + (ev.clientY - sy) / this.ed.view.zoom))];
      noteEl.style.width = `${n.size[0]}px`;
      noteEl.style.height = `${n.size[1]}px`;
    }, (ev, moved) => { if (moved) { this.ed.edits.record(this.ed.tab, before); this.ed.edits.changed(this.ed.tab); } });
  }

  rerouteDrag(e, el) {
    const l = this.ed.links.get(el.dataset.key);
    const i = Number(el.dataset.index);
    const before = JSON.stringify(this.ed.doc);
    this.drag(e, (ev) => {
      const p = this.ed.snapXY(...this.ed.toWorld(ev.clientX, ev.clientY));
      this.ed.doc.nodes[l.to].ui.reroutes[l.input][i] = p;
      el.setAttribute("cx", p[0]); el.setAttribute("cy", p[1]);
      this.ed.linkEls.get(l.key)?.setAttribute("d", this.ed.linkPath(l));
      this.ed.scheduleDraw(); // the wire itself is drawn on the canvas
    }, (ev, moved) => { if (moved) { this.ed.edits.record(this.ed.tab, before); this.ed.edits.changed(this.ed.tab); } });
  }

  /** Drag the handle under a multi-line text box: its height is kept in node.ui.heights. */
  textBoxResize(e, handle) {
    const row = handle.closest(".row");
    const el = row.closest(".node");
    const id = el.dataset.nodeId;
    const input = row.dataset.input;
    const n = this.ed.doc.nodes[id];
    const h0 = row.getBoundingClientRect().height / this.ed.view.zoom;
    const before = JSON.stringify(this.ed.doc);
    const sy = e.clientY;
    this.drag(e, (ev) => {
      const h = widgetHeight(this.ed.inputSpec(id, input), false, h0 + (ev.clientY - sy) / this.ed.view.zoom);
      n.ui = n.ui || {};
      n.ui.heights = { ...(n.ui.heights || {}), [input]: h };
      this.ed.layouts.delete(id);
      row.style.height = `${h}px`;
      el.style.height = `${this.ed.layout(id).h}px`;
      this.ed.updateLinksOf([id]);
    }, (ev, moved) => {
      if (!moved || JSON.stringify(this.ed.doc) === before) return;
      this.ed.edits.record(this.ed.tab, before);
      this.ed.refreshNodes([id]);
      this.ed.edits.changed(this.ed.tab);
    });
  }

  /** Drag a wire from a socket. From a linked input, picks the existing link up. */
  wireDrag(e, sock) {
    const nodeEl = sock.closest(".node");
    let id = nodeEl.dataset.nodeId;
    let dir = sock.dataset.dir;
    let name = sock.dataset.name;
    let detached = null;
    if (dir === "in") {
      const v = (this.ed.doc.nodes[id].inputs || {})[name];
      if (isLink(v)) { // pick the link up by its input end
        detached = { to: id, input: name };
        id = v.from; name = v.output; dir = "out";
      }
    }
    const type = dir === "out" ? this.ed.outputType(id, name) : (this.ed.inputSpec(id, name)?.type || "ANY");
    const anchor = this.ed.sockPos(id, dir, name);
    this.ed.tempWire.setAttribute("stroke", typeColor(type));
    this.ed.tempWire.style.display = "inline"; // (the stylesheet hides it between drags)
    if (detached) this.ed.linkEls.get(linkKey(detached.to, detached.input))?.classList.add("ghost");
    // mark every socket as a fit or not for this wire
    this.ed.root.classList.add("wiring");
    for (const el of this.ed.nodesEl.querySelectorAll(".sock")) {
      const nid = el.closest(".node").dataset.nodeId;
      let ok = false;
      if (dir === "out" && el.dataset.dir === "in") ok = nid !== id && canConnect(type, this.ed.inputSpec(nid, el.dataset.name)?.type || "ANY");
      if (dir === "in" && el.dataset.dir === "out") ok = nid !== id && canConnect(this.ed.outputType(nid, el.dataset.name), type);
      el.classList.toggle("fit", ok);
    }
    const draw = (ev) => {
      const p = this.ed.toWorld(ev.clientX, ev.clientY);
      this.ed.tempWire.setAttribute("d", dir === "out" ? curve([anchor, p]) : curve([p, anchor]));
    };
    draw(e);
    this.drag(e, draw, (ev, moved) => {
      this.ed.tempWire.style.display = "none";
      this.ed.root.classList.remove("wiring");
      for (const el of this.ed.nodesEl.querySelectorAll(".sock.fit")) el.classList.remove("fit");
      if (detached) this.ed.linkEls.get(linkKey(detached.to, detached.input))?.classList.remove("ghost");
      if (!moved) return;
      const over = document.elementFromPoint(ev.clientX, ev.clientY);
      const target = over && over.closest(".sock");
      const targetNode = over && over.closest(".node");
      if (target && target.dataset.dir !== dir) {
        const tid = target.closest(".node").dataset.nodeId;
        if (detached && dir === "out" && tid === detached.to && target.dataset.name === detached.input) return;
        const ok = dir === "out" ? this.ed.connect(id, name, tid, target.dataset.name) : this.ed.connect(tid, target.dataset.name, id, name);
        if (ok && detached) this.disconnectIfSame(detached, tid, target.dataset.name);
        return;
      }
      if (targetNode && targetNode.dataset.nodeId !== id) {
        // dropped on a node body: its first fitting port
        const tid = targetNode.dataset.nodeId;
        const lay = this.ed.layout(tid);
        if (dir === "out") {
          const spec = lay.ports.inputs.find((i) => !i.readonly && canConnect(type, i.type) && !isLink(this.ed.doc.nodes[tid].inputs?.[i.name]))
            || lay.ports.inputs.find((i) => !i.readonly && canConnect(type, i.type));
          if (spec) { if (this.ed.connect(id, name, tid, spec.name) && detached) this.disconnectIfSame(detached, tid, spec.name); }
          else this.ed.hint(`${this.ed.titleOf(tid)} has no input that takes ${type}`, true);
        } else {
          const out = lay.ports.outputs.find((o) => canConnect(o.type, type));
          if (out) this.ed.connect(tid, out.name, id, name);
          else this.ed.hint(`${this.ed.titleOf(tid)} has no output that fits ${type}`, true);
        }
        return;
      }
      if (detached) { this.ed.disconnect(detached.to, detached.input); return; }
      // dropped on empty canvas: palette filtered to compatible nodes, connects the chosen one
      const at = this.ed.toWorld(ev.clientX, ev.clientY);
      this.shell.openPalette(ev.clientX, ev.clientY, { dir, type, node: id, name, at });
    });
  }

  disconnectIfSame(detached, tid, input) {
    if (detached.to === tid && detached.input === input) return;
    this.ed.disconnect(detached.to, detached.input);
  }

  scrubDrag(e, scrub) {
    const row = scrub.closest(".row");
    const id = row.closest(".node").dataset.nodeId;
    const input = row.dataset.input;
    const spec = this.ed.inputSpec(id, input);
    const w = spec.widget;
    const v0 = Number(this.ed.doc.nodes[id].inputs?.[input] ?? initialValue(spec));
    const before = JSON.stringify(this.ed.doc);
    const sx = e.clientX;
    const step = w.step || (w.kind === "INT" ? 1 : 0.01);
    const valueEl = row.querySelector(".wv");
    let last = v0;
    this.drag(e, (ev) => {
      const v = clampNumber(v0 + Math.round((ev.clientX - sx) / 6) * step * (ev.shiftKey ? 10 : 1), w);
      if (v === null || v === last) return;
      last = v;
      this.ed.setInputValue(id, input, v, false);
      valueEl.textContent = formatNumber(v, w);
    }, (ev, moved) => {
      if (moved) {
        if (last !== v0) { this.ed.edits.record(this.ed.tab, before); this.ed.edits.changed(this.ed.tab); }
        return;
      }
      this.editNumber(row, id, input, spec);
    });
  }

  /** Click on a number: type a value. */
  editNumber(row, id, input, spec) {
    const text = formatNumber(this.ed.doc.nodes[id].inputs?.[input] ?? initialValue(spec), spec.widget);
    inlineEdit(row.querySelector(".scrub"), "numedit", text, (commit, typed) => {
      const v = commit ? parseValue(spec, typed) : null;
      if (v !== null && v !== this.ed.doc.nodes[id].inputs?.[input]) this.ed.setInputValue(id, input, v);
      this.ed.refreshNodes([id]);
    });
  }

  onClick(e) {
    const t = e.target;
    const act = t.closest(".zoomctl button");
    if (act) {
      const r = this.ed.root.getBoundingClientRect();
      if (act.dataset.act === "zoom-in") this.ed.zoomAt(1.2, r.left + r.width / 2, r.top + r.height / 2);
      if (act.dataset.act === "zoom-out") this.ed.zoomAt(1 / 1.2, r.left + r.width / 2, r.top + r.height / 2);
      if (act.dataset.act === "fit") this.ed.fit(this.ed.selected);
      if (act.dataset.act === "minimap") this.ed.showMinimap(this.ed.root.classList.contains("nominimap"), true);
      if (act.dataset.act === "snap") {
        this.ed.snap = !this.ed.snap;
        localStorage.setItem("reelgraph.snap", this.ed.snap ? "1" : "0");
        act.classList.toggle("on", this.ed.snap);
      }
      return;
    }
    const row = t.closest(".num");
    if (row && t.closest(".step")) {
      const id = row.closest(".node").dataset.nodeId;
      const input = row.dataset.input;
      const spec = this.ed.inputSpec(id, input);
      const step = spec.widget.step || (spec.widget.kind === "INT" ? 1 : 0.01);
      const v0 = Number(this.ed.doc.nodes[id].inputs?.[input] ?? initialValue(spec));
      const v = clampNumber(v0 + (t.closest(".inc") ? step : -step), spec.widget);
      if (v !== null && v !== v0) {
        this.ed.setInputValue(id, input, v);
        row.querySelector(".wv").textContent = formatNumber(v, spec.widget);
      }
      return;
    }
    const collapse = t.closest(".ncollapse");
    if (collapse) { this.ed.toggleCollapse([collapse.closest(".node").dataset.nodeId]); return; }
    const up = t.closest(".upload");
    if (up) { e.preventDefault(); this.shell.pickUpload(up.closest(".node").dataset.nodeId, up.closest(".row").dataset.input, up.dataset.accept); return; }
    const close = t.closest(".noteclose");
    if (close) {
      const i = Number(close.closest(".note").dataset.note);
      this.ed.edit((doc) => { doc.notes.splice(i, 1); }, "notes");
    }
  }

  onFocusIn(e) {
    const f = e.target;
    if (f.matches(".row textarea, .row input[type=text], .note textarea")) this.fieldBefore = JSON.stringify(this.ed.doc);
  }

  onInput(e) {
    const f = e.target;
    const note = f.closest(".note");
    if (note) { this.ed.doc.notes[Number(note.dataset.note)].text = f.value; this.ed.edits.changed(this.ed.tab); return; }
    const row = f.closest(".row.w");
    if (!row || !f.matches("textarea, input[type=text]")) return;
    const id = row.closest(".node").dataset.nodeId;
    this.ed.setInputValue(id, row.dataset.input, f.value, false); // live; one undo step on change
  }

  onFieldChange(e) {
    const f = e.target;
    if (f.closest(".note")) { this.commitField(); return; }
    const row = f.closest(".row.w");
    if (!row) return;
    const id = row.closest(".node").dataset.nodeId;
    const input = row.dataset.input;
    if (f.classList.contains("seedmode")) {
      this.ed.edit((doc) => {
        const ui = (doc.nodes[id].ui = doc.nodes[id].ui || {});
        ui.seed_modes = { ...(ui.seed_modes || {}), [input]: f.value };
      }, null);
      return;
    }
    if (f.matches("select")) this.ed.setInputValue(id, input, f.value);
    else if (f.matches("input[type=checkbox]")) this.ed.setInputValue(id, input, f.checked);
    else this.commitField();
  }

  commitField() {
    if (this.fieldBefore && this.fieldBefore !== JSON.stringify(this.ed.doc)) {
      this.ed.edits.record(this.ed.tab, this.fieldBefore);
      this.ed.edits.changed(this.ed.tab);
    }
    this.fieldBefore = JSON.stringify(this.ed.doc);
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
    if (gt) return this.shell.renameGroup(Number(gt.closest(".group").dataset.group));
    const rr = t.closest(".reroute");
    if (rr) {
      const l = this.ed.links.get(rr.dataset.key);
      this.ed.edit((doc) => {
        const list = doc.nodes[l.to].ui.reroutes[l.input];
        list.splice(Number(rr.dataset.index), 1);
        if (!list.length) delete doc.nodes[l.to].ui.reroutes[l.input];
      }, "links");
      return;
    }
    const wire = t.closest(".wire");
    if (wire && wire.dataset.key) return this.addReroute(this.ed.links.get(wire.dataset.key), this.ed.toWorld(e.clientX, e.clientY));
    if (t.closest(".node, .note") || (this.ed.canvasNodes && this.ed.nodeAt(e.clientX, e.clientY))) return;
    this.shell.openPalette(e.clientX, e.clientY, { at: this.ed.toWorld(e.clientX, e.clientY) });
  }

  addReroute(l, p) {
    const pts = this.ed.reroutesOf(l);
    // insert in the order along the wire: by x between its neighbours
    const a = this.ed.sockPos(l.from, "out", l.output);
    const chain = [a, ...pts];
    let at = pts.length;
    for (let i = 0; i < pts.length; i++) if (p[0] < pts[i][0] && p[0] >= chain[i][0]) { at = i; break; }
    this.ed.edit((doc) => {
      const ui = (doc.nodes[l.to].ui = doc.nodes[l.to].ui || {});
      ui.reroutes = ui.reroutes || {};
      const list = [...(ui.reroutes[l.input] || [])];
      list.splice(at, 0, p.map(Math.round));
      ui.reroutes[l.input] = list;
    }, "links");
  }

  renameNode(id) {
    const title = this.ed.nodeEls.get(id).querySelector(".ntitle");
    inlineEdit(title, "titleedit", this.ed.titleOf(id), (commit, typed) => {
      const v = typed.trim();
      if (commit && v !== this.ed.titleOf(id)) {
        this.ed.setNodeFlag([id], (n) => {
          n.ui = n.ui || {};
          const schema = this.ed.schemaOf(n);
          if (!v || (schema && v === schema.display_name)) delete n.ui.title; else n.ui.title = v;
        });
      } else this.ed.refreshNodes([id]);
    });
  }

  onContextMenu(e) {
    const t = e.target;
    if (t.closest("input, textarea")) return;
    e.preventDefault();
    const [wx, wy] = this.ed.toWorld(e.clientX, e.clientY);
    const nodeEl = t.closest(".node") || (this.ed.canvasNodes ? this.ed.nodeEls.get(this.ed.nodeAt(e.clientX, e.clientY)) : null);
    const wire = t.closest(".wire");
    const groupEl = t.closest(".group");
    const items = [];
    if (nodeEl) {
      const id = nodeEl.dataset.nodeId;
      if (!this.ed.selected.has(id)) this.ed.select([id]);
      const ids = [...this.ed.selected];
      const n = this.ed.doc.nodes[id];
      const row = t.closest(".row.w");
      if (row && ids.length === 1) {
        const input = row.dataset.input;
        const spec = this.ed.inputSpec(id, input);
        const p = this.ed.paramFor(id, input);
        if (spec && spec.widget && !row.classList.contains("linked")) {
          if (p) items.push({ label: `Remove param “${p}”`, run: () => this.shell.removeParam(p) });
          else items.push({ label: `Expose “${input}” as a workflow param…`, run: () => this.shell.exposeParam(id, input) });
        }
        if (row.classList.contains("linked")) items.push({ label: `Disconnect “${input}”`, run: () => this.ed.disconnect(id, input) });
        items.push(null);
      }
      items.push({ label: "Run to here", key: "Ctrl+Shift+Enter", run: () => this.shell.queue([...this.ed.selected]) });
      items.push({ label: ids.length > 1 ? `Rename…` : "Rename", disabled: ids.length > 1, run: () => this.renameNode(id) });
      items.push({ label: n.ui && n.ui.collapsed ? "Expand" : "Collapse", key: "Alt+C", run: () => this.ed.toggleCollapse() });
      items.push({ label: n.bypass ? "Stop bypassing" : "Bypass", key: "Ctrl+B", run: () => this.ed.toggleBypass() });
      items.push({
        label: "Colour", colors: NODE_COLORS, run: (c) => this.ed.setNodeFlag(this.ed.selected, (node) => {
          node.ui = node.ui || {};
          if (c) node.ui.color = c; else delete node.ui.color;
        }),
      });
      items.push(null);
      items.push({ label: "Copy", key: "Ctrl+C", run: () => this.shell.copy() });
      items.push({ label: "Duplicate", key: "Ctrl+D", run: () => this.shell.duplicate() });
      items.push({ label: "Group selection", key: "Ctrl+G", run: () => this.ed.addGroupAround(this.ed.selected) });
      items.push({ label: "Delete", key: "Del", danger: true, run: () => this.ed.deleteSelection() });
    } else if (wire && wire.dataset.key) {
      const l = this.ed.links.get(wire.dataset.key);
      items.push({ label: "Add reroute point", run: () => this.addReroute(l, [wx, wy]) });
      items.push({ label: "Delete link", danger: true, run: () => this.ed.disconnect(l.to, l.input) });
    } else if (groupEl && t.closest(".gtitle")) {
      const i = Number(groupEl.dataset.group);
      items.push({ label: "Rename group", run: () => this.shell.renameGroup(i) });
      items.push({ label: "Select its nodes", run: () => this.ed.select(this.groupNodes(this.ed.doc.groups[i])) });
      items.push({ label: "Colour", colors: GROUP_COLORS, run: (c) => this.ed.edit((doc) => { doc.groups[i].color = c || GROUP_COLORS[0]; }, "groups") });
      items.push({ label: "Remove group (keep nodes)", danger: true, run: () => this.ed.edit((doc) => { doc.groups.splice(i, 1); }, "groups") });
    } else {
      items.push({ label: "Add node…", key: "Tab", run: () => this.shell.openPalette(e.clientX, e.clientY, { at: [wx, wy] }) });
      items.push({ label: "Add note", run: () => this.ed.addNote(wx, wy) });
      items.push({ label: "Add group", key: "Ctrl+G", run: () => this.ed.addGroupAround(new Set()) });
      items.push({ label: "Paste", key: "Ctrl+V", run: () => this.shell.pasteFromStore([wx, wy]) });
      items.push(null);
      items.push({ label: "Fit to view", key: ".", run: () => this.ed.fit() });
      items.push({ label: "Select all", key: "Ctrl+A", run: () => this.ed.select(Object.keys(this.ed.doc.nodes)) });
    }
    this.shell.showMenu(e.clientX, e.clientY, items);
  }

  onMinimap(e) {
    e.stopPropagation();
    const move = (ev) => {
      const r = this.ed.minimap.getBoundingClientRect();
      const t = this.ed.painter.mmTransform();
      const wx = t.ix(ev.clientX - r.left), wy = t.iy(ev.clientY - r.top);
      const vr = this.ed.root.getBoundingClientRect();
      this.ed.view = { ...this.ed.view, x: vr.width / 2 - wx * this.ed.view.zoom, y: vr.height / 2 - wy * this.ed.view.zoom };
      this.ed.scheduleView();
    };
    move(e);
    const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }
}
