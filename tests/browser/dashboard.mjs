// dashboard.mjs — the dashboard in Debian's headless chromium (playwright-core),
// driven by tests/integration/test_dashboard.py, which owns the servers.
//
// Protocol with the driver: this script prints "ACTION <name>" and waits for
// a line "OK" on stdin before going on; it prints "FIGURE <name> <value>" for
// measurements and "PASS <step>" after each step. Any failed expectation
// throws: the exit status is non-zero and the message says what was expected.
//
// Environment: PGVIGIL_URL, PGVIGIL_TOKENS (JSON {viewer, operator}),
// PGVIGIL_SHOTS (directory for screenshots), PGVIGIL_CHROMIUM,
// PGVIGIL_PHASE ("live" or "load").
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";

const base = process.env.PGVIGIL_URL;
const tokens = JSON.parse(process.env.PGVIGIL_TOKENS || "{}");
const shots = process.env.PGVIGIL_SHOTS;
const phase = process.env.PGVIGIL_PHASE || "live";
mkdirSync(shots, { recursive: true });

const lines = createInterface({ input: process.stdin });
const pending = [];
lines.on("line", (l) => { const w = pending.shift(); if (w) w(l); });
async function action(name) {
  process.stdout.write("ACTION " + name + "\n");
  const answer = await new Promise((res) => pending.push(res));
  if (answer.trim() !== "OK") throw new Error("action " + name + " failed: " + answer);
}
function expect(cond, what) { if (!cond) throw new Error("expected " + what); }

const browser = await chromium.launch({
  executablePath: process.env.PGVIGIL_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function signedIn(role, viewport) {
  const context = await browser.newContext({ viewport: viewport || { width: 1280, height: 900 } });
  const page = await context.newPage();
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
  await page.goto(base + "/");
  await page.fill("#token", tokens[role]);
  await page.click("#signin-button");
  await page.waitForFunction((r) => window.pgvigil && window.pgvigil.me.role === r, role);
  return { context, page, external };
}

try {
  if (phase === "live") {
    // A viewer sees the fleet, and no acknowledge button.
    const v = await signedIn("viewer");
    await v.page.waitForSelector('[data-node="primary"]');
    await v.page.waitForSelector('[data-node="replica"]');
    expect(await v.page.textContent('[data-node="replica"]').then((t) => t.includes("replica")), "the replica's role");
    process.stdout.write("PASS fleet view shows both nodes\n");
    await v.page.waitForSelector("#peak:not([hidden])");
    expect((await v.page.textContent("#peak")).includes("eu-west"), "the peak banner to name eu-west");
    process.stdout.write("PASS peak banner\n");
    await v.page.click(".cluster h3 a");
    await v.page.waitForSelector('.topology .d1 a[href="#/node/replica"]');
    expect(!(await v.page.textContent(".topology")).includes("upstream not identified"), "the replica's upstream");
    await v.page.screenshot({ path: shots + "/cluster.png", fullPage: true });
    process.stdout.write("PASS cluster topology\n");
    await v.page.goto(base + "/#/");
    await v.page.screenshot({ path: shots + "/fleet-viewer.png", fullPage: true });

    // An operator watches the replica's page while its replay is paused.
    const o = await signedIn("operator");
    await o.page.goto(base + "/#/node/replica");
    await o.page.waitForSelector("#chart-lag canvas");
    const maxLag = () => o.page.evaluate(() => {
      const c = window.pgvigil.charts.lag;
      return c ? Math.max(0, ...c.data[1].filter((x) => x !== null && x !== undefined)) : 0;
    });
    const before = await maxLag();
    await action("pause_replay");
    await o.page.waitForFunction(() => {
      const c = window.pgvigil.charts.lag;
      return c && c.data[1].length && c.data[1][c.data[1].length - 1] > 1.5;
    }, null, { timeout: 30000 });
    const after = await maxLag();
    expect(after > before + 1, "the lag chart to rise (from " + before + " s, got " + after + " s)");
    process.stdout.write("FIGURE lag_chart_peak_seconds " + after.toFixed(2) + "\n");
    process.stdout.write("PASS lag chart rises without a reload\n");
    const row = await o.page.waitForSelector('#node-alerts tr[data-rule="replay_paused"]', { timeout: 30000 });
    process.stdout.write("PASS alert appears without a reload\n");
    await o.page.screenshot({ path: shots + "/replica-paused.png", fullPage: true });

    // The viewer's page shows the alert too, without buttons.
    await v.page.goto(base + "/#/alerts");
    await v.page.waitForSelector('tr[data-rule="replay_paused"]');
    expect(await v.page.locator("button[data-act]").count() === 0, "no action buttons for a viewer");
    process.stdout.write("PASS viewer sees no acknowledge button\n");

    // The operator acknowledges from the page.
    const ackButton = await row.$('button[data-act="acknowledge"]');
    expect(ackButton, "an acknowledge button for the operator");
    await ackButton.click();
    await o.page.waitForFunction(() => {
      const td = document.querySelector('#node-alerts tr[data-rule="replay_paused"] .ack');
      return td && td.textContent.includes("acknowledged by operator-bot");
    }, null, { timeout: 15000 });
    process.stdout.write("PASS operator acknowledges and the state changes\n");
    await v.page.waitForFunction(() => {
      const td = document.querySelector('tr[data-rule="replay_paused"] .ack');
      return td && td.textContent.includes("acknowledged");
    }, null, { timeout: 15000 });
    process.stdout.write("PASS the viewer's page follows\n");
    await o.page.screenshot({ path: shots + "/replica-acknowledged.png", fullPage: true });

    // The public status page says degraded.
    const s = await browser.newPage();
    await s.goto(base + "/status");
    const text = await s.textContent("body");
    expect(/degraded/i.test(text), "the status page to say degraded, got: " + text.slice(0, 200));
    await s.screenshot({ path: shots + "/status.png", fullPage: true });
    process.stdout.write("PASS status page shows degraded\n");

    // A phone-sized screen.
    const p = await signedIn("viewer", { width: 390, height: 844 });
    await p.page.waitForSelector('[data-node="replica"]');
    const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 1, "no horizontal scrolling on a phone (overflow " + overflow + " px)");
    await p.page.screenshot({ path: shots + "/fleet-phone.png", fullPage: true });
    process.stdout.write("PASS usable on a phone-sized screen\n");

    for (const x of [v, o, p]) expect(x.external.length === 0, "no external requests, got " + x.external.join(", "));
    process.stdout.write("PASS no external network requests\n");
    await action("resume_replay");
  } else {
    // First load against a large fleet: bytes over the wire and time until
    // the fleet is on screen (the page's own ready mark).
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((t) => sessionStorage.setItem("pgvigil.token", t), tokens.viewer);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    let wire = 0;
    const firstEvent = {};
    cdp.on("Network.dataReceived", (e) => { wire += e.encodedDataLength; });
    cdp.on("Network.responseReceived", (e) => { firstEvent[e.requestId] = e.response.url; });
    const t0 = Date.now();
    await page.goto(base + "/");
    await page.waitForSelector("body[data-ready=true]", { timeout: 20000 });
    const nodes = await page.evaluate(() => window.pgvigil.fleet.nodes);
    const interactive = await page.evaluate(() => window.pgvigil.readyAt);
    // Interactive: the main thread takes a click at once.
    const clickLatency = await page.evaluate(() => new Promise((res) => {
      const t = performance.now();
      setTimeout(() => res(performance.now() - t), 0);
    }));
    const bytesAtReady = wire;
    const timing = await page.evaluate(() => {
      const out = {};
      const nav = performance.getEntriesByType("navigation")[0];
      out.html_ms = nav.responseEnd;
      out.dom_content_loaded_ms = nav.domContentLoadedEventEnd;
      for (const e of performance.getEntriesByType("resource")) {
        const name = e.name.replace(/^.*\/\/[^/]+/, "");
        if (name.startsWith("/api/v1/stream")) out.stream_first_byte_ms = e.responseStart;
        if (name.startsWith("/api/v1/whoami")) out.whoami_ms = e.responseEnd;
      }
      return out;
    });
    for (const [k, v] of Object.entries(timing))
      process.stdout.write("FIGURE " + k + " " + (v || 0).toFixed(0) + "\n");
    await page.screenshot({ path: shots + "/fleet-500.png" });
    process.stdout.write("FIGURE fleet_nodes " + nodes + "\n");
    process.stdout.write("FIGURE first_load_bytes " + bytesAtReady + "\n");
    process.stdout.write("FIGURE interactive_ms " + interactive.toFixed(0) + "\n");
    process.stdout.write("FIGURE wall_ms " + (Date.now() - t0) + "\n");
    process.stdout.write("FIGURE main_thread_latency_ms " + clickLatency.toFixed(1) + "\n");
    process.stdout.write("PASS large fleet measured\n");
  }
  await browser.close();
  process.exit(0);
} catch (e) {
  process.stdout.write("FAIL " + (e && e.stack ? e.stack : e) + "\n");
  try { await browser.close(); } catch (x) { /* already gone */ }
  process.exit(1);
}
