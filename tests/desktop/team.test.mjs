// The desktop app as an agent's app of a team hub: a call posted to the hub pops on the agent's
// desktop (through a real notification daemon), and a restart does not pop it again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, workdir, startApp, startDunst, monitorNotifications, cti, waitFor, client, API_TOKEN } from "./harness.mjs";

const SERVER_BIN = join(ROOT, "target/debug/ringside-server");

/** A hub (`ringside-server serve` with `[hub]`) on a fresh data directory. */
async function startHub(t) {
  const dir = workdir(t, { identities: [], extra: `\n[hub]\n[hub.groups.sales]\nlines = ["+14155550100"]\n` });
  const args = ["--data-dir", join(dir, "data"), "--config", join(dir, "config.toml")];
  const child = spawn(SERVER_BIN, ["serve", "--listen", "127.0.0.1:0", ...args], {
    env: { ...process.env, RINGSIDE_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGTERM"));
  const url = await new Promise((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error("the hub printed no listening line")), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/\S+)\n/m);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
  });
  const agent = (...more) => {
    const out = execFileSync(SERVER_BIN, ["agents", ...more, ...args], { encoding: "utf8" });
    return out.trim().split("\n").pop();
  };
  return { url, agent, ...client(url) };
}

/** The agent's app: linked to `hub` with `token` on its first start. */
function appDir(t) {
  const dir = workdir(t, { identities: [] });
  // An agent's app takes no webhooks of its own: the hub does.
  writeFileSync(join(dir, "config.toml"), `[api]\ntoken = "${API_TOKEN}"\n`);
  return dir;
}

test("a call posted to the hub pops on the agent's desktop, once, across a restart", async (t) => {
  await startDunst(t);
  const seen = await monitorNotifications(t);
  const hub = await startHub(t);
  const token = hub.agent("add", "ana", "--identity", "201", "--group", "sales");
  assert.match(token, /^rsa_/);

  const dir = appDir(t);
  let app = await startApp(t, dir, { args: ["--hub", hub.url, "--token", token] });
  const team = async (a) => (await a.api("/api/status")).sources.find((s) => s.name === "team");
  await waitFor(async () => (await team(app))?.state === "connected", { what: "the app connected to the hub" });
  assert.match((await team(app)).message, /as ana$/);

  await hub.post(cti("newCall", "team-1", "+14155550123", { user: ["201"] }));
  await waitFor(() => seen.notifies.length === 1, { what: "the pop on the agent's desktop" });
  assert.equal(seen.notifies[0].summary, "Incoming call: +1 415-555-0123");

  // A restart (the agent logs in again) while the call still rings: no second pop for it. The
  // next call's pop says the app has caught up with the hub.
  await new Promise((res) => {
    app.child.once("exit", res);
    app.child.kill("SIGTERM");
  });
  app = await startApp(t, dir); // linked: the config remembers the hub
  await waitFor(async () => (await team(app))?.state === "connected", { what: "the app reconnected" });
  await hub.post(cti("newCall", "team-2", "+14155550124", { user: ["201"] }));
  await waitFor(() => seen.notifies.some((n) => n.summary.includes("0124")), { what: "the next call's pop" });
  const first = seen.notifies.filter((n) => n.summary.includes("0123"));
  assert.equal(first.length, 1, `team-1 popped once: ${seen.raw}`);

  // Done on the hub by ana, from her app.
  await hub.post(cti("hangup", "team-2", "+14155550124", { cause: "noAnswer" }));
  await waitFor(async () => (await app.api("/api/missed")).some((c) => c.id === "generic:team-2"), {
    what: "the missed call in the app",
  });
  const r = await fetch(`${app.url}/api/calls/generic:team-2/done`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_TOKEN}` },
  });
  assert.equal(r.status, 200);
  const onHub = await hub.api("/api/calls/generic:team-2");
  assert.equal(onHub.done_by, "ana");
});
