// One camera's tile in the grid: live video (MSE, live.js) or, when that is unavailable, the refreshed JPEG
// picture (jpeg.js), with the tracks drawn on a canvas over it. Overlay messages are kept in a FrameBuffer:
// a video frame draws the message whose PTS matches its media time; a JPEG draws the message of its seq.
// Data attributes for tests and debugging: the tile's `data-mode` (`connecting`, `live`, `jpeg`),
// `data-pictures` (pictures shown so far) and `data-fallback` (why JPEG); the overlay's `data-drawn`/`data-boxes`.

import { FrameBuffer } from "./frames.js";
import { targetLatency } from "./livepolicy.js";
import { drawTracks, fit } from "./draw.js";
import { LivePlayer } from "./live.js";
import { JpegPlayer } from "./jpeg.js";

/** Seconds a frame the detector skipped keeps the boxes of the last inferred frame: a little over the gap
 * between inferred frames at 1 detection per second, the lowest rate the demo uses. */
const HOLD_SEC = 1.1;

export class Tile {
  constructor(camera, feed, { onEditZones }) {
    this.camera = camera;
    this.feed = feed;
    this.buffer = new FrameBuffer();
    this.offsetSec = 0;
    this.pictures = 0;
    this.drawnMsg = undefined;
    this.pendingSeq = null;

    const el = document.createElement("section");
    el.className = "tile";
    el.dataset.camera = camera;
    el.innerHTML = `
      <header><h2></h2><span class="badge mode"></span><span class="badge state"></span>
        <button type="button" class="zones">Zones…</button></header>
      <div class="stage"><video muted playsinline></video><canvas class="picture"></canvas><canvas class="overlay"></canvas></div>
      <div class="meta"></div>`;
    el.querySelector("h2").textContent = camera;
    el.querySelector("button.zones").addEventListener("click", () => onEditZones(camera));
    this.el = el;
    this.video = el.querySelector("video");
    this.picture = el.querySelector("canvas.picture");
    this.overlay = el.querySelector("canvas.overlay");
    this.meta = el.querySelector(".meta");
    this.stage = el.querySelector(".stage");

    feed.listen(camera, (msg) => this.onOverlay(msg));
    this.setMode("connecting");
    this.player = new LivePlayer(this.video, camera, {
      onInit: (init) => this.onLiveInit(init),
      onFallback: (reason) => this.startJpeg(reason),
      onStatus: (text) => (this.meta.textContent = text),
      latencySec: (end, segmentSec) => targetLatency(end, this.buffer.newestMediaSec(this.offsetSec), segmentSec),
    });
    this.player.start();
  }

  setMode(mode) {
    this.mode = mode;
    this.el.dataset.mode = mode;
    this.el.querySelector(".mode").textContent = { connecting: "connecting", live: "live video", jpeg: "JPEG" }[mode];
  }

  setState(status) {
    const badge = this.el.querySelector(".state");
    badge.textContent = status.state || "";
    badge.title = status.last_error || "";
    badge.className = `badge state ${status.state || ""}`;
  }

  remove() {
    this.feed.unlisten(this.camera);
    this.player.stop();
    this.el.remove();
  }

  onOverlay(msg) {
    this.buffer.add(msg);
    if (this.mode === "jpeg" && msg.seq === this.pendingSeq) {
      this.pendingSeq = null;
      this.drawOverlay(msg);
    }
  }

  drawOverlay(msg) {
    if (msg === this.drawnMsg) return;
    this.drawnMsg = msg;
    if (msg) fit(this.overlay, msg.width, msg.height);
    drawTracks(this.overlay, msg);
    if (msg) this.meta.textContent = `seq ${msg.seq}  pts ${msg.pts_sec.toFixed(3)} s  tracks ${msg.tracks.length}`;
  }

  // --- live video -------------------------------------------------------------------------------------
  /** Each init message (again when the stream's parameters change); the first one starts the frame loop. */
  onLiveInit(init) {
    this.offsetSec = init.ptsOffsetSec;
    if (init.timescale !== this.buffer.timescale) this.buffer.setTimescale(init.timescale);
    if (this.mode === "live") return;
    this.setMode("live");
    this.picture.hidden = true;
    this.video.hidden = false;
    const onFrame = (mediaTime) => {
      if (this.mode !== "live") return;
      if (this.video.videoWidth) this.stage.style.aspectRatio = `${this.video.videoWidth} / ${this.video.videoHeight}`;
      const m = this.buffer.boxesAt(mediaTime, this.offsetSec, HOLD_SEC);
      this.drawOverlay(m ? m.msg : null);
      this.overlay.dataset.exact = m ? String(m.exact) : "";
      this.buffer.prune(mediaTime, this.offsetSec);
      this.pictures += 1;
      this.el.dataset.pictures = String(this.pictures);
    };
    if ("requestVideoFrameCallback" in this.video) {
      const loop = (_now, meta) => {
        onFrame(meta.mediaTime);
        if (this.mode === "live") this.video.requestVideoFrameCallback(loop);
      };
      this.video.requestVideoFrameCallback(loop);
    } else {
      let last = -1;
      const loop = () => {
        if (this.video.currentTime !== last) onFrame((last = this.video.currentTime));
        if (this.mode === "live") requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
    }
  }

  // --- JPEG fallback ------------------------------------------------------------------------------------
  startJpeg(reason) {
    this.setMode("jpeg");
    this.el.dataset.fallback = reason;
    this.el.querySelector(".mode").title = reason;
    this.video.hidden = true;
    this.picture.hidden = false;
    this.player = new JpegPlayer(this.camera, {
      onPicture: (bitmap, seq) => this.showPicture(bitmap, seq),
      onStatus: (text) => (this.meta.textContent = text),
    });
    this.player.start();
  }

  showPicture(bitmap, seq) {
    fit(this.picture, bitmap.width, bitmap.height);
    this.stage.style.aspectRatio = `${bitmap.width} / ${bitmap.height}`;
    this.picture.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    this.pictures += 1;
    this.el.dataset.pictures = String(this.pictures);
    this.picture.dataset.seq = String(seq);
    const msg = this.buffer.bySeq(seq);
    if (msg) {
      this.pendingSeq = null;
      this.drawOverlay(msg);
    } else {
      // The picture came before its overlay message: clear the old boxes, draw the new ones when it arrives.
      this.pendingSeq = seq;
      this.drawOverlay(null);
    }
  }
}
