// The console's cluster panel in a real browser (Debian's chromium, headless, playwright-core):
//
//   node tests/browser/cluster.mjs <url> <token> <screenshot dir> <camera> <ingest node> <infer node>
//
// Loads <url>/?token=<token>, waits until the cluster panel is shown with both nodes alive and <camera>'s row
// saying it is ingested on <ingest node>, analysed on <infer node> and running, then screenshots cluster.png.
// Prints `RESULT <json>`; exits 1 naming what was missing (with failure.png), 2 when chromium or
// playwright-core is missing (run `make setup`).

import fs from "node:fs";
import path from "node:path";
import { openPage } from "./chromium.mjs";

const [url, token, screens, camera, ingest, infer] = process.argv.slice(2);
if (!infer) {
  console.error("usage: node tests/browser/cluster.mjs <url> <token> <screenshot dir> <camera> <ingest node> <infer node>");
  process.exit(64);
}
fs.mkdirSync(screens, { recursive: true });
const { browser, page, pageErrors } = await openPage("cluster.mjs");
const row = `#cluster table.placement tr[data-camera="${camera}"][data-ingest="${ingest}"][data-infer="${infer}"][data-running="true"]`;
try {
  await page.goto(`${url}/?token=${encodeURIComponent(token)}`);
  await page.waitForSelector("#cluster:not([hidden])", { timeout: 15000 });
  await page.waitForSelector("#nav-cluster:not([hidden])", { timeout: 1000 });
  for (const node of [ingest, infer]) {
    await page.waitForSelector(`#cluster table.nodes tr[data-node="${node}"][data-alive="true"]`, { timeout: 15000 });
  }
  await page.waitForSelector(row, { timeout: 30000 });
  await page.locator("#cluster").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(screens, "cluster.png") });
  const result = {
    summary: await page.textContent("#cluster .leader"),
    nodes: await page.$$eval("#cluster table.nodes tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))),
    cameras: await page.$$eval("#cluster table.placement tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))),
  };
  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
  console.log(`RESULT ${JSON.stringify(result)}`);
  await browser.close();
} catch (e) {
  console.error(`cluster.mjs: ${e.message}`);
  await page.screenshot({ path: path.join(screens, "failure.png") }).catch(() => {});
  console.log(`RESULT ${JSON.stringify({ failed: e.message, page_errors: pageErrors })}`);
  await browser.close();
  process.exit(1);
}
