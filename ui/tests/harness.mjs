// What the browser tests share: a real ringside-server on a free port with its own data and
// config, Debian's Chromium through playwright-core, calls posted as generic CTI webhooks.
//
// Needs: ui/dist built (`npm run build`), the server built (`cargo build -p ringside-server`,
// or RINGSIDE_SERVER_BIN), and Chromium (`apt-get install chromium`, or CHROMIUM_BIN).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

export const UI = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(UI, "..");
export const DIST = join(UI, "dist");
export const SERVER_BIN = resolve(UI, process.env.RINGSIDE_SERVER_BIN ?? "../target/debug/ringside-server");
export const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
/** RINGSIDE_SCREENSHOTS=1 writes the screenshots in docs/screenshots/. */
export const SHOTS = process.env.RINGSIDE_SCREENSHOTS === "1" ? join(REPO, "docs", "screenshots") : null;
/** axe-core's browser bundle, injected into the page to check accessibility. */
export const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export const API_TOKEN = "test-api-token-0123456789";
export const GENERIC_TOKEN = "generic-token-0123456789";

export function config(extra = "") {
  return `
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
${extra}
`;
}

/** A server on `dir` (config.toml in it), resolved when it prints its listening line. */
export function startServer(dir, { port = 0 } = {}) {
  let log = "";
  return new Promise((resolveStart, reject) => {
    const child = spawn(
      SERVER_BIN,
      ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml")],
      {
        env: { ...process.env, RINGSIDE_UI_DIR: DIST, RINGSIDE_LOG: process.env.RINGSIDE_LOG ?? "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stderr.on("data", (d) => {
      log += d;
    });
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${log}`)), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (!m) reject(new Error(`unexpected first line: ${line}`));
      else resolveStart({ child, url: m[1], log: () => log });
    });
  });
}

export function stopServer(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  child.removeAllListeners("exit");
  return new Promise((r) => {
    child.once("exit", r);
    child.kill("SIGTERM");
  });
}

/** A fresh work dir with a config; removed by `cleanup()`. */
export function workdir(extra = "") {
  const dir = mkdtempSync(join(tmpdir(), "ringside-ui-test-"));
  writeFileSync(join(dir, "config.toml"), config(extra));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function checkPrerequisites() {
  assert.ok(existsSync(join(DIST, "index.html")), `no UI build in ${DIST}: run \`npm run build\` first`);
  assert.ok(existsSync(SERVER_BIN), `no server at ${SERVER_BIN}: run \`cargo build -p ringside-server\` (or set RINGSIDE_SERVER_BIN)`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_BIN)`);
}

/** Debian's Chromium, headless, with a profile in `dir`. */
export async function launch(dir, options = {}) {
  const context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
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
      "--autoplay-policy=no-user-gesture-required",
    ],
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
    reducedMotion: "reduce",
    locale: "en-US",
    ...options,
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
  return context;
}

/** Talk to the server at `base`. */
export function client(base) {
  const auth = { Authorization: `Bearer ${API_TOKEN}` };
  return {
    /** One generic CTI event, as a PBX script would post it. */
    async cti(event) {
      const res = await fetch(`${base}/hooks/generic/${GENERIC_TOKEN}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(event),
      });
      const body = await res.text();
      assert.equal(res.status, 200, `webhook ${event.event} ${event.callId}: ${res.status} ${body}`);
    },
    async api(path, init = {}) {
      const res = await fetch(base + path, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
      const text = await res.text();
      assert.ok(res.ok, `${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    /** A contact stored through the API, as another agent (or an import) would. */
    async addContact(name, company, numbers, record_url = null) {
      const res = await fetch(`${base}/api/contacts`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify({ name, company, numbers: numbers.map((number) => ({ label: null, number })), record_url }),
      });
      const text = await res.text();
      assert.equal(res.status, 201, `POST /api/contacts: ${res.status} ${text}`);
      return JSON.parse(text);
    },
  };
}

export const inbound = (callId, from, user, extra = {}) => ({
  from,
  to: "+14155550100",
  direction: "in",
  callId,
  user,
  queue: "Support",
  ...extra,
});

/** Poll until `f` returns truthy (for browser-side conditions use page.waitForFunction). */
export async function eventually(f, what, ms = 10_000) {
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
