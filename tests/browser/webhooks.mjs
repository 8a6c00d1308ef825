// The console's webhooks panel in a real browser (Debian's chromium, headless, playwright-core):
//
//   node tests/browser/webhooks.mjs <url> <token> <screenshot dir> <hook> <state text>
//
// Loads <url>/?token=<token>, waits until the Webhooks panel (and its header link) is shown with <hook>'s row
// whose state cell contains <state text>, then screenshots webhooks.png. Prints `RESULT <json>` (the rows'
// cells); exits 1 naming what was missing (with failure.png), 2 when chromium or playwright-core is missing.

import fs from "node:fs";
import path from "node:path";
import { openPage } from "./chromium.mjs";

const [url, token, screens, hook, stateText] = process.argv.slice(2);
if (!stateText) {
  console.error("usage: node tests/browser/webhooks.mjs <url> <token> <screenshot dir> <hook> <state text>");
  process.exit(64);
}
fs.mkdirSync(screens, { recursive: true });
const { browser, page, pageErrors } = await openPage("webhooks.mjs");
try {
  await page.goto(`${url}/?token=${encodeURIComponent(token)}`);
  await page.waitForSelector("#webhooks:not([hidden])", { timeout: 15000 });
  await page.waitForSelector("#nav-webhooks:not([hidden])", { timeout: 1000 });
  const row = `#webhooks tr[data-hook="${hook}"]`;
  await page.waitForFunction(
    ([sel, text]) => document.querySelector(sel)?.lastElementChild?.textContent.includes(text),
    [row, stateText],
    { timeout: 30000 },
  );
  await page.locator("#webhooks").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(screens, "webhooks.png") });
  const rows = await page.$$eval("#webhooks tbody tr", (trs) => trs.map((r) => [...r.cells].map((c) => c.textContent)));
  if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
  console.log(`RESULT ${JSON.stringify({ rows })}`);
  await browser.close();
} catch (e) {
  console.error(`webhooks.mjs: ${e.message}`);
  await page.screenshot({ path: path.join(screens, "failure.png") }).catch(() => {});
  console.log(`RESULT ${JSON.stringify({ failed: e.message, page_errors: pageErrors })}`);
  await browser.close();
  process.exit(1);
}
