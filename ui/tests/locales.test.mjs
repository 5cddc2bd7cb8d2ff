// Every language Ringside ships has every string English has, no more, with the same
// placeholders (a missing {{who}} would drop the caller's name from a sentence).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UI } from "./harness.mjs";

const DIR = join(UI, "src", "locales");
const flat = (o, p = "") =>
  Object.entries(o).flatMap(([k, v]) => (typeof v === "object" ? flat(v, `${p}${k}.`) : [[`${p}${k}`, v]]));
const read = (name) => new Map(flat(JSON.parse(readFileSync(join(DIR, name), "utf8"))));
const placeholders = (s) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

test("the five languages shipped, each complete", () => {
  const files = readdirSync(DIR).sort();
  assert.deepEqual(files, ["de.json", "en.json", "es.json", "hi.json", "nl.json"]);
  const en = read("en.json");
  for (const f of files.filter((f) => f !== "en.json")) {
    const other = read(f);
    assert.deepEqual([...other.keys()].sort(), [...en.keys()].sort(), `${f}: the same keys as en.json`);
    for (const [k, v] of en) {
      const theirs = other.get(k);
      assert.ok(theirs.trim() || !v.trim(), `${f} ${k}: empty`);
      // A plural's "one" form may say the number in words instead of {{count}}.
      const want = placeholders(v).filter((p) => !(k.endsWith("_one") && p === "count"));
      const got = placeholders(theirs).filter((p) => !(k.endsWith("_one") && p === "count"));
      assert.deepEqual(got, want, `${f} ${k}: placeholders of "${theirs}"`);
    }
  }
});
