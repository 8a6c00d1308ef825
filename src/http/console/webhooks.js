// The event delivery panel (`GET /api/webhooks`, `GET /api/mqtt`): each [[webhooks]] hook with its filter and
// where its deliveries stand — delivered, given up, the event being retried with its attempts and the
// receiver's last answer, and how many stored events it has still to look at — and the MQTT broker, connected
// or why not. Hidden when neither is configured (or the token, limited to some cameras, may not see them).

import { api, ApiError } from "./api.js";

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function filter(h) {
  const parts = [];
  if (h.cameras.length) parts.push(`cameras ${h.cameras.join(", ")}`);
  if (h.rules.length) parts.push(`rules ${h.rules.join(", ")}`);
  if (h.kinds.length) parts.push(`kinds ${h.kinds.join(", ")}`);
  return parts.length ? parts.join("; ") : "every event";
}

function state(h) {
  if (h.retrying) {
    const next = Math.max(0, (h.retrying.next_attempt_ms - Date.now()) / 1000).toFixed(0);
    return [`retrying event ${h.retrying.event_id} (${h.retrying.attempts} attempts, next in ${next} s): ${h.last_error}`, "bad"];
  }
  if (h.last_error && h.last_error.startsWith("stopped")) return [h.last_error, "bad"];
  const when = h.last_delivered_ms ? `last ${new Date(h.last_delivered_ms).toLocaleTimeString()}` : "none yet";
  return [`delivering (${when})`, "ok"];
}

export class WebhooksPanel {
  /** `section`: the #webhooks element; `navLink`: its link in the header (shown with it). */
  constructor(section, navLink) {
    this.section = section;
    this.navLink = navLink;
    this.rows = section.querySelector("tbody");
  }

  async refresh() {
    // A token limited to some cameras may not see these (they cover every camera): no panel.
    const visible = async (path) => {
      try {
        return await api(path);
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) return null;
        throw e;
      }
    };
    const webhooks = (await visible("/api/webhooks"))?.webhooks ?? [];
    const mqtt = (await visible("/api/mqtt"))?.mqtt ?? null;
    const any = webhooks.length > 0 || mqtt !== null;
    this.section.hidden = !any;
    this.navLink.hidden = !any;
    this.rows.replaceChildren(
      ...webhooks.map((h) => {
        const tr = document.createElement("tr");
        tr.dataset.hook = h.id;
        const [text, cls] = state(h);
        tr.append(
          cell(h.id),
          cell(h.url + (h.signed ? " (signed)" : " (unsigned)")),
          cell(filter(h)),
          cell(String(h.delivered)),
          cell(String(h.given_up), h.given_up ? "bad" : ""),
          cell(String(h.backlog)),
          cell(text, cls),
        );
        return tr;
      }),
      ...(mqtt ? [mqttRow(mqtt)] : []),
    );
  }
}

/** The MQTT broker as a row of the same table. */
function mqttRow(m) {
  const tr = document.createElement("tr");
  tr.dataset.hook = "mqtt";
  const state = m.connected
    ? [`connected (${m.connects} connection${m.connects === 1 ? "" : "s"} since start)`, "ok"]
    : [`not connected: ${m.last_error || "connecting"}`, "bad"];
  const dropped = m.dropped_queue_full + m.dropped_disconnected;
  tr.append(
    cell("MQTT"),
    cell(`${m.url} (QoS ${m.qos}${m.discovery ? ", Home Assistant discovery" : ""})`),
    cell(`every event, camera state and zone counts under ${m.topic_prefix}/`),
    cell(String(m.published_events)),
    cell(`${dropped} state messages dropped`, dropped ? "bad" : ""),
    cell(String(m.backlog)),
    cell(...state),
  );
  return tr;
}
