// Drives the built demo page in headless Chromium and reports what it shows.
//
//   node test/drive_page.mjs REQUEST.json > REPORT.json
//
// REQUEST.json: {
//   "url": "http://127.0.0.1:PORT/",        the served site (build.py --out)
//   "sentences": ["...", ...],              filled into the text box
//   "typed": "...",                         typed key by key first (optional)
//   "tokenizerTexts": ["...", ...],         split by tokenizer.js in the page
//   "screenshot": "/path/page.png",         written at the end, showing
//   "screenshotText": "...",                this text (default: sentences[0])
//   "chromium": "/usr/bin/chromium"         (optional, this is the default)
// }
// The report (stdout) holds, for each text, the text the page classified
// and the ids and probability it shows; the model size shown; the tokens of
// tokenizerTexts; every URL the page requested; console errors (LiteRT.js
// also logs its INFO lines there) and uncaught page errors.
// The browser runs with the flags below: no sandbox (root in CI), no GPU, no
// background networking, every host name but 127.0.0.1 unresolvable (else
// Chromium keeps trying to reach outside hosts), and a fresh profile.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
];
const TIMEOUT_MS = 30_000;

const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const executablePath = request.chromium ?? "/usr/bin/chromium";
if (!fs.existsSync(executablePath)) {
  console.error(`Chromium not found at ${executablePath}`);
  process.exit(2);
}

// A fresh profile: Playwright sets --user-data-dir to this directory.
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "web-demo-profile-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: CHROMIUM_FLAGS,
  viewport: { width: 900, height: 760 },
  timeout: TIMEOUT_MS,
});
const report = {
  results: [],
  requests: [],
  consoleErrors: [],
  pageErrors: [],
};
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("request", (r) => report.requests.push(r.url()));
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));

  await page.goto(request.url);
  const status = page.locator("#status");
  await page.waitForFunction(
    () => document.getElementById("status").dataset.state !== "loading",
  );
  report.status = {
    state: await status.getAttribute("data-state"),
    text: await status.textContent(),
  };
  if (report.status.state !== "ready") {
    throw new Error(`the page did not load: ${report.status.text}`);
  }
  report.modelSize = {
    bytes: await page.locator("#model-size").getAttribute("data-bytes"),
    text: await page.locator("#model-size").textContent(),
  };

  const box = page.locator("#text");
  // Waits until the page shows the result for what the box holds now.
  async function readResult() {
    await page.waitForFunction(() => {
      const result = document.getElementById("result");
      return (
        result.dataset.busy === "false" &&
        result.dataset.text === document.getElementById("text").value
      );
    });
    return page.evaluate(() => {
      const { text, ids, probability, label } =
        document.getElementById("result").dataset;
      return {
        text,
        ids: ids.split(",").map(Number),
        probability, // A decimal string, or "NaN".
        label,
        shown: document.getElementById("positive").textContent,
      };
    });
  }

  if (request.typed !== undefined) {
    await box.fill("");
    await box.pressSequentially(request.typed);
    report.typed = await readResult();
  }
  for (const sentence of request.sentences ?? []) {
    await box.fill(sentence);
    report.results.push(await readResult());
  }

  report.tokenizerTokens = await page.evaluate(async (texts) => {
    const tokenizer = await import(new URL("tokenizer.js", location.href));
    return texts.map((text) => tokenizer.splitWords(text));
  }, request.tokenizerTexts ?? []);

  await box.fill(request.screenshotText ?? request.sentences?.[0] ?? "");
  await readResult();
  fs.mkdirSync(path.dirname(request.screenshot), { recursive: true });
  await page.screenshot({ path: request.screenshot, fullPage: true });
} catch (error) {
  report.error = String(error.stack ?? error);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(report));
process.exit(report.error ? 1 : 0);
