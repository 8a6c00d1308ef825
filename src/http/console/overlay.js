// One /ws/overlay connection for the whole page (every camera's tracks), handed to the camera tiles by
// camera id; reconnects with a growing delay when the server goes away.

import { wsUrl } from "./api.js";

export class OverlayFeed {
  constructor() {
    this.listeners = new Map(); // camera id -> (msg) => void
    this.delayMs = 500;
    this.connect();
  }

  /** Deliver `camera`'s overlay messages to `f` (replaces an earlier listener of that camera). */
  listen(camera, f) {
    this.listeners.set(camera, f);
  }

  unlisten(camera) {
    this.listeners.delete(camera);
  }

  connect() {
    const ws = new WebSocket(wsUrl("/ws/overlay"));
    ws.onopen = () => {
      this.delayMs = 500;
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type !== "overlay") return;
      const f = this.listeners.get(msg.camera);
      if (f) f(msg);
    };
    ws.onclose = () => {
      setTimeout(() => this.connect(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 10000);
    };
  }
}
