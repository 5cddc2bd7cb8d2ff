// The always-on-top mini window (for agents whose notifications are hidden) and the global
// shortcuts, in the real `ringside` under Xvfb: keys pressed with xdotool reach the app through
// the X server as an agent's keyboard would, whichever window has the focus.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import {
  ROOT,
  workdir,
  freePort,
  fakeOpener,
  startDunst,
  startDriver,
  openWindow,
  client,
  cti,
  waitFor,
  sleep,
  screenshot,
  monitorNotifications,
} from "./harness.mjs";

const MINI_TITLE = "Ringside call";

/** The X windows named `name` that are mapped (shown), by id. */
function shownWindows(name) {
  const r = spawnSync("xdotool", ["search", "--onlyvisible", "--name", `^${name}$`]);
  return r.stdout.toString().split("\n").filter(Boolean);
}

function geometry(id) {
  const out = execFileSync("xdotool", ["getwindowgeometry", "--shell", id]).toString();
  return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => l.split("=")).map(([k, v]) => [k, Number(v)]));
}

/** A window manager (openbox) for this test: "always on top" is a window manager's job. */
async function startWindowManager(t) {
  const wm = spawn("openbox", ["--sm-disable"], { stdio: "ignore" });
  t.after(() => wm.kill("SIGTERM"));
  await waitFor(() => /_NET_SUPPORTING_WM_CHECK\(WINDOW\)/.test(spawnSync("xprop", ["-root", "_NET_SUPPORTING_WM_CHECK"]).stdout.toString()), {
    what: "the window manager",
  });
}

test("the mini window shows the call for me on top, and goes when it is answered", async (t) => {
  await startWindowManager(t);
  const dir = workdir(t, { identities: ["201"], extra: "\n[screenpop]\nmini_window = true\n" });
  const port = await freePort();
  const dunst = await startDunst(t);
  const driver = await startDriver(t);
  const win = await openWindow(t, driver, ["--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml")]);
  const app = client(`http://127.0.0.1:${port}`);
  await win.waitText('[data-testid="connection"]', /live/i, "the connection pill");
  assert.deepEqual(shownWindows(MINI_TITLE), [], "no mini window before a call");

  await app.post(cti("newCall", "mini-1", "+14155550123", { user: ["201", "202"] }));
  const [mini] = await waitFor(() => {
    const w = shownWindows(MINI_TITLE);
    return w.length ? w : null;
  }, { what: "the mini window" });
  const g = geometry(mini);
  assert.ok(g.WIDTH <= 400 && g.HEIGHT <= 220, `small: ${JSON.stringify(g)}`);
  // Always on top: the window manager's hint is set.
  const state = execFileSync("xprop", ["-id", mini, "_NET_WM_STATE"]).toString();
  assert.match(state, /_NET_WM_STATE_ABOVE/, state);
  // It shows the caller: the same UI, reduced to the call (the session drives both webviews).
  let main = null;
  for (const h of await win.handles()) {
    await win.switchTo(h);
    if ((await win.execute("return location.search")) !== "?view=mini") main = h;
  }
  await win.switchTo((await win.handles()).find((h) => h !== main));
  await win.waitText('[data-testid="mini-caller"]', /415.*555.*0123/, "the caller in the mini window");
  await win.waitText('[data-testid="mini-pop"]', /ringing/i, "its state");
  if (process.env.RINGSIDE_SCREENSHOTS) {
    // The screen as the agent sees it: the window, the pop, the mini window on top.
    const out = join(ROOT, "docs/screenshots");
    mkdirSync(out, { recursive: true });
    await sleep(1000);
    screenshot(join(out, "desktop-mini.png"));
  }
  await win.switchTo(main);

  // Someone else answers: the pop closes, so does the mini window.
  await app.post(cti("answer", "mini-1", "+14155550123", { user: "202", answeringNumber: "202" }));
  await waitFor(() => shownWindows(MINI_TITLE).length === 0, { what: "the mini window to go" });
  await waitFor(() => dunst.displayed() === 0, { what: "the pop closed" });
});

test("global shortcuts: one brings up the current caller, one calls back the newest missed call", async (t) => {
  const dir = workdir(t, { identities: ["201"] });
  const port = await freePort();
  const opener = fakeOpener(dir);
  const dunst = await startDunst(t);
  const driver = await startDriver(t, opener.env);
  const win = await openWindow(t, driver, ["--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml")]);
  const app = client(`http://127.0.0.1:${port}`);
  await win.waitText('[data-testid="connection"]', /live/i, "the connection pill");

  // A missed call, then a call ringing; the agent is elsewhere (History).
  await app.post(cti("newCall", "sc-1", "+14155550177", { user: ["201"] }));
  await app.post(cti("hangup", "sc-1", "+14155550177", { cause: "noAnswer" }));
  await app.post(cti("newCall", "sc-2", "+14155550188", { user: ["201"] }));
  await win.click('[data-testid="tab-history"]');
  await win.waitText('[data-testid="history-row"]', /415/, "History");

  // Ctrl+Alt+R: the Live tab, the current caller's row in focus.
  execFileSync("xdotool", ["key", "--clearmodifiers", "ctrl+alt+r"]);
  await waitFor(async () => (await win.execute("return location.hash")) === "#/live", { what: "the Live tab" });
  await waitFor(
    async () => (await win.execute("return document.activeElement?.dataset?.callId ?? null")) === "generic:sc-2",
    { what: "the ringing call's row in focus" },
  );

  // Ctrl+Alt+B: the newest missed call is called back, through the OS opener, and dealt with.
  execFileSync("xdotool", ["key", "--clearmodifiers", "ctrl+alt+b"]);
  await waitFor(() => opener.opened().includes("tel:+14155550177"), { what: "the call back handed to the OS" });
  await waitFor(async () => (await app.api("/api/missed")).length === 0, { what: "the missed call dealt with" });
  await win.waitText('[data-testid="callback-uri"]', /tel:\+14155550177/, "the window saying so");
  // A colleague takes the ringing call: its pop closes, by the daemon this test started
  // (before that one stops, so nothing is left for another to show).
  const shown = dunst.displayed();
  await app.post(cti("answer", "sc-2", "+14155550188", { user: "202", answeringNumber: "202" }));
  await waitFor(() => dunst.displayed() < shown, { what: `the ringing pop closed (of ${shown})` });
  await app.post(cti("hangup", "sc-2", "+14155550188", { cause: "normalClearing" }));
});

test("the pops and the tray speak the language the window speaks", async (t) => {
  const dir = workdir(t, { identities: ["201"], extra: '\n[app]\nlocale = "de"\n' });
  const port = await freePort();
  const dunst = await startDunst(t);
  const seen = await monitorNotifications(t);
  const driver = await startDriver(t);
  const win = await openWindow(t, driver, ["--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml")]);
  const app = client(`http://127.0.0.1:${port}`);
  // The window speaks German, and has told the shell the pops' words.
  await waitFor(async () => (await win.execute("return document.documentElement.dataset.phrases ?? null")) === "de", {
    what: "the German phrases sent",
  });
  assert.equal(await win.text('[data-testid="tab-missed"] .label'), "Verpasst");

  // A caller with history: the pop says so.
  await app.post(cti("newCall", "de-0", "+14155550123", { user: ["201"] }));
  await app.post(cti("answer", "de-0", "+14155550123", { user: "202", answeringNumber: "202" }));
  await app.post(cti("hangup", "de-0", "+14155550123", { cause: "normalClearing" }));
  await app.post(cti("newCall", "de-1", "+14155550123", { user: ["201", "202"] }));
  const second = (n) => n.summary === "Eingehender Anruf: +1 415-555-0123" && n.body.includes("201, 202");
  await waitFor(() => seen.notifies.some(second), { what: "the German pop" });
  const pop = seen.notifies.find(second);
  assert.match(pop.body, /1 früherer Anruf/, pop.body);
  assert.match(pop.body, /klingelt bei 201, 202/, pop.body);
  assert.ok(pop.actions.includes("Ausblenden"), `${pop.actions}`);
  await app.post(cti("answer", "de-1", "+14155550123", { user: "202", answeringNumber: "202" }));
  await waitFor(() => dunst.displayed() === 0, { what: "the pop closed" });
});
