// Overlay messages of one camera, kept by PTS and by seq, and the matching of a video frame to the message
// of the same picture. Pure (no DOM), unit-tested with `node --test` (frames.test.js).
//
// The live stream's contract: `mediaTime * timescale` of the frame on screen equals the overlay `pts`
// (rescaled to `timescale`), plus a constant `pts_offset_sec` announced in the init message.

/** The overlay message's PTS in ticks of `timescale` (exact when the clock rates agree). */
export function ticksAt(pts, timescale) {
  if (pts.clock_rate === timescale) return pts.ticks;
  return Math.round((pts.ticks / pts.clock_rate) * timescale);
}

/** The overlay PTS (in ticks of `timescale`) that belongs to the video frame shown at `mediaTimeSec`. */
export function targetTicks(mediaTimeSec, timescale, offsetSec = 0) {
  return Math.round((mediaTimeSec + offsetSec) * timescale);
}

export class FrameBuffer {
  /**
   * @param {object} options
   * @param {number} options.timescale ticks per second of the keys (the live stream's timescale)
   * @param {number} options.capacity most messages kept (oldest dropped first)
   */
  constructor({ timescale = 90000, capacity = 300 } = {}) {
    this.timescale = timescale;
    this.capacity = capacity;
    this.entries = []; // { key, msg }, sorted by key, keys unique
    this.seqs = new Map(); // seq -> msg
  }

  /** Re-key every message for another timescale (the live stream's, once its init message arrives). */
  setTimescale(timescale) {
    this.timescale = timescale;
    for (const e of this.entries) e.key = ticksAt(e.msg.pts, timescale);
    this.entries.sort((a, b) => a.key - b.key);
  }

  get size() {
    return this.entries.length;
  }

  add(msg) {
    const key = ticksAt(msg.pts, this.timescale);
    const i = this.upperBound(key); // first entry with a larger key
    if (i > 0 && this.entries[i - 1].key === key) {
      this.seqs.delete(this.entries[i - 1].msg.seq);
      this.entries[i - 1] = { key, msg };
    } else {
      this.entries.splice(i, 0, { key, msg });
    }
    this.seqs.set(msg.seq, msg);
    while (this.entries.length > this.capacity) this.seqs.delete(this.entries.shift().msg.seq);
  }

  /** Media time (seconds on the video's timeline) of the newest message, or `null` when empty. */
  newestMediaSec(offsetSec = 0) {
    if (!this.entries.length) return null;
    return this.entries[this.entries.length - 1].key / this.timescale - offsetSec;
  }

  bySeq(seq) {
    return this.seqs.get(seq);
  }

  /**
   * The message to draw over the video frame at `mediaTimeSec`:
   * `{ msg, exact: true }` when a message has that frame's PTS (±1 tick of rounding);
   * else `{ msg, exact: false }` for the latest earlier message no older than `holdSec` (frames the
   * detector skipped keep the last boxes for a moment); else `null`.
   */
  match(mediaTimeSec, offsetSec = 0, holdSec = 0) {
    const target = targetTicks(mediaTimeSec, this.timescale, offsetSec);
    const i = this.upperBound(target + 1) - 1; // last entry with key <= target + 1
    if (i < 0) return null;
    const e = this.entries[i];
    if (Math.abs(e.key - target) <= 1) return { msg: e.msg, exact: true };
    if (target - e.key <= holdSec * this.timescale) return { msg: e.msg, exact: false };
    return null;
  }

  /**
   * What to draw over the video frame at `mediaTimeSec`: `match()`, but on a frame the detector skipped each
   * box follows its track (same id): interpolated towards the next message when it has arrived, else carried
   * on at the velocity between the two previous messages (at most `maxGapSec` apart). Between analysed
   * frames a few times a second apart, boxes then stay on walking people instead of lagging behind them.
   * Stationary tracks and tracks seen once are drawn where they were.
   */
  boxesAt(mediaTimeSec, offsetSec = 0, holdSec = 0, maxGapSec = 1.5) {
    const m = this.match(mediaTimeSec, offsetSec, holdSec);
    if (!m || m.exact) return m;
    const target = targetTicks(mediaTimeSec, this.timescale, offsetSec);
    const i = this.upperBound(target + 1) - 1;
    const held = this.entries[i];
    const next = this.entries[i + 1];
    const prev = this.entries[i - 1];
    const maxGap = maxGapSec * this.timescale;
    let other = null;
    let f = 0;
    if (next && next.key - held.key <= maxGap) {
      other = next;
      f = (target - held.key) / (next.key - held.key);
    } else if (prev && held.key - prev.key <= maxGap) {
      other = prev;
      f = -(target - held.key) / (held.key - prev.key);
    }
    if (!other) return m;
    const there = new Map(other.msg.tracks.map((t) => [t.id, t]));
    const tracks = m.msg.tracks.map((t) => {
      const o = there.get(t.id);
      if (!o || t.stationary || o.stationary) return t;
      const [x, y, w, h] = t.box;
      const [ox, oy, ow, oh] = o.box;
      // Interpolating (f in 0..1 towards the next box) also blends the size; carrying on keeps it.
      const size = other === next ? [w + (ow - w) * f, h + (oh - h) * f] : [w, h];
      return { ...t, box: [x + (ox - x) * f, y + (oy - y) * f, ...size] };
    });
    return { msg: { ...m.msg, tracks }, exact: false };
  }

  /** Forget messages more than `keepSec` before the frame at `mediaTimeSec` (they can no longer be shown). */
  prune(mediaTimeSec, offsetSec = 0, keepSec = 2) {
    const oldest = targetTicks(mediaTimeSec - keepSec, this.timescale, offsetSec);
    while (this.entries.length && this.entries[0].key < oldest) this.seqs.delete(this.entries.shift().msg.seq);
  }

  upperBound(key) {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].key <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
