// The console's entry point: the token (login prompt on 401), then the camera grid, the alerts list, the
// camera management table, the cluster panel (cluster mode) and the two dialogs (zone editor, event viewer).
// The camera list and the cluster are re-read every few seconds, so cameras added or removed elsewhere, and
// nodes joining or lapsing, appear and go.

import { loadToken, setToken, whenUnauthorized, api } from "./api.js";
import { OverlayFeed } from "./overlay.js";
import { Tile } from "./tile.js";
import { AlertList } from "./alerts.js";
import { EventViewer } from "./viewer.js";
import { ZoneEditor } from "./zones.js";
import { CameraAdmin } from "./cameras.js";
import { ClusterPanel } from "./cluster.js";
import { WebhooksPanel } from "./webhooks.js";
import { setShowDetection } from "./draw.js";

const REFRESH_MS = 5000;
const $ = (sel) => document.querySelector(sel);

function showLogin(message) {
  const dialog = $("#login");
  dialog.querySelector(".status").textContent = message || "";
  if (!dialog.open) dialog.showModal();
}

$("#login form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken(e.target.elements.token.value.trim());
  location.reload();
});
$("#show-detection").addEventListener("change", (e) => setShowDetection(e.target.checked));
$("#logout").addEventListener("click", () => {
  setToken(null);
  location.reload();
});

async function main() {
  loadToken();
  whenUnauthorized((message) => showLogin(message));
  let cameras;
  try {
    cameras = await api("/api/cameras");
  } catch (e) {
    if (e.status !== 401) $("#summary").textContent = e.message;
    return;
  }

  const feed = new OverlayFeed();
  const tiles = new Map();
  // Opened with `?debug`: the tiles (their FrameBuffers) for the browser's console and the browser tests.
  if (new URLSearchParams(location.search).has("debug")) window.panoptesConsole = { tiles };
  const editor = new ZoneEditor($("#zone-editor"));
  const viewer = new EventViewer($("#event-viewer"));
  const editZones = (camera) => editor.open(camera);
  const admin = new CameraAdmin($("#cameras"), { onChanged: () => refresh(), onEditZones: editZones });
  const cluster = new ClusterPanel($("#cluster"), $("#nav-cluster"));
  const webhooks = new WebhooksPanel($("#webhooks"), $("#nav-webhooks"));

  function show(list) {
    const ids = new Set(list.map((c) => c.id));
    for (const [id, tile] of tiles) {
      if (!ids.has(id)) {
        tile.remove();
        tiles.delete(id);
      }
    }
    for (const c of list) {
      if (!tiles.has(c.id)) {
        const tile = new Tile(c.id, feed, { onEditZones: editZones });
        tiles.set(c.id, tile);
        $("#grid").appendChild(tile.el);
      }
      tiles.get(c.id).setState(c.status || c);
    }
    admin.show(list);
    $("#summary").textContent = `${list.length} camera${list.length === 1 ? "" : "s"}`;
  }

  async function refresh() {
    try {
      show(await api("/api/cameras"));
      await cluster.refresh();
      await webhooks.refresh();
    } catch (e) {
      $("#summary").textContent = e.message;
    }
  }

  show(cameras);
  cluster.refresh().catch((e) => ($("#summary").textContent = e.message));
  webhooks.refresh().catch((e) => ($("#summary").textContent = e.message));
  setInterval(refresh, REFRESH_MS);
  new AlertList($("#alerts ol"), { onOpen: (event) => viewer.open(event) }).start();
}

main();
