// Headless Debian chromium through playwright-core, as every browser script opens it: exits 2 (naming the fix)
// when either is missing; collects the page's uncaught errors and echoes its console errors.

import fs from "node:fs";

const CHROMIUM = process.env.PANOPTES_CHROMIUM || "/usr/bin/chromium";

/** `{ browser, page, pageErrors }` for the script `name` (used in its error messages). */
export async function openPage(name, { viewport = { width: 1440, height: 900 }, args = [] } = {}) {
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    console.error(`${name}: playwright-core is not installed (${e.message}): run \`make setup\` (npm ci)`);
    process.exit(2);
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`${name}: ${CHROMIUM} does not exist: run \`make setup\` (installs Debian's chromium)`);
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...args],
  });
  const page = await browser.newPage({ viewport });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && console.log(`[browser] ${m.text()}`));
  return { browser, page, pageErrors };
}
