// Unit tests of the PTS matching (run: `node --test src/http/console/`; tests/web_console.rs runs them too).
import test from "node:test";
import assert from "node:assert/strict";
import { FrameBuffer, ticksAt, targetTicks } from "./frames.js";

// An overlay message at `sec` seconds on a `rate` Hz clock (the file camera of an MP4 with timescale 10240).
const msg = (seq, sec, rate = 10240) => ({ seq, pts: { ticks: Math.round(sec * rate), clock_rate: rate }, tracks: [] });

test("overlay PTS rescales to the stream's timescale", () => {
  assert.equal(ticksAt({ ticks: 15360, clock_rate: 10240 }, 90000), 135000); // 1.5 s
  assert.equal(ticksAt({ ticks: 135000, clock_rate: 90000 }, 90000), 135000);
  // A 64-bit-unwrapped RTP clock far from zero stays exact at its own rate.
  assert.equal(ticksAt({ ticks: 2 ** 40 + 7, clock_rate: 90000 }, 90000), 2 ** 40 + 7);
  assert.equal(targetTicks(1.5, 90000), 135000);
  assert.equal(targetTicks(1.4, 90000, 0.1), 135000);
});

test("the video frame at mediaTime draws the message with that PTS", () => {
  const b = new FrameBuffer({ timescale: 90000 });
  for (const [seq, sec] of [[10, 1.3], [12, 1.5], [14, 1.7]]) b.add(msg(seq, sec));
  assert.deepEqual(b.match(1.5), { msg: b.bySeq(12), exact: true });
  // currentTime as the browser reports it: not exactly representable.
  assert.equal(b.match(1.4999999).msg.seq, 12);
  assert.equal(b.match(1.5000004).exact, true);
  // A frame the detector skipped: no exact message; the previous one is held within holdSec only.
  assert.equal(b.match(1.6), null);
  assert.deepEqual(b.match(1.6, 0, 0.25), { msg: b.bySeq(12), exact: false });
  assert.equal(b.match(2.5, 0, 0.25), null);
  // Before the first message: nothing to draw.
  assert.equal(b.match(1.0, 0, 10), null);
});

test("the announced composition offset shifts the match", () => {
  const b = new FrameBuffer({ timescale: 90000 });
  b.add(msg(1, 2.0, 90000));
  assert.equal(b.match(2.0, 0.2), null);
  assert.equal(b.match(1.8, 0.2).msg.seq, 1);
});

test("messages arriving out of order are kept sorted; a repeated PTS replaces the older message", () => {
  const b = new FrameBuffer({ timescale: 1000 });
  b.add(msg(3, 0.3, 1000));
  b.add(msg(1, 0.1, 1000));
  b.add(msg(2, 0.2, 1000));
  assert.deepEqual(b.entries.map((e) => e.key), [100, 200, 300]);
  b.add(msg(4, 0.2, 1000));
  assert.equal(b.size, 3);
  assert.equal(b.match(0.2).msg.seq, 4);
  assert.equal(b.bySeq(2), undefined);
});

test("capacity and pruning forget old messages, by PTS and by seq", () => {
  const b = new FrameBuffer({ timescale: 1000, capacity: 3 });
  for (let i = 1; i <= 5; i++) b.add(msg(i, i, 1000));
  assert.deepEqual([...b.seqs.keys()].sort(), [3, 4, 5]);
  b.prune(6, 0, 1.5); // keeps pts >= 4.5 s
  assert.deepEqual(b.entries.map((e) => e.msg.seq), [5]);
  assert.equal(b.bySeq(4), undefined);
});

test("setTimescale re-keys the stored messages", () => {
  const b = new FrameBuffer({ timescale: 90000 });
  b.add(msg(1, 1.5)); // 10240 Hz clock
  b.setTimescale(10240);
  assert.equal(b.entries[0].key, 15360);
  assert.equal(b.match(1.5).msg.seq, 1);
});

test("the newest message's media time accounts for the offset", () => {
  const b = new FrameBuffer({ timescale: 90000 });
  assert.equal(b.newestMediaSec(), null);
  b.add(msg(1, 3.0, 90000));
  b.add(msg(2, 2.0, 90000));
  assert.equal(b.newestMediaSec(), 3.0);
  assert.ok(Math.abs(b.newestMediaSec(0.5) - 2.5) < 1e-9);
});

// A message at `sec` (90 kHz) with tracks `[id, x, stationary]`, each box 0.1 x 0.2 at (x, 0.5).
const withTracks = (seq, sec, tracks) => ({
  seq,
  pts: { ticks: Math.round(sec * 90000), clock_rate: 90000 },
  tracks: tracks.map(([id, x, stationary = false]) => ({ id, box: [x, 0.5, 0.1, 0.2], stationary })),
});
const xs = (m) => m.msg.tracks.map((t) => [t.id, Number(t.box[0].toFixed(6))]);

test("between analysed frames a box follows its track: towards the next message, else at its velocity", () => {
  const b = new FrameBuffer({ timescale: 90000 });
  b.add(withTracks(0, 1.0, [[1, 0.2], [2, 0.6, true], [3, 0.8]]));
  b.add(withTracks(5, 1.5, [[1, 0.3], [2, 0.6, true]]));
  // An analysed frame: its own boxes.
  assert.deepEqual(xs(b.boxesAt(1.5)), [[1, 0.3], [2, 0.6]]);
  // Halfway between: track 1 halfway; the stationary one and one the next frame lost stay put.
  assert.deepEqual(xs(b.boxesAt(1.25, 0, 1.1)), [[1, 0.25], [2, 0.6], [3, 0.8]]);
  // After the newest message: carried on at 0.2 per second.
  assert.deepEqual(xs(b.boxesAt(1.75, 0, 1.1)), [[1, 0.35], [2, 0.6]]);
  // Messages too far apart to tell a velocity: held where they were.
  const far = new FrameBuffer({ timescale: 90000 });
  far.add(withTracks(0, 1.0, [[1, 0.2]]));
  far.add(withTracks(1, 3.0, [[1, 0.9]]));
  assert.deepEqual(xs(far.boxesAt(3.5, 0, 1.1)), [[1, 0.9]]);
  // Beyond the hold, nothing; the buffered messages themselves are not changed.
  assert.equal(b.boxesAt(3.0, 0, 1.1), null);
  assert.equal(b.bySeq(5).tracks[0].box[0], 0.3);
});
