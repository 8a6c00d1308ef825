// The live video of one camera through Media Source Extensions, per the /ws/live/{camera} contract
// (docs/api.md): a text init message (MIME with the codec, timescale, optional pts_offset_sec), then the init
// segment (ftyp + moov), then one media segment (moof + mdat) per binary message, the first from a key frame;
// the init pair comes again when the stream's parameters change.
// Segments are appended through a queue (a SourceBuffer takes one append at a time); the buffer is trimmed to
// a few seconds and the playhead kept near the live edge. When the channel is refused (no live video on this
// server, unknown camera) or the browser cannot play the codec, `onFallback(reason)` hands over to the JPEG
// picture.

import { wsUrl, seg } from "./api.js";
import { parseInit, liveSeek, rangesOf, trimSpan } from "./livepolicy.js";

/** Most queued segments before giving up on catching up and restarting from the next key frame. */
const MAX_QUEUE = 60;
/** Reconnections after a lost stream before falling back to JPEG. */
const MAX_RETRIES = 3;

export class LivePlayer {
  /**
   * @param {HTMLVideoElement} video
   * @param {string} camera
   * @param {{onInit: (init) => void, onFallback: (reason: string) => void, onStatus: (text: string) => void,
   *          latencySec: (bufferEndSec: number, segmentSec: number) => number}} hooks  latencySec: how far
   *          behind the buffered end to play, given the last segment's duration
   */
  constructor(video, camera, hooks) {
    this.video = video;
    this.camera = camera;
    this.hooks = hooks;
    this.retries = 0;
    this.stopped = false;
  }

  start() {
    if (typeof MediaSource === "undefined") {
      this.hooks.onFallback("this browser has no Media Source Extensions");
      return;
    }
    this.open();
  }

  stop() {
    this.stopped = true;
    this.teardown();
  }

  open() {
    this.queue = [];
    this.init = null;
    this.sourceBuffer = null;
    this.lastEnd = null;
    this.segmentSec = 0;
    const ws = new WebSocket(wsUrl(`/ws/live/${seg(this.camera)}`));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (e) => (typeof e.data === "string" ? this.onText(e.data) : this.onSegment(e.data));
    ws.onclose = () => this.onClose(ws);
  }

  onText(text) {
    let init;
    try {
      init = parseInit(text);
    } catch (e) {
      this.fallback(e.message);
      return;
    }
    if (!MediaSource.isTypeSupported(init.mime)) {
      this.fallback(`this browser cannot play ${init.mime}`);
      return;
    }
    if (this.init) {
      // The stream's parameters changed: a new init segment follows (appended like any segment); a new codec
      // first switches the SourceBuffer, in queue order.
      if (init.mime !== this.init.mime) this.queue.push({ changeType: init.mime });
      this.init = init;
      this.hooks.onInit(init);
      return;
    }
    this.init = init;
    this.retries = 0;
    this.hooks.onInit(init);
    const ms = new MediaSource();
    this.mediaSource = ms;
    this.objectUrl = URL.createObjectURL(ms);
    this.video.src = this.objectUrl;
    ms.addEventListener(
      "sourceopen",
      () => {
        if (ms !== this.mediaSource) return;
        this.sourceBuffer = ms.addSourceBuffer(init.mime);
        this.sourceBuffer.addEventListener("updateend", () => this.pump());
        this.sourceBuffer.addEventListener("error", () => this.restart("the browser rejected a video segment"));
        this.pump();
      },
      { once: true },
    );
  }

  onSegment(data) {
    if (!this.init) return; // binary before init: not per contract, ignore
    this.queue.push(data);
    if (this.queue.length > MAX_QUEUE) {
      this.restart("fell behind the live stream");
      return;
    }
    this.pump();
  }

  /** Append the next queued segment, or trim the buffer, when the SourceBuffer is idle. */
  pump() {
    const sb = this.sourceBuffer;
    if (!sb || sb.updating || this.mediaSource.readyState !== "open") return;
    const ranges = rangesOf(sb.buffered);
    const end = ranges.length ? ranges[ranges.length - 1][1] : null;
    if (end !== null && this.lastEnd !== null && end > this.lastEnd) this.segmentSec = end - this.lastEnd;
    this.lastEnd = end;
    const latency = end === null ? 0 : this.hooks.latencySec(end, this.segmentSec);
    const seekTo = liveSeek(ranges, this.video.currentTime, { maxLatencySec: latency + 1.2, targetLatencySec: latency });
    if (seekTo !== null) this.video.currentTime = seekTo;
    if (this.video.paused && ranges.length) this.video.play().catch(() => {});
    const trim = trimSpan(ranges, this.video.currentTime);
    if (trim) {
      sb.remove(trim[0], trim[1]);
      return;
    }
    if (!this.queue.length) return;
    try {
      const next = this.queue[0];
      if (next.changeType) {
        if (typeof sb.changeType !== "function") throw new Error(`cannot switch this browser's video to ${next.changeType}`);
        sb.changeType(next.changeType);
        this.queue.shift();
        this.pump();
        return;
      }
      sb.appendBuffer(next);
      this.queue.shift();
    } catch (e) {
      // QuotaExceededError: the buffer is full; drop what is behind the playhead and try again.
      if (e.name === "QuotaExceededError" && ranges.length && this.video.currentTime - 1 > ranges[0][0]) {
        sb.remove(ranges[0][0], this.video.currentTime - 1);
      } else {
        this.restart(`appending a segment failed: ${e.message}`);
      }
    }
  }

  onClose(ws) {
    if (ws !== this.ws || this.stopped) return;
    if (!this.init) {
      // Refused before any init message (404: no live video for this camera, or connection refused).
      this.fallback(`no live video stream at /ws/live/${this.camera}`);
      return;
    }
    this.restart("the live stream closed");
  }

  restart(reason) {
    if (this.stopped) return;
    this.teardown();
    this.retries += 1;
    if (this.retries > MAX_RETRIES) {
      this.fallback(`${reason} (${MAX_RETRIES} retries)`);
      return;
    }
    this.hooks.onStatus(`${reason}; reconnecting`);
    setTimeout(() => !this.stopped && this.open(), 500 * this.retries);
  }

  fallback(reason) {
    this.stopped = true;
    this.teardown();
    this.hooks.onFallback(reason);
  }

  teardown() {
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.onmessage = null;
      this.ws.close();
      this.ws = null;
    }
    if (this.objectUrl) {
      this.video.removeAttribute("src");
      this.video.load();
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }
    this.mediaSource = null;
    this.sourceBuffer = null;
    this.queue = [];
  }
}
