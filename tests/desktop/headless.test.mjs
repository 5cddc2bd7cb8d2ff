// Without a display, `ringside` runs headless like ringside-server and says where to point a browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { workdir, startApp, API_TOKEN, GENERIC_TOKEN } from "./harness.mjs";

test("no display: headless server with its URL printed", async (t) => {
  const dir = workdir(t);
  const app = await startApp(t, dir, { env: { DISPLAY: "", WAYLAND_DISPLAY: "" } });
  assert.match(app.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const calls = await app.api("/api/calls");
  assert.deepEqual(calls, []);
  assert.match(app.stderr(), /No display found: running headless/);
  // Not a terminal: the address without the token, which never goes to a log.
  assert.match(app.stderr(), /open: +http:\/\/127\.0\.0\.1:\d+\//);
  for (const secret of [API_TOKEN, GENERIC_TOKEN]) assert.ok(!app.stderr().includes(secret), secret);
});
