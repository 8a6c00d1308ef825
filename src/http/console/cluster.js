// The cluster panel, in cluster mode only (`GET /api/cluster`): the nodes with their roles, liveness and
// capacity, the placement leader, and for each camera the node that ingests it, the node that analyses it,
// and whether it runs there, or why it runs nowhere. Alone (`"mode": "standalone"`) the panel stays hidden.

import { api } from "./api.js";

function row(cells, dataset) {
  const tr = document.createElement("tr");
  Object.assign(tr.dataset, dataset);
  for (const [text, cls] of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  return tr;
}

/** A node's inference capacity, and what it measures of its work. */
function inference(n) {
  const load = n.load || {};
  const parts = [n.infer_fps == null ? "—" : `${n.infer_fps} fps`];
  if (load.inferred_fps) parts.push(`${load.inferred_fps.toFixed(1)} inferred/s`);
  if (load.infer_ms_per_input != null) parts.push(`${load.infer_ms_per_input.toFixed(0)} ms/input`);
  return parts.join(", ");
}

export class ClusterPanel {
  /** `section`: the #cluster element; `navLink`: its link in the header (shown with it). */
  constructor(section, navLink) {
    this.section = section;
    this.navLink = navLink;
    this.summary = section.querySelector(".leader");
    this.nodes = section.querySelector("table.nodes tbody");
    this.cameras = section.querySelector("table.placement tbody");
  }

  async refresh() {
    const c = await api("/api/cluster");
    const clustered = c.mode === "cluster";
    this.section.hidden = !clustered;
    this.navLink.hidden = !clustered;
    if (!clustered) return;
    const alive = c.nodes.filter((n) => n.alive).length;
    this.summary.textContent =
      `${alive} of ${c.nodes.length} node${c.nodes.length === 1 ? "" : "s"} alive; ` +
      (c.leader ? `placement by ${c.leader} (term ${c.term})` : "no placement yet") +
      `; this page is served by ${c.node}`;
    this.nodes.replaceChildren(
      ...c.nodes.map((n) =>
        row(
          [
            [n.id],
            [n.roles.join(", ")],
            [n.alive ? "alive" : `lapsed ${(n.last_renewal_ms / 1000).toFixed(0)} s ago`, n.alive ? "ok" : "bad"],
            [inference(n)],
            [n.cameras.join(", ")],
          ],
          { node: n.id, alive: String(n.alive) },
        ),
      ),
    );
    this.cameras.replaceChildren(
      ...c.cameras.map((cam) => {
        const state = cam.unplaced
          ? [`unplaced: ${cam.unplaced}`, "bad"]
          : cam.running
            ? ["running", "ok"]
            : [cam.node_alive ? "starting" : "node lapsed", "bad"];
        return row([[cam.id], [cam.ingest_node ?? "—"], [cam.infer_node ?? "—"], state], {
          camera: cam.id,
          ingest: cam.ingest_node ?? "",
          infer: cam.infer_node ?? "",
          running: String(cam.running),
        });
      }),
    );
  }
}
