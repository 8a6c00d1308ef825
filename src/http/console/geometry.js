// Zone-editor geometry in normalised picture coordinates (x = column / width, y = row / height, 0–1):
// pointer position → point, point hit-testing, and the checks the server applies to zones and lines
// (so the editor names the problem before saving). Pure; unit-tested in geometry.test.js.

/** A pointer at `(px, py)` pixels on a `width` × `height` picture, as a normalised point (clamped, 4 decimals). */
export function normalise(px, py, width, height) {
  const clamp = (v) => Math.min(1, Math.max(0, v));
  const round = (v) => Math.round(v * 10000) / 10000;
  return [round(clamp(px / width)), round(clamp(py / height))];
}

/** Index of the point within `radiusPx` pixels of `(px, py)` (the nearest one), or -1. */
export function hitPoint(points, px, py, width, height, radiusPx = 8) {
  let best = -1;
  let bestD = radiusPx * radiusPx;
  points.forEach(([x, y], i) => {
    const d = (x * width - px) ** 2 + (y * height - py) ** 2;
    if (d <= bestD) {
      best = i;
      bestD = d;
    }
  });
  return best;
}

const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Whether segments `ab` and `cd` share a point (touching counts). */
export function segmentsIntersect(a, b, c, d) {
  const d1 = cross(c, d, a);
  const d2 = cross(c, d, b);
  const d3 = cross(a, b, c);
  const d4 = cross(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  const on = (p, q, r) =>
    Math.min(p[0], q[0]) <= r[0] && r[0] <= Math.max(p[0], q[0]) && Math.min(p[1], q[1]) <= r[1] && r[1] <= Math.max(p[1], q[1]);
  return (d1 === 0 && on(c, d, a)) || (d2 === 0 && on(c, d, b)) || (d3 === 0 && on(a, b, c)) || (d4 === 0 && on(a, b, d));
}

/** Whether the closed outline through `points` crosses itself (edges that are not neighbours meet). */
export function selfIntersects(points) {
  const n = points.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const neighbours = j === i + 1 || (i === 0 && j === n - 1);
      if (neighbours) continue;
      if (segmentsIntersect(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n])) return true;
    }
  }
  return false;
}

/** Ids the server accepts for zones, lines and rules. */
export const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** What is wrong with a zone (`kind` "zone") or line (`kind` "line") before saving, or `null`. */
export function shapeProblem(kind, id, points) {
  if (!ID_PATTERN.test(id)) return `the ${kind} id "${id}" must be letters, digits, "-" or "_"`;
  if (kind === "zone") {
    if (points.length < 3) return `a zone needs at least 3 points (it has ${points.length}): click on the picture to add them`;
    if (selfIntersects(points)) return "the zone's outline crosses itself: drag a point to untangle it";
    return null;
  }
  if (points.length !== 2) return `a line needs exactly 2 points (it has ${points.length})`;
  if (points[0][0] === points[1][0] && points[0][1] === points[1][1]) return "the line's two points are the same";
  return null;
}
