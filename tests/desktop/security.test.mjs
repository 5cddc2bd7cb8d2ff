// The real `ringside` window's page is confined: its Content-Security-Policy refuses eval,
// injected inline scripts and connections anywhere but Tauri's IPC, and its capability lets it
// call Ringside's own commands and listen to events, and nothing else (no plugin, no emit).
// tests/it/contract.rs checks the same configuration as files; this checks the running app.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { workdir, freePort, startDunst, startDriver, openWindow } from "./harness.mjs";

/** Call `cmd` through Tauri's IPC from the page: "ok" or "refused: <why>". */
const INVOKE = `
  const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
    .then(() => done("ok"), (e) => done("refused: " + String(e)));`;

test("the window's page runs under a strict CSP and reaches only what its capability grants", async (t) => {
  const dir = workdir(t);
  const port = await freePort();
  await startDunst(t);
  const driver = await startDriver(t);
  const win = await openWindow(t, driver, [
    "--listen", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--config", join(dir, "config.toml"),
  ]);
  await win.waitText('[data-testid="connection"]', /live/i, "the connection pill");

  const evaluated = await win.execute(
    "try { return 'ran: ' + eval('6 * 7'); } catch (e) { return 'blocked: ' + e.name; }",
  );
  assert.match(evaluated, /^blocked/, "eval is refused");
  const viaFunction = await win.execute(
    "try { return 'ran: ' + new Function('return 42')(); } catch (e) { return 'blocked: ' + e.name; }",
  );
  assert.match(viaFunction, /^blocked/, "new Function is refused");

  const inline = await win.executeAsync(`
    const done = arguments[arguments.length - 1];
    window.__injected = "no";
    const s = document.createElement("script");
    s.textContent = "window.__injected = 'yes'";
    document.head.appendChild(s);
    setTimeout(() => done(window.__injected), 300);`);
  assert.equal(inline, "no", "an injected inline script does not run");

  // Even Ringside's own HTTP listener is off limits to the page: it talks over IPC only.
  for (const url of [`http://127.0.0.1:${port}/healthz`, "https://example.com/"]) {
    const fetched = await win.executeAsync(
      `const done = arguments[arguments.length - 1];
       fetch(arguments[0]).then(() => done("fetched"), (e) => done("blocked: " + e.name));`,
      [url],
    );
    assert.match(fetched, /^blocked/, `fetch ${url}`);
  }

  assert.equal(await win.executeAsync(INVOKE, ["status", {}]), "ok", "an own command");
  assert.equal(await win.executeAsync(INVOKE, ["plugin:event|listen", {
    event: "ringside://probe", target: { kind: "Any" }, handler: 0,
  }]), "ok", "listening to events");
  for (const [cmd, args] of [
    ["plugin:event|emit", { event: "call", payload: {} }],
    ["plugin:app|version", {}],
    ["plugin:opener|open_url", { url: "https://evil.example/" }],
    ["plugin:autostart|enable", {}],
    ["plugin:window|close", { label: "main" }],
  ]) {
    const answer = await win.executeAsync(INVOKE, [cmd, args]);
    assert.match(answer, /^refused/, `${cmd} must be refused`);
  }
});
