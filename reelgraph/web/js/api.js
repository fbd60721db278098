// The HTTP + WebSocket API (docs/api.md). Every request is same-origin.

async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (!res.ok) {
    const err = new Error((data && data.error) || `${method} ${url}: HTTP ${res.status}`);
    err.status = res.status;
    err.data = data;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;
export const api = {
  nodes: () => call("GET", "/api/nodes"),
  types: () => call("GET", "/api/types"),
  workflows: () => call("GET", "/api/workflows"),
  workflow: (name) => call("GET", `/api/workflows/${enc(name)}`),
  template: (name) => call("GET", `/api/templates/${enc(name)}`),
  saveWorkflow: (name, doc) => call("PUT", `/api/workflows/${enc(name)}`, doc),
  deleteWorkflow: (name) => call("DELETE", `/api/workflows/${enc(name)}`),
  validate: (doc) => call("POST", "/api/workflows/validate", doc),
  queue: (body) => call("POST", "/api/runs", body),
  runs: (limit = 30) => call("GET", `/api/runs?limit=${limit}`),
  run: (id) => call("GET", `/api/runs/${enc(id)}`),
  cancel: (id) => call("POST", `/api/runs/${enc(id)}/cancel`),
  deleteRun: (id) => call("DELETE", `/api/runs/${enc(id)}`),
  uploads: () => call("GET", "/api/uploads"),
  async upload(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    const res = await fetch("/api/uploads", { method: "POST", body: form });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `upload failed: HTTP ${res.status}`);
    return data;
  },
};

/** One WebSocket to /api/ws that reconnects; JSON events and binary preview frames. */
export class Events {
  constructor(onEvent, onPreview, onState) {
    this.onEvent = onEvent;
    this.onPreview = onPreview;
    this.onState = onState || (() => {});
    this.delay = 500;
    this.connect();
  }
  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/api/ws`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => { this.delay = 500; this.onState(true); };
    ws.onclose = () => {
      this.onState(false);
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
    ws.onmessage = (m) => {
      if (typeof m.data === "string") {
        let ev;
        try { ev = JSON.parse(m.data); } catch { return; }
        this.onEvent(ev);
      } else {
        const frame = unpackFrame(m.data);
        if (frame) this.onPreview(frame.header, frame.payload);
      }
    };
  }
}

/** uint32 BE header length | JSON header | payload (server/previews.py). */
export function unpackFrame(buf) {
  if (buf.byteLength < 4) return null;
  const n = new DataView(buf).getUint32(0, false);
  try {
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    return { header, payload: new Uint8Array(buf, 4 + n) };
  } catch {
    return null;
  }
}
