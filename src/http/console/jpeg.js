// The fallback picture of one camera: the latest processed frame (`GET /api/cameras/{id}/frame.jpg`) fetched
// again and again; `X-Panoptes-Seq` names the frame, so the tile draws the overlay message with that seq on it.

import { request, seg, ApiError } from "./api.js";

const PERIOD_MS = 200;
const RETRY_MS = 1000;

export class JpegPlayer {
  /** `onPicture(bitmap, seq)` receives each new frame; `onStatus(text)` the reason when there is none. */
  constructor(camera, { onPicture, onStatus }) {
    this.camera = camera;
    this.onPicture = onPicture;
    this.onStatus = onStatus;
    this.stopped = false;
    this.lastSeq = null;
  }

  start() {
    this.loop();
  }

  stop() {
    this.stopped = true;
  }

  async loop() {
    while (!this.stopped) {
      let wait = PERIOD_MS;
      try {
        const resp = await request(`/api/cameras/${seg(this.camera)}/frame.jpg`);
        const seq = Number(resp.headers.get("X-Panoptes-Seq"));
        const blob = await resp.blob();
        if (seq !== this.lastSeq && !this.stopped) {
          this.lastSeq = seq;
          this.onPicture(await createImageBitmap(blob), seq);
        }
      } catch (e) {
        // 404 before the first processed frame, or the server restarting: say so and try again.
        this.onStatus(e instanceof ApiError ? e.message : `picture: ${e.message}`);
        wait = RETRY_MS;
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
