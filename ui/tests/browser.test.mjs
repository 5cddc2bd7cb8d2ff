// The web UI in a real browser against a real ringside-server: calls arrive as generic CTI
// webhooks, and the page must show them ringing, answered, ended and missed, call back with the
// server's URI, and mark missed calls done. Callers show by name: a chooser when two contacts
// share a number, "Add contact" for an unknown one, contacts imported and edited in the
// Contacts tab, a CRM lookup (a slow local HTTP server) set up in Settings. A provider's
// recording URL is played only when it may be opened (javascript: and the like show as text).
//
// Needs: ui/dist built (`npm run build`), the server built (`cargo build -p ringside-server`,
// or RINGSIDE_SERVER_BIN), and Chromium (`apt-get install chromium`, or CHROMIUM_BIN).
// RINGSIDE_SCREENSHOTS=1 writes the screenshots in docs/screenshots/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  API_TOKEN,
  DIST,
  GENERIC_TOKEN,
  SERVER_BIN,
  SHOTS,
  TELTEL_TOKEN,
  checkPrerequisites,
  client,
  eventually,
  inbound,
  launch,
  startServer,
  stopServer,
  workdir,
} from "./harness.mjs";

const CALLER = "+14155550123";
// As the server formats it (`from_display`: libphonenumber's international format).
const CALLER_SHOWN = "+1 415-555-0123";

let work;
let tmp;
let server;
let base;
let context;
let page;
let cti;
let api;
let addContact;
let fixture;
const pageErrors = [];

/** No notice left over in a screenshot. */
async function dismissNotice() {
  const close = page.locator('[data-testid="notice"] .close');
  if (await close.count()) await close.click();
}

const liveRow = (id) => page.locator(`[data-testid="live-call"][data-call-id="${id}"]`);
const parseClock = (s) => s.trim().split(":").reduce((acc, p) => acc * 60 + Number(p), 0);

before(async () => {
  checkPrerequisites();
  work = workdir();
  tmp = work.dir;
  const started = await startServer(tmp);
  server = started.child;
  base = started.url;
  ({ cti, api, addContact, fixture } = client(base));
  context = await launch(tmp);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(e.message));
});

after(async () => {
  await context?.close().catch(() => {});
  await stopServer(server);
  work?.cleanup();
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
  for (let i = 0; i < 14 && reached.length < 5; i++) {
    await page.keyboard.press("Tab");
    const id = await page.evaluate(() => document.activeElement?.id ?? "");
    if (id.startsWith("tab-") && !reached.includes(id)) reached.push(id);
  }
  assert.deepEqual(reached, ["tab-live", "tab-missed", "tab-history", "tab-contacts", "tab-settings"]);
  // Enter on a focused tab opens it; the shortcut keys do too.
  await page.locator("#tab-history").focus();
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="history-table"]').waitFor();
  // The keys follow the tabs' order: 4 is Contacts, 5 Settings.
  await page.locator("body").focus();
  await page.keyboard.press("4");
  await page.locator('[data-testid="contacts-table"]').waitFor();
  await page.keyboard.press("5");
  await page.locator('[data-testid="save-settings"]').waitFor();
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

  // A second call ringing beside the answered one, from a known caller: the Live screenshot.
  await addContact("Margaret Hamilton", "Apollo Guidance Ltd", ["+44 20 7946 0958"]);
  await cti({ event: "newCall", ...inbound("ui-c", "+442079460958", "202", { to: "+14155550111", queue: "Sales" }) });
  await liveRow("generic:ui-c").locator('[data-testid="state-chip"]', { hasText: "Ringing" }).waitFor();
  assert.equal(await liveRow("generic:ui-c").locator('[data-testid="caller-name"]').innerText(), "Margaret Hamilton");
  assert.equal(await liveRow("generic:ui-c").locator('[data-testid="caller-number"]').innerText(), "+44 20 7946 0958");
  // The unknown caller beside it: the number, and "Add contact".
  assert.equal(await row.locator('[data-testid="caller-name"]').count(), 0);
  assert.equal(await row.locator('[data-testid="caller-number"]').innerText(), CALLER_SHOWN);
  await row.locator('[data-testid="add-contact"]').waitFor();
  // Live rows: newest first.
  const order = await page.locator('[data-testid="live-call"]').evaluateAll((rows) => rows.map((r) => r.dataset.callId));
  assert.deepEqual(order, ["generic:ui-c", id]);
  if (SHOTS) {
    mkdirSync(SHOTS, { recursive: true });
    await dismissNotice();
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
  assert.equal(answer.via, "link");
  assert.deepEqual(answer.resolved, ["generic:ui-b"], "calling back deals with the caller's missed calls");
  const uri = page.locator('[data-testid="callback-uri"]');
  await uri.waitFor();
  assert.equal(await uri.innerText(), `tel:${CALLER}`);
  assert.deepEqual(await page.evaluate(() => window.__opened), [`tel:${CALLER}`], "handed to the OS once");
  // Called back: the group is gone (the empty state promised it), the badge too.
  await page.locator('[data-testid="missed-empty"]').waitFor();
  assert.equal(await badge.count(), 0, "the badge is gone");
  assert.deepEqual(await api("/api/missed"), []);

  // Undo (the call did not go through): the group comes back; Done clears it for good.
  await page.locator('[data-testid="notice-action"]').click();
  await group.waitFor();
  assert.equal((await api("/api/missed")).length, 1);
  await group.locator('[data-testid="done-button"]').click();
  await page.locator('[data-testid="missed-empty"]').waitFor();
  assert.deepEqual(await api("/api/missed"), []);
  const timeline = (await api("/api/calls/generic%3Aui-b")).timeline.map((e) => [e.what, e.detail]);
  assert.deepEqual(timeline.slice(-3), [["done", "called back"], ["undone", null], ["done", null]]);
});

test("a missed caller who gets through later is dealt with; a withheld caller offers no call back", async () => {
  await page.locator("#tab-missed").click();
  await cti({ event: "newCall", ...inbound("ui-again-1", "+14155550166", "201") });
  await cti({ event: "hangup", ...inbound("ui-again-1", "+14155550166", "201", { cause: "noAnswer" }) });
  await cti({ event: "newCall", ...inbound("ui-hidden", "anonymous", "201") });
  await cti({ event: "hangup", ...inbound("ui-hidden", "anonymous", "201", { cause: "noAnswer" }) });
  const mine = page.locator('[data-testid="missed-group"][data-number="+14155550166"]');
  await mine.waitFor();
  const hidden = page.locator('[data-testid="missed-group"]', { hasText: "Withheld number" });
  await hidden.waitFor();
  // Nothing to dial, nothing for a CRM to search by, nothing to add: only Done.
  assert.equal(await hidden.locator('[data-testid="callback-button"]').count(), 0);
  assert.equal(await hidden.locator('[data-testid="open-record"]').count(), 0);
  assert.equal(await hidden.locator('[data-testid="add-contact"]').count(), 0);
  await hidden.locator('[data-testid="done-button"]').waitFor();

  // The caller rings again and 202 answers: their missed call is dealt with.
  await cti({ event: "newCall", ...inbound("ui-again-2", "+14155550166", ["201", "202"]) });
  await cti({ event: "answer", ...inbound("ui-again-2", "+14155550166", "202", { answeringNumber: "202" }) });
  await mine.waitFor({ state: "detached" });
  const call = await api("/api/calls/generic%3Aui-again-1");
  assert.equal(call.done, true);
  assert.equal(call.timeline.at(-1).detail, "called again, answered by 202");
  await cti({ event: "hangup", ...inbound("ui-again-2", "+14155550166", "202", { cause: "normalClearing" }) });
  await hidden.locator('[data-testid="done-button"]').click();
  await page.locator('[data-testid="missed-empty"]').waitFor();
});

test("missed calls group by caller, and Mark all done clears them", async () => {
  const missed = async (callId, from, user) => {
    await cti({ event: "newCall", ...inbound(callId, from, user) });
    await cti({ event: "hangup", ...inbound(callId, from, user, { cause: "noAnswer" }) });
  };
  await addContact("Priya Raman", "Contoso Ltd", ["07400 900461"]);
  await missed("ui-m1", "+12125550187", "201");
  await missed("ui-m2", "+447400900461", "202");
  await missed("ui-m3", "+12125550187", ["201", "202"]);
  await missed("ui-m4", CALLER, "201");
  await missed("ui-m5", "+12125550187", "201");

  await eventually(async () => (await page.locator('[data-testid="missed-badge"]').innerText()).trim() === "5", "badge 5");
  const groups = page.locator('[data-testid="missed-group"]');
  await eventually(async () => (await groups.count()) === 3, "three groups");
  const titles = await groups.locator('[data-testid="missed-title"]').allInnerTexts();
  assert.deepEqual(titles, ["3 missed from +1 212-555-0187", `1 missed from ${CALLER_SHOWN}`, "1 missed from Priya Raman · Contoso Ltd"]);
  // A named caller's number is still there, below the name.
  const shown = (await api("/api/missed")).find((c) => c.id === "generic:ui-m2").from_display;
  assert.equal(await groups.nth(2).locator('[data-testid="missed-number"]').innerText(), shown);
  if (SHOTS) {
    await dismissNotice();
    await page.screenshot({ path: join(SHOTS, "missed.png") });
  }

  // The earlier calls of a group say each time once: two in the same minute read "(×2)".
  assert.match(await groups.nth(0).locator('[data-testid="missed-earlier"]').innerText(), /^earlier: .*\(×2\)$/);
  assert.doesNotMatch(await groups.nth(0).locator('[data-testid="missed-when"]').innerText(), /·/);

  // Mark all done marks the calls on screen, and Undo brings every one back.
  await page.locator('[data-testid="mark-all-done"]').click();
  await page.locator('[data-testid="missed-empty"]').waitFor();
  assert.equal(await page.locator('[data-testid="missed-badge"]').count(), 0);
  await page.locator('[data-testid="notice-action"]').click();
  await eventually(async () => (await groups.count()) === 3, "the groups back");
  assert.equal((await api("/api/missed")).length, 5);
  await page.locator('[data-testid="mark-all-done"]').click();
  await page.locator('[data-testid="missed-empty"]').waitFor();
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
  // Named by its label, not its config key; the field is marked and has the focus.
  assert.match(await err.innerText(), /^Record URL template: unknown placeholder \{nope\}/);
  assert.equal(await crm.getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.field), "crm.url");

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

test("two contacts share the caller's number: the chooser, by keyboard, opens the chosen one's record", async () => {
  await page.locator("#tab-live").click();
  await page.evaluate(() => (window.__opened = []));
  const ada = await addContact("Ada Lovelace", "Analytical Engines Ltd", ["(415) 555-0177"], "https://crm.example.com/contacts/ada");
  const charles = await addContact("Charles Babbage", null, ["+1 415 555 0177"], "https://crm.example.com/contacts/charles");
  await cti({ event: "newCall", ...inbound("ui-two", "+14155550177", "201") });
  const row = liveRow("generic:ui-two");
  await row.waitFor();
  assert.equal(await row.locator('[data-testid="caller-name"]').innerText(), "Ada Lovelace or Charles Babbage");
  assert.equal(await row.locator('[data-testid="caller-number"]').innerText(), "+1 415-555-0177");
  const chooser = row.locator('[data-testid="contact-chooser"]');
  assert.equal((await chooser.innerText()).trim(), "2 contacts match");
  assert.equal(await chooser.getAttribute("aria-expanded"), "false");

  // Enter opens the menu on its first item; it lists name, company and source of each.
  await chooser.focus();
  await page.keyboard.press("Enter");
  const menu = row.locator('[data-testid="contact-menu"]');
  await menu.waitFor();
  assert.equal(await chooser.getAttribute("aria-expanded"), "true");
  const choices = menu.locator('[data-testid="contact-choice"]');
  assert.equal(await choices.count(), 2);
  assert.match(await choices.nth(0).innerText(), /Ada Lovelace\s+Analytical Engines Ltd · Local\s+Open record/);
  assert.match(await choices.nth(1).innerText(), /Charles Babbage\s+Local\s+Open record/);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.key), `contact:${ada.id}`);

  // Escape closes it and gives focus back to the button.
  await page.keyboard.press("Escape");
  await menu.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "contact-chooser");

  // ArrowDown opens it again; down to Charles, Enter: the server gives his record, the page opens it.
  await page.keyboard.press("ArrowDown");
  await menu.waitFor();
  await page.keyboard.press("ArrowDown");
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.key), `contact:${charles.id}`);
  const served = page.waitForResponse((r) => r.url().includes("/api/calls/generic%3Aui-two/record?contact=contact%3A"));
  await page.keyboard.press("Enter");
  const answer = await (await served).json();
  assert.equal(answer.url, "https://crm.example.com/contacts/charles");
  await menu.waitFor({ state: "detached" });
  assert.deepEqual(await page.evaluate(() => window.__opened), ["https://crm.example.com/contacts/charles"]);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "contact-chooser", "focus back on the button");

  // A click elsewhere closes an open menu.
  await chooser.click();
  await menu.waitFor();
  await page.locator("#live-title").click();
  await menu.waitFor({ state: "detached" });

  // Missed: the group names the callers and keeps the chooser; so does the call's detail.
  await cti({ event: "hangup", ...inbound("ui-two", "+14155550177", "201", { cause: "noAnswer" }) });
  await row.waitFor({ state: "detached" });
  await page.locator("#tab-missed").click();
  const group = page.locator('[data-testid="missed-group"][data-number="+14155550177"]');
  await group.waitFor();
  assert.equal(await group.locator('[data-testid="missed-title"]').innerText(), "1 missed from Ada Lovelace or Charles Babbage");
  await group.locator('[data-testid="contact-chooser"]').click();
  await group.locator('[data-testid="contact-choice"]').first().click();
  await eventually(async () => (await page.evaluate(() => window.__opened)).length === 2, "Ada's record opened");
  assert.equal((await page.evaluate(() => window.__opened))[1], "https://crm.example.com/contacts/ada");
  await group.locator('[data-testid="done-button"]').click();
  await group.waitFor({ state: "detached" });

  await page.locator("#tab-history").click();
  const hist = page.locator('[data-testid="history-row"][data-call-id="generic:ui-two"]');
  await hist.waitFor();
  assert.equal(await hist.locator('[data-testid="history-name"]').innerText(), "Ada Lovelace or Charles Babbage");
  await hist.click();
  const matches = page.locator('[data-testid="detail-matches"] li');
  await eventually(async () => (await matches.count()) === 2, "both matches in the detail");
  assert.match(await matches.nth(1).innerText(), /Charles Babbage/);
  await page.keyboard.press("Escape");
  await page.evaluate(() => (window.__opened = []));
});

test("an unknown caller: Add contact with the number filled in, and the live row names them without a reload", async () => {
  await page.locator("#tab-live").click();
  await page.evaluate(() => (window.__sameDocument = true));
  await cti({ event: "newCall", ...inbound("ui-new", "+13105550142", "201") });
  const row = liveRow("generic:ui-new");
  await row.waitFor();
  const add = row.locator('[data-testid="add-contact"]');
  const dialog = page.locator('[data-testid="contact-dialog"]');

  // Escape closes the form and focus returns to the button that opened it.
  await add.focus();
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "contact-name", "the form starts at the name");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await eventually(async () => (await page.evaluate(() => document.activeElement?.dataset.testid)) === "add-contact", "focus back on Add contact");

  await add.click();
  await dialog.waitFor();
  assert.equal(await dialog.locator('[data-testid="contact-number"]').inputValue(), "+13105550142");
  // The server's refusal shows in the form, which stays open.
  await dialog.locator('[data-testid="contact-save"]').click();
  await dialog.locator('[data-testid="contact-error"]').waitFor();
  assert.match(await dialog.locator('[data-testid="contact-error"]').innerText(), /name or a company/);

  const before = await row.boundingBox();
  await dialog.locator('[data-testid="contact-name"]').fill("Dana Whitfield");
  await dialog.locator('[data-testid="contact-company"]').fill("Harbour Logistics");
  await dialog.locator('[data-testid="contact-save"]').click();
  await dialog.waitFor({ state: "detached" });
  // The server names the stored call and sends it again over /api/live.
  await row.locator('[data-testid="caller-name"]', { hasText: "Dana Whitfield" }).waitFor();
  assert.match(await row.locator('[data-testid="caller"]').innerText(), /Dana Whitfield\s+Harbour Logistics\s+\+1 310-555-0142/);
  assert.equal(await row.locator('[data-testid="add-contact"]').count(), 0);
  const after = await row.boundingBox();
  assert.equal(after.height, before.height, "the row keeps its height when the name arrives");
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  // Focus did not fall to the page: it is in the row's actions.
  assert.equal(await row.evaluate((r) => r.contains(document.activeElement)), true, "focus stays in the row");
  const stored = await api("/api/contacts?q=Whitfield");
  assert.equal(stored.length, 1);
  assert.equal(stored[0].numbers[0].e164, "+13105550142");
  await cti({ event: "hangup", ...inbound("ui-new", "+13105550142", "201", { cause: "normalClearing" }) });
  await row.waitFor({ state: "detached" });
});

test("Contacts tab: import a CSV (and one needing a column mapping), search, edit, delete", async () => {
  await page.locator("body").focus();
  await page.keyboard.press("4");
  await page.locator('[data-testid="contacts-table"]').waitFor();
  await eventually(async () => (await page.locator('[data-testid="contact-row"]').count()) >= 5, "the contacts so far");

  const csv = join(tmp, "people.csv");
  writeFileSync(
    csv,
    [
      "Full Name,Company,Mobile Phone,Work Phone",
      "Rosa Imported,Northwind,+1 206 555 0101,",
      'Sam Imported,"Fabrikam, Inc.",(206) 555-0102,+1 206 555 0199',
      "Tomas Imported,,206-555-0103,",
      "Nobody Withoutnumber,Nowhere,,",
    ].join("\n"),
  );
  const form = page.locator('[data-testid="import-form"]');
  await form.locator('[data-testid="import-file"]').setInputFiles(csv);
  await form.locator('[data-testid="import-button"]').click();
  const counts = form.locator('[data-testid="import-counts"]');
  await counts.waitFor();
  assert.equal(await counts.innerText(), "3 added · 0 updated · 0 unchanged · 1 skipped");
  assert.equal(await form.locator('[data-testid="import-columns"]').innerText(), "name=Full Name, company=Company, phone=Mobile Phone, phone=Work Phone");
  await form.locator('[data-testid="import-result"] summary').click();
  assert.match(await form.locator('[data-testid="import-skipped"]').innerText(), /row 5: .*phone number/);
  await page.locator('[data-testid="contact-row"]', { hasText: "Sam Imported" }).waitFor();
  // The same file again: nothing new.
  await form.locator('[data-testid="import-button"]').click();
  await eventually(async () => (await counts.innerText()) === "0 added · 0 updated · 3 unchanged · 1 skipped", "the re-import counts");

  // Headers nobody recognises: the server says so; a mapping imports it.
  const odd = join(tmp, "kunden.csv");
  writeFileSync(odd, "Kunde;Handy\nUlla Gemappt;+49 30 901820\n");
  await form.locator('[data-testid="import-file"]').setInputFiles(odd);
  await form.locator('[data-testid="import-button"]').click();
  const error = form.locator('[data-testid="import-error"]');
  await error.waitFor();
  assert.match(await error.innerText(), /no name column found/);
  await form.locator('[data-testid="import-mapping"]').fill("name=Kunde\nphone=Handy");
  await form.locator('[data-testid="import-button"]').click();
  await eventually(async () => (await counts.isVisible()) && (await counts.innerText()) === "1 added · 0 updated · 0 unchanged · 0 skipped", "the mapped import");
  assert.equal(await form.locator('[data-testid="import-columns"]').innerText(), "name=Kunde, phone=Handy");

  // Search: digits of a number find the contact.
  await page.locator('[data-testid="contacts-search"]').fill("2065550102");
  await eventually(async () => (await page.locator('[data-testid="contact-row"]').count()) === 1, "one contact for those digits");
  const sam = page.locator('[data-testid="contact-row"]');
  assert.match(await sam.innerText(), /Sam Imported\s+Fabrikam, Inc\./);

  // Edit: the form has the contact; the table and the server take the change.
  await sam.locator('[data-testid="edit-contact"]').click();
  const dialog = page.locator('[data-testid="contact-dialog"]');
  await dialog.waitFor();
  assert.equal(await dialog.locator('[data-testid="contact-name"]').inputValue(), "Sam Imported");
  assert.equal(await dialog.locator('[data-testid="contact-number"]').count(), 2);
  await dialog.locator('[data-testid="contact-company"]').fill("Fabrikam Europe");
  await dialog.locator('[data-testid="contact-save"]').click();
  await dialog.waitFor({ state: "detached" });
  await page.locator('[data-testid="contact-row"]', { hasText: "Fabrikam Europe" }).waitFor();
  const id = Number(await sam.getAttribute("data-contact-id"));
  assert.equal((await api(`/api/contacts/${id}`)).company, "Fabrikam Europe");

  // Delete asks twice.
  await sam.locator('[data-testid="edit-contact"]').click();
  await dialog.waitFor();
  await dialog.locator('[data-testid="contact-delete"]').click();
  assert.equal(await dialog.locator('[data-testid="contact-delete"]').innerText(), "Delete Sam Imported?");
  await dialog.locator('[data-testid="contact-delete"]').click();
  await dialog.waitFor({ state: "detached" });
  await eventually(async () => (await page.locator('[data-testid="contact-row"]').count()) === 0, "the row gone");
  const gone = await fetch(`${base}/api/contacts/${id}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
  assert.equal(gone.status, 404);
  await page.locator('[data-testid="contacts-search"]').fill("");

  // Export: every contact as a vCard file.
  const download = page.waitForEvent("download");
  await page.locator('[data-testid="export-contacts-vcard"]').click();
  const vcf = readFileSync(await (await download).path(), "utf8");
  assert.match(vcf, /BEGIN:VCARD/);
  assert.match(vcf, /Ulla Gemappt/);
});

test("Settings: a CRM lookup with a secret header and a CardDAV book; the CRM's late answer names the call in place", async () => {
  // A CRM on this machine that answers slowly, and only for one number.
  const asked = [];
  const crm = createServer((req, res) => {
    const phone = new URL(req.url, "http://x").searchParams.get("phone");
    asked.push({ phone, key: req.headers["x-api-key"] });
    const body = phone === "+13125550160" ? [{ name: "Lucy Late", company: "Slowpoke Inc", url: "https://crm.example.com/lucy" }] : [];
    setTimeout(() => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    }, 800);
  });
  await new Promise((r) => crm.listen(0, "127.0.0.1", r));
  const crmUrl = `http://127.0.0.1:${crm.address().port}/lookup?phone={e164}`;
  try {
    await page.locator("#tab-settings").click();
    const lookup = page.locator('[data-testid="lookup-settings"]');
    await lookup.waitFor();
    await lookup.locator('[data-testid="add-crm-lookup"]').click();
    await lookup.locator('[data-testid="crm-lookup-url"]').fill(crmUrl);
    await lookup.getByPlaceholder("/url").fill("/url");
    await lookup.getByLabel("New header name").fill("X-Api-Key");
    await lookup.getByLabel("New header value").fill("crm-secret-123");
    await lookup.getByRole("button", { name: "Add", exact: true }).click();
    await lookup.locator('[data-testid="add-carddav"]').click();
    const book = lookup.locator('[data-testid="carddav-book"]');
    await book.getByLabel("Name", { exact: true }).fill("office");
    await book.getByLabel("Address book URL").fill("https://dav.example.com/addressbooks/agent/office/");
    await book.getByLabel("User name").fill("agent");
    await book.getByLabel("Password").fill("dav-secret-456");
    await book.getByLabel("Enabled").uncheck();
    // CRM before local.
    await lookup.getByRole("button", { name: "Move CRM lookup up" }).click();
    await lookup.getByRole("button", { name: "Move CRM lookup up" }).click();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Move CRM lookup down", "focus stays on the moved row");
    await page.locator('[data-testid="save-settings"]').click();
    await eventually(async () => (await api("/api/settings")).config.contacts.crm?.url === crmUrl, "the lookup saved");

    const view = (await api("/api/settings")).config.contacts;
    assert.deepEqual(view.order, ["crm", "local", "carddav"]);
    assert.deepEqual(view.crm.headers, { "X-Api-Key": "********" }, "secrets are not sent back");
    assert.equal(view.carddav[0].password, "********");
    const toml = () => readFileSync(join(tmp, "config.toml"), "utf8");
    assert.ok(toml().includes("crm-secret-123") && toml().includes("dav-secret-456"), toml());

    // Saved again with the secrets untouched (they show as ********): the server keeps them.
    await page.reload();
    await lookup.waitFor();
    assert.equal(await lookup.getByLabel("Value of header X-Api-Key").inputValue(), "********");
    assert.equal(await book.getByLabel("Password").inputValue(), "********");
    await lookup.locator('[data-testid="tail-digits"]').fill("8");
    await page.locator('[data-testid="save-settings"]').click();
    await eventually(async () => (await api("/api/settings")).config.contacts.tail_digits === 8, "tail digits saved");
    assert.ok(toml().includes("crm-secret-123") && toml().includes("dav-secret-456"), toml());

    // A new caller: the number at once, the CRM's name 0.8 s later, in the same row, same height.
    await page.locator("#tab-live").click();
    await cti({ event: "newCall", ...inbound("ui-late", "+13125550160", "201") });
    const row = liveRow("generic:ui-late");
    await row.locator('[data-testid="caller-number"]').waitFor();
    assert.equal(await row.locator('[data-testid="caller-name"]').count(), 0, "the pop does not wait for the CRM");
    const before = await row.boundingBox();
    await row.locator('[data-testid="caller-name"]', { hasText: "Lucy Late" }).waitFor({ timeout: 10_000 });
    const after = await row.boundingBox();
    assert.equal(after.height, before.height, "no layout jump when the name arrives");
    assert.equal(after.y, before.y);
    assert.deepEqual(asked.at(-1), { phone: "+13125550160", key: "crm-secret-123" }, "the kept secret is still sent");
    // One match with a record: Open record opens the CRM's URL.
    await row.locator('[data-testid="open-record"]').click();
    await eventually(async () => (await page.evaluate(() => window.__opened)).includes("https://crm.example.com/lucy"), "the CRM record opened");
    await cti({ event: "hangup", ...inbound("ui-late", "+13125550160", "201", { cause: "normalClearing" }) });

    // The Contacts tab says how the sources are doing.
    await page.locator("#tab-contacts").click();
    const crmState = page.locator('[data-testid="lookup-source"][data-source="crm"] [data-testid="source-state"]');
    await crmState.waitFor();
    await eventually(async () => /^working/.test(await crmState.innerText()), "the CRM source working");
    assert.equal(await page.locator('[data-testid="lookup-source"][data-source="carddav:office"]').count(), 1);
    // "Sync now" asks the server (the book is turned off: nothing to sync) and says so.
    await page.locator('[data-testid="sync-now"]').click();
    await page.locator('[data-testid="notice"]', { hasText: "Synced: no changes." }).waitFor();

    // Back to no CRM lookup, for the tests after this one.
    await page.locator("#tab-settings").click();
    await lookup.getByRole("button", { name: "Remove", exact: true }).first().click();
    await page.locator('[data-testid="save-settings"]').click();
    await eventually(async () => !(await api("/api/settings")).config.contacts.crm, "the lookup removed");
    await page.locator("#tab-live").click();
  } finally {
    crm.close();
  }
});

test("wrap-up: a disposition and a note on a call, shown in History, found by search, exported", async () => {
  await cti({ event: "newCall", ...inbound("ui-w", "+13125550111", "201") });
  await cti({ event: "answer", ...inbound("ui-w", "+13125550111", "201", { answeringNumber: "201" }) });
  await page.locator("#tab-live").click();
  await liveRow("generic:ui-w").waitFor();
  await cti({ event: "hangup", ...inbound("ui-w", "+13125550111", "201", { cause: "normalClearing" }) });
  // My answered call ended: its wrap-up waits on the Live tab.
  const due = page.locator('[data-testid="wrapup-due"][data-call-id="generic:ui-w"]');
  await due.waitFor();
  await due.locator('[data-testid="wrapup-disposition"]').selectOption("Needs follow-up");
  await due.locator('[data-testid="wrapup-note"]').fill("Promised a refund of the March invoice");
  await due.locator('[data-testid="wrapup-save"]').click();
  await due.waitFor({ state: "detached" });
  const stored = await api("/api/calls/generic%3Aui-w");
  assert.equal(stored.wrapup.disposition, "Needs follow-up");
  assert.equal(stored.wrapup.note, "Promised a refund of the March invoice");
  assert.equal(stored.wrapup.by, "201");

  // History shows it, and the search finds the call by the note.
  await page.locator("#tab-history").click();
  await page.locator('[data-testid="history-search"]').fill("march invoice");
  await eventually(async () => (await page.locator('[data-testid="history-row"]').count()) === 1, "the note to find the call");
  const row = page.locator('[data-testid="history-row"]');
  assert.equal(await row.getAttribute("data-call-id"), "generic:ui-w");
  assert.match(await row.innerText(), /Needs follow-up/);
  // Changed in the detail: a disposition from the list only.
  await row.click();
  const detail = page.locator('[data-testid="call-detail"]');
  await detail.locator('[data-testid="wrapup-disposition"]').selectOption("Sale");
  await detail.locator('[data-testid="wrapup-save"]').click();
  await row.locator('[data-testid="history-disposition"], .inline-wrapup', { hasText: "Sale" }).first().waitFor();
  const refused = await fetch(`${base}/api/calls/generic%3Aui-w/wrapup`, {
    method: "POST",
    headers: { Authorization: `Bearer ${API_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ disposition: "Made up", note: "" }),
  });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).error.field, "disposition");
  await page.keyboard.press("Escape");

  // The CSV export has the caller, the wrap-up, the done flag and the agents rung.
  const download = page.waitForEvent("download");
  await page.locator('[data-testid="export-csv"]').click();
  const csv = readFileSync(await (await download).path(), "utf8");
  const [head, line] = csv.trim().split("\n");
  const cols = head.split(",");
  for (const c of ["name", "company", "agents_rung", "done", "disposition", "note"]) assert.ok(cols.includes(c), `${c} in ${head}`);
  const cells = line.split(",");
  assert.equal(cells[cols.indexOf("disposition")], "Sale");
  assert.equal(cells[cols.indexOf("note")], "Promised a refund of the March invoice");
  assert.equal(cells[cols.indexOf("agents_rung")], "201");
  assert.equal(cells[cols.indexOf("done")], "no");
  await page.locator('[data-testid="history-search"]').fill("");
});

test("call any number: a contact's number, a row of History", async () => {
  await page.evaluate(() => (window.__opened = []));
  await page.locator("#tab-contacts").click();
  await page.locator('[data-testid="contacts-search"]').fill("Margaret");
  const row = page.locator('[data-testid="contact-row"]', { hasText: "Margaret Hamilton" });
  await row.waitFor();
  // Numbers as people read them, whatever was typed.
  assert.equal(await row.locator('[data-testid="contact-number-shown"]').innerText(), "+44 20 7946 0958");
  await row.locator('[data-testid="contact-call"]').click();
  await eventually(async () => (await page.evaluate(() => window.__opened)).includes("tel:+442079460958"), "the contact's number dialled");
  await page.locator('[data-testid="contacts-search"]').fill("");
  await page.locator("#tab-history").click();
  await page.locator('[data-testid="history-row"][data-call-id="generic:ui-w"] [data-testid="history-call"]').click();
  await eventually(async () => (await page.evaluate(() => window.__opened)).includes("tel:+13125550111"), "the caller dialled from History");
});

test("pops in the browser: a notification per call (replaced, closed), a ring, do-not-disturb, short caller ids", async () => {
  await context.grantPermissions(["notifications"], { origin: base });
  // Watch the real Notification API: what the page shows and closes.
  await page.evaluate(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        const entry = { title, body: options?.body ?? "", tag: options?.tag, closed: false };
        window.__notes.push(entry);
        const close = this.close.bind(this);
        this.close = () => {
          entry.closed = true;
          close();
        };
      }
    };
    Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
  });
  await page.locator("#tab-settings").click();
  await page.locator('[data-testid="settings-sound"]').check();
  await page.locator('[data-testid="min-digits"]').fill("5");
  await page.locator('[data-testid="save-settings"]').click();
  await eventually(async () => (await api("/api/settings")).config.screenpop.sound === true, "sound on");
  await page.locator("#tab-live").click();
  await page.mouse.click(5, 300); // the agent has touched the page: it may play sound

  await cti({ event: "newCall", ...inbound("ui-pop", "+13125550177", "201") });
  await eventually(async () => (await page.evaluate(() => window.__notes)).length === 1, "a notification");
  const [note] = await page.evaluate(() => window.__notes);
  assert.equal(note.title, "Incoming call: +1 312-555-0177");
  assert.match(note.body, /ringing 201/);
  assert.equal(note.tag, "ringside:generic:ui-pop");
  await page.locator('[data-testid="connection"]').waitFor();
  await eventually(async () => (await page.locator("[data-ringing=true]").count()) === 1, "the ring");
  // Screen readers hear it at once.
  assert.match(await page.locator('[data-testid="announcer-urgent"]').innerText(), /Ringing: \+1 312-555-0177/);

  // Answered by someone else: the notification goes, the ring stops.
  await cti({ event: "answer", ...inbound("ui-pop", "+13125550177", "202", { answeringNumber: "202" }) });
  await eventually(async () => (await page.evaluate(() => window.__notes))[0].closed, "the notification closed");
  await eventually(async () => (await page.locator("[data-ringing=true]").count()) === 0, "the ring stopped");

  // A colleague's extension (fewer than 5 digits) does not pop.
  await cti({ event: "newCall", ...inbound("ui-ext", "2042", "201") });
  await liveRow("generic:ui-ext").waitFor();
  // Do not disturb: calls show, nothing pops.
  await page.locator('[data-testid="dnd-toggle"]').click();
  await page.locator('[data-testid="dnd-note"]').waitFor();
  await cti({ event: "newCall", ...inbound("ui-dnd", "+13125550178", "201") });
  await liveRow("generic:ui-dnd").waitFor();
  assert.equal((await page.evaluate(() => window.__notes)).length, 1, "no pop for an extension, none during do-not-disturb");
  await page.locator('[data-testid="dnd-toggle"]').click();
  await page.locator('[data-testid="dnd-note"]').waitFor({ state: "detached" });
  await eventually(async () => (await page.evaluate(() => window.__notes)).length === 2, "the ringing call pops once DND is off");
  for (const id of ["ui-pop", "ui-ext", "ui-dnd"]) {
    await cti({ event: "hangup", ...inbound(id, "+13125550177", "201", { cause: "normalClearing", answeringNumber: "202" }) });
  }
  await eventually(async () => (await page.locator('[data-testid="live-call"]').count()) === 0, "the calls over");

  // Whippy never reports ringing: its call pops at `call.started`, already connected, and no
  // phone rings for it.
  const whippy = async (event, status) => {
    const now = new Date().toISOString();
    const data = { id: "ui-whippy", from: "+13125550179", to: "+14155550100", direction: "INBOUND", user_id: 201, created_at: now, updated_at: now, delivery_status: status };
    const res = await fetch(`${base}/hooks/whippy/whippy-token-0123456789`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ event, request_id: `ui-whippy-${event}`, data }),
    });
    assert.equal(res.status, 200, `whippy ${event}: ${await res.text()}`);
  };
  await whippy("call.started", "call_in_progress");
  const whippyNote = async () => (await page.evaluate(() => window.__notes)).find((n) => n.tag === "ringside:whippy:ui-whippy");
  const popped = await eventually(whippyNote, "the Whippy call's pop");
  assert.equal(popped.title, "Incoming call: +1 312-555-0179");
  assert.equal(await page.locator("[data-ringing=true]").count(), 0, "no ring for a connected call");
  await whippy("call.ended", "call_completed.user_hangup");
  await eventually(async () => (await whippyNote()).closed, "the Whippy pop closed");
});

test("languages: the browser's, and the one chosen in Settings, for words, dates and numbers", async () => {
  // A Dutch browser, nothing chosen: Dutch.
  const other = await context.newPage();
  try {
    await other.addInitScript(() => Object.defineProperty(navigator, "languages", { get: () => ["nl-NL", "nl"] }));
    await other.goto(`${base}/#token=${API_TOKEN}`);
    await other.locator("#tab-missed").waitFor();
    assert.equal(await other.locator("#tab-missed .label").innerText(), "Gemist");
    assert.equal(await other.evaluate(() => document.documentElement.lang), "nl");
  } finally {
    await other.close();
  }
  // Chosen in Settings: German, at once, and after a reload.
  await page.locator("#tab-settings").click();
  await page.locator('[data-testid="locale-select"]').selectOption("de");
  await page.locator('[data-testid="save-settings"]').click();
  await page.locator("#tab-missed .label", { hasText: "Verpasst" }).waitFor();
  assert.equal(await page.locator("#tab-history .label").innerText(), "Verlauf");
  assert.equal(await page.evaluate(() => document.documentElement.lang), "de");
  assert.equal((await api("/api/settings")).config.app.locale, "de");
  await page.reload();
  await page.locator("#tab-settings .label", { hasText: "Einstellungen" }).waitFor();
  // Dates and numbers as German writes them.
  await page.locator("#tab-history").click();
  const when = await page.locator('[data-testid="history-row"] td').first().innerText();
  assert.match(when, /^\d{1,2}:\d{2}$|^Gestern \d{1,2}:\d{2}$|\d{1,2}\. \w+/, `a German time: ${when}`);
  assert.doesNotMatch(when, /AM|PM/);
  await page.locator('[data-testid="history-row"]').first().click();
  await page.locator('[data-testid="call-detail"] h4', { hasText: "Verlauf" }).waitFor();
  await page.keyboard.press("Escape");
  // Every language has every string (checked word for word in locales.test.mjs): Hindi too.
  await page.locator("#tab-settings").click();
  await page.locator('[data-testid="locale-select"]').selectOption("hi");
  await page.locator('[data-testid="save-settings"]').click();
  await page.locator("#tab-live .label", { hasText: "लाइव" }).waitFor();
  // Back to the browser's language.
  await page.locator('[data-testid="locale-select"]').selectOption("");
  await page.locator('[data-testid="save-settings"]').click();
  await page.locator("#tab-live .label", { hasText: "Live" }).waitFor();
  assert.equal((await api("/api/settings")).config.app.locale ?? null, null);
  await page.locator("#tab-live").click();
});

test("a recording URL is played only when it may be opened: javascript: and the like show as text", async () => {
  // TelTel gives the recording as `audio_url` in its COMPLETED event (the fixture's shape).
  const recorded = async (callId, audioUrl) => {
    const ids = (e) => ({ ...e, id: `${e.id}-${callId}`, session_id: callId, call_id: callId });
    await fixture("teltel", "inbound-01-start", TELTEL_TOKEN, ids);
    await fixture("teltel", "inbound-10-completed-answered", TELTEL_TOKEN, (e) => ({ ...ids(e), audio_url: audioUrl }));
    return `teltel:${callId}`;
  };
  const detailOf = async (id) => {
    await page.locator("#tab-history").click();
    const row = page.locator(`[data-testid="history-row"][data-call-id="${id}"]`);
    await row.waitFor();
    await row.click();
    const detail = page.locator('[data-testid="call-detail"]');
    await detail.locator('[data-testid="recording"]').waitFor();
    return detail;
  };
  const close = async (detail) => {
    await detail.getByRole("button", { name: "Close details" }).click();
    await detail.waitFor({ state: "detached" });
  };

  // These calls rang nobody of ours: show everyone's.
  await page.locator("#tab-live").click();
  await page.locator('[data-testid="scope-everyone"]').click();
  const unsafe = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
  ];
  for (const [i, url] of unsafe.entries()) {
    const id = await recorded(`ui-rec-bad-${i}`, url);
    const stored = await api(`/api/calls/${encodeURIComponent(id)}`);
    assert.equal(stored.recording_url, url, "stored as the provider gave it");
    assert.equal(stored.recording_link, null, `${url} is not a link`);
    const detail = await detailOf(id);
    assert.equal(await detail.locator('[data-testid="recording-text"]').innerText(), url, "shown as text");
    assert.equal(await detail.locator('[data-testid="recording-play"]').count(), 0, `${url} is not played`);
    assert.equal(await page.locator(`a[href="${url}"]`).count(), 0, `no link to ${url}`);
    // No link anywhere on the page has a scheme the browser would run or read locally.
    const hrefs = await page.locator("a[href]").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    assert.deepEqual(hrefs.filter((h) => !/^(https?:|tel:|sip:|callto:|#|\/)/i.test(h)), [], `links on the page: ${hrefs}`);
    // Nor will the server fetch it.
    const res = await fetch(`${base}/api/calls/${encodeURIComponent(id)}/recording`, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
    assert.equal(res.status, 404, `${url} fetched: ${res.status}`);
    await close(detail);
  }

  // An http(s) one plays in place, fetched by the server (here from a local one).
  const audio = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "audio/wav" });
    res.end(Buffer.alloc(64));
  });
  await new Promise((r) => audio.listen(0, "127.0.0.1", r));
  try {
    const good = `http://127.0.0.1:${audio.address().port}/acc-77/ui-rec-good.wav`;
    const id = await recorded("ui-rec-good", good);
    assert.equal((await api(`/api/calls/${encodeURIComponent(id)}`)).recording_link, good);
    const detail = await detailOf(id);
    assert.equal(await detail.locator('[data-testid="recording-text"]').count(), 0);
    await detail.locator('[data-testid="recording-play"]').click();
    await detail.locator('[data-testid="recording-player"]').waitFor();
    assert.match(await detail.locator('[data-testid="recording-player"]').getAttribute("src"), /^blob:/);
    await close(detail);
  } finally {
    audio.close();
  }
  await page.locator("#tab-live").click();
  await page.locator('[data-testid="scope-me"]').click();
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
