// Workflows embedded in outputs: PNG iTXt/tEXt chunk and MP4 metadata, both keyed "reelgraph.workflow".

export const WORKFLOW_KEY = "reelgraph.workflow";
const utf8 = new TextDecoder();
const latin1 = new TextDecoder("latin1");

/** The workflow JSON embedded in a PNG (bytes: Uint8Array), or null. */
export function workflowFromPNG(bytes) {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  while (off + 8 <= bytes.length) {
    const len = dv.getUint32(off);
    const kind = latin1.decode(bytes.subarray(off + 4, off + 8));
    const data = bytes.subarray(off + 8, off + 8 + len);
    if (kind === "iTXt" || kind === "tEXt") {
      const z = data.indexOf(0);
      const key = latin1.decode(data.subarray(0, z));
      if (key === WORKFLOW_KEY) {
        let text;
        if (kind === "tEXt") text = latin1.decode(data.subarray(z + 1));
        else {
          // keyword\0 compression-flag compression-method language\0 translated\0 text
          if (data[z + 1] !== 0) return null; // compressed iTXt: not written by reelgraph
          let p = z + 3;
          p = data.indexOf(0, p) + 1; // language tag
          p = data.indexOf(0, p) + 1; // translated keyword
          text = utf8.decode(data.subarray(p));
        }
        return JSON.parse(text);
      }
    }
    if (kind === "IEND") break;
    off += 12 + len;
  }
  return null;
}

const CONTAINERS = new Set(["moov", "udta", "meta", "ilst", "trak", "mdia", "minf"]);

function boxes(bytes, start, end) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let off = start;
  while (off + 8 <= end) {
    let size = dv.getUint32(off);
    const type = latin1.decode(bytes.subarray(off + 4, off + 8));
    let head = 8;
    if (size === 1) { size = Number(dv.getBigUint64(off + 8)); head = 16; }
    else if (size === 0) size = end - off;
    if (size < head || off + size > end) break;
    out.push({ type, start: off, head, end: off + size });
    off += size;
  }
  return out;
}

/** Metadata key -> string from an MP4's moov box (bytes of the moov box itself). */
export function mp4Metadata(moov) {
  const found = {};
  const walk = (start, end) => {
    for (const b of boxes(moov, start, end)) {
      if (b.type === "meta") {
        // ISO 'meta' is a full box (4 bytes version/flags); QuickTime's is not.
        const peek = latin1.decode(moov.subarray(b.start + b.head + 4, b.start + b.head + 8));
        const inner = peek === "hdlr" ? b.start + b.head : b.start + b.head + 4;
        readMeta(inner, b.end);
      } else if (CONTAINERS.has(b.type)) walk(b.start + b.head, b.end);
    }
  };
  const readMeta = (start, end) => {
    const kids = boxes(moov, start, end);
    const keys = [];
    const dv = new DataView(moov.buffer, moov.byteOffset, moov.byteLength);
    const k = kids.find((x) => x.type === "keys");
    if (k) {
      const count = dv.getUint32(k.start + k.head + 4);
      let p = k.start + k.head + 8;
      for (let i = 0; i < count && p + 8 <= k.end; i++) {
        const size = dv.getUint32(p);
        keys.push(utf8.decode(moov.subarray(p + 8, p + size)));
        p += size;
      }
    }
    const ilst = kids.find((x) => x.type === "ilst");
    if (!ilst) return;
    for (const item of boxes(moov, ilst.start + ilst.head, ilst.end)) {
      const index = dv.getUint32(item.start + 4);
      let name = keys.length && index >= 1 && index <= keys.length ? keys[index - 1] : item.type;
      for (const d of boxes(moov, item.start + item.head, item.end)) {
        if (d.type === "data") found[name] = utf8.decode(moov.subarray(d.start + d.head + 8, d.end));
        if (d.type === "name") name = utf8.decode(moov.subarray(d.start + d.head + 4, d.end));
      }
    }
  };
  walk(0, moov.length);
  return found;
}

/** The workflow embedded in an MP4 File/Blob (reads only the top-level box headers and moov). */
export async function workflowFromMP4(file) {
  let off = 0;
  for (let guard = 0; guard < 64 && off + 8 <= file.size; guard++) {
    const head = new Uint8Array(await file.slice(off, off + 16).arrayBuffer());
    const dv = new DataView(head.buffer);
    let size = dv.getUint32(0);
    const type = latin1.decode(head.subarray(4, 8));
    if (size === 1) size = Number(dv.getBigUint64(8));
    else if (size === 0) size = file.size - off;
    if (size < 8) return null;
    if (type === "moov") {
      const moov = new Uint8Array(await file.slice(off, off + size).arrayBuffer());
      const meta = mp4Metadata(moov);
      const text = meta[WORKFLOW_KEY];
      return text ? JSON.parse(text) : null;
    }
    off += size;
  }
  return null;
}

/** A dropped or imported file -> {doc} or {error}. */
export async function workflowFromFile(file) {
  const name = file.name.toLowerCase();
  try {
    if (name.endsWith(".json") || file.type === "application/json") {
      return { doc: JSON.parse(await file.text()) };
    }
    const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
    if (head[0] === 137 && head[1] === 80) {
      const doc = workflowFromPNG(new Uint8Array(await file.arrayBuffer()));
      return doc ? { doc } : { error: `${file.name} carries no reelgraph workflow` };
    }
    if (latin1.decode(head.subarray(4, 8)) === "ftyp") {
      const doc = await workflowFromMP4(file);
      return doc ? { doc } : { error: `${file.name} carries no reelgraph workflow` };
    }
    return { doc: JSON.parse(await file.text()) };
  } catch (e) {
    return { error: `cannot read ${file.name}: ${e.message}` };
  }
}
