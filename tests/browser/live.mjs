// The console's live-video client (MSE) against the /ws/live contract, in a real browser (Debian's chromium,
// headless, playwright-core), with the server's channels replaced by a scripted peer:
//
//   node tests/browser/live.mjs <url> <fragmented mp4> <jpeg> <screenshot dir>
//
// <url> serves the console (the real embedded assets). The page's /api/cameras lists two cameras:
// - `vtest`: /ws/live/vtest sends the init message, the init segment and one media segment per second, in real
//   time, from <fragmented mp4> (ffmpeg's frag_keyframe output: a fragment per GOP), its timeline moved to start
//   at 1000 s as a camera's PTS would, and the init pair again after 3.5 s; /ws/overlay sends one message per other frame (a detector at half the frame
//   rate), 0.3 s after the frame (inference time), at 90 kHz (another clock than the video's). Checked: the video
//   plays near the live edge; at each presented video frame, the drawn overlay message is the one whose PTS is
//   that frame's media time (exact), or the previous inferred frame's (held) on frames without one; the box is
//   painted on the canvas.
// - `hevc`: its init message announces HEVC, which this chromium cannot play: the tile falls back to JPEG
//   (frame.jpg answered with <jpeg> and an increasing X-Panoptes-Seq).
// Prints `STEP <name> ok ...` and `RESULT <json>`; exits 1 naming the failed step, 2 when chromium or
// playwright-core is missing (run `make setup`).

import fs from "node:fs";
import path from "node:path";

const CHROMIUM = process.env.PANOPTES_CHROMIUM || "/usr/bin/chromium";
const OFFSET_SEC = 1000; // the stream's timeline starts here, as a camera's PTS does
const OVERLAY_RATE = 90000;
const INFERENCE_LAG_MS = 300;

const [url, mp4Path, jpegPath, screens] = process.argv.slice(2);
if (!url || !mp4Path || !jpegPath || !screens) {
  console.error("usage: node tests/browser/live.mjs <url> <fragmented mp4> <jpeg> <screenshot dir>");
  process.exit(64);
}
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  console.error(`live.mjs: playwright-core is not installed (${e.message}): run \`make setup\` (npm ci)`);
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`live.mjs: ${CHROMIUM} does not exist: run \`make setup\` (installs Debian's chromium)`);
  process.exit(2);
}
fs.mkdirSync(screens, { recursive: true });

// --- the fragmented MP4: top-level boxes → init segment + media segments -------------------------------
function boxes(buf) {
  const out = [];
  for (let i = 0; i < buf.length; ) {
    const size = buf.readUInt32BE(i);
    if (size < 8 || i + size > buf.length) throw new Error(`${mp4Path}: bad box size ${size} at ${i}`);
    out.push({ type: buf.toString("latin1", i + 4, i + 8), start: i, end: i + size });
    i += size;
  }
  return out;
}
const mp4 = fs.readFileSync(mp4Path);
const top = boxes(mp4);
const moov = top.find((b) => b.type === "moov");
if (!moov || top[0].type !== "ftyp") throw new Error(`${mp4Path}: not ftyp + moov first`);
const initSegment = mp4.subarray(0, moov.end);
const mdhd = mp4.indexOf("mdhd", moov.start, "latin1");
// After the type: version + flags (4), creation and modification times (4 or 8 each), then the timescale.
const timescale = mp4.readUInt32BE(mdhd + (mp4[mdhd + 4] === 1 ? 24 : 16));
const segments = [];
for (let i = 0; i < top.length; i++) {
  if (top[i].type !== "moof") continue;
  const seg = Buffer.from(mp4.subarray(top[i].start, top[i + 1].end)); // moof + mdat, a copy to patch
  const tfdt = seg.indexOf("tfdt", 0, "latin1");
  if (seg[tfdt + 4] !== 1) throw new Error(`${mp4Path}: expected a version-1 tfdt`);
  const base = seg.readBigUInt64BE(tfdt + 8);
  seg.writeBigUInt64BE(base + BigInt(OFFSET_SEC * timescale), tfdt + 8);
  segments.push({ data: seg, startSec: OFFSET_SEC + Number(base) / timescale });
}
const FPS = 10; // vtest
const frameSec = 1 / FPS;

// --- the scripted server -----------------------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
const timers = [];
const later = (ms, f) => timers.push(setTimeout(f, ms));

await page.route("**/api/cameras", (r) =>
  r.fulfill({ json: [{ id: "vtest", state: "streaming" }, { id: "hevc", state: "streaming" }] }));
await page.route("**/api/events?*", (r) => r.fulfill({ json: { events: [], next_after_id: null } }));
let jpegSeq = 0;
const jpeg = fs.readFileSync(jpegPath);
await page.route("**/api/cameras/hevc/frame.jpg", (r) =>
  r.fulfill({ body: jpeg, contentType: "image/jpeg", headers: { "X-Panoptes-Seq": String(++jpegSeq) } }));
await page.routeWebSocket(/\/ws\/alerts/, () => {});
await page.routeWebSocket(/\/ws\/live\/hevc/, (ws) => {
  ws.send(JSON.stringify({ type: "init", mime: 'video/mp4; codecs="hvc1.1.6.L93.B0"', timescale: 90000, camera: "hevc" }));
});
let overlay = null;
await page.routeWebSocket(/\/ws\/overlay/, (ws) => (overlay = ws));
await page.routeWebSocket(/\/ws\/live\/vtest/, (ws) => {
  const init = () => {
    ws.send(JSON.stringify({ type: "init", mime: 'video/mp4; codecs="avc1.64001f"', timescale, camera: "vtest" }));
    ws.send(initSegment);
  };
  init();
  // The server sends the init pair again when the stream's parameters change: playback goes on.
  later(3500, init);
  segments.forEach((s, k) => {
    const frames = Math.round(((segments[k + 1]?.startSec ?? s.startSec + 1) - s.startSec) / frameSec);
    // A segment leaves the camera after its last frame; each frame's tracks come after inference.
    later((k + 1) * 1000, () => ws.send(s.data));
    for (let f = 0; f < frames; f++) {
      const seq = Math.round((s.startSec - OFFSET_SEC) / frameSec) + f;
      if (seq % 2) continue; // the detector runs at half the frame rate
      const sec = OFFSET_SEC + seq * frameSec;
      const x = (seq % 60) / 80;
      later(k * 1000 + f * 100 + INFERENCE_LAG_MS, () =>
        overlay?.send(JSON.stringify({
          type: "overlay", camera: "vtest", seq, pts: { ticks: Math.round(sec * OVERLAY_RATE), clock_rate: OVERLAY_RATE },
          pts_sec: sec, wall_ms: Date.now(), width: 768, height: 576,
          tracks: [{ id: 1, class_id: 0, label: "person", score: 0.9, box: [x, 0.4, 0.08, 0.3] }],
        })));
    }
  });
});

let step = "load";
const result = { timescale, segments: segments.length };
try {
  await page.goto(`${url}/?debug`);
  await page.waitForSelector('.tile[data-camera="vtest"]', { timeout: 15000 });
  console.log("STEP load ok");

  step = "fallback";
  await page.waitForFunction(() => document.querySelector('.tile[data-camera="hevc"]').dataset.mode === "jpeg", null, { timeout: 10000 });
  result.hevc_fallback = await page.$eval('.tile[data-camera="hevc"]', (t) => t.dataset.fallback);
  if (!/cannot play/.test(result.hevc_fallback)) throw new Error(`unexpected fallback reason: ${result.hevc_fallback}`);
  await page.waitForFunction(() => Number(document.querySelector('.tile[data-camera="hevc"]').dataset.pictures) >= 3, null, { timeout: 10000 });
  console.log(`STEP fallback ok hevc: ${result.hevc_fallback}; JPEG pictures shown`);

  step = "playing";
  await page.waitForFunction(() => {
    const t = document.querySelector('.tile[data-camera="vtest"]');
    const v = t.querySelector("video");
    return t.dataset.mode === "live" && !v.paused && v.currentTime > 1001.5;
  }, null, { timeout: 20000 });
  console.log("STEP playing ok");

  step = "sync";
  // At every presented frame for 4 s (registered after the tile's callback, so it sees what the tile drew for
  // the same frame): the media time, the drawn message's seq and whether it was an exact match.
  const samples = await page.evaluate(() => new Promise((resolve) => {
    const t = document.querySelector('.tile[data-camera="vtest"]');
    const v = t.querySelector("video");
    const c = t.querySelector("canvas.overlay");
    const out = [];
    const t0 = performance.now();
    const buffer = window.panoptesConsole.tiles.get("vtest").buffer;
    const cb = (_now, meta) => {
      const frame = Math.round((meta.mediaTime - 1000) * 10);
      const boxes = JSON.parse(c.dataset.boxes || "[]");
      const painted = boxes.length > 0 && c.getContext("2d").getImageData(boxes[0][0], boxes[0][1] + (boxes[0][3] >> 1), 1, 1).data[3] > 0;
      // Whether the message this frame should draw had arrived (on a loaded machine the video can get ahead).
      const arrived = Boolean(buffer.bySeq(frame % 2 ? frame - 1 : frame));
      out.push({ mediaTime: meta.mediaTime, seq: c.dataset.seq === "" ? null : Number(c.dataset.seq), exact: c.dataset.exact, painted, arrived,
        latency: v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : null });
      if (performance.now() - t0 < 4000) v.requestVideoFrameCallback(cb);
      else resolve(out);
    };
    v.requestVideoFrameCallback(cb);
  }));
  const frameOf = (mediaTime) => Math.round((mediaTime - 1000) * 10);
  // A frame whose message had arrived draws exactly that one (held on frames without an inferred message); one
  // whose message had not arrived yet (the video got ahead of the tracks on a loaded machine) draws an older
  // message or none, never a newer one.
  const wrong = samples.filter((s) => {
    const f = frameOf(s.mediaTime);
    const want = f % 2 ? f - 1 : f;
    if (!s.arrived) return s.seq !== null && s.seq >= want;
    return s.seq !== want || s.exact !== String(f % 2 === 0) || !s.painted;
  });
  const late = samples.filter((s) => !s.arrived).length;
  result.samples = samples.length;
  result.exact = samples.filter((s) => s.exact === "true").length;
  result.late = late;
  result.max_latency_sec = Math.max(...samples.map((s) => s.latency));
  if (samples.length < 15) throw new Error(`only ${samples.length} video frames presented in 4 s`);
  if (wrong.length) throw new Error(`${wrong.length}/${samples.length} frames drew another message: ${JSON.stringify(wrong.slice(0, 5))}`);
  if (late > samples.length / 4 || result.exact < 5) {
    throw new Error(`the video ran ahead of its tracks: ${late}/${samples.length} frames before their message, ${result.exact} exact`);
  }
  await page.screenshot({ path: path.join(screens, "live-mse.png") });
  console.log(`STEP sync ok ${samples.length} frames, ${result.exact} exact PTS matches, the rest held, ${late} before their message; latency <= ${result.max_latency_sec.toFixed(2)} s`);

  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
  console.log(`RESULT ${JSON.stringify(result)}`);
} catch (e) {
  console.error(`live.mjs: step "${step}" failed: ${e.message}`);
  if (pageErrors.length) console.error(`errors in the page: ${pageErrors.join("; ")}`);
  await page.screenshot({ path: path.join(screens, "live-failure.png") }).catch(() => {});
  console.log(`RESULT ${JSON.stringify({ ...result, failed: step, error: e.message })}`);
  process.exitCode = 1;
} finally {
  timers.forEach(clearTimeout);
  await browser.close();
}
