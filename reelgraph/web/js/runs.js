// Runs: queueing the current document, the server's events and binary previews (states,
// progress, timings and pictures on the nodes), the files a finished run made, and the Queue
// panel that lists recent runs.

import { api } from "./api.js";
import { fmtSeconds } from "./editor.js";
import { esc, isLink, SEED_MODES } from "./widgets.js";

const $ = (s, el = document) => el.querySelector(s);

export class Runs {
  /**
   * `editor`: paints states and previews on nodes; `tabs`: which tab a run belongs to; `ui`:
   * toasts; `panels`: where validation problems are listed; `openDoc(doc, label)`: opens the
   * workflow a past run used.
   */
  constructor({ editor, tabs, ui, panels, openDoc }) {
    this.editor = editor;
    this.tabs = tabs;
    this.ui = ui;
    this.panels = panels;
    this.openDoc = openDoc;
    this.runs = new Map(); // run id -> {tabId, status, name}
  }

  get current() { return this.tabs.current; }

  /** Seeds in "increment"/"randomize" mode change at queue time; the change is stored in the workflow. */
  applySeedModes(tab) {
    const changed = [];
    const doc = tab.doc;
    for (const [id, n] of Object.entries(doc.nodes)) {
      const modes = n.ui && n.ui.seed_modes;
      if (!modes) continue;
      const s = this.editor.schemas.get(n.type);
      for (const [input, mode] of Object.entries(modes)) {
        const spec = s && s.inputs.find((i) => i.name === input);
        if (!spec || !SEED_MODES.includes(mode) || mode === "fixed" || isLink(n.inputs?.[input])) continue;
        const lo = spec.widget.min ?? 0, hi = Math.min(spec.widget.max ?? 2 ** 32 - 1, Number.MAX_SAFE_INTEGER);
        const cur = Number(n.inputs?.[input] ?? spec.default ?? 0);
        const next = mode === "increment" ? (cur + 1 > hi ? lo : cur + 1) : lo + Math.floor(Math.random() * (hi - lo + 1));
        changed.push([id, input, next]);
      }
    }
    if (changed.length) {
      this.editor.edit((d) => {
        for (const [id, input, v] of changed) {
          d.nodes[id].inputs[input] = v;
          for (const p of Object.values(d.params || {})) if (p.node === id && p.input === input) p.default = v;
        }
      }, changed.map((c) => c[0]));
    }
  }

  async queue(targets = null) {
    const tab = this.current;
    if (!Object.keys(tab.doc.nodes).length) { this.ui.toast("Add some nodes first: double-click the canvas", "warn"); return null; }
    this.applySeedModes(tab);
    const doc = this.tabs.serialize(tab);
    try {
      const body = { workflow: doc, name: this.tabs.tabTitle(tab) };
      if (targets && targets.length) body.targets = targets;
      const res = await api.queue(body);
      this.panels.serverIssues = res.warnings || [];
      this.panels.renderIssues();
      this.runs.set(res.run_id, { tabId: tab.id, status: "queued", name: body.name });
      // fresh states: every node the run may touch starts as queued
      // previews stay until this run replaces them: a cached node sends none, and its result is unchanged
      tab.run = { id: res.run_id, states: {}, previews: { ...((tab.run && tab.run.previews) || {}) } };
      for (const [id, n] of Object.entries(tab.doc.nodes)) if (!n.bypass) tab.run.states[id] = { state: "queued" };
      if (tab === this.current) this.editor.applyRunStates();
      const early = this.early && this.early.get(res.run_id);
      if (early) { this.early.delete(res.run_id); for (const ev of early) this.onEvent(ev); }
      const earlyPreviews = this.earlyPreviews && this.earlyPreviews.get(res.run_id);
      if (earlyPreviews) { this.earlyPreviews.delete(res.run_id); for (const [h, payload] of earlyPreviews) this.onPreview(h, payload); }
      this.updateRunButtons();
      this.ui.toast(targets ? `Queued up to ${targets.join(", ")}` : `Queued${res.position > 1 ? ` (position ${res.position})` : ""}`, "ok", 2000);
      this.refreshHistory();
      return res.run_id;
    } catch (e) {
      const issues = (e.data && e.data.issues) || [];
      this.panels.serverIssues = issues;
      this.panels.renderIssues();
      if (issues.length) {
        this.panels.showPanel("issues");
        for (const i of issues) {
          if (i.node && tab.doc.nodes[i.node]) {
            tab.run = tab.run || { id: null, states: {}, previews: {} };
            tab.run.states[i.node] = { state: "failed", error: { message: `${i.input ? i.input + ": " : ""}${i.message || i.code}` } };
          }
        }
        this.editor.applyRunStates();
      }
      // Past 1,000 problems the server lists some and counts all (`counts`).
      const counts = e.data && e.data.counts;
      const total = counts ? counts.errors + counts.warnings : issues.length;
      this.ui.toast(`Cannot queue: ${e.message}${total ? ` (${total.toLocaleString("en")} problem${total > 1 ? "s" : ""})` : ""}`, "bad", 6000);
      return null;
    }
  }

  /** After a reload: a run still executing whose name is one of our tabs shows its live states again. */
  async attachRun(runId) {
    if (this.runs.has(runId)) return;
    let run;
    try { run = await api.run(runId); } catch { return; }
    const tab = this.tabs.tabs.find((t) => this.tabs.tabTitle(t) === run.name && !(t.run && t.run.id));
    if (!tab || !["queued", "running"].includes(run.status)) return;
    tab.run = { id: runId, states: {}, previews: {} };
    for (const [id, info] of Object.entries(run.nodes || {})) {
      if (!tab.doc.nodes[id]) continue;
      const st = info.state === "finished" ? "done" : info.state === "pending" ? "queued" : info.state;
      tab.run.states[id] = { state: st, seconds: info.seconds, progress: info.progress };
    }
    this.runs.set(runId, { tabId: tab.id, status: run.status, name: run.name });
    const early = this.early && this.early.get(runId);
    if (early) { this.early.delete(runId); for (const e of early) this.onEvent(e); }
    if (tab === this.current) this.editor.applyRunStates();
    this.updateRunButtons();
  }

  async cancelRun() {
    const tab = this.current;
    const id = tab.run && tab.run.id;
    if (!id) return;
    try { await api.cancel(id); this.ui.toast("Cancelling…", "info", 1500); } catch (e) { this.ui.toast(e.message, "bad"); }
  }

  updateRunButtons() {
    const tab = this.current;
    const r = tab && tab.run && tab.run.id && this.runs.get(tab.run.id);
    $(".cancel").disabled = !(r && (r.status === "queued" || r.status === "running"));
  }

  tabOfRun(runId) {
    const r = this.runs.get(runId);
    return r ? this.tabs.tab(r.tabId) : null;
  }

  onEvent(ev) {
    const t = ev.type;
    if (t === "hello" && ev.running) { this.attachRun(ev.running); return; }
    if (t === "hello" || t === "pong") return;
    if (ev.run_id && !this.runs.has(ev.run_id) && t !== "run.deleted") {
      // A run's first events can arrive before POST /api/runs answers: keep them for a moment.
      const early = this.early || (this.early = new Map());
      if (!early.has(ev.run_id)) {
        early.set(ev.run_id, []);
        setTimeout(() => early.delete(ev.run_id), 30000);
      }
      const list = early.get(ev.run_id);
      if (list.length < 2000) list.push(ev);
      if (t.startsWith("run.")) { clearTimeout(this.histTimer); this.histTimer = setTimeout(() => this.refreshHistory(), 200); }
      return;
    }
    if (t.startsWith("run.")) {
      const r = this.runs.get(ev.run_id);
      if (r) {
        const status = { "run.queued": "queued", "run.started": "running", "run.finished": "finished",
          "run.failed": "failed", "run.cancelled": "cancelled" }[t];
        if (status) r.status = status;
        const tab = this.tabs.tab(r.tabId);
        if (tab && tab.run && tab.run.id === ev.run_id && ["finished", "failed", "cancelled"].includes(r.status)) {
          for (const [id, st] of Object.entries(tab.run.states)) {
            if (st.state === "running") tab.run.states[id] = { state: r.status === "cancelled" ? "cancelled" : "skipped" };
            else if (st.state === "queued") tab.run.states[id] = { state: "skipped" };
          }
          this.loadRunOutputs(ev.run_id, tab);
          if (r.status === "failed") this.ui.toast(`Run failed: ${(ev.error && ev.error.message) || "see the failing node"}`, "bad", 6000);
          else if (r.status === "finished") this.ui.toast(`Finished in ${fmtSeconds(ev.seconds || 0)}${ev.cached ? ` · ${ev.cached} cached` : ""}`, "ok");
          else this.ui.toast("Run cancelled", "warn");
          if (tab === this.current) this.editor.applyRunStates();
        }
        this.updateRunButtons();
      }
      clearTimeout(this.histTimer);
      this.histTimer = setTimeout(() => this.refreshHistory(), 200);
      return;
    }
    if (!t.startsWith("node.") || !ev.node_id) return;
    const tab = this.tabOfRun(ev.run_id);
    if (!tab || !tab.run || tab.run.id !== ev.run_id) return;
    const prev = tab.run.states[ev.node_id] || {};
    let st = prev;
    if (t === "node.started") st = { state: "running" };
    else if (t === "node.progress") st = { ...prev, state: "running", progress: { value: ev.value, max: ev.max } };
    else if (t === "node.cached") st = { state: "cached" };
    else if (t === "node.finished") st = { state: "done", seconds: ev.seconds, peak_rss_mb: ev.peak_rss_mb };
    else if (t === "node.failed") st = { state: "failed", error: { message: ev.message, traceback: ev.traceback } };
    else return;
    tab.run.states[ev.node_id] = st;
    if (tab === this.current) {
      const el = this.editor.nodeEls.get(ev.node_id);
      if (el) this.editor.paintState(ev.node_id, el, st, tab.run.previews[ev.node_id]);
      if (t === "node.failed") this.editor.drawMinimapBase();
    }
  }

  onPreview(h, payload) {
    const tab = this.tabOfRun(h.run_id);
    if (!tab && h.run_id && !this.runs.has(h.run_id)) {
      // a fast node's preview can arrive before the POST that queued its run answers
      this.earlyPreviews = this.earlyPreviews || new Map();
      if (this.earlyPreviews.size > 50) this.earlyPreviews.clear();
      const list = this.earlyPreviews.get(h.run_id) || [];
      if (list.length < 16) list.push([h, payload]);
      this.earlyPreviews.set(h.run_id, list);
      return;
    }
    if (!tab || !tab.run || tab.run.id !== h.run_id || !h.node_id) return;
    const url = URL.createObjectURL(new Blob([payload], { type: h.mime }));
    const prev = tab.run.previews[h.node_id];
    let p;
    if (h.kind === "video") {
      const keep = prev && prev.kind === "video" && prev.item === h.item ? prev.urls : [];
      p = { kind: "video", item: h.item, urls: [...keep, url].slice(-8), meta: `${h.video_width || ""}×${h.video_height || ""} · ${h.frame_count} frames @ ${Math.round(h.fps)} fps` };
    } else if (h.kind === "image") {
      const keep = prev && prev.kind === "image" && h.index > 0 ? prev.urls : [];
      p = { kind: "image", urls: [...keep, url].slice(0, 8) };
    } else if (h.kind === "audio") p = { kind: "audio", urls: [url] };
    else if (h.kind === "table") {
      // the scenes a script becomes, as a small table on the node (JSON, not a media file)
      URL.revokeObjectURL(url);
      try { p = { kind: "table", table: JSON.parse(new TextDecoder().decode(payload)) }; } catch { return; }
    } else return;
    if (prev && prev.kind === "file") return; // the final output wins
    tab.run.previews[h.node_id] = p;
    if (tab === this.current) {
      const el = this.editor.nodeEls.get(h.node_id);
      if (el) this.editor.paintState(h.node_id, el, tab.run.states[h.node_id], p);
    }
  }

  /** After a run: its files (video/image/audio outputs) as previews on their nodes; final states. */
  async loadRunOutputs(runId, tab) {
    let run;
    try { run = await api.run(runId); } catch { return; }
    if (!tab.run || tab.run.id !== runId) return;
    for (const [id, info] of Object.entries(run.nodes || {})) {
      if (!tab.doc.nodes[id]) continue;
      const st = info.state;
      if (st === "finished") tab.run.states[id] = { state: "done", seconds: info.seconds, peak_rss_mb: info.peak_rss_mb };
      else if (st === "cached") tab.run.states[id] = { state: "cached" };
      else if (st === "failed") {
        const failure = ((run.error && run.error.failures) || []).find((f) => f.node_id === id) || info.error || {};
        tab.run.states[id] = { state: "failed", error: { message: failure.message || "failed", traceback: failure.traceback } };
      } else if (st === "not_run" || st === "pending") tab.run.states[id] = { state: "skipped" };
    }
    for (const [id, outs] of Object.entries(run.outputs || {})) {
      const file = firstFile(outs);
      if (file && tab.doc.nodes[id]) tab.run.previews[id] = file;
    }
    if (tab === this.current) this.editor.applyRunStates();
    this.renderHistoryList();
  }

  async refreshHistory() {
    try { this.history = await api.runs(30); } catch { return; }
    this.renderHistoryList();
  }

  renderHistoryList() {
    const panel = $(".panel[data-panel=queue]");
    if (!this.history || panel.hidden) return;
    const runs = this.history.runs;
    panel.innerHTML = `<div class="qhead"><span>${this.history.counts.queued || 0} queued · ${this.history.running ? "1 running" : "idle"}</span><button class="qrefresh icon" title="refresh">⟳</button></div>` +
      `<ul class="runs">${runs.map((r) => `<li class="runitem st-${esc(r.status)}" data-run="${esc(r.id)}">` +
        `<div class="rtop"><span class="rstate">${esc(r.status)}</span><span class="rname">${esc(r.name || r.id)}</span>` +
        `<span class="rtime">${r.summary && typeof r.summary.seconds === "number" ? fmtSeconds(r.summary.seconds) : ""}</span></div>` +
        `<div class="rmeta">${new Date(r.created * 1000).toLocaleTimeString()} · ${esc(r.id)}${r.summary && r.summary.cached ? ` · ${r.summary.cached} cached` : ""}</div>` +
        (r.error ? `<div class="rerr">${esc(r.error)}</div>` : "") +
        `<div class="routs" data-outs="${esc(r.id)}"></div>` +
        `<div class="racts">${["queued", "running"].includes(r.status) ? `<button class="rcancel">Cancel</button>` : `<button class="routputs">Outputs</button><button class="ropen">Open workflow</button>`}</div></li>`).join("") || '<li class="muted">No runs yet. Ctrl+Enter queues this workflow.</li>'}</ul>`;
    panel.onclick = async (e) => {
      if (e.target.closest(".qrefresh")) return this.refreshHistory();
      const li = e.target.closest(".runitem");
      if (!li) return;
      const id = li.dataset.run;
      if (e.target.closest(".rcancel")) { await api.cancel(id).catch((err) => this.ui.toast(err.message, "bad")); return; }
      if (e.target.closest(".ropen")) {
        const run = await api.run(id);
        this.openDoc(run.workflow, `run ${id}`);
        return;
      }
      if (e.target.closest(".routputs")) this.showRunOutputs(id, li.querySelector(".routs"));
    };
    // the latest finished runs show their outputs without a click
    for (const li of [...panel.querySelectorAll(".runitem.st-finished")].slice(0, 4)) {
      this.showRunOutputs(li.dataset.run, li.querySelector(".routs"));
    }
  }

  async showRunOutputs(id, box) {
    this.runFiles = this.runFiles || new Map();
    let files = this.runFiles.get(id);
    if (!files) {
      let run;
      try { run = await api.run(id); } catch { return; }
      files = [];
      collectFiles(run.outputs || {}, files);
      if (["finished", "failed", "cancelled"].includes(run.status)) this.runFiles.set(id, files);
    }
    if (!box.isConnected) return;
    box.innerHTML = files.length ? files.slice(0, 12).map((f) => f.media === "video" ? `<video src="${esc(f.url)}" controls preload="metadata"></video><a href="${esc(f.url)}" target="_blank">${esc(f.name)}</a>`
      : f.media === "image" ? `<a href="${esc(f.url)}" target="_blank" title="${esc(f.name)}"><img src="${esc(f.url)}" alt="${esc(f.name)}"></a>`
        : f.media === "audio" ? `<audio src="${esc(f.url)}" controls preload="none"></audio>` : `<a href="${esc(f.url)}" target="_blank">${esc(f.name)}</a>`).join("") : '<span class="muted">No files.</span>';
  }
}

const MEDIA = { mp4: "video", webm: "video", mov: "video", mkv: "video", png: "image", jpg: "image", jpeg: "image", webp: "image", gif: "image", wav: "audio", mp3: "audio", ogg: "audio", flac: "audio" };

function collectFiles(v, out) {
  if (Array.isArray(v)) { for (const x of v) collectFiles(x, out); return; }
  if (!v || typeof v !== "object") return;
  if (typeof v.url === "string" && typeof v.file === "string") {
    const name = v.file.split("/").pop();
    out.push({ kind: "file", url: v.url, name, media: MEDIA[name.split(".").pop().toLowerCase()] || "other" });
    return;
  }
  for (const x of Object.values(v)) collectFiles(x, out);
}

function firstFile(outs) {
  const files = [];
  collectFiles(outs, files);
  return files.find((f) => f.media === "video") || files.find((f) => f.media === "image") || files.find((f) => f.media === "audio") || files[0] || null;
}
