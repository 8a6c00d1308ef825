// Drawing on the overlay canvas: track boxes with id, label and score, in a colour per track id.
// The canvas has the frame's pixel size; CSS scales it over the picture.

const COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe"];

export const colourOf = (id) => COLOURS[Math.abs(id) % COLOURS.length];

let showDetection = false;

/** Also draw where detection looked: motion boxes (dashed white) and inferred regions (dashed cyan). */
export function setShowDetection(on) {
  showDetection = on;
}

function drawDetectionAreas(g, canvas, msg) {
  const rect = (b) => [b[0] * canvas.width, b[1] * canvas.height, b[2] * canvas.width, b[3] * canvas.height];
  g.save();
  g.setLineDash([6, 4]);
  g.lineWidth = 1;
  g.strokeStyle = "#fff";
  for (const b of msg.motion || []) g.strokeRect(...rect(b));
  g.strokeStyle = "#00e5ff";
  g.lineWidth = 2;
  for (const b of msg.regions || []) g.strokeRect(...rect(b));
  g.restore();
}

/** Size `canvas` to `width` × `height` (only when it changes: resizing clears it). */
export function fit(canvas, width, height) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
}

/**
 * Clear the overlay and draw `msg`'s tracks (or nothing for `null`). Returns the boxes drawn, in canvas pixels
 * `[x, y, w, h]`, and records them on the canvas (`data-boxes`) with a count of drawn frames (`data-drawn`),
 * for tests and debugging.
 */
export function drawTracks(canvas, msg) {
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const boxes = [];
  if (msg && showDetection) drawDetectionAreas(g, canvas, msg);
  if (msg) {
    const lw = Math.max(2, Math.round(canvas.width / 320));
    g.lineWidth = lw;
    g.font = `${Math.max(12, Math.round(canvas.width / 48))}px system-ui, sans-serif`;
    g.textBaseline = "bottom";
    for (const t of msg.tracks) {
      const [x, y, w, h] = [t.box[0] * canvas.width, t.box[1] * canvas.height, t.box[2] * canvas.width, t.box[3] * canvas.height];
      const colour = colourOf(t.id);
      g.strokeStyle = colour;
      g.strokeRect(x, y, w, h);
      const label = `#${t.id} ${t.label} ${t.score.toFixed(2)}`;
      const tw = g.measureText(label).width + 6;
      const th = parseInt(g.font, 10) + 4;
      const ty = y - th < 0 ? y + th : y; // above the box, or inside it at the top edge
      const tx = Math.max(0, Math.min(x - lw / 2, canvas.width - tw)); // never cut off at the right edge
      g.fillStyle = colour;
      g.fillRect(tx, ty - th, tw, th);
      g.fillStyle = "#000";
      g.fillText(label, tx + 3, ty - 2);
      boxes.push([Math.round(x), Math.round(y), Math.round(w), Math.round(h)]);
    }
  }
  canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
  canvas.dataset.boxes = JSON.stringify(boxes);
  canvas.dataset.seq = msg ? String(msg.seq) : "";
  return boxes;
}
