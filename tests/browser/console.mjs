// The web console in a real browser: Debian's chromium, headless, driven by playwright-core.
//
//   node tests/browser/console.mjs <url> <token> <screenshot dir> (--draw-zone ID | --rule ID) [--camera ID]
//                                  [--add-camera FILE]
//
// 0. with a <token>: the console opened without one shows the sign-in prompt;
// 1. loads <url>/?token=<token> (an empty <token>: a server without auth) and checks the token is kept;
// 2. live: the camera tile shows a moving picture (live video playing, or JPEG frames changing);
// 3. boxes: the overlay canvas has tracks drawn, and its pixels on a box's edge are not transparent;
// 4. with --draw-zone ID: opens the zone editor, draws a zone over the vtest walkway with mouse clicks (and one
//    drag), saves it with an intrusion rule `ID-intrusion`; with --rule ID: uses that configured rule instead;
// 5. alert: waits until the alerts list shows an event of that rule, with its snapshot thumbnail loaded, and opens
//    it (the event viewer shows the snapshot, and the clip when the server records one);
//    export: its Export evidence button downloads the signed zip, saved as <screenshot dir>/export.zip.
// 6. with --add-camera FILE: adds a camera `added` playing FILE from the management form, waits for its tile to
//    show pictures, removes it with its Remove button and waits for the tile to go.
// Prints `STEP <name> ok ...` per passed step and `RESULT <json>` at the end; exits 1 naming the failed step
// (with failure.png), 2 when chromium or playwright-core is missing (run `make setup`).
// Screenshots: <screenshot dir>/{live,tile,zone-editor,alerts,event}.png.

import fs from "node:fs";
import path from "node:path";
import { openPage } from "./chromium.mjs";

// The vtest walkway (normalised), where the pedestrians walk: the zone drawn in step 4.
const WALKWAY = [[0.02, 0.32], [0.98, 0.32], [0.98, 0.78], [0.02, 0.78]];
const MSE_CODEC = 'video/mp4; codecs="avc1.64001f"';

function usage(msg) {
  console.error(`console.mjs: ${msg}\nusage: node tests/browser/console.mjs <url> <token> <screenshot dir> (--draw-zone ID | --rule ID) [--camera ID] [--add-camera FILE]`);
  process.exit(64);
}

const [url, token, screens, ...rest] = process.argv.slice(2);
if (!url || token === undefined || !screens) usage("missing arguments");
const opts = {};
for (let i = 0; i < rest.length; i += 2) {
  const [k, v] = [rest[i], rest[i + 1]];
  if (!["--draw-zone", "--rule", "--camera", "--add-camera"].includes(k) || v === undefined) usage(`bad option ${k}`);
  opts[k.slice(2)] = v;
}
if (Boolean(opts["draw-zone"]) === Boolean(opts.rule)) usage("give exactly one of --draw-zone and --rule");

fs.mkdirSync(screens, { recursive: true });

const result = { steps: [] };
let step = "launch";
const ok = (name, details = "") => {
  result.steps.push(name);
  console.log(`STEP ${name} ok ${details}`);
};

const { browser, page, pageErrors } = await openPage("console.mjs", { args: ["--autoplay-policy=no-user-gesture-required"] });
page.on("dialog", (d) => d.accept()); // confirm() of Delete/Remove

try {
  if (token) {
    step = "login";
    await page.goto(`${url}/`);
    await page.waitForSelector("#login[open]", { timeout: 10000 });
    await page.screenshot({ path: path.join(screens, "login.png") });
    ok("login", "without a token the console asks for one");
  }

  step = "load";
  result.mse_avc1_64001f = await page.evaluate((c) => typeof MediaSource !== "undefined" && MediaSource.isTypeSupported(c), MSE_CODEC);
  // An empty token: a server with `[auth] enabled = false` (the console then sends none).
  await page.goto(token ? `${url}/?token=${encodeURIComponent(token)}` : `${url}/`);
  const tileSel = opts.camera ? `.tile[data-camera="${opts.camera}"]` : ".tile";
  await page.waitForSelector(tileSel, { timeout: 15000 });
  const camera = await page.$eval(tileSel, (t) => t.dataset.camera);
  const tile = `.tile[data-camera="${camera}"]`;
  result.camera = camera;
  if (token) {
    result.token_kept = (await page.evaluate(() => localStorage.getItem("panoptes.token"))) === token;
    if (!result.token_kept) throw new Error("the token from ?token= was not kept in localStorage");
  }
  ok("load", `camera ${camera}; MediaSource.isTypeSupported('${MSE_CODEC}') = ${result.mse_avc1_64001f}`);

  step = "live";
  await page.waitForFunction((t) => ["live", "jpeg"].includes(document.querySelector(t).dataset.mode), tile, { timeout: 20000 });
  result.mode = await page.$eval(tile, (t) => t.dataset.mode);
  result.fallback = await page.$eval(tile, (t) => t.dataset.fallback || null);
  // A moving picture: with live video, playing and its time advancing; with JPEG, new frames (by seq) arriving.
  const probe = () =>
    page.$eval(tile, (t) => ({
      pictures: Number(t.dataset.pictures || 0),
      seq: t.querySelector("canvas.picture").dataset.seq || null,
      time: t.querySelector("video").currentTime,
      playing: !t.querySelector("video").paused,
    }));
  const first = await probe();
  await page.waitForFunction(
    ([t, p0]) => {
      const el = document.querySelector(t);
      const n = Number(el.dataset.pictures || 0);
      if (el.dataset.mode === "live") {
        const v = el.querySelector("video");
        return !v.paused && v.readyState >= 2 && v.currentTime > p0.time + 1 && n >= p0.pictures + 5;
      }
      return n >= p0.pictures + 3 && el.querySelector("canvas.picture").dataset.seq !== p0.seq;
    },
    [tile, first],
    { timeout: 30000, polling: 100 },
  );
  const second = await probe();
  ok("live", `mode ${result.mode}${result.fallback ? ` (fallback: ${result.fallback})` : ""}; pictures ${first.pictures} -> ${second.pictures}`);

  step = "boxes";
  // Tracks drawn on the overlay, checked on the canvas pixels: each box's left edge is painted, in the same
  // evaluation that reads the boxes (so they belong to the same drawing).
  const drawn = await page.waitForFunction(
    (t) => {
      const c = document.querySelector(`${t} canvas.overlay`);
      const boxes = JSON.parse(c.dataset.boxes || "[]");
      if (!boxes.length) return null;
      const g = c.getContext("2d");
      const painted = boxes.map(([x, y, w, h]) => g.getImageData(Math.min(c.width - 1, x), Math.min(c.height - 1, y + Math.floor(h / 2)), 1, 1).data[3] > 0);
      const empty = g.getImageData(0, 0, c.width, c.height).data.every((v, i) => i % 4 !== 3 || v === 0);
      return { boxes, painted, empty, width: c.width, height: c.height, drawn: Number(c.dataset.drawn) };
    },
    tile,
    { timeout: 30000, polling: 100 },
  );
  const boxes = await drawn.jsonValue();
  if (boxes.empty || !boxes.painted.every(Boolean)) throw new Error(`boxes listed but not painted: ${JSON.stringify(boxes)}`);
  result.boxes = boxes.boxes;
  await page.screenshot({ path: path.join(screens, "live.png") });
  await page.locator(tile).screenshot({ path: path.join(screens, "tile.png") });
  ok("boxes", `${boxes.boxes.length} boxes painted on the ${boxes.width}x${boxes.height} overlay after ${boxes.drawn} drawings`);

  let rule = opts.rule;
  if (opts["draw-zone"]) {
    step = "zone";
    const zone = opts["draw-zone"];
    await page.click(`${tile} button.zones`);
    await page.waitForSelector('#zone-editor[open][data-ready="true"]', { timeout: 10000 });
    await page.check('#zone-editor input[name="kind"][value="zone"]');
    await page.fill('#zone-editor input[name="shape_id"]', zone);
    const canvas = await page.$("#zone-editor canvas.zone-canvas");
    const box = await canvas.boundingBox();
    const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
    // The first corner is placed off target, then dragged onto it (exercises the drag).
    const off = [WALKWAY[0][0] + 0.1, WALKWAY[0][1] + 0.1];
    await page.mouse.click(...at(off));
    for (const p of WALKWAY.slice(1)) await page.mouse.click(...at(p));
    await page.mouse.move(...at(off));
    await page.mouse.down();
    await page.mouse.move(...at(WALKWAY[0]), { steps: 5 });
    await page.mouse.up();
    const points = JSON.parse(await canvas.getAttribute("data-points"));
    const close = points.length === 4 && points.every((p, i) => Math.abs(p[0] - WALKWAY[i][0]) < 0.01 && Math.abs(p[1] - WALKWAY[i][1]) < 0.01);
    if (!close) throw new Error(`the drawn zone is ${JSON.stringify(points)}, not the walkway ${JSON.stringify(WALKWAY)}`);
    await page.check('#zone-editor input[name="rule"]');
    await page.fill('#zone-editor input[name="classes"]', "person");
    rule = await page.inputValue('#zone-editor input[name="rule_id"]');
    await page.click("#zone-editor button.save");
    await page
      .waitForFunction((z) => document.querySelector("#zone-editor").dataset.saved === z, zone, { timeout: 10000 })
      .catch(async () => {
        throw new Error(`saving failed: ${await page.textContent("#zone-editor .status")}`);
      });
    await page.screenshot({ path: path.join(screens, "zone-editor.png") });
    ok("zone", `zone ${zone} ${JSON.stringify(points)} saved with rule ${rule}: ${await page.textContent("#zone-editor .status")}`);
    await page.click("#zone-editor button.close");
  }

  step = "alert";
  result.rule = rule;
  const item = `#alerts li.event[data-rule="${rule}"]`;
  await page.waitForSelector(item, { timeout: 120000 });
  await page.waitForFunction((s) => {
    const img = document.querySelector(`${s} img.thumb`);
    return img && img.complete && img.naturalWidth > 0;
  }, item, { timeout: 10000 });
  result.event_id = Number(await page.$eval(item, (li) => li.dataset.eventId));
  await page.screenshot({ path: path.join(screens, "alerts.png") });
  ok("alert", `event ${result.event_id} of rule ${rule} listed with its snapshot thumbnail`);

  step = "event";
  await page.click(item);
  await page.waitForSelector("#event-viewer[open]", { timeout: 5000 });
  await page.waitForFunction(() => {
    const img = document.querySelector("#event-viewer img.snapshot");
    const note = document.querySelector("#event-viewer .clip-note").textContent;
    return img.complete && img.naturalWidth > 0 && !note.startsWith("loading");
  }, null, { timeout: 10000 });
  const clip = await page.$eval("#event-viewer", (d) => ({ note: d.querySelector(".clip-note").textContent, shown: !d.querySelector("video.clip").hidden }));
  if (clip.shown) {
    // The clip is positioned at the triggering frame (clip.json's offset_sec).
    await page.waitForFunction(() => {
      const v = document.querySelector("#event-viewer video.clip");
      return v.readyState >= 2 && !v.seeking && Math.abs(v.currentTime - Number(v.dataset.offset)) < 0.15;
    }, null, { timeout: 15000 });
    clip.current_time = await page.$eval("#event-viewer video.clip", (v) => v.currentTime);
  }
  result.clip = clip;
  await page.screenshot({ path: path.join(screens, "event.png") });
  ok("event", `snapshot shown; ${clip.note}`);

  step = "export";
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 30000 }),
    page.click("#event-viewer button.export"),
  ]);
  result.export = path.join(screens, "export.zip");
  await download.saveAs(result.export);
  await page.waitForFunction(() => document.querySelector("#event-viewer .status").textContent.startsWith("exported"), null, { timeout: 5000 });
  ok("export", `evidence zip of event ${result.event_id} downloaded to ${result.export}`);

  await page.click("#event-viewer button.close");

  if (opts["add-camera"]) {
    step = "cameras";
    await page.fill('#cameras input[name="camera_id"]', "added");
    await page.selectOption('#cameras select[name="source_kind"]', "file");
    await page.fill('#cameras input[name="source"]', opts["add-camera"]);
    await page.fill('#cameras input[name="detect_fps"]', "2");
    await page.click("#cameras form.add-camera button");
    await page.waitForFunction(() => Number(document.querySelector('.tile[data-camera="added"]')?.dataset.pictures) >= 1, null, { timeout: 30000 })
      .catch(async () => {
        throw new Error(`the added camera shows no picture: ${await page.textContent("#cameras .status")}`);
      });
    await page.screenshot({ path: path.join(screens, "camera-added.png") });
    await page.click('#cameras tr[data-camera="added"] button.remove');
    await page.waitForSelector('.tile[data-camera="added"]', { state: "detached", timeout: 10000 });
    ok("cameras", `camera added from ${opts["add-camera"]}, its picture shown, then removed`);
  }

  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
  result.page_errors = pageErrors;
  console.log(`RESULT ${JSON.stringify(result)}`);
  await browser.close();
} catch (e) {
  console.error(`console.mjs: step "${step}" failed: ${e.message}`);
  if (pageErrors.length) console.error(`errors in the page: ${pageErrors.join("; ")}`);
  await page.screenshot({ path: path.join(screens, "failure.png") }).catch(() => {});
  console.log(`RESULT ${JSON.stringify({ ...result, failed: step, error: e.message })}`);
  await browser.close();
  process.exit(1);
}
