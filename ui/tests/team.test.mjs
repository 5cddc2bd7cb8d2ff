// The browser UI on a team hub, as its agents and its admin see it: each agent's page shows
// exactly their calls and their group's; "I'm calling back" shows to the whole group at once
// and another agent's page offers no claim of its own; done by one is done for all; an
// agent's do-not-disturb shows on the supervisor's Team tab; the admin adds an agent and the
// token shown once works. Every screen at 1280, 720 and 420 px, light and dark: nothing cut,
// no serious accessibility violation (RINGSIDE_SCREENSHOTS=1 keeps the pictures).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  API_TOKEN,
  SHOTS,
  axeViolations,
  checkPrerequisites,
  client,
  eventually,
  launch,
  layoutProblems,
  startServer,
  stopServer,
  workdir,
} from "./harness.mjs";

const SALES_LINE = "+14155550100";
const OTHER_LINE = "+18885550000";
const CALLER = "+12125550187";

let work;
let server;
let base;
let c;
let shots;
const contexts = [];
const pageErrors = [];

const HUB = `
[hub]
claim_minutes = 15

[hub.groups.sales]
lines = ["${SALES_LINE}"]
`;

async function addAgent(name, identities, groups, supervisor = false) {
  const res = await fetch(`${base}/api/agents`, {
    method: "POST",
    headers: { Authorization: `Bearer ${API_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name, identities, groups, supervisor }),
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.token;
}

/** A browser of its own (profile, storage) on the hub (or `on`) with `token`, live. */
async function pageAs(token, who, on = base) {
  const ctx = await launch(join(work.dir, who), { bypassCSP: true });
  contexts.push(ctx);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on("pageerror", (e) => pageErrors.push(`${who}: ${e.message}`));
  await page.goto(`${on}/#token=${encodeURIComponent(token)}`);
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
  return page;
}

const call = (callId, to, user) => ({ from: CALLER, to, direction: "in", callId, user });

async function missed(callId, to, user) {
  await c.cti({ event: "newCall", ...call(callId, to, user) });
  await c.cti({ event: "hangup", ...call(callId, to, user), cause: "noAnswer" });
}

const group = (page) => page.locator('[data-testid="missed-group"]');

/** Every screen of `page` is whole at each width and theme; pictures as `<name>-<w>-<theme>`. */
async function checkScreens(page, name, ready) {
  const failures = [];
  for (const theme of ["light", "dark"]) {
    for (const width of [1280, 720, 420]) {
      await page.setViewportSize({ width, height: 820 });
      await page.emulateMedia({ colorScheme: theme, reducedMotion: "reduce" });
      await page.locator(ready).first().waitFor();
      await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
      for (const p of await page.evaluate(layoutProblems)) failures.push(`${name} ${width} ${theme}: ${p}`);
      for (const v of await axeViolations(page)) failures.push(`${name} ${width} ${theme}: axe ${v}`);
      await page.screenshot({ path: join(shots, `${name}-${width}-${theme}.png`) });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "reduce" });
  assert.deepEqual(failures, [], failures.join("\n"));
}

before(async () => {
  checkPrerequisites();
  work = workdir(HUB);
  const started = await startServer(work.dir);
  server = started.child;
  base = started.url;
  c = client(base);
  shots = SHOTS ? join(SHOTS, "team") : join(work.dir, "shots");
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => {});
  await stopServer(server);
  work?.cleanup();
});

test("agents of one group share a missed call: the claim shows to both, done by one is done for all; the supervisor sees who is available; the admin adds an agent", async () => {
  const ana = await addAgent("ana", ["201"], ["sales"]);
  const ben = await addAgent("ben", ["202"], ["sales"]);
  const cleo = await addAgent("cleo", [], [], true);
  const anaPage = await pageAs(ana, "ana");
  const benPage = await pageAs(ben, "ben");

  // An agent's page: no settings (the admin's), no team tab; do-not-disturb is theirs.
  for (const p of [anaPage, benPage]) {
    assert.equal(await p.locator("#tab-settings").count(), 0, "settings are the admin's");
    assert.equal(await p.locator("#tab-team").count(), 0, "the team tab is for supervisors");
    await p.locator('[data-testid="dnd-toggle"]').waitFor();
  }

  // Another line's call first, then the sales line's: once the second shows, the first would
  // have.
  await missed("t-other", OTHER_LINE, "303");
  await missed("t-sales", SALES_LINE, "202");
  for (const p of [anaPage, benPage]) {
    await p.locator("#tab-missed").click();
    await group(p).waitFor();
    assert.equal(await group(p).count(), 1, "only the group's missed call");
  }
  assert.deepEqual(
    (await (await fetch(`${base}/api/calls`, { headers: { Authorization: `Bearer ${ana}` } })).json()).map((x) => x.id),
    ["generic:t-sales"],
  );

  // Ana claims it: both pages say so; Ben's offers no claim of his own.
  await group(anaPage).locator('[data-testid="claim-button"]').click();
  const anaClaim = anaPage.locator('[data-testid="missed-claim"]');
  await anaClaim.waitFor();
  assert.match(await anaClaim.innerText(), /You are calling back/);
  const benClaim = benPage.locator('[data-testid="missed-claim"]');
  await benClaim.waitFor();
  assert.match(await benClaim.innerText(), /^ana is calling back/);
  assert.equal(await group(benPage).locator('[data-testid="claim-button"]').count(), 0);
  assert.equal(await group(benPage).locator('[data-testid="release-button"]').count(), 0);
  await checkScreens(anaPage, "missed-claimed-mine", '[data-testid="missed-claim"]');
  await checkScreens(benPage, "missed-claimed-other", '[data-testid="missed-claim"]');

  // She lets go: gone on Ben's page; Ben marks it done: gone on hers, by him.
  await group(anaPage).locator('[data-testid="release-button"]').click();
  await benClaim.waitFor({ state: "detached" });
  await group(benPage).locator('[data-testid="claim-button"]').waitFor();
  await group(benPage).locator('[data-testid="done-button"]').click();
  await anaPage.locator('[data-testid="missed-empty"]').waitFor();
  const done = await c.api("/api/calls/generic%3At-sales");
  assert.equal(done.done_by, "ben");

  // Ana turns on do-not-disturb; the supervisor's Team tab shows it, and who is available.
  await anaPage.locator('[data-testid="dnd-toggle"]').click();
  await anaPage.locator('[data-testid="dnd-toggle"][aria-pressed="true"]').waitFor();
  const cleoPage = await pageAs(cleo, "cleo");
  await cleoPage.locator("#tab-team").click();
  const member = (name) => cleoPage.locator(`[data-testid="team-member"][data-name="${name}"] [data-testid="team-presence"]`);
  await eventually(async () => (await member("ana").innerText()) === "Online, do not disturb", "ana on do-not-disturb");
  assert.equal(await member("ben").innerText(), "Online");
  assert.equal(await cleoPage.locator('[data-testid="team-add"]').count(), 0, "adding agents is the admin's");
  await checkScreens(cleoPage, "team-supervisor", '[data-testid="team-member"]');

  // The admin adds an agent: the token shows once and works.
  const adminPage = await pageAs(API_TOKEN, "admin");
  await adminPage.locator("#tab-team").click();
  await adminPage.locator('[data-testid="team-add-name"]').fill("dan");
  await adminPage.locator('[data-testid="team-add-identities"]').fill("204, 205");
  await adminPage.locator('[data-testid="team-add-groups"]').fill("sales");
  await adminPage.locator('[data-testid="team-add"]').click();
  const issued = adminPage.locator('[data-testid="team-issued-token"]');
  await issued.waitFor();
  const token = (await issued.innerText()).trim();
  const me = await (await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` } })).json();
  assert.deepEqual([me.name, me.identities, me.groups], ["dan", ["204", "205"], ["sales"]]);
  await adminPage.locator('[data-testid="team-member"][data-name="dan"]').waitFor();
  await checkScreens(adminPage, "team-admin", '[data-testid="team-issued"]');
  await adminPage.locator("#tab-settings").click();
  await adminPage.locator('[data-testid="team-settings"]').getByText("This Ringside is your team's hub.").waitFor();
  await checkScreens(adminPage, "settings-hub", '[data-testid="save-settings"]');

  // Dan's own Ringside connects to the team from its Settings page, and leaves it again.
  const own = workdir();
  const app = await startServer(own.dir);
  try {
    const danPage = await pageAs(API_TOKEN, "dan", app.url);
    await danPage.locator("#tab-settings").click();
    await danPage.locator('[data-testid="team-url"]').fill(base);
    await danPage.locator('[data-testid="team-token"]').fill(token);
    await danPage.locator('[data-testid="team-connect"]').click();
    const linked = danPage.locator('[data-testid="team-linked"]');
    await linked.getByText(`Connected to ${base} as dan`).waitFor({ timeout: 20_000 });
    await checkScreens(danPage, "settings-linked", '[data-testid="save-settings"]');
    await danPage.locator('[data-testid="team-leave"]').click();
    await danPage.locator('[data-testid="team-connect"]').waitFor();
    const me = await (await fetch(`${app.url}/api/me`, { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json();
    assert.equal(me.team, null);
  } finally {
    await stopServer(app.child);
    own.cleanup();
  }
});

test("the pages threw no errors", () => {
  assert.deepEqual(pageErrors, []);
});
