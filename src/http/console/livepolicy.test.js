// Unit tests of the live client's pure decisions (run: `node --test src/http/console/`).
import test from "node:test";
import assert from "node:assert/strict";
import { parseInit, liveSeek, rangesOf, targetLatency, trimSpan } from "./livepolicy.js";

test("the init message of the contract is read; a bad one names its field", () => {
  const init = parseInit('{"type":"init","mime":"video/mp4; codecs=\\"avc1.640028\\"","timescale":90000,"camera":"gate"}');
  assert.deepEqual(init, { mime: 'video/mp4; codecs="avc1.640028"', timescale: 90000, ptsOffsetSec: 0, camera: "gate" });
  assert.equal(parseInit('{"type":"init","mime":"video/mp4","timescale":90000,"pts_offset_sec":0.08}').ptsOffsetSec, 0.08);
  assert.throws(() => parseInit("{"), /not JSON/);
  assert.throws(() => parseInit('{"type":"overlay"}'), /type "init"/);
  assert.throws(() => parseInit('{"type":"init","timescale":90000}'), /"mime"/);
  assert.throws(() => parseInit('{"type":"init","mime":"video/mp4","timescale":0}'), /"timescale"/);
  assert.throws(() => parseInit('{"type":"init","mime":"video/mp4","timescale":1,"pts_offset_sec":"x"}'), /pts_offset_sec/);
});

test("TimeRanges become [start, end] pairs", () => {
  const tr = { length: 2, start: (i) => [1, 5][i], end: (i) => [2, 7][i] };
  assert.deepEqual(rangesOf(tr), [[1, 2], [5, 7]]);
});

test("the playhead jumps to the live edge when outside the buffer or too far behind", () => {
  const opts = { maxLatencySec: 1.5, targetLatencySec: 0.3 };
  assert.equal(liveSeek([], 0, opts), null);
  // The stream's timeline starts at its PTS (here 1000 s), the element at 0: seek into the buffer.
  assert.equal(liveSeek([[1000, 1000.5]], 0, opts), 1000.2);
  // Only 0.2 s buffered: the start, never before it.
  assert.equal(liveSeek([[1000, 1000.2]], 0, opts), 1000);
  // Close to the edge: leave it.
  assert.equal(liveSeek([[1000, 1010]], 1009, opts), null);
  // 4 s behind (the tab was hidden): jump.
  assert.equal(liveSeek([[1000, 1010]], 1006, opts), 1009.7);
  // A gap: the newest range counts.
  assert.equal(liveSeek([[1000, 1004], [1006, 1008]], 1003.9, opts), 1007.7);
});

test("the buffer is trimmed to a few seconds behind the playhead, in batches", () => {
  const opts = { keepSec: 4, slackSec: 4 };
  assert.equal(trimSpan([], 10, opts), null);
  assert.equal(trimSpan([[100, 107]], 106, opts), null); // 2 s beyond keep: not yet
  assert.deepEqual(trimSpan([[100, 111]], 110, opts), [100, 106]);
  assert.deepEqual(trimSpan([[90, 95], [100, 111]], 110, opts), [90, 106]);
});

test("the playhead stays behind the newest overlay message and a segment behind the end, within bounds", () => {
  const opts = { minSec: 0.3, maxSec: 3, marginSec: 0.2 };
  assert.equal(targetLatency(100, null, 0, opts), 0.3);
  // Tracks lag the video by 0.6 s: play 0.8 s behind the buffered end.
  assert.ok(Math.abs(targetLatency(100, 99.4, 0, opts) - 0.8) < 1e-9);
  // Overlay ahead of the video (a fast detector): the minimum.
  assert.equal(targetLatency(100, 100.5, 0, opts), 0.3);
  // One-second segments (a fragment per GOP): 1.2 s, even with the overlay close behind.
  assert.ok(Math.abs(targetLatency(100, 99.9, 1.0, opts) - 1.2) < 1e-9);
  // Detection stalled long ago: never more than the maximum.
  assert.equal(targetLatency(100, 50, 0, opts), 3);
});
