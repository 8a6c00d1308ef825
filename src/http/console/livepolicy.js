// Decisions of the live-video (MSE) client that need no browser: reading the init message, when to jump to
// the live edge, what to remove from the SourceBuffer. Unit-tested with `node --test` (livepolicy.test.js).

/** The first text message of /ws/live/{camera}; throws an Error naming the bad field. */
export function parseInit(text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`live stream: the init message is not JSON (${e.message})`);
  }
  if (m === null || typeof m !== "object" || m.type !== "init") {
    throw new Error(`live stream: expected a message of type "init", got ${JSON.stringify(m && m.type)}`);
  }
  if (typeof m.mime !== "string" || !m.mime.startsWith("video/")) {
    throw new Error(`live stream: init field "mime" must be a video MIME type, got ${JSON.stringify(m.mime)}`);
  }
  if (!Number.isInteger(m.timescale) || m.timescale <= 0) {
    throw new Error(`live stream: init field "timescale" must be a positive integer, got ${JSON.stringify(m.timescale)}`);
  }
  const offset = m.pts_offset_sec ?? 0;
  if (typeof offset !== "number" || !Number.isFinite(offset)) {
    throw new Error(`live stream: init field "pts_offset_sec" must be a number, got ${JSON.stringify(offset)}`);
  }
  return { mime: m.mime, timescale: m.timescale, ptsOffsetSec: offset, camera: m.camera ?? null };
}

/** `TimeRanges` as an array of `[start, end]`. */
export function rangesOf(timeRanges) {
  const out = [];
  for (let i = 0; i < timeRanges.length; i++) out.push([timeRanges.start(i), timeRanges.end(i)]);
  return out;
}

/**
 * Where to seek so that the video plays near the live edge, or `null` to leave it: when the playhead is
 * outside the newest buffered range (the stream's timeline starts far from 0, or a gap opened), or more than
 * `maxLatencySec` behind its end, seek to `targetLatencySec` before the end.
 */
export function liveSeek(ranges, currentTime, { maxLatencySec = 1.5, targetLatencySec = 0.3 } = {}) {
  if (ranges.length === 0) return null;
  const [start, end] = ranges[ranges.length - 1];
  const inside = currentTime >= start && currentTime <= end;
  if (inside && end - currentTime <= maxLatencySec) return null;
  return Math.max(start, end - targetLatencySec);
}

/**
 * The span to remove from the SourceBuffer to keep it short: everything older than `keepSec` behind the
 * playhead, once more than `slackSec` beyond that has built up (so removals are few), or `null`.
 */
export function trimSpan(ranges, currentTime, { keepSec = 4, slackSec = 4 } = {}) {
  if (ranges.length === 0) return null;
  const start = ranges[0][0];
  const cut = currentTime - keepSec;
  if (cut - start < slackSec) return null;
  return [start, cut];
}

/**
 * How far behind the newest buffered video to play. Two things set it: the overlay comes after inference,
 * later than the video, and the tracks of the frame on screen must have arrived (`overlaySec`: media time of
 * the newest overlay message, `null`: none yet); and video arrives a segment at a time, so the playhead must
 * stay a segment (`segmentSec`, the last segment's duration) behind the end not to stall. Bounded by
 * `minSec`..`maxSec`, with `marginSec` to spare.
 */
export function targetLatency(bufferEndSec, overlaySec, segmentSec = 0, { minSec = 0.3, maxSec = 3, marginSec = 0.2 } = {}) {
  const forSegments = segmentSec + marginSec;
  const forOverlay = overlaySec === null ? 0 : bufferEndSec - overlaySec + marginSec;
  return Math.min(maxSec, Math.max(minSec, forSegments, forOverlay));
}
