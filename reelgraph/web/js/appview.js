// The app view: a workflow's params as a plain form (/app/<workflow>), and the template
// gallery (/app/). Nothing of the graph shows; progress, results and errors are in words.

import { api, Events } from "./api.js";
import { esc } from "./widgets.js";
import { plainError, stepWords } from "./words.js";

const $ = (s, el = document) => el.querySelector(s);
const enc = encodeURIComponent;
/** A run's wall time in words ("0 s" read as if nothing had been made). */
const seconds = (t) => (t < 1 ? "under a second" : `${Math.round(t)} s`);

async function getJSON(url) {
  const res = await fetch(url);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) { const e = new Error(data.error || `HTTP ${res.status}`); e.status = res.status; e.data = data; throw e; }
  return data;
}

function shell(crumb, actions = "") {
  document.body.innerHTML = `<header class="apphead"><a class="brand" href="/app/"><span class="logo">◆</span>reelgraph</a>` +
    `<span class="crumb">${crumb}</span><span class="spacer"></span>${actions}</header><main class="appmain"></main><div class="toasts"></div>`;
  return $(".appmain");
}

// ---------------------------------------------------------------- gallery
async function gallery() {
  const main = shell("Templates and apps", `<a class="button" href="/">Open the editor</a>`);
  main.classList.add("gallery");
  main.innerHTML = `<h1>Make a video</h1><p class="muted lead">Pick a template, fill in a form, press Run. No wiring needed.</p><div class="cards"></div>`;
  const data = await api.workflows();
  const items = [...data.templates.map((w) => ({ ...w, kind: "template" })), ...data.workflows.map((w) => ({ ...w, kind: "workflow" }))];
  $(".cards", main).innerHTML = items.map((w) => {
    const n = (w.params || []).length;
    return `<article class="card" data-name="${esc(w.name)}"><div class="thumb" data-thumb="${esc(w.name)}"><span class="initial">${esc((w.title || w.name).slice(0, 1).toUpperCase())}</span></div>` +
      `<div class="cbody"><h2>${esc(w.title || w.name)}</h2><p class="cdesc">${esc(w.description || "No description.")}</p>` +
      `<p class="cmeta">${w.kind === "template" ? "Template" : "Saved workflow"} · ${n ? `${n} setting${n > 1 ? "s" : ""}` : "no settings"}</p>` +
      `<div class="cacts">${n ? `<a class="button primary" href="/app/${enc(w.name)}">Open as app</a>` : `<span class="muted small">No settings to fill in</span>`}` +
      `<a class="button" href="/?workflow=${enc(w.name)}">Open in editor</a></div></div></article>`;
  }).join("") || `<p class="muted">No templates found.</p>`;
  for (const el of main.querySelectorAll("[data-thumb]")) loadThumb(el, el.dataset.thumb);
  window.reelapp.interactiveMs = performance.now();
}

/** The thumbnail is made once by a small run on the server: 202 while it is being made. */
async function loadThumb(el, name, tries = 0) {
  const res = await fetch(`/api/app/${enc(name)}/thumbnail`).catch(() => null);
  if (!res) return;
  if (res.status === 200) {
    const url = URL.createObjectURL(await res.blob());
    el.innerHTML = `<img src="${url}" alt="a frame from ${esc(name)}">`;
    el.classList.add("has");
  } else if (res.status === 202 && tries < 400) { // thumbnail runs wait behind people's runs: up to 10 min
    // being made: say so, so a letter on a gradient does not read as the picture itself
    if (!el.querySelector(".making")) el.insertAdjacentHTML("beforeend", `<span class="making">Making a preview…</span>`);
    setTimeout(() => loadThumb(el, name, tries + 1), 1500);
  } else el.querySelector(".making")?.remove();
}

// ---------------------------------------------------------------- the form
class AppView {
  constructor(name) {
    this.name = name;
    this.run = null;
  }

  async start() {
    const main = shell(`<a href="/app/">Apps</a> <span class="sep">/</span> <b class="apptitle">${esc(this.name)}</b>`,
      `<a class="button" href="/app/${enc(this.name)}/batch" title="a spreadsheet in, one video per row">Many videos (batch)</a>` +
      `<a class="button" href="/?workflow=${enc(this.name)}" title="see and change how this video is made">Open in editor</a>`);
    let spec;
    try { spec = await getJSON(`/api/app/${enc(this.name)}`); } catch (e) {
      main.innerHTML = `<div class="apperror"><h2>This app cannot be opened</h2><p>${esc(e.status === 404 ? `There is no workflow or template called “${this.name}”.` : e.message)}</p><p><a href="/app/">See all apps</a></p></div>`;
      window.reelapp.interactiveMs = performance.now();
      return;
    }
    this.spec = spec;
    $(".apptitle").textContent = spec.title;
    document.title = `${spec.title} — reelgraph`;
    main.innerHTML = `<section class="appform"><h1>${esc(spec.title)}</h1>${spec.description ? `<p class="muted lead">${esc(spec.description)}</p>` : ""}` +
      `<form class="fields" novalidate>${spec.fields.map((f) => this.fieldHTML(f)).join("") || `<p class="muted">This workflow has no settings: it always makes the same video.</p>`}` +
      `<div class="formacts"><button type="submit" class="primary runbtn">▶ Run</button><button type="button" class="cancelbtn" hidden>Stop</button></div></form></section>` +
      `<section class="appresult"><div class="status" hidden><div class="stext">Waiting…</div><div class="bar"><i></i></div><div class="ssub muted"></div></div>` +
      `<div class="result"></div><h2 class="earlierh">Earlier results</h2><div class="earlier"><p class="muted">Loading…</p></div></section>`;
    this.bindForm();
    this.events = new Events((ev) => this.onEvent(ev), () => {}, () => {});
    this.loadEarlier();
    window.reelapp.interactiveMs = performance.now();
  }

  fieldHTML(f) {
    const id = `f-${f.name}`;
    const w = f.widget || {};
    const v = f.default;
    let control;
    if (f.control === "textarea") {
      // as tall as its text (a title: 2 lines; a script: up to 14), and the user can make it taller
      const rows = Math.min(14, Math.max(2, String(v ?? "").split("\n").length + 1, Math.ceil(String(v ?? "").length / 60)));
      control = `<textarea id="${id}" name="${esc(f.name)}" rows="${rows}" spellcheck="true">${esc(v ?? "")}</textarea>`;
    }
    else if (f.control === "select") {
      const options = [...(w.options || [])];
      if (v !== undefined && v !== null && v !== "" && !options.includes(v)) options.unshift(v);
      control = `<select id="${id}" name="${esc(f.name)}">${options.map((o) => `<option${o === v ? " selected" : ""} value="${esc(o)}">${esc(o)}</option>`).join("")}</select>`;
    } else if (f.control === "number") {
      const bounds = [w.min !== undefined && w.min !== null ? ` min="${w.min}"` : "", w.max !== undefined && w.max !== null ? ` max="${w.max}"` : ""].join("");
      const step = w.step || (w.kind === "INT" ? 1 : "any");
      control = `<input id="${id}" name="${esc(f.name)}" type="number"${bounds} step="${step}" value="${esc(v ?? "")}">` +
        (w.min !== undefined && w.max !== undefined && w.min !== null && w.max !== null ? `<span class="range muted">${w.min} to ${w.max}</span>` : "");
    } else if (f.control === "checkbox") control = `<input id="${id}" name="${esc(f.name)}" type="checkbox"${v ? " checked" : ""}>`;
    else if (f.control === "file") {
      control = `<div class="filepick"><input id="${id}" name="${esc(f.name)}" type="hidden" value="${esc(v ?? "")}">` +
        `<span class="fname">${esc(v ? String(v).split("/").pop() : "No file chosen")}</span>` +
        `<label class="button">Choose a file…<input type="file" accept="${esc(w.upload ? `${w.upload}/*` : "")}" data-for="${esc(f.name)}" hidden></label></div>`;
    } else control = `<input id="${id}" name="${esc(f.name)}" type="text" value="${esc(v ?? "")}">`;
    return `<div class="field f-${f.control}" data-field="${esc(f.name)}"><label for="${id}">${esc(f.label)}</label>` +
      (f.description ? `<p class="help">${esc(f.description)}</p>` : "") + control + `<p class="ferr" hidden></p></div>`;
  }

  bindForm() {
    const form = $(".fields");
    form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    // a field reached with the keyboard is not left under the sticky Run bar (the page's
    // scroll-padding keeps "nearest" clear of it); the browser does not scroll a field that
    // is inside the window, even when the bar covers it
    form.addEventListener("focusin", (e) => {
      const field = e.target.closest(".field");
      if (field) field.scrollIntoView({ block: "nearest" });
    });
    form.addEventListener("change", async (e) => {
      const pick = e.target.closest("input[type=file][data-for]");
      if (!pick || !pick.files[0]) return;
      const box = pick.closest(".filepick");
      $(".fname", box).textContent = `Uploading ${pick.files[0].name}…`;
      try {
        const res = await api.upload(pick.files[0]);
        $(`input[name="${CSS.escape(pick.dataset.for)}"]`, form).value = res.path;
        $(".fname", box).textContent = pick.files[0].name;
      } catch (err) { $(".fname", box).textContent = `Could not upload: ${err.message}`; }
    });
    $(".cancelbtn").addEventListener("click", () => { if (this.run) api.cancel(this.run.id).catch(() => {}); });
  }

  values() {
    const out = {};
    for (const f of this.spec.fields) {
      const el = $(`[name="${CSS.escape(f.name)}"]`, $(".fields"));
      if (!el) continue;
      if (f.control === "checkbox") out[f.name] = el.checked;
      else if (f.control === "number") out[f.name] = el.value === "" ? f.default : Number(el.value);
      else out[f.name] = el.value;
    }
    return out;
  }

  fieldError(name, text) {
    const box = $(`[data-field="${CSS.escape(name)}"]`);
    if (!box) return false;
    const p = $(".ferr", box);
    p.textContent = text;
    p.hidden = !text;
    box.classList.toggle("bad", Boolean(text));
    return true;
  }

  async submit() {
    for (const f of this.spec.fields) this.fieldError(f.name, "");
    // numbers out of their bounds are said plainly before anything runs
    let bad = false;
    for (const f of this.spec.fields.filter((x) => x.control === "number")) {
      const el = $(`[name="${CSS.escape(f.name)}"]`);
      const v = Number(el.value), w = f.widget || {};
      if (el.value !== "" && (!Number.isFinite(v) || (w.min !== undefined && w.min !== null && v < w.min) || (w.max !== undefined && w.max !== null && v > w.max))) {
        this.fieldError(f.name, `Enter a number from ${w.min} to ${w.max}.`);
        bad = true;
      }
    }
    if (bad) return;
    $(".result").innerHTML = "";
    this.showStatus("Sending…", 0, "");
    try {
      const res = await api.queue({ workflow: this.name, params: this.values(), name: this.name });
      this.run = { id: res.run_id, done: new Set(), running: new Map(), early: this.run?.early };
      $(".runbtn").disabled = true;
      $(".cancelbtn").hidden = false;
      this.showStatus(res.position > 1 ? `Waiting for ${res.position - 1} other video${res.position > 2 ? "s" : ""} to finish…` : "Starting…", 0, "");
      for (const ev of this.pending || []) this.onEvent(ev);
      this.pending = [];
    } catch (e) {
      const issues = (e.data && e.data.issues) || [];
      let placed = 0;
      for (const i of issues) {
        const f = this.spec.fields.find((x) => x.node === i.node && (!i.input || x.input === i.input));
        if (f && this.fieldError(f.name, plainError(i.message || i.code).text)) placed++;
      }
      this.hideStatus();
      this.showError(placed ? "Some settings need attention (marked in red)." : "This video could not be started.",
        [e.message, ...issues.map((i) => `${i.node || ""}${i.input ? "." + i.input : ""}: ${i.message || i.code}`)].join("\n"));
    }
  }

  showStatus(text, fraction, sub) {
    const st = $(".status");
    st.hidden = false;
    $(".stext", st).textContent = text;
    $(".bar i", st).style.width = `${Math.round(100 * Math.min(1, Math.max(0, fraction)))}%`;
    $(".ssub", st).textContent = sub;
  }

  hideStatus() { $(".status").hidden = true; }

  showError(title, detail) {
    const p = plainError(detail || "");
    $(".result").innerHTML = `<div class="apperror"><h2>${esc(title)}</h2><p>${esc(p.text)}</p>` +
      (detail ? `<details><summary>Technical details</summary><pre>${esc(detail)}</pre></details>` : "") + `</div>`;
  }

  onEvent(ev) {
    if (!ev.run_id) return;
    if (!this.run || this.run.id !== ev.run_id) {
      // events can arrive before POST /api/runs answers
      if (!this.run || !this.run.id) (this.pending = this.pending || []).push(ev);
      if (ev.type === "run.finished" && ev.name === this.name) this.loadEarlier();
      return;
    }
    const r = this.run;
    const steps = this.spec.steps;
    const step = steps.find((s) => s.id === ev.node_id);
    if (ev.type === "run.started") this.showStatus("Starting…", 0.02, "");
    else if (ev.type === "node.started" && step) { r.running.set(step.id, null); r.current = step.id; }
    else if (ev.type === "node.progress" && step) { r.running.set(step.id, { value: ev.value, max: ev.max, item: ev.item }); r.current = step.id; }
    else if ((ev.type === "node.finished" || ev.type === "node.cached") && ev.node_id) { r.done.add(ev.node_id); r.running.delete(ev.node_id); }
    else if (ev.type === "run.finished") return this.finished();
    else if (ev.type === "run.failed") return this.failed(ev);
    else if (ev.type === "run.cancelled") return this.stopped();
    if (ev.type.startsWith("node.")) {
      let partial = 0;
      for (const p of r.running.values()) if (p && p.max) partial += p.value / p.max;
      const frac = (r.done.size + partial) / Math.max(1, steps.length);
      const cur = steps.find((s) => s.id === r.current);
      const words = cur ? stepWords(cur, r.running.get(cur.id)) : "Working…";
      this.showStatus(words, frac, `Step ${Math.min(steps.length, r.done.size + 1)} of ${steps.length}`);
    }
  }

  async finished() {
    const id = this.run.id;
    this.endRun();
    this.showStatus("Done", 1, "");
    let run;
    try { run = await api.run(id); } catch { return; }
    this.hideStatus();
    $(".result").innerHTML = resultHTML(run.files || [], true, run.summary);
    this.loadEarlier();
  }

  async failed(ev) {
    const id = this.run.id;
    this.endRun();
    this.hideStatus();
    let run = null;
    try { run = await api.run(id); } catch { /* the event says enough */ }
    const failures = (run && run.error && run.error.failures) || [];
    const f = failures[0] || {};
    const step = this.spec.steps.find((s) => s.id === (f.node_id || ev.node_id));
    const message = f.message || (ev.error && ev.error.message) || (run && run.error && run.error.message) || "";
    const where = step ? `while ${stepWords(step, null).toLowerCase()}` : "";
    this.showError(`The video could not be made${where ? ` ${where.replace(/…$/, "")}` : ""}.`,
      [message, f.node_id ? `node ${f.node_id} (${f.node_type || step?.type || ""})` : "", f.traceback || ""].filter(Boolean).join("\n\n"));
    this.loadEarlier();
  }

  stopped() {
    this.endRun();
    this.hideStatus();
    $(".result").innerHTML = `<div class="apperror soft"><h2>Stopped</h2><p>The video was not finished. Press Run to start again.</p></div>`;
  }

  endRun() {
    $(".runbtn").disabled = false;
    $(".cancelbtn").hidden = true;
    this.run = { id: null };
  }

  async loadEarlier() {
    let data;
    try { data = await getJSON(`/api/app/${enc(this.name)}/runs`); } catch { return; }
    const box = $(".earlier");
    box.innerHTML = data.runs.length ? data.runs.map((r) => `<div class="earlieritem st-${esc(r.status)}"><div class="emeta">${new Date(r.created * 1000).toLocaleString()}` +
      `${typeof r.seconds === "number" ? ` · took ${seconds(r.seconds)}` : ""}</div>` +
      (r.status === "finished" ? resultHTML(r.files, false) : `<p class="muted">${r.status === "failed" ? `Did not finish: ${esc(plainError(r.error || "").text)}` : "Stopped before the end."}</p>`) +
      `</div>`).join("") : `<p class="muted">Nothing made yet. Fill in the form and press Run.</p>`;
  }
}

/** The video (or picture) of a finished run, with download buttons for what it made. */
function resultHTML(files, big, summary) {
  const url = (f) => esc(f.url);
  const by = (ext) => files.filter((f) => f.file.toLowerCase().endsWith(ext));
  const mp4 = by(".mp4")[0], srt = by(".srt")[0], vtt = by(".vtt")[0];
  const img = files.find((f) => /\.(png|jpe?g|webp)$/i.test(f.file));
  const wav = files.find((f) => /\.(wav|mp3|m4a)$/i.test(f.file));
  let media = "";
  // videos fade in from black: a small one shows its cover (or the picture at 1 s)
  // before it plays, not a dark first frame
  const poster = img && !big ? ` poster="${url(img)}"` : "";
  if (mp4) media = `<video class="${big ? "big" : ""}" src="${url(mp4)}${big ? "" : "#t=1"}"${poster} controls ${big ? "autoplay muted " : ""}playsinline preload="metadata"></video>`;
  else if (img) media = `<img class="${big ? "big" : ""}" src="${url(img)}" alt="the result">`;
  else if (wav) media = `<audio src="${url(wav)}" controls></audio>`;
  const dl = [[mp4, "Download MP4"], [srt, "Download subtitles (SRT)"], [vtt, "Download subtitles (VTT)"], [!mp4 && img, "Download picture"], [!mp4 && wav, "Download sound"]]
    .filter(([f]) => f).map(([f, label]) => `<a class="button dl" href="${url(f)}" download="${esc(f.file.split("/").pop())}">${label}</a>`).join("");
  const took = summary && typeof summary.seconds === "number" ? `<span class="muted small">Made in ${seconds(summary.seconds)}</span>` : "";
  return `<div class="resultbox">${media || `<p class="muted">It finished, but made no file to show.</p>`}<div class="dls">${dl}${took}</div></div>`;
}

// ---------------------------------------------------------------- batch: a sheet of rows, one video each
const norm = (t) => String(t ?? "").toLowerCase().replace(/[^a-z0-9]+/g, "");
const FINAL_ROW = ["finished", "failed", "cancelled", "invalid"];
const ROW_WORDS = { queued: "Waiting", running: "Making…", finished: "Done", failed: "Failed", cancelled: "Stopped", invalid: "Not valid" };

class BatchView {
  constructor(name) { this.name = name; }

  async start() {
    const main = shell(`<a href="/app/">Apps</a> <span class="sep">/</span> <a class="apptitle" href="/app/${enc(this.name)}">${esc(this.name)}</a> <span class="sep">/</span> <b>Many videos</b>`,
      `<a class="button" href="/app/${enc(this.name)}">One video</a>`);
    main.classList.add("batchmain");
    try { this.spec = await getJSON(`/api/app/${enc(this.name)}`); } catch (e) {
      main.innerHTML = `<div class="apperror"><h2>This app cannot be opened</h2><p>${esc(e.message)}</p></div>`;
      window.reelapp.interactiveMs = performance.now();
      return;
    }
    $(".apptitle").textContent = this.spec.title;
    main.innerHTML = `<h1>${esc(this.spec.title)}: many videos at once</h1>` +
      `<p class="muted lead">One row of a spreadsheet per video. Each column fills one setting; settings without a column keep the form's value.</p>` +
      `<label class="sheetdrop"><input type="file" accept=".csv,.tsv,.jsonl,.xlsx,text/csv" hidden><b>Drop a CSV or XLSX file here</b><span class="muted">or click to choose one</span></label>` +
      `<section class="mapping" hidden></section><section class="batchrun" hidden></section>`;
    const drop = $(".sheetdrop");
    drop.querySelector("input").onchange = (e) => { if (e.target.files[0]) this.readSheet(e.target.files[0]); };
    window.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    window.addEventListener("dragleave", () => drop.classList.remove("over"));
    window.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      const f = e.dataTransfer.files[0];
      if (f) this.readSheet(f);
    });
    window.reelapp.interactiveMs = performance.now();
  }

  async readSheet(file) {
    const box = $(".mapping");
    box.hidden = false;
    box.innerHTML = `<p class="muted">Reading ${esc(file.name)}…</p>`;
    const res = await fetch(`/api/app/${enc(this.name)}/sheet?filename=${enc(file.name)}`, { method: "POST", body: file });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { box.innerHTML = `<div class="apperror"><h2>This file cannot be read</h2><p>${esc(data.error || res.statusText)}</p></div>`; return; }
    this.sheet = data;
    // columns matched to settings by name (or label), ignoring case, spaces and punctuation
    this.map = {};
    for (const c of data.columns) {
      const f = this.spec.fields.find((x) => norm(x.name) === norm(c) || norm(x.label) === norm(c));
      this.map[c] = f ? f.name : "";
    }
    this.renderMapping();
  }

  renderMapping() {
    const { columns, rows, file } = this.sheet;
    const options = (c) => `<option value="">(not used)</option>` + this.spec.fields.map((f) => `<option value="${esc(f.name)}"${this.map[c] === f.name ? " selected" : ""}>${esc(f.label)}</option>`).join("");
    const used = new Set(Object.values(this.map).filter(Boolean));
    const unset = this.spec.fields.filter((f) => !used.has(f.name));
    $(".mapping").innerHTML = `<h2>${esc(file)}: ${rows.length} row${rows.length === 1 ? "" : "s"}</h2>` +
      `<div class="mapgrid"><table class="maptable"><thead><tr><th>Column</th><th>Row 1</th><th>Fills the setting</th></tr></thead><tbody>` +
      columns.map((c) => `<tr data-col="${esc(c)}"><td><b>${esc(c)}</b></td><td class="sample">${esc(String(rows[0]?.[c] ?? "")).slice(0, 120)}</td><td><select class="mapsel">${options(c)}</select></td></tr>`).join("") +
      `</tbody></table><div class="still"><div class="stillimg"><span class="muted">Row 1 as a still frame appears here</span></div><p class="muted small stillnote"></p></div></div>` +
      (unset.length ? `<p class="muted">Not in the sheet, so the same for every video: ${unset.map((f) => esc(f.label)).join(", ")}.</p>` : "") +
      `<div class="formacts"><button class="primary runall">▶ Make ${rows.length} video${rows.length === 1 ? "" : "s"}</button></div>`;
    $(".mapping").onchange = (e) => {
      const tr = e.target.closest("tr[data-col]");
      if (!tr) return;
      this.map[tr.dataset.col] = e.target.value;
      this.renderMapping();
    };
    $(".runall").onclick = () => this.runAll(this.mappedRows());
    this.previewRow1();
  }

  mappedRows() {
    return this.sheet.rows.map((r) => {
      const out = {};
      for (const [c, p] of Object.entries(this.map)) if (p && r[c] !== undefined && r[c] !== null && r[c] !== "") out[p] = r[c];
      return out;
    });
  }

  async previewRow1() {
    const seq = (this.stillSeq = (this.stillSeq || 0) + 1);
    const img = $(".stillimg"), note = $(".stillnote");
    note.textContent = "Drawing row 1…";
    let res;
    try {
      res = await fetch(`/api/app/${enc(this.name)}/still`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ params: this.mappedRows()[0] || {} }) });
    } catch { return; }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { note.textContent = res.status === 422 ? "This workflow has no picture to preview before it runs." : `Row 1 does not fit: ${plainError(data.error).text}`; return; }
    for (let i = 0; i < 200 && seq === this.stillSeq; i++) {
      const r = await fetch(data.url);
      if (r.status === 200) {
        img.innerHTML = `<img src="${URL.createObjectURL(await r.blob())}" alt="row 1 as a still frame">`;
        note.textContent = "Row 1, as a still frame (before anything runs)";
        return;
      }
      if (r.status !== 202) { const d = await r.json().catch(() => ({})); note.textContent = `Row 1 could not be drawn: ${plainError(d.error).text}`; return; }
      await new Promise((ok) => setTimeout(ok, 700));
    }
  }

  async runAll(rows) {
    const res = await fetch("/api/batches", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ workflow: this.name, rows, name: this.spec.title }) });
    const data = await res.json().catch(() => ({}));
    const box = $(".batchrun");
    box.hidden = false;
    if (!res.ok) {
      const problems = data.problems || data.issues || [];
      box.innerHTML = `<div class="apperror"><h2>The rows cannot be made yet</h2><p>${problems.length ? "Fix these rows in the sheet (or change which column fills which setting):" : esc(data.error || "")}</p>` +
        (problems.length ? `<ul>${problems.slice(0, 20).map((p) => `<li>${p.row ? `Row ${esc(p.row)}` : ""}${p.column ? `, column “${esc(p.column)}”` : ""}: ${esc(p.message)}</li>`).join("")}</ul>` : "") +
        `<details><summary>Technical details</summary><pre>${esc(JSON.stringify(data, null, 2))}</pre></details></div>`;
      return;
    }
    this.batch = data.batch_id;
    this.follow();
  }

  async follow() {
    const id = this.batch;
    let b;
    try { b = await getJSON(`/api/batches/${enc(id)}`); } catch { return; }
    if (id !== this.batch) return;
    this.renderGrid(b);
    const open = b.rows.some((r) => !FINAL_ROW.includes(r.status));
    if (open) setTimeout(() => this.follow(), 1200);
  }

  renderGrid(b) {
    const rows = b.rows;
    const done = rows.filter((r) => FINAL_ROW.includes(r.status)).length;
    const failed = rows.filter((r) => ["failed", "invalid", "cancelled"].includes(r.status));
    const open = done < rows.length;
    const file = (r) => (r.files || []).find((f) => /\.mp4$/i.test(f.file)) || (r.files || []).find((f) => /\.(png|jpe?g)$/i.test(f.file));
    $(".batchrun").innerHTML = `<div class="status"><div class="stext">${open ? `Making videos: ${done} of ${rows.length} done` : `All done: ${rows.length - failed.length} of ${rows.length} made`}</div>` +
      `<div class="bar"><i style="width:${Math.round((100 * done) / Math.max(1, rows.length))}%"></i></div>` +
      `<div class="formacts">${open ? `<button class="cancelall">Stop the rest</button>` : ""}${!open && failed.length ? `<button class="retry">Try the ${failed.length} failed row${failed.length > 1 ? "s" : ""} again</button>` : ""}` +
      `${done ? `<a class="button primary zip" href="/api/app/batches/${enc(b.id)}/zip" download>Download everything (ZIP)</a>` : ""}</div></div>` +
      `<table class="rowgrid"><thead><tr><th>#</th><th>Video</th><th>Name</th><th>Status</th><th>Took</th><th>Problem</th></tr></thead><tbody>` +
      rows.map((r) => {
        const f = file(r);
        const media = f ? (/\.mp4$/i.test(f.file) ? `<video src="${esc(f.url)}" preload="metadata" muted playsinline controls></video>` : `<img src="${esc(f.url)}" alt="">`) : "";
        const err = r.error ? (r.error.message || r.error.error || JSON.stringify(r.error)) : "";
        return `<tr class="st-${esc(r.status)}" data-row="${esc(r.row)}"><td>${esc(r.row)}</td><td class="rthumb">${media}</td><td>${esc(r.stem)}</td>` +
          `<td class="rstatus">${esc(ROW_WORDS[r.status] || r.status)}</td><td>${r.summary && typeof r.summary.seconds === "number" ? seconds(r.summary.seconds) : ""}</td>` +
          `<td class="rproblem">${err ? `${esc(plainError(err).text)}<details><summary>Details</summary><pre>${esc(err)}</pre></details>` : ""}</td></tr>`;
      }).join("") + `</tbody></table>`;
    const cancel = $(".cancelall");
    if (cancel) cancel.onclick = () => fetch(`/api/batches/${enc(b.id)}`, { method: "DELETE" }).then(() => this.follow());
    const retry = $(".retry");
    // failed and cancelled rows run again in this batch (one grid, one ZIP); rows that were not valid go through the sheet again
    if (retry) retry.onclick = async () => { const res = await fetch(`/api/batches/${enc(b.id)}/retry`, { method: "POST" }).catch(() => null); if (res && res.ok) this.follow(); else this.runAll(failed.map((r) => r.params)); };
  }
}

// ---------------------------------------------------------------- start
window.reelapp = { interactiveMs: 0 };
const parts = location.pathname.replace(/^\/app\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
if (!parts.length) gallery();
else if (parts[1] === "batch") {
  const view = new BatchView(parts[0]);
  window.reelapp.view = view;
  view.start();
} else {
  const view = new AppView(parts[0]);
  window.reelapp.view = view;
  view.start();
}
