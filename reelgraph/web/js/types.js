// Socket types: colours from /api/types and the one compatibility rule set (mirrors
// engine/types.py; tests/editor/test_parity.py checks every pair of types against it).

export const typeInfo = { colors: {} };

export function setTypes(doc) {
  for (const [name, t] of Object.entries(doc.types || {})) typeInfo.colors[name] = t.color;
}

const LIST = /^list\[(.*)\]$/;
export const elementType = (t) => (LIST.exec(t) || [])[1] || null;

/** "yes" | "widen" | "map" | "wrap" | "no": can an output of type `src` feed an input of type `dst`? */
export function compatibility(src, dst) {
  if (src === dst) return "yes";
  if (src === "ANY" || dst === "ANY") return "yes";
  const s = elementType(src), d = elementType(dst);
  if (s && d) return ["yes", "widen"].includes(compatibility(s, d)) ? "yes" : "no";
  if (s) return ["yes", "widen"].includes(compatibility(s, dst)) ? "map" : "no";
  if (d) return ["yes", "widen"].includes(compatibility(src, d)) ? "wrap" : "no";
  if (src === "INT" && dst === "FLOAT") return "widen";
  return "no";
}
export const canConnect = (src, dst) => compatibility(src, dst) !== "no";

export function typeColor(t) {
  const base = elementType(t) || t;
  return typeInfo.colors[base] || typeInfo.colors[t] || "#9aa0a6";
}
