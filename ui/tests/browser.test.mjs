// The web UI in a real browser against a real ringside-server: calls arrive as generic CTI
// webhooks, and the page must show them ringing, answered, ended and missed, call back with the
// server's URI, and mark missed calls done.
//
// Needs: ui/dist built (`npm run build`), the server built (`cargo build -p ringside-server`,
// or RINGSIDE_SERVER_BIN), and Chromium (`apt-get install chromium`, or CHROMIUM_BIN).
// RINGSIDE_SCREENSHOTS=1 writes the screenshots in docs/screenshots/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const UI = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = resolve(UI, "..");
const DIST = join(UI, "dist");
const SERVER_BIN = resolve(UI, process.env.RINGSIDE_SERVER_BIN ?? "../target/debug/ringside-server");
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const SHOTS = process.env.RINGSIDE_SCREENSHOTS === "1" ? join(REPO, "docs", "screenshots") : null;

const API_TOKEN = "test-api-token-0123456789";
const GENERIC_TOKEN = "generic-token-0123456789";
const CALLER = "+14155550123";
const CALLER_SHOWN = "+1 415 555 0123";

const CONFIG = `
[api]
token = "${API_TOKEN}"

[agent]
region = "US"
identities = ["201", "202"]

[providers.voiceshot]
token = "voiceshot-token-0123456789"
username = "voiceshot"
password = "voiceshot-password-123"

[providers.whippy]
token = "whippy-token-0123456789"

[providers.teltel]
token = "teltel-token-0123456789"

[providers.exotel]
token = "exotel-token-0123456789"

[providers.generic]
token = "${GENERIC_TOKEN}"
`;

let tmp;
let server;
let base;
let context;
let page;
let serverLog = "";
const pageErrors = [];

function startServer(dir) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(
      SERVER_BIN,
      ["serve", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml")],
      {
        env: { ...process.env, RINGSIDE_UI_DIR: DIST, RINGSIDE_LOG: process.env.RINGSIDE_LOG ?? "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stderr.on("data", (d) => {
      serverLog += d;
    });
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${serverLog}`)), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${serverLog}`));
    });
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (!m) reject(new Error(`unexpected first line: ${line}`));
      else resolveStart({ child, url: m[1] });
    });
  });
}

/** One generic CTI event, as a PBX script would post it. */
async function cti(event) {
  const res = await fetch(`${base}/hooks/generic/${GENERIC_TOKEN}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(event),
  });
  const body = await res.text();
  assert.equal(res.status, 200, `webhook ${event.event} ${event.callId}: ${res.status} ${body}`);
}

const inbound = (callId, from, user, extra = {}) => ({
  from,
  to: "+14155550100",
  direction: "in",
  callId,
  user,
  queue: "Support",
  ...extra,
});

async function api(path) {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
}

/** Poll until `f` returns truthy (for browser-side conditions use page.waitForFunction). */
async function eventually(f, what, ms = 10_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what} (last: ${last})`);
}

const liveRow = (id) => page.locator(`[data-testid="live-call"][data-call-id="${id}"]`);
const parseClock = (s) => s.trim().split(":").reduce((acc, p) => acc * 60 + Number(p), 0);

before(async () => {
  assert.ok(existsSync(join(DIST, "index.html")), `no UI build in ${DIST}: run \`npm run build\` first`);
  assert.ok(existsSync(SERVER_BIN), `no server at ${SERVER_BIN}: run \`cargo build -p ringside-server\` (or set RINGSIDE_SERVER_BIN)`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_BIN)`);

  tmp = mkdtempSync(join(tmpdir(), "ringside-ui-test-"));
  writeFileSync(join(tmp, "config.toml"), CONFIG);
  const started = await startServer(tmp);
  server = started.child;
  base = started.url;

  context = await chromium.launchPersistentContext(join(tmp, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
    reducedMotion: "reduce",
  });
  // A tel: navigation makes Chromium ask which app should open it, and that dialog swallows
  // input for the rest of the test: take the URI through the page's documented hook instead.
  await context.addInitScript(() => {
    window.__opened = [];
    window.addEventListener("ringside:open-external", (e) => {
      e.preventDefault();
      window.__opened.push(e.detail.uri);
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(e.message));
});

after(async () => {
  await context?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.removeAllListeners("exit");
    server.kill("SIGTERM");
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the page takes the token from the address bar and goes live", async () => {
  await page.goto(`${base}/#token=${API_TOKEN}`);
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
  assert.equal(await page.locator('[data-testid="connection"]').innerText(), "Live");
  const url = new URL(page.url());
  assert.ok(!url.hash.includes("token"), `token left in the address bar: ${page.url()}`);
  assert.equal(await page.evaluate(() => localStorage.getItem("ringside.token")), API_TOKEN);
  await page.locator('[data-testid="live-empty"]').waitFor();
  assert.match(await page.locator('[data-testid="live-empty"]').innerText(), /No calls right now/);
});

test("keyboard: Tab reaches the navigation tabs", async () => {
  await page.locator("body").focus();
  const reached = [];
  for (let i = 0; i < 12 && reached.length < 4; i++) {
    await page.keyboard.press("Tab");
    const id = await page.evaluate(() => document.activeElement?.id ?? "");
    if (id.startsWith("tab-") && !reached.includes(id)) reached.push(id);
  }
  assert.deepEqual(reached, ["tab-live", "tab-missed", "tab-history", "tab-settings"]);
  // Enter on a focused tab opens it; the shortcut keys do too.
  await page.locator("#tab-history").focus();
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="history-table"]').waitFor();
  await page.locator("body").focus();
  await page.keyboard.press("1");
  await page.locator('[data-testid="live-empty"]').waitFor();
});

test("a call rings, is answered with a running timer, ends and moves to History", async () => {
  const id = "generic:ui-a";
  await cti({ event: "newCall", ...inbound("ui-a", CALLER, "201") });
  const row = liveRow(id);
  await row.locator('[data-testid="state-chip"]', { hasText: "Ringing" }).waitFor();
  const ringingText = await row.innerText();
  assert.ok(ringingText.includes(CALLER_SHOWN), `formatted number in: ${ringingText}`);
  assert.match(await row.locator('[data-testid="agents"]').innerText(), /\b201\b/);

  await cti({ event: "answer", ...inbound("ui-a", CALLER, "201", { answeringNumber: "201" }) });
  await row.locator('[data-testid="state-chip"]', { hasText: "Answered" }).waitFor();
  assert.equal(await row.getAttribute("data-state"), "answered");
  assert.match(await row.locator('[data-testid="agents"]').innerText(), /answered by 201/);
  const t1 = parseClock(await row.locator('[data-testid="timer"]').innerText());
  await page.waitForTimeout(2200);
  const t2 = parseClock(await row.locator('[data-testid="timer"]').innerText());
  assert.ok(t2 >= t1 + 1, `the talk timer runs: ${t1} then ${t2}`);

  // A second call ringing beside the answered one: the Live screenshot.
  await cti({ event: "newCall", ...inbound("ui-c", "+442079460958", "202", { to: "+14155550111", queue: "Sales" }) });
  await liveRow("generic:ui-c").locator('[data-testid="state-chip"]', { hasText: "Ringing" }).waitFor();
  // Live rows: newest first.
  const order = await page.locator('[data-testid="live-call"]').evaluateAll((rows) => rows.map((r) => r.dataset.callId));
  assert.deepEqual(order, ["generic:ui-c", id]);
  if (SHOTS) {
    mkdirSync(SHOTS, { recursive: true });
    await page.evaluate(() => document.activeElement?.blur());
    await page.waitForTimeout(1100);
    await page.screenshot({ path: join(SHOTS, "live.png") });
  }
  await cti({ event: "answer", ...inbound("ui-c", "+442079460958", "202", { to: "+14155550111", answeringNumber: "202" }) });
  await cti({ event: "hangup", ...inbound("ui-c", "+442079460958", "202", { to: "+14155550111", cause: "normalClearing" }) });

  await cti({ event: "hangup", ...inbound("ui-a", CALLER, "201", { cause: "normalClearing", answeringNumber: "201" }) });
  await row.waitFor({ state: "detached" });
  await page.locator('[data-testid="live-empty"]').waitFor();

  await page.locator("#tab-history").click();
  const hist = page.locator(`[data-testid="history-row"][data-call-id="${id}"]`);
  await hist.waitFor();
  assert.equal(await hist.getAttribute("data-state"), "ended");
  const histText = await hist.innerText();
  assert.ok(histText.includes(CALLER_SHOWN), histText);
  assert.match(histText, /201/);
  // Its timeline, from GET /api/calls/{id}.
  await hist.click();
  const timeline = page.locator('[data-testid="timeline"]');
  await timeline.waitFor();
  assert.match(await timeline.innerText(), /Answered/);
  // Search narrows the table (q goes to the server).
  await page.locator('[data-testid="history-search"]').fill("2079460958");
  await eventually(
    async () => (await page.locator('[data-testid="history-row"]').count()) === 1,
    "the search to leave one row",
  );
  assert.equal(await page.locator('[data-testid="history-row"]').getAttribute("data-call-id"), "generic:ui-c");
  await page.locator('[data-testid="history-search"]').fill("");
  await eventually(async () => (await page.locator('[data-testid="history-row"]').count()) >= 2, "the search cleared");

  // Export CSV: the same calls, as a file.
  const download = page.waitForEvent("download");
  await page.locator('[data-testid="export-csv"]').click();
  const file = await (await download).path();
  const csv = readFileSync(file, "utf8");
  assert.ok(csv.split("\n").length >= 3, csv);
  assert.ok(csv.includes(CALLER), csv);
});

test("a missed call: badge, group, call back with the server's URI, done", async () => {
  await page.locator("#tab-live").click();
  await cti({ event: "newCall", ...inbound("ui-b", CALLER, ["201", "202"]) });
  await liveRow("generic:ui-b").waitFor();
  await cti({ event: "hangup", ...inbound("ui-b", CALLER, ["201", "202"], { cause: "noAnswer" }) });
  await liveRow("generic:ui-b").waitFor({ state: "detached" });

  const badge = page.locator('[data-testid="missed-badge"]');
  await badge.waitFor();
  assert.equal((await badge.innerText()).trim(), "1");

  await page.locator("#tab-missed").click();
  const group = page.locator('[data-testid="missed-group"]');
  await group.waitFor();
  assert.equal(await group.count(), 1);
  assert.equal(await group.locator('[data-testid="missed-title"]').innerText(), `1 missed from ${CALLER_SHOWN}`);

  // The server decides the URI; the page hands it to the OS and shows it.
  const served = page.waitForResponse((r) => r.url().endsWith("/api/calls/generic%3Aui-b/callback"));
  await group.locator('[data-testid="callback-button"]').click();
  const answer = await (await served).json();
  assert.equal(answer.uri, `tel:${CALLER}`);
  const uri = page.locator('[data-testid="callback-uri"]');
  await uri.waitFor();
  assert.equal(await uri.innerText(), `tel:${CALLER}`);
  assert.deepEqual(await page.evaluate(() => window.__opened), [`tel:${CALLER}`], "handed to the OS once");

  await group.locator('[data-testid="done-button"]').click();
  await page.locator('[data-testid="missed-empty"]').waitFor();
  assert.equal(await page.locator('[data-testid="missed-group"]').count(), 0);
  assert.equal(await badge.count(), 0, "the badge is gone");
  assert.deepEqual(await api("/api/missed"), []);
});

test("missed calls group by caller, and Mark all done clears them", async () => {
  const missed = async (callId, from, user) => {
    await cti({ event: "newCall", ...inbound(callId, from, user) });
    await cti({ event: "hangup", ...inbound(callId, from, user, { cause: "noAnswer" }) });
  };
  await missed("ui-m1", "+12125550187", "201");
  await missed("ui-m2", "+447700900461", "202");
  await missed("ui-m3", "+12125550187", ["201", "202"]);
  await missed("ui-m4", CALLER, "201");
  await missed("ui-m5", "+12125550187", "201");

  await eventually(async () => (await page.locator('[data-testid="missed-badge"]').innerText()).trim() === "5", "badge 5");
  const groups = page.locator('[data-testid="missed-group"]');
  await eventually(async () => (await groups.count()) === 3, "three groups");
  const titles = await groups.locator('[data-testid="missed-title"]').allInnerTexts();
  assert.deepEqual(titles, ["3 missed from +1 212 555 0187", `1 missed from ${CALLER_SHOWN}`, "1 missed from +447700900461"]);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "missed.png") });

  await page.locator('[data-testid="mark-all-done"]').click();
  await page.locator('[data-testid="missed-empty"]').waitFor();
  assert.equal(await page.locator('[data-testid="missed-badge"]').count(), 0);
});

test("Settings shows the webhook URL with its token, and the server's refusal", async () => {
  await page.locator("#tab-settings").click();
  const url = page.locator('[data-testid="webhook"][data-provider="generic"] [data-testid="webhook-url"]');
  await url.waitFor();
  const value = await url.inputValue();
  assert.equal(value, `${base}/hooks/generic/${GENERIC_TOKEN}`);
  assert.ok(value.includes(GENERIC_TOKEN));

  // A CRM template with an unknown placeholder: the server refuses, naming the key.
  const crm = page.getByPlaceholder("https://crm.example.com/search?phone={e164}");
  await crm.fill("https://crm.example.com/?p={nope}");
  await page.locator('[data-testid="save-settings"]').click();
  const err = page.locator('[data-testid="settings-error"]');
  await err.waitFor();
  assert.match(await err.innerText(), /crm/i);

  // A good one saves, and a call's record opens from it.
  await crm.fill("https://crm.example.com/search?phone={e164}");
  await page.locator('[data-testid="save-settings"]').click();
  await err.waitFor({ state: "detached" });
  await eventually(async () => (await api("/api/settings")).config.crm.url === "https://crm.example.com/search?phone={e164}", "the CRM URL saved");
});

test("the scope toggle: Everyone shows calls for others, Me hides them", async () => {
  await page.locator("#tab-live").click();
  await page.locator('[data-testid="scope-me"]').click();
  await cti({ event: "newCall", ...inbound("ui-other", "+13125550199", "305") });
  await eventually(async () => (await api("/api/calls?state=ringing")).some((c) => c.id === "generic:ui-other"), "the call stored");
  await page.waitForTimeout(300);
  assert.equal(await liveRow("generic:ui-other").count(), 0, "someone else's call is hidden with Me");
  await page.locator('[data-testid="scope-everyone"]').click();
  await liveRow("generic:ui-other").waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("ringside.scope")), "everyone");
  await page.locator('[data-testid="scope-me"]').click();
  await liveRow("generic:ui-other").waitFor({ state: "detached" });
  await cti({ event: "hangup", ...inbound("ui-other", "+13125550199", "305", { cause: "normalClearing" }) });
});

test("the page recovers after the server restarts", async () => {
  server.removeAllListeners("exit");
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  await page.locator('[data-testid="connection"][data-state="reconnecting"]').waitFor();
  assert.equal(await page.locator('[data-testid="connection"]').innerText(), "Reconnecting…");
  // Same port, same data: the page reconnects by itself and refetches.
  const port = new URL(base).port;
  const child = spawn(
    SERVER_BIN,
    ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", join(tmp, "data"), "--config", join(tmp, "config.toml")],
    { env: { ...process.env, RINGSIDE_UI_DIR: DIST, RINGSIDE_LOG: "warn" }, stdio: ["ignore", "pipe", "ignore"] },
  );
  server = child;
  await new Promise((r) => createInterface({ input: child.stdout }).once("line", r));
  await cti({ event: "newCall", ...inbound("ui-after", CALLER, "201") });
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ timeout: 40_000 });
  await liveRow("generic:ui-after").waitFor({ timeout: 10_000 });
  await cti({ event: "hangup", ...inbound("ui-after", CALLER, "201", { cause: "normalClearing" }) });
});

test("without a token the page asks for one, and refuses a wrong one", async () => {
  const other = await context.newPage();
  try {
    await other.goto(`${base}/`);
    await other.evaluate(() => localStorage.removeItem("ringside.token"));
    await other.reload();
    const form = other.locator('[data-testid="token-form"]');
    await form.waitFor();
    await other.locator('[data-testid="token-input"]').fill("not-the-token-0123456789");
    await other.keyboard.press("Enter");
    await form.locator('[role="alert"]').waitFor();
    assert.match(await form.locator('[role="alert"]').innerText(), /refused/);
    // The whole printed link works too.
    await other.locator('[data-testid="token-input"]').fill(`${base}/#token=${API_TOKEN}`);
    await other.keyboard.press("Enter");
    await other.locator('[data-testid="connection"][data-state="live"]').waitFor();
    assert.equal(await other.evaluate(() => localStorage.getItem("ringside.token")), API_TOKEN);
  } finally {
    await other.close();
  }
});

test("the page threw no errors", () => {
  assert.deepEqual(pageErrors, []);
});
