// Node geometry and drawing constants shared by the canvas modules (editor, scene, interact).
// Node rows have fixed heights (see widgets.js and style.css), so socket positions are computed.

export const HEAD = 28;
export const PAD_T = 4;
export const PAD_B = 8;
export const NODE_W = 220;
export const GRID = 20;
export const MIN_ZOOM = 0.04;
export const MAX_ZOOM = 4;
export const READABLE_ZOOM = 0.75; // a workflow opens about this close (60-100 %, see Editor.openView), so its text reads
export const OVERSCAN = 240; // px the wire canvas reaches past the view on each side (scene.js)
export const LOD_ZOOM = 0.4; // below this, nodes are drawn on the canvas (their DOM is hidden)
// Below this, DOM nodes are shells (header, sockets' rows as bars, no widgets): widget text
// would be under 7 px. Nodes built in full earlier stay so; a zoom out past LOD_ZOOM empties them.
export const DETAIL_ZOOM = 0.55;

export const GROUP_COLORS = ["#3f6fb5", "#4b8f5a", "#a0783c", "#8e4b8a", "#a14848", "#4a8c96", "#6b6b78"];
export const NODE_COLORS = ["", "#37506e", "#3c5e45", "#6a5530", "#5b3c5a", "#6a3434", "#335c62"];

// colours come from documents anyone may share: only plain colour values reach a style attribute
export const safeColor = (c) => (typeof c === "string" && /^(#[0-9a-f]{3,8}|[a-z]{3,20}|rgba?\([\d\s.,%]+\))$/i.test(c) ? c : "");
// one link per input: the input identifies it (a key that survives HTML attribute parsing)
export const linkKey = (to, input) => JSON.stringify([to, input]);

export const STATE_COLORS = { queued: "#6b7384", running: "#6cb6ff", done: "#57ab5a", cached: "#8e9aaf", failed: "#e5534b", cancelled: "#d4a72c", skipped: null };

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

/**
 * Put a node element at world position `p`. Nodes are placed with left/top, not a transform:
 * a transform gives every node its own paint chunk, and Chromium's layerisation of 500 chunks
 * cost 30-75 ms a frame whenever the node layer was repainted.
 */
export function placeNode(el, p) {
  el.style.left = `${p[0]}px`;
  el.style.top = `${p[1]}px`;
}
