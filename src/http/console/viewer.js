// The event viewer (a <dialog>): the event's snapshot, its clip positioned at the triggering frame
// (`GET /api/events/{id}/clip.json` → `url` and `offset_sec`; the clip fetched with the token and played from
// memory, `video.currentTime = offset_sec` shows that frame), the event's fields, Acknowledge, and Export
// evidence (`POST /api/exports` for this event: a signed zip, downloaded; `panoptes verify` checks it).

import { api, request, withToken, seg, ApiError } from "./api.js";

export class EventViewer {
  constructor(dialog) {
    this.dialog = dialog;
    this.snapshot = dialog.querySelector("img.snapshot");
    this.video = dialog.querySelector("video.clip");
    this.clipNote = dialog.querySelector(".clip-note");
    this.fields = dialog.querySelector(".fields");
    this.status = dialog.querySelector(".status");
    dialog.querySelector("button.close").addEventListener("click", () => this.close());
    dialog.querySelector("button.ack").addEventListener("click", () => this.ack());
    dialog.querySelector("button.export").addEventListener("click", () => this.exportEvidence());
    dialog.addEventListener("close", () => this.video.pause());
  }

  async open(event) {
    this.event = event;
    this.dialog.dataset.eventId = String(event.id);
    this.dialog.querySelector("h2").textContent = `Event ${event.id}: ${event.kind} ${event.state}`;
    this.status.textContent = "";
    this.snapshot.hidden = !event.snapshot_url;
    if (event.snapshot_url) this.snapshot.src = withToken(`/api/events/${seg(event.id)}/snapshot.jpg`);
    this.fields.textContent = JSON.stringify(
      { camera: event.camera, rule: event.rule, track: event.track_id, class: event.class, confidence: event.confidence,
        time: new Date(event.wall_ms).toISOString(), pts_sec: event.pts_sec, details: event.details },
      null, 1);
    this.video.hidden = true;
    this.video.removeAttribute("src");
    this.clipNote.textContent = "loading the clip…";
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const clip = await api(`/api/events/${seg(event.id)}/clip.json`);
      if (this.event !== event) return;
      // Fetched whole (an event clip is short) and played from memory: seekable to the frame whatever the
      // server's Range support, and the token stays out of the media URL.
      const blob = await (await request(clip.url)).blob();
      if (this.event !== event) return;
      this.video.hidden = false;
      this.clipNote.textContent = `clip: the triggering frame is at ${clip.offset_sec.toFixed(2)} s`;
      this.video.dataset.offset = String(clip.offset_sec);
      this.video.addEventListener("loadedmetadata", () => (this.video.currentTime = clip.offset_sec), { once: true });
      if (this.clipUrl) URL.revokeObjectURL(this.clipUrl);
      this.clipUrl = URL.createObjectURL(blob);
      this.video.src = this.clipUrl;
    } catch (e) {
      if (this.event !== event) return;
      this.clipNote.textContent =
        e instanceof ApiError && e.status === 404 ? "no clip recorded for this event" : `clip: ${e.message}`;
    }
  }

  async ack() {
    try {
      await api(`/api/events/${seg(this.event.id)}/ack`, { method: "POST" });
      this.status.textContent = "acknowledged";
    } catch (e) {
      this.status.textContent = e.message;
    }
  }

  async exportEvidence() {
    const id = this.event.id;
    this.status.textContent = "exporting…";
    try {
      const resp = await request("/api/exports", { method: "POST", body: { events: [id] } });
      const url = URL.createObjectURL(await resp.blob());
      const a = Object.assign(document.createElement("a"), { href: url, download: `panoptes-event-${id}.zip` });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      this.status.textContent = `exported event ${id} (check it with: panoptes verify panoptes-event-${id}.zip)`;
    } catch (e) {
      this.status.textContent = e.message;
    }
  }

  close() {
    this.dialog.close();
  }
}
