// Shared pieces of the desktop tests. They run inside `xvfb-run -a dbus-run-session`, so a
// real X display and a private D-Bus session exist; each test starts what it needs on them.
import { spawn, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, chmodSync, mkdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const APP_BIN = process.env.RINGSIDE_BIN ?? join(ROOT, "target/debug/ringside");
export const API_TOKEN = "desktop-test-api-token-0123";
export const GENERIC_TOKEN = "desktop-test-generic-token-01";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(check, { timeout = 15000, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

/** A data directory and config for one app instance. */
export function workdir(t, { identities = ["201"], extra = "" } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "ringside-desktop-"));
  writeFileSync(
    join(dir, "config.toml"),
    `[api]
token = "${API_TOKEN}"

[agent]
region = "US"
identities = ${JSON.stringify(identities)}

[providers.generic]
token = "${GENERIC_TOKEN}"
${extra}
`,
  );
  return dir;
}

/** A fake `xdg-open` first on PATH: records every URI the app hands to the OS. */
export function fakeOpener(dir) {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  const log = join(dir, "opened.log");
  writeFileSync(log, "");
  for (const name of ["xdg-open", "gio", "gnome-open", "kde-open", "wslview"]) {
    const path = join(bin, name);
    writeFileSync(path, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done\n`);
    chmodSync(path, 0o755);
  }
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    opened: () => readFileSync(log, "utf8").split("\n").filter((l) => l && l !== "open"),
  };
}

/** Stop `child` and wait until it is gone (so the next test can take its bus name). */
function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      res();
    }, 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      res();
    });
    child.kill("SIGTERM");
  });
}

/** SIGTERM every process whose command line contains `needle`, and wait until they are gone. */
async function stopMatching(needle) {
  spawnSync("pkill", ["-TERM", "-f", "--", needle]);
  await waitFor(() => spawnSync("pgrep", ["-f", "--", needle]).status === 1, {
    what: `processes of ${needle} to exit`,
    timeout: 10000,
  }).catch(() => spawnSync("pkill", ["-KILL", "-f", "--", needle]));
}

/** Start `ringside` on `dir`; resolves once it prints its listening line. */
export async function startApp(t, dir, { env = {}, args = [] } = {}) {
  const child = spawn(
    APP_BIN,
    ["--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml"), ...args],
    { env: { ...process.env, RINGSIDE_LOG: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  t.after(() => stop(child));
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error(`no listening line in time: ${stderr}`)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/\S+)\n/m);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`ringside exited ${code}: ${stderr}`));
    });
  });
  return { child, url, stderr: () => stderr, ...client(url) };
}

/** Talk to a running Ringside over HTTP. */
export function client(url) {
  return {
    async post(body) {
      const r = await fetch(`${url}/hooks/generic/${GENERIC_TOKEN}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
    },
    async api(path) {
      const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      return r.json();
    },
  };
}

/** A generic-CTI event for call `callId` from `from`. */
export function cti(event, callId, from, extra = {}) {
  return { event, callId, from, to: "+14155550100", direction: "in", user: ["201"], ...extra };
}

/**
 * A notification daemon on this D-Bus session. `pick`: the text of the action its context menu
 * (`dunstctl context`) chooses, as an agent would click it.
 */
export async function startDunst(t, { pick } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "dunst-"));
  const rc = join(dir, "dunstrc");
  let menu = "";
  if (pick) {
    const script = join(dir, "pick");
    writeFileSync(script, `#!/bin/sh\nexec grep -m1 -F -- '${pick}'\n`);
    chmodSync(script, 0o755);
    menu = `    dmenu = ${script}\n`;
  }
  // The pop top right, wholly on the screen beside the window (1120 px wide, at the left; no
  // window manager stacks them), inside the screenshots' crop (1400x740).
  writeFileSync(
    rc,
    `[global]\n    timeout = 0\n    notification_limit = 0\n    origin = top-right\n    offset = (8, 64)\n    width = 264\n    word_wrap = yes\n${menu}`,
  );
  // Asked without starting one: a dunstctl call before this dunst owns the name would have
  // D-Bus start another (with the default config), which could win the name.
  const ownerPid = () => {
    const bus = ["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"];
    const has = spawnSync("dbus-send", [...bus, "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.Notifications"]);
    if (!/boolean true/.test(has.stdout.toString())) return null;
    const pid = spawnSync("dbus-send", [...bus, "org.freedesktop.DBus.GetConnectionUnixProcessID", "string:org.freedesktop.Notifications"]);
    return Number(/uint32 (\d+)/.exec(pid.stdout.toString())?.[1] ?? NaN);
  };
  // One D-Bus started on its own (a notification after an earlier test's daemon stopped) would
  // keep the name: this private session's daemon, stopped here.
  const other = ownerPid();
  if (other) process.kill(other, "SIGTERM");
  await waitFor(() => ownerPid() === null, { what: "no other notification daemon" });
  const child = spawn("dunst", ["-config", rc], { stdio: "ignore" });
  t.after(() => stop(child));
  await waitFor(() => ownerPid() === child.pid, { what: "this dunst on the session bus" });
  return {
    displayed: () => Number(execFileSync("dunstctl", ["count", "displayed"]).toString().trim()),
  };
}

/**
 * Every Notify and CloseNotification call on the session bus, parsed from dbus-monitor.
 * `notifies`: [{replacesId, summary, body, actions}], `closes`: [id].
 */
/** The notification id the monitor's probe closes: one no daemon hands out. */
const PROBE_ID = 4294967295;

export async function monitorNotifications(t) {
  const child = spawn(
    "dbus-monitor",
    [
      "--session",
      "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
      "type='method_call',interface='org.freedesktop.Notifications',member='CloseNotification'",
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  t.after(() => stop(child));
  const seen = { notifies: [], closes: [], raw: "", probed: false };
  let block = null;
  const flush = () => {
    if (!block) return;
    const strings = [...block.text.matchAll(/^\s+string "((?:[^"\\]|\\.)*)"/gm)].map((m) => m[1]);
    const uints = [...block.text.matchAll(/^\s+uint32 (\d+)/gm)].map((m) => Number(m[1]));
    if (block.member === "Notify") {
      // app_name, replaces_id, app_icon, summary, body, actions..., hints..., timeout
      seen.notifies.push({ app: strings[0], replacesId: uints[0], summary: strings[2], body: strings[3], actions: strings.slice(4) });
    } else if (uints[0] !== PROBE_ID || !seen.probed) {
      seen.closes.push(uints[0]);
    }
    block = null;
  };
  let pending = "";
  child.stdout.on("data", (d) => {
    pending += d;
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) {
      seen.raw += line + "\n";
      const m = line.match(/^method call .* member=(Notify|CloseNotification)$/);
      if (m) {
        flush();
        block = { member: m[1], text: "" };
      } else if (/^(method|signal|error)/.test(line)) {
        flush();
      } else if (block) {
        block.text += line + "\n";
        // The last argument: Notify's int32 timeout, CloseNotification's uint32 id.
        const last = block.member === "Notify" ? /^   int32 -?\d+$/ : /^   uint32 \d+$/;
        if (last.test(line)) flush();
      }
    }
  });
  // Attached once it sees a probe: closing a notification no one has (the daemon ignores it).
  await waitFor(
    () => {
      spawnSync("dbus-send", [
        "--session",
        "--dest=org.freedesktop.Notifications",
        "--type=method_call",
        "/org/freedesktop/Notifications",
        "org.freedesktop.Notifications.CloseNotification",
        `uint32:${PROBE_ID}`,
      ]);
      return seen.closes.includes(PROBE_ID);
    },
    { what: "dbus-monitor to attach" },
  );
  seen.closes = seen.closes.filter((id) => id !== PROBE_ID);
  seen.probed = true;
  return seen;
}

/** A screenshot of the whole X screen (the real window), for docs/. */
export function screenshot(path) {
  // The window sits at the top left (no window manager); keep the pop beside it, drop the rest.
  execFileSync("import", ["-window", "root", "-crop", "1400x740+0+0", "+repage", path]);
}

/** tauri-driver (wrapping WebKitWebDriver) with the app's environment. */
export async function startDriver(t, env = {}) {
  const port = await freePort();
  const nativePort = await freePort();
  // Its output goes to a file, not a pipe: the app it launches inherits it, and a pipe held
  // open by a process that outlives the test would keep this test process from exiting.
  const log = openSync(join(mkdtempSync(join(tmpdir(), "tauri-driver-")), "driver.log"), "w");
  const child = spawn(
    "tauri-driver",
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
    { env: { ...process.env, RINGSIDE_LOG: "warn", ...env }, stdio: ["ignore", log, log] },
  );
  t.after(() => stop(child));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/status`)).ok, { what: "tauri-driver", timeout: 30000 });
  return base;
}

const ELEMENT = "element-6066-11e4-a52f-4f735466cecf";

/** A W3C WebDriver session on the real `ringside` window. `args` must name a `--data-dir` of
 * the test's own: the app is stopped by it at the end. */
export async function openWindow(t, driver, args) {
  const dataDir = args[args.indexOf("--data-dir") + 1];
  const wd = async (method, path, body) => {
    const r = await fetch(`${driver}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30000),
    });
    const json = await r.json();
    if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  };
  const session = await wd("POST", "/session", {
    capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application: APP_BIN, args } } },
  });
  const s = `/session/${session.sessionId}`;
  t.after(async () => {
    await wd("DELETE", s).catch(() => {});
    // Closing the window only hides it (Ringside stays in the tray): stop the app itself.
    await stopMatching(dataDir);
  });
  const win = {
    async all(css) {
      return (await wd("POST", `${s}/elements`, { using: "css selector", value: css })).map(
        (e) => e[ELEMENT] ?? Object.values(e)[0],
      );
    },
    /** The text of the first element matching `css` (null when there is none). WebKitWebDriver's
     * "Get Element Text" answers null here, so read it from the page. */
    async text(css) {
      return wd("POST", `${s}/execute/sync`, {
        script: "const e = document.querySelector(arguments[0]); return e ? e.textContent.replace(/\\s+/g, ' ').trim() : null;",
        args: [css],
      });
    },
    /** Run `script` in the page (W3C "Execute Script"); its `return` value comes back. */
    async execute(script, args = []) {
      return wd("POST", `${s}/execute/sync`, { script, args });
    },
    /** Run `script` in the page; it calls `arguments[arguments.length - 1](value)` to answer. */
    async executeAsync(script, args = []) {
      return wd("POST", `${s}/execute/async`, { script, args });
    },
    async click(css) {
      const [el] = await waitFor(async () => {
        const found = await win.all(css);
        return found.length ? found : null;
      }, { what: `an element ${css}` });
      await wd("POST", `${s}/element/${el}/click`, {});
    },
    /** The value of the first input matching `css` (null when there is none). */
    async value(css) {
      return wd("POST", `${s}/execute/sync`, {
        script: "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
        args: [css],
      });
    },
    /** Type `text` into the first element matching `css`. */
    async type(css, text) {
      const [el] = await win.all(css);
      if (!el) throw new Error(`no element ${css}`);
      await wd("POST", `${s}/element/${el}/value`, { text });
    },
    /** Wait until the first element matching `css` has text matching `re`. */
    async waitText(css, re, what = css) {
      return waitFor(async () => {
        const txt = await win.text(css);
        return txt !== null && re.test(txt) ? txt : null;
      }, { what: `${what} to match ${re}`, timeout: 20000 });
    },
    /** Every webview window the session can drive (the main one first). */
    async handles() {
      return wd("GET", `${s}/window/handles`);
    },
    async switchTo(handle) {
      await wd("POST", `${s}/window`, { handle });
    },
    async waitGone(css) {
      return waitFor(async () => (await win.all(css)).length === 0, { what: `${css} to go away`, timeout: 20000 });
    },
  };
  return win;
}
