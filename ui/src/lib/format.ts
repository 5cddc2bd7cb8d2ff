// Formatting for people: phone numbers, durations, times. Pure functions, no state.

import type { Call } from "./bindings/Call";
import type { CallState } from "./bindings/CallState";
import type { EndReason } from "./bindings/EndReason";

/** How the server (`phone::display`) and the UI say a caller id is hidden. */
export const WITHHELD = "Withheld number";

/**
 * A raw number as an agent reads it, for when the server sent no display string (calls stored
 * before it did, identities, lines): the words providers use for a hidden caller id read
 * "Withheld number", none reads "Unknown", anything else as received. Calls carry the
 * server's formatting in `from_display` / `to_display`: see `partyNumber`.
 */
export function formatNumber(n: string | null | undefined): string {
  if (n == null || n.trim() === "") return "Unknown";
  const s = n.trim();
  if (/^(anonymous|private|withheld|restricted|unknown|unavailable|blocked|hidden)$/i.test(s)) return WITHHELD;
  return s;
}

/** The number to show for the other party of a call: the caller inbound, the callee outbound. */
export function otherParty(c: Pick<Call, "direction" | "from" | "to">): string | null {
  return c.direction === "outbound" ? c.to : c.from;
}

/** `from` for people: the server's display string, else the raw number. */
export function fromNumber(c: Pick<Call, "from" | "from_display">): string {
  return c.from_display ?? formatNumber(c.from);
}

/** `to` for people: the server's display string, else the raw number. */
export function toNumber(c: Pick<Call, "to" | "to_display">): string {
  return c.to_display ?? formatNumber(c.to);
}

type Party = Pick<Call, "direction" | "from" | "to" | "from_display" | "to_display">;

/** The other party's number for people ("+44 20 7946 0018", "Withheld number"). */
export function partyNumber(c: Party): string {
  return c.direction === "outbound" ? toNumber(c) : fromNumber(c);
}

/** Our side of the call: the number it came in on, or went out from. */
export function ownNumber(c: Party): string | null {
  const raw = c.direction === "outbound" ? c.from : c.to;
  return raw ? (c.direction === "outbound" ? fromNumber(c) : toNumber(c)) : null;
}

/** No number to add as a contact or to look up: hidden or absent. */
export function isWithheld(c: Party): boolean {
  const raw = otherParty(c);
  return !raw || raw.trim() === "" || partyNumber(c) === WITHHELD;
}

/** Who the contacts say the other party is: "Ada Lovelace", "Ada Lovelace or Charles Babbage", "Ada Lovelace or 2 others"; null when nobody knows. */
export function callerName(c: Pick<Call, "contacts">): string | null {
  const m = c.contacts ?? [];
  if (m.length === 0) return null;
  if (m.length === 1) return m[0].name;
  if (m.length === 2) return `${m[0].name} or ${m[1].name}`;
  return `${m[0].name} or ${m.length - 1} others`;
}

/** The company when exactly one contact matches. */
export function callerCompany(c: Pick<Call, "contacts">): string | null {
  return c.contacts?.length === 1 ? c.contacts[0].company : null;
}

/** One short phrase for the other party: their name when known, else their number. */
export function callerLabel(c: Party & Pick<Call, "contacts">): string {
  return callerName(c) ?? partyNumber(c);
}

/** "local" → "Local", "carddav:work" → "CardDAV work", "crm" → "CRM". */
export function sourceLabel(source: string): string {
  if (source === "local") return "Local";
  if (source === "crm") return "CRM";
  if (source.startsWith("carddav:")) return `CardDAV ${source.slice("carddav:".length)}`;
  return source;
}

/** 0:07, 4:05, 1:02:03 */
export function formatDuration(totalSeconds: number | null | undefined): string {
  if (totalSeconds == null || !Number.isFinite(totalSeconds)) return "—";
  const t = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Whole seconds from `since` (RFC 3339) to `now` (ms), never negative. */
export function secondsSince(since: string | null, now: number): number {
  if (!since) return 0;
  const t = Date.parse(since);
  if (Number.isNaN(t)) return 0;
  return Math.max(0, Math.floor((now - t) / 1000));
}

/** The duration a finished call lasted: the server's `duration_s`, else from its timestamps. */
export function callDuration(c: Call): number | null {
  if (c.duration_s != null) return c.duration_s;
  if (c.answered_at && c.ended_at) {
    return Math.max(0, Math.round((Date.parse(c.ended_at) - Date.parse(c.answered_at)) / 1000));
  }
  return null;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const timeSecFmt = new Intl.DateTimeFormat(undefined, {
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
});
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" today, "Yesterday 14:05", else "Nov 20, 14:05". */
export function formatWhen(iso: string | null, now: number = Date.now()): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date(now);
  if (sameDay(d, today)) return timeFmt.format(d);
  const yesterday = new Date(now - 86_400_000);
  if (sameDay(d, yesterday)) return `Yesterday ${timeFmt.format(d)}`;
  return `${dayFmt.format(d)}, ${timeFmt.format(d)}`;
}

export function formatTimeOfDay(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeSecFmt.format(d);
}

export function formatFull(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : fullFmt.format(d);
}

/** "just now", "4 min ago", "2 h ago", else the date. */
export function formatAgo(iso: string | null, now: number): string {
  if (!iso) return "—";
  const s = secondsSince(iso, now);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 6 * 3600) return `${Math.floor(s / 3600)} h ago`;
  return formatWhen(iso, now);
}

export const stateLabel: Record<CallState, string> = {
  ringing: "Ringing",
  answered: "Answered",
  missed: "Missed",
  ended: "Ended",
};

export const endReasonLabel: Record<EndReason, string> = {
  completed: "completed",
  no_answer: "no answer",
  busy: "busy",
  failed: "failed",
  timeout: "timed out",
};

/** Whom a ringing call is ringing, from its legs still ringing. */
export function ringingAgents(c: Call): string[] {
  return c.legs.filter((l) => l.state === "ringing").map((l) => l.agent);
}

/** Who answered: `answered_by`, else the answered leg. */
export function answeredBy(c: Call): string | null {
  return c.answered_by ?? c.legs.find((l) => l.state === "answered")?.agent ?? null;
}

/** "Ringing 201, 202" / "Answered by 201" / "Ringing" as a plain sentence. */
export function whoLine(c: Call): string {
  if (c.state === "ringing") {
    const who = ringingAgents(c);
    return who.length ? `Ringing ${who.join(", ")}` : "Ringing";
  }
  const by = answeredBy(c);
  return by ? `Answered by ${by}` : "Answered";
}

/** Pluralize: plural(3, "call") = "3 calls". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A number's digits only, for comparing numbers whatever their punctuation. */
export function digitsOf(s: string): string {
  return s.replace(/[^\d]/g, "");
}
