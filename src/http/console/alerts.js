// The alerts list: recent stored events (GET /api/events, the last hour) then the live feed of /ws/alerts,
// resumed with `after=<last id seen>` so a reconnect misses nothing. Newest first, with the snapshot as a
// thumbnail; clicking an event opens the event viewer (snapshot, and the clip at the triggering frame).

import { api, wsUrl, withToken, seg } from "./api.js";

const MAX_ITEMS = 200;
const HISTORY_MS = 3600 * 1000;
const HISTORY_PAGES = 5;

export class AlertList {
  /** `list`: the <ol> to fill; `onOpen(event)`: an event was clicked. */
  constructor(list, { onOpen }) {
    this.list = list;
    this.onOpen = onOpen;
    this.lastId = null;
    this.delayMs = 500;
  }

  async start() {
    try {
      await this.loadHistory();
    } catch (e) {
      this.note(`recent events: ${e.message}`);
    }
    this.connect();
  }

  async loadHistory() {
    let after = null;
    const since = Date.now() - HISTORY_MS;
    for (let page = 0; page < HISTORY_PAGES; page++) {
      const q = `since_ms=${since}&limit=1000${after === null ? "" : `&after_id=${after}`}`;
      const { events, next_after_id: next } = await api(`/api/events?${q}`);
      events.forEach((e) => this.add(e));
      if (next === null || next === undefined) break;
      after = next;
    }
  }

  connect() {
    const query = this.lastId === null ? "" : `?after=${this.lastId}`;
    const ws = new WebSocket(wsUrl(`/ws/alerts${query}`));
    ws.onopen = () => {
      this.delayMs = 500;
      this.list.dataset.connected = "true";
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "event") this.add(msg);
      else if (msg.type === "error") this.note(`alerts: ${msg.error}`);
    };
    ws.onclose = () => {
      this.list.dataset.connected = "false";
      setTimeout(() => this.connect(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 10000);
    };
  }

  note(text) {
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = text;
    this.list.prepend(li);
  }

  add(event) {
    if (this.lastId !== null && event.id <= this.lastId) return; // already listed
    this.lastId = event.id;
    const li = document.createElement("li");
    li.className = `event ${event.state}`;
    li.dataset.eventId = String(event.id);
    li.dataset.rule = event.rule;
    li.dataset.camera = event.camera;
    li.tabIndex = 0;
    const thumb = event.snapshot_url
      ? `<img class="thumb" loading="lazy" alt="snapshot of event ${event.id}">`
      : `<div class="thumb none">no snapshot</div>`;
    li.innerHTML = `${thumb}<div class="what"><b></b> <span class="state"></span><br><span class="where"></span><br><time></time></div>`;
    if (event.snapshot_url) li.querySelector("img").src = withToken(`/api/events/${seg(event.id)}/snapshot.jpg`);
    li.querySelector("b").textContent = event.kind.replace("_", " ");
    li.querySelector(".state").textContent = event.state;
    const who = event.class ? ` · ${event.class}${event.track_id !== null ? ` #${event.track_id}` : ""}` : "";
    li.querySelector(".where").textContent = `${event.camera} · ${event.rule}${who}`;
    const t = li.querySelector("time");
    t.dateTime = new Date(event.wall_ms).toISOString();
    t.textContent = new Date(event.wall_ms).toLocaleTimeString();
    const open = () => this.onOpen(event);
    li.addEventListener("click", open);
    li.addEventListener("keydown", (e) => e.key === "Enter" && open());
    this.list.prepend(li);
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild.remove();
  }
}
