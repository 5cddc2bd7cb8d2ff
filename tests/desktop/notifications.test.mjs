// Screen-pops through a real notification daemon (dunst) on the test's D-Bus session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { workdir, startApp, startDunst, monitorNotifications, cti, waitFor, API_TOKEN } from "./harness.mjs";

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

  // The provider retries the same delivery: no second pop. The next call's pop says the retry
  // was handled (the app handles changes in the order they were stored).
  await app.post(ring);
  await app.post(cti("newCall", "pop-2", "+14155550198", { user: ["201"] }));
  await waitFor(() => seen.notifies.length === 2, { what: "the next call's pop" });
  assert.match(seen.notifies[1].summary, /415-555-0198/, seen.raw);

  // 202 picks up both: the pops go away.
  await app.post(cti("answer", "pop-1", "+14155550123", { user: "202", answeringNumber: "202" }));
  await waitFor(() => seen.closes.length === 1, { what: "CloseNotification" });
  await app.post(cti("answer", "pop-2", "+14155550198", { user: "202", answeringNumber: "202" }));
  await waitFor(() => seen.closes.length === 2, { what: "the second CloseNotification" });
  await waitFor(() => dunst.displayed() === 0, { what: "dunst to remove them" });
  assert.equal(seen.notifies.length, 2);
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
  // 303's call was stored before mine, and changes are handled in order: had it popped, that
  // pop would have come first.
  assert.ok(!seen.notifies.some((n) => n.summary.includes("0124")), "no pop for 303's call");
});

test("a known caller pops with their name; a late CRM answer renames the same pop in place", async (t) => {
  // A CRM that knows +14155550177, and answers only when the test says so.
  let release;
  const released = new Promise((r) => (release = r));
  const crm = createServer(async (req, res) => {
    const phone = new URL(req.url, "http://x").searchParams.get("phone");
    if (phone === "+14155550177") await released;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(phone === "+14155550177" ? [{ name: "Carol White", org: "Acme" }] : []));
  });
  await new Promise((r) => crm.listen(0, "127.0.0.1", r));
  t.after(() => crm.close());
  const crmUrl = `http://127.0.0.1:${crm.address().port}/lookup?phone={e164}`;

  await startDunst(t);
  const seen = await monitorNotifications(t);
  const app = await startApp(
    t,
    workdir(t, { identities: ["201"], extra: `\n[contacts.crm]\nurl = "${crmUrl}"\nname = "/name"\ncompany = "/org"\n` }),
  );
  const r = await fetch(`${app.url}/api/contacts`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Alice Smith", company: "Acme", numbers: [{ number: "(415) 555-0166" }] }),
  });
  assert.equal(r.status, 201);

  await app.post(cti("newCall", "named-1", "+14155550166", { user: ["201"] }));
  await waitFor(() => seen.notifies.length === 1, { what: "the pop for Alice" });
  assert.equal(seen.notifies[0].summary, "Incoming call: Alice Smith (Acme)");
  assert.match(seen.notifies[0].body, /^\+1 415-555-0166 · /);

  await app.post(cti("newCall", "crm-1", "+14155550177", { user: ["201"] }));
  await waitFor(() => seen.notifies.length === 2, { what: "the pop with the number" });
  assert.equal(seen.notifies[1].summary, "Incoming call: +1 415-555-0177");
  assert.ok(seen.notifies[1].actions.includes("add-contact"), `actions: ${seen.notifies[1].actions}`);
  release();
  await waitFor(() => seen.notifies.length === 3, { what: "the renamed pop" });
  const renamed = seen.notifies[2];
  assert.equal(renamed.summary, "Incoming call: Carol White (Acme)");
  assert.notEqual(renamed.replacesId, 0, "replaces the pop in place, no second pop");
  // Nothing more for crm-1: the next call's pop comes next.
  await app.post(cti("newCall", "after-1", "+14155550188", { user: ["201"] }));
  await waitFor(() => seen.notifies.length === 4, { what: "the next call's pop" });
  assert.match(seen.notifies[3].summary, /415-555-0188/, seen.raw);
});
