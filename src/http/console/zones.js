// The zone editor (a <dialog>) on a camera's picture: draw a polygon (zone) or a two-point line, with
// normalised coordinates; click adds a point, dragging moves one, right-click deletes one. Save sends
// `PUT /api/cameras/{id}/zones/{zone}` (or `/lines/{line}`) and, when asked, the rule watching it:
// `PUT /api/cameras/{id}/rules/{rule}` (intrusion for a zone, line_crossing for a line).

import { api, request, seg } from "./api.js";
import { normalise, hitPoint, shapeProblem } from "./geometry.js";

const EDIT_WIDTH = 960;
const HIT_RADIUS_CSS_PX = 10;

export class ZoneEditor {
  constructor(dialog) {
    this.dialog = dialog;
    this.canvas = dialog.querySelector("canvas.zone-canvas");
    this.form = dialog.querySelector("form.zone-form");
    this.status = dialog.querySelector(".status");
    this.points = [];
    this.dragging = -1;
    this.existing = { zones: [], lines: [], rules: [] };

    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.pointerDown(e));
    c.addEventListener("pointermove", (e) => this.pointerMove(e));
    c.addEventListener("pointerup", () => (this.dragging = -1));
    c.addEventListener("contextmenu", (e) => this.removePoint(e));
    this.form.elements.shape.addEventListener("change", () => this.selectShape(this.form.elements.shape.value));
    this.form.elements.kind.forEach((r) => r.addEventListener("change", () => this.kindChanged()));
    this.form.elements.shape_id.addEventListener("input", () => this.updateRuleId());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    dialog.querySelector("button.clear").addEventListener("click", () => {
      this.points = [];
      this.render();
    });
    dialog.querySelector("button.delete").addEventListener("click", () => this.deleteShape());
    dialog.querySelector("button.close").addEventListener("click", () => dialog.close());
  }

  get kind() {
    return this.form.elements.kind.value; // "zone" | "line"
  }

  async open(camera) {
    this.camera = camera;
    this.dialog.querySelector(".camera").textContent = camera;
    this.dialog.dataset.camera = camera;
    delete this.dialog.dataset.saved;
    this.say("");
    this.selectShape("new:zone");
    if (!this.dialog.open) this.dialog.showModal();
    await Promise.all([this.loadPicture(), this.loadExisting()]);
    this.render();
    this.dialog.dataset.ready = "true";
  }

  async loadPicture() {
    this.bitmap = null;
    try {
      const resp = await request(`/api/cameras/${seg(this.camera)}/frame.jpg`);
      this.bitmap = await createImageBitmap(await resp.blob());
      this.canvas.width = EDIT_WIDTH;
      this.canvas.height = Math.round((EDIT_WIDTH * this.bitmap.height) / this.bitmap.width);
    } catch (e) {
      this.canvas.width = EDIT_WIDTH;
      this.canvas.height = Math.round((EDIT_WIDTH * 9) / 16);
      this.say(`no picture yet (${e.message}); you can still draw`);
    }
  }

  async loadExisting() {
    try {
      const cam = await api(`/api/cameras/${seg(this.camera)}`);
      this.existing = { zones: cam.zones || [], lines: cam.lines || [], rules: cam.rules || [] };
    } catch (e) {
      this.existing = { zones: [], lines: [], rules: [] };
      this.say(`existing zones could not be read: ${e.message}`);
    }
    const select = this.form.elements.shape;
    select.innerHTML = `<option value="new:zone">new zone</option><option value="new:line">new line</option>`;
    for (const z of this.existing.zones) select.add(new Option(`zone ${z.id}`, `zone:${z.id}`));
    for (const l of this.existing.lines) select.add(new Option(`line ${l.id}`, `line:${l.id}`));
  }

  /** `new:zone`, `new:line`, `zone:<id>` or `line:<id>`. */
  selectShape(value) {
    const [what, id] = value.split(/:(.*)/s);
    this.form.elements.shape.value = value;
    if (what === "new") {
      this.form.elements.kind.value = id;
      this.form.elements.shape_id.value = "";
      this.form.elements.shape_id.readOnly = false;
      this.points = [];
      this.form.elements.rule.checked = true;
      this.form.elements.classes.value = "person";
    } else {
      const shape = (what === "zone" ? this.existing.zones : this.existing.lines).find((s) => s.id === id);
      this.form.elements.kind.value = what;
      this.form.elements.shape_id.value = id;
      this.form.elements.shape_id.readOnly = true;
      this.points = (what === "zone" ? shape.polygon : shape.points).map((p) => [...p]);
      const rule = this.ruleOf(what, id);
      this.form.elements.rule.checked = Boolean(rule);
      this.form.elements.classes.value = rule ? (rule.classes || []).join(", ") : "person";
    }
    this.kindChanged();
  }

  has(kind, id) {
    return (kind === "zone" ? this.existing.zones : this.existing.lines).some((s) => s.id === id);
  }

  ruleOf(kind, id) {
    const want = kind === "zone" ? "intrusion" : "line_crossing";
    return this.existing.rules.find((r) => r.kind === want && (kind === "zone" ? r.zone === id : r.line === id));
  }

  kindChanged() {
    this.dialog.querySelector(".rule-kind").textContent = this.kind === "zone" ? "intrusion" : "line crossing";
    if (this.kind === "line" && this.points.length > 2) this.points = this.points.slice(0, 2);
    this.updateRuleId();
    this.render();
  }

  updateRuleId() {
    const id = this.form.elements.shape_id.value.trim();
    const existing = this.ruleOf(this.kind, id);
    this.form.elements.rule_id.value = existing ? existing.id : `${id || this.kind}-${this.kind === "zone" ? "intrusion" : "crossing"}`;
  }

  // --- pointer ------------------------------------------------------------------------------------------
  canvasPoint(e) {
    const r = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / r.width;
    return { x: (e.clientX - r.left) * scale, y: (e.clientY - r.top) * scale, radius: HIT_RADIUS_CSS_PX * scale };
  }

  pointerDown(e) {
    if (e.button !== 0) return;
    const { x, y, radius } = this.canvasPoint(e);
    const hit = hitPoint(this.points, x, y, this.canvas.width, this.canvas.height, radius);
    if (hit >= 0) {
      this.dragging = hit;
      this.canvas.setPointerCapture(e.pointerId);
      return;
    }
    if (this.kind === "line" && this.points.length >= 2) {
      this.say("a line has two points: drag them, or Clear to start again");
      return;
    }
    this.points.push(normalise(x, y, this.canvas.width, this.canvas.height));
    this.render();
  }

  pointerMove(e) {
    if (this.dragging < 0) return;
    const { x, y } = this.canvasPoint(e);
    this.points[this.dragging] = normalise(x, y, this.canvas.width, this.canvas.height);
    this.render();
  }

  removePoint(e) {
    e.preventDefault();
    const { x, y, radius } = this.canvasPoint(e);
    const hit = hitPoint(this.points, x, y, this.canvas.width, this.canvas.height, radius);
    if (hit >= 0) {
      this.points.splice(hit, 1);
      this.render();
    }
  }

  // --- drawing ------------------------------------------------------------------------------------------
  render() {
    const c = this.canvas;
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (this.bitmap) g.drawImage(this.bitmap, 0, 0, c.width, c.height);
    else {
      g.fillStyle = "#222";
      g.fillRect(0, 0, c.width, c.height);
    }
    const px = ([x, y]) => [x * c.width, y * c.height];
    const path = (pts, closed) => {
      g.beginPath();
      pts.forEach((p, i) => (i ? g.lineTo(...px(p)) : g.moveTo(...px(p))));
      if (closed) g.closePath();
    };
    g.font = "16px system-ui, sans-serif";
    // The other shapes, for reference.
    const [editKind, editId] = this.form.elements.shape.value.split(/:(.*)/s);
    g.setLineDash([6, 4]);
    g.lineWidth = 2;
    g.strokeStyle = g.fillStyle = "rgba(200, 200, 200, 0.9)";
    for (const z of this.existing.zones) {
      if (editKind === "zone" && z.id === editId) continue;
      path(z.polygon, true);
      g.stroke();
      g.fillText(z.id, ...px(z.polygon[0]));
    }
    for (const l of this.existing.lines) {
      if (editKind === "line" && l.id === editId) continue;
      path(l.points, false);
      g.stroke();
      g.fillText(l.id, ...px(l.points[0]));
    }
    g.setLineDash([]);
    // The shape being edited.
    if (this.points.length) {
      g.lineWidth = 3;
      g.strokeStyle = "#ffd400";
      path(this.points, this.kind === "zone");
      if (this.kind === "zone" && this.points.length >= 3) {
        g.fillStyle = "rgba(255, 212, 0, 0.2)";
        g.fill();
      }
      g.stroke();
      for (const p of this.points) {
        g.beginPath();
        g.arc(...px(p), 6, 0, 2 * Math.PI);
        g.fillStyle = "#ffd400";
        g.fill();
      }
      if (this.kind === "line" && this.points.length === 2) {
        g.fillStyle = "#ffd400";
        g.fillText("a", ...px(this.points[0]));
        g.fillText("b", ...px(this.points[1]));
      }
    }
    c.dataset.points = JSON.stringify(this.points);
  }

  say(text) {
    this.status.textContent = text;
  }

  // --- saving -------------------------------------------------------------------------------------------
  async save() {
    const kind = this.kind;
    const id = this.form.elements.shape_id.value.trim();
    const problem = shapeProblem(kind, id, this.points);
    if (problem) {
      this.say(problem);
      return;
    }
    const base = `/api/cameras/${seg(this.camera)}`;
    try {
      if (kind === "zone") await api(`${base}/zones/${seg(id)}`, { method: "PUT", body: { polygon: this.points } });
      else await api(`${base}/lines/${seg(id)}`, { method: "PUT", body: { points: this.points } });
      let saved = `${kind} ${id} saved`;
      if (this.form.elements.rule.checked) {
        const ruleId = this.form.elements.rule_id.value.trim();
        const classes = this.form.elements.classes.value.split(",").map((s) => s.trim()).filter(Boolean);
        const rule = kind === "zone" ? { kind: "intrusion", zone: id, classes } : { kind: "line_crossing", line: id, classes };
        await api(`${base}/rules/${seg(ruleId)}`, { method: "PUT", body: rule });
        saved += ` with rule ${ruleId}`;
        this.dialog.dataset.savedRule = ruleId;
      }
      this.dialog.dataset.saved = id;
      const points = this.points;
      await this.loadExisting();
      if (this.has(kind, id)) this.selectShape(`${kind}:${id}`);
      else this.points = points; // not listed by GET (yet): keep editing what was saved
      this.render();
      this.say(saved);
    } catch (e) {
      this.say(e.message);
    }
  }

  async deleteShape() {
    const [what, id] = this.form.elements.shape.value.split(/:(.*)/s);
    if (what === "new") {
      this.points = [];
      this.render();
      return;
    }
    if (!confirm(`Delete ${what} ${id} and the rules that use it?`)) return;
    const base = `/api/cameras/${seg(this.camera)}`;
    try {
      for (const r of this.existing.rules.filter((r) => (what === "zone" ? r.zone === id : r.line === id))) {
        await api(`${base}/rules/${seg(r.id)}`, { method: "DELETE" });
      }
      await api(`${base}/${what === "zone" ? "zones" : "lines"}/${seg(id)}`, { method: "DELETE" });
      await this.loadExisting();
      this.selectShape("new:zone");
      this.say(`${what} ${id} deleted`);
    } catch (e) {
      this.say(e.message);
    }
  }
}
