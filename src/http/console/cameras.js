// Camera management: the table of cameras with their state, the form that adds one
// (`POST /api/cameras` with id, url or file, detect_fps, classes) and Remove (`DELETE /api/cameras/{id}`).

import { api, seg } from "./api.js";

export class CameraAdmin {
  /** `section`: the #cameras element; `onChanged()`: the camera set changed (the grid reloads). */
  constructor(section, { onChanged, onEditZones }) {
    this.table = section.querySelector("tbody");
    this.form = section.querySelector("form.add-camera");
    this.status = section.querySelector(".status");
    this.onChanged = onChanged;
    this.onEditZones = onEditZones;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.add();
    });
  }

  /** Fill the table from `GET /api/cameras`'s answer. */
  show(cameras) {
    this.table.replaceChildren(
      ...cameras.map((c) => {
        const tr = document.createElement("tr");
        tr.dataset.camera = c.id;
        const status = c.status || c; // the admin API nests the status; the read-only list is the status
        const source = c.url || c.file || "";
        const size = status.width ? `${status.width}×${status.height}` : "";
        for (const text of [c.id, source, status.state || "", status.codec || "", size, status.last_error || ""]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        }
        const actions = document.createElement("td");
        actions.innerHTML = `<button type="button" class="zones">Zones…</button> <button type="button" class="remove">Remove</button>`;
        actions.querySelector(".zones").addEventListener("click", () => this.onEditZones(c.id));
        actions.querySelector(".remove").addEventListener("click", () => this.remove(c.id));
        tr.appendChild(actions);
        return tr;
      }),
    );
  }

  async add() {
    const f = this.form.elements;
    const id = f.camera_id.value.trim();
    const source = f.source.value.trim();
    const body = { id, [f.source_kind.value]: source };
    if (f.detect_fps.value) body.detect_fps = Number(f.detect_fps.value);
    const classes = f.classes.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (classes.length) body.classes = classes;
    try {
      await api("/api/cameras", { method: "POST", body });
      this.status.textContent = `camera ${id} added`;
      this.form.reset();
      await this.onChanged();
    } catch (e) {
      this.status.textContent = e.message;
    }
  }

  async remove(id) {
    if (!confirm(`Remove camera ${id}? Its stored events stay.`)) return;
    try {
      await api(`/api/cameras/${seg(id)}`, { method: "DELETE" });
      this.status.textContent = `camera ${id} removed`;
      await this.onChanged();
    } catch (e) {
      this.status.textContent = e.message;
    }
  }
}
