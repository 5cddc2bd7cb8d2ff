// Screen-pops through a real notification daemon (dunst) on the test's D-Bus session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { workdir, startApp, startDunst, monitorNotifications, cti, waitFor, sleep } from "./harness.mjs";

test("a ringing call pops once, a duplicate does not pop again, and answering elsewhere closes it", async (t) => {
  const dunst = await startDunst(t);
  const seen = await monitorNotifications(t);
  const app = await startApp(t, workdir(t, { identities: ["201"] }));

  const ring = cti("newCall", "pop-1", "+14155550123", { user: ["201", "202"] });
  await app.post(ring);
  await waitFor(() => seen.notifies.length === 1, { what: "one Notify" });
  const pop = seen.notifies[0];
  assert.equal(pop.app, "Ringside");
  assert.equal(pop.summary, "Incoming call: +1 415-555-0123");
  assert.match(pop.body, /ringing 201, 202/);
  assert.ok(pop.actions.includes("dismiss"), `actions: ${pop.actions}`);
  await waitFor(() => dunst.displayed() === 1, { what: "dunst to display it" });

  // The provider retries the same delivery: no second pop.
  await app.post(ring);
  await sleep(1500);
  assert.equal(seen.notifies.length, 1, seen.raw);

  // 202 picks up: my pop goes away.
  await app.post(cti("answer", "pop-1", "+14155550123", { user: "202", answeringNumber: "202" }));
  await waitFor(() => seen.closes.length === 1, { what: "CloseNotification" });
  await waitFor(() => dunst.displayed() === 0, { what: "dunst to remove it" });
  assert.equal(seen.notifies.length, 1);
});

test("a call for someone else never pops; a missed call of mine turns the pop into 'Missed call'", async (t) => {
  await startDunst(t);
  const seen = await monitorNotifications(t);
  const app = await startApp(t, workdir(t, { identities: ["201"] }));

  await app.post(cti("newCall", "other-1", "+14155550124", { user: ["303"] }));
  await app.post(cti("newCall", "mine-1", "+14155550125", { user: ["201"] }));
  await waitFor(() => seen.notifies.length === 1, { what: "the pop for my call" });
  assert.match(seen.notifies[0].summary, /415-555-0125/);
  await app.post(cti("hangup", "mine-1", "+14155550125", { cause: "noAnswer" }));
  await waitFor(() => seen.notifies.length === 2, { what: "the missed-call replacement" });
  const missed = seen.notifies[1];
  assert.equal(missed.summary, "Missed call: +1 415-555-0125");
  assert.notEqual(missed.replacesId, 0, "replaces the ringing pop in place");
  await sleep(500);
  assert.ok(!seen.notifies.some((n) => n.summary.includes("0124")), "no pop for 303's call");
});
