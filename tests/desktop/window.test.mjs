// The real `ringside` window (Tauri 2 on WebKitGTK) driven over WebDriver under Xvfb: the same
// flow an agent goes through, with calls arriving as real webhooks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { ROOT, workdir, freePort, fakeOpener, startDunst, startDriver, openWindow, client, cti, waitFor, sleep, screenshot } from "./harness.mjs";

// Screenshots go to docs/ when asked (RINGSIDE_SCREENSHOTS=1), else to the work dir.
const shots = (dir) => {
  const out = process.env.RINGSIDE_SCREENSHOTS ? join(ROOT, "docs/screenshots") : join(dir, "shots");
  mkdirSync(out, { recursive: true });
  return (name) => screenshot(join(out, name));
};

test("real window: ringing -> answered -> ended, a missed call, call back, done", async (t) => {
  const dir = workdir(t, { identities: ["201"] });
  const shot = shots(dir);
  const port = await freePort();
  const opener = fakeOpener(dir);
  const dunst = await startDunst(t, { pick: "Add contact" });
  const driver = await startDriver(t, opener.env);
  const win = await openWindow(t, driver, [
    "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml"),
  ]);
  const app = client(`http://127.0.0.1:${port}`);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { what: "the embedded listener" });
  await win.waitText('[data-testid="connection"]', /live/i, "the connection pill");

  const row = (id) => `[data-testid="live-call"][data-call-id="generic:${id}"]`;
  await app.post(cti("newCall", "w-1", "+14155550123", { user: ["201", "202"] }));
  await win.waitText(`${row("w-1")} [data-testid="state-chip"]`, /ringing/i);
  assert.match(await win.text(`${row("w-1")} [data-testid="caller"]`), /415.*555.*0123/);
  assert.match(await win.text(`${row("w-1")} [data-testid="agents"]`), /201/);

  // The pop's "Add contact": the window opens the contact form with the caller's number; saving
  // (over IPC) names the call in the panel.
  await waitFor(() => dunst.displayed() === 1, { what: "the pop" });
  execFileSync("dunstctl", ["context"]);
  const number = '[data-testid="contact-dialog"] [data-testid="contact-number"]';
  await waitFor(async () => (await win.value(number)) === "+14155550123", { what: "the form with the number" });
  await win.type('[data-testid="contact-name"]', "Dana Whitfield");
  await win.click('[data-testid="contact-save"]');
  await win.waitText(`${row("w-1")} [data-testid="caller-name"]`, /^Dana Whitfield$/, "the name on the row");

  await app.post(cti("answer", "w-1", "+14155550123", { user: "201", answeringNumber: "201" }));
  await win.waitText(`${row("w-1")} [data-testid="state-chip"]`, /answered/i);
  const t1 = await win.text(`${row("w-1")} [data-testid="timer"]`);
  await sleep(2200);
  const t2 = await win.text(`${row("w-1")} [data-testid="timer"]`);
  assert.notEqual(t1, t2, `the timer runs (${t1} then ${t2})`);

  // One answered and one ringing call on the panel, for the screenshot.
  await app.post(cti("newCall", "w-3", "+442079460018", { user: ["201"] }));
  await win.waitText(`${row("w-3")} [data-testid="state-chip"]`, /ringing/i);
  // No leftover notice in the picture.
  await win.execute("document.querySelector('[data-testid=\"notice\"] .close')?.click()");
  await sleep(300);
  shot("desktop-live.png");

  await app.post(cti("hangup", "w-1", "+14155550123", { cause: "normalClearing" }));
  await win.waitGone(row("w-1"));
  await app.post(cti("answer", "w-3", "+442079460018", { user: "201", answeringNumber: "201" }));
  await app.post(cti("hangup", "w-3", "+442079460018", { cause: "normalClearing" }));
  await win.waitGone(row("w-3"));

  await app.post(cti("newCall", "w-2", "+14155550199", { user: ["201"] }));
  await app.post(cti("hangup", "w-2", "+14155550199", { cause: "noAnswer" }));
  await win.waitText('[data-testid="missed-badge"]', /^1$/, "the missed badge");
  await win.click('[data-testid="tab-missed"]');
  await win.waitText('[data-testid="missed-group"]', /415.*555.*0199/);
  // No leftover notice in the picture.
  await win.execute("document.querySelector('[data-testid=\"notice\"] .close')?.click()");
  await sleep(300);
  shot("desktop-missed.png");

  await win.click('[data-testid="missed-group"] [data-testid="callback-button"]');
  await win.waitText('[data-testid="callback-uri"]', /tel:\+14155550199/);
  // The URI really went to the OS opener, as one argument, unchanged.
  await waitFor(() => opener.opened().includes("tel:+14155550199"), { what: "xdg-open to get the URI" });
  // Called back: the missed call is dealt with; Undo brings it back, Done clears it.
  await win.waitGone('[data-testid="missed-group"]');
  await win.click('[data-testid="notice-action"]');
  await win.waitText('[data-testid="missed-group"]', /415.*555.*0199/, "the group back");
  await win.click('[data-testid="missed-group"] [data-testid="done-button"]');
  await win.waitGone('[data-testid="missed-group"]');
  assert.equal((await win.all('[data-testid="missed-badge"]')).length === 0 || /^0?$/.test(await win.text('[data-testid="missed-badge"]')), true);
  const missed = await app.api("/api/missed");
  assert.deepEqual(missed, []);
});
