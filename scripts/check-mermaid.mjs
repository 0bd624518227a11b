// Renders `codeless graph` of every example playbook with the real Mermaid library in headless
// Chromium, and fails on any parse or render error. Not part of CI (it needs Debian's chromium
// and `npm install mermaid playwright-core` in MERMAID_DIR); run by hand:
//   MERMAID_DIR=/tmp/mm node scripts/check-mermaid.mjs [out.png]
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const dir = process.env.MERMAID_DIR || "/tmp/mm";
const require = createRequire(path.join(dir, "package.json"));
const { chromium } = require("playwright-core");
const mermaidJs = readFileSync(path.join(dir, "node_modules/mermaid/dist/mermaid.min.js"), "utf8");
const bin = process.env.CODELESS || "target/release/codeless";

const playbooks = readdirSync("playbooks")
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".test.yaml") && !f.endsWith(".mock.yaml"))
  .map((f) => path.join("playbooks", f))
  .filter((f) => readFileSync(f, "utf8").includes("kind: playbook"));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = await browser.newPage();
await page.setContent("<html><body><div id=out></div></body></html>");
await page.addScriptTag({ content: mermaidJs });
await page.evaluate(() => window.mermaid.initialize({ startOnLoad: false }));
let failed = 0;
for (const pb of playbooks) {
  const src = execFileSync(bin, ["graph", pb], { encoding: "utf8" });
  const result = await page.evaluate(async (text) => {
    try {
      await window.mermaid.parse(text);
      const { svg } = await window.mermaid.render("g" + Math.random().toString(36).slice(2), text);
      document.getElementById("out").innerHTML = svg;
      return { ok: true, nodes: document.querySelectorAll("#out g.node").length };
    } catch (e) {
      return { ok: false, error: String(e && e.message ? e.message : e) };
    }
  }, src);
  if (result.ok) {
    console.log(`ok   ${pb}: ${result.nodes} nodes rendered`);
  } else {
    failed++;
    console.log(`FAIL ${pb}: ${result.error}`);
  }
}
if (process.argv[2]) {
  await page.screenshot({ path: process.argv[2], fullPage: true });
}
await browser.close();
console.log(`${playbooks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
