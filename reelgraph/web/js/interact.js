// Pointer, wheel, keyboard-in-fields and context menus on the canvas.
// Methods of Editor (installed by editor.js); `this` is the editor.

import { GROUP_COLORS, NODE_COLORS, curve, groupBounds, linkKey } from "./geometry.js";
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

export class InteractionMethods {
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
    window.addEventListener("resize", () => { this.rect = null; this.sceneDirty = true; this.scheduleView(); });
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
      this.edits.record(this.tab, before);
      this.edits.changed(this.tab);
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
      this.edits.record(this.tab, before);
      this.edits.changed(this.tab);
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
      this.edits.record(this.tab, before);
      this.edits.changed(this.tab);
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
      if (moved) { this.edits.record(this.tab, before); this.edits.changed(this.tab); this.drawMinimapBase(); }
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
    }, (ev, moved) => { if (moved) { this.edits.record(this.tab, before); this.edits.changed(this.tab); } });
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
    }, (ev, moved) => { if (moved) { this.edits.record(this.tab, before); this.edits.changed(this.tab); } });
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
      this.scheduleDraw(); // the wire itself is drawn on the canvas
    }, (ev, moved) => { if (moved) { this.edits.record(this.tab, before); this.edits.changed(this.tab); } });
  }

  /** Drag the handle under a multi-line text box: its height is kept in node.ui.heights. */
  textBoxResize(e, handle) {
    const row = handle.closest(".row");
    const el = row.closest(".node");
    const id = el.dataset.nodeId;
    const input = row.dataset.input;
    const n = this.doc.nodes[id];
    const h0 = row.getBoundingClientRect().height / this.view.zoom;
    const before = JSON.stringify(this.doc);
    const sy = e.clientY;
    this.drag(e, (ev) => {
      const h = widgetHeight(this.inputSpec(id, input), false, h0 + (ev.clientY - sy) / this.view.zoom);
      n.ui = n.ui || {};
      n.ui.heights = { ...(n.ui.heights || {}), [input]: h };
      this.layouts.delete(id);
      row.style.height = `${h}px`;
      el.style.height = `${this.layout(id).h}px`;
      this.updateLinksOf([id]);
    }, (ev, moved) => {
      if (!moved || JSON.stringify(this.doc) === before) return;
      this.edits.record(this.tab, before);
      this.refreshNodes([id]);
      this.edits.changed(this.tab);
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
      const v = (this.doc.nodes[id].inputs || {})[name];
      if (isLink(v)) { // pick the link up by its input end
        detached = { to: id, input: name };
        id = v.from; name = v.output; dir = "out";
      }
    }
    const type = dir === "out" ? this.outputType(id, name) : (this.inputSpec(id, name)?.type || "ANY");
    const anchor = this.sockPos(id, dir, name);
    this.tempWire.setAttribute("stroke", typeColor(type));
    this.tempWire.style.display = "inline"; // (the stylesheet hides it between drags)
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
        if (last !== v0) { this.edits.record(this.tab, before); this.edits.changed(this.tab); }
        return;
      }
      this.editNumber(row, id, input, spec);
    });
  }

  /** Click on a number: type a value. */
  editNumber(row, id, input, spec) {
    const text = formatNumber(this.doc.nodes[id].inputs?.[input] ?? initialValue(spec), spec.widget);
    inlineEdit(row.querySelector(".scrub"), "numedit", text, (commit, typed) => {
      const v = commit ? parseValue(spec, typed) : null;
      if (v !== null && v !== this.doc.nodes[id].inputs?.[input]) this.setInputValue(id, input, v);
      this.refreshNodes([id]);
    });
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
    if (note) { this.doc.notes[Number(note.dataset.note)].text = f.value; this.edits.changed(this.tab); return; }
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
      this.edits.record(this.tab, this.fieldBefore);
      this.edits.changed(this.tab);
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
    const title = this.nodeEls.get(id).querySelector(".ntitle");
    inlineEdit(title, "titleedit", this.titleOf(id), (commit, typed) => {
      const v = typed.trim();
      if (commit && v !== this.titleOf(id)) {
        this.setNodeFlag([id], (n) => {
          n.ui = n.ui || {};
          const schema = this.schemaOf(n);
          if (!v || (schema && v === schema.display_name)) delete n.ui.title; else n.ui.title = v;
        });
      } else this.refreshNodes([id]);
    });
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
