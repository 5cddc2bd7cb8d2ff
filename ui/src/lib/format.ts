// Formatting for people: phone numbers, names, durations, times, in the language in force
// (Intl for dates and numbers). Pure functions of their arguments and the locale.

import type { Call } from "./bindings/Call";
import type { CallState } from "./bindings/CallState";
import type { CallView } from "./bindings/CallView";
import type { EndReason } from "./bindings/EndReason";
import { i18n, t } from "./i18n.svelte";

/** How the server (`phone::display`) says a caller id is hidden: shown translated. */
export const WITHHELD = "Withheld number";

const HIDDEN = /^(anonymous|private|withheld|restricted|unknown|unavailable|blocked|hidden|withheld number)$/i;

/**
 * A raw number as an agent reads it, for when the server sent no display form: a hidden
 * caller id reads "Withheld number", none reads "Unknown", anything else as received.
 */
export function formatNumber(n: string | null | undefined): string {
  if (n == null || n.trim() === "") return t("number.unknown");
  const s = n.trim();
  if (HIDDEN.test(s)) return t("number.withheld");
  return s;
}

/** How the server says `raw` reads: the call's `numbers`, or the display strings. */
function serverShown(shown: string | null | undefined, raw: string | null | undefined): string {
  if (shown === WITHHELD) return t("number.withheld");
  return shown ?? formatNumber(raw);
}

type Numbers = Pick<Call, "from" | "to" | "from_display" | "to_display"> & { numbers?: CallView["numbers"] };

/** Any number the call names (the line, who answered, an agent rung), as people read it. */
export function shown(c: Numbers, raw: string | null | undefined): string {
  if (raw == null) return formatNumber(raw);
  if (raw === c.from && c.from_display) return serverShown(c.from_display, raw);
  if (raw === c.to && c.to_display) return serverShown(c.to_display, raw);
  return serverShown(c.numbers?.[raw], raw);
}

/** The number to dial or look up for the other party: the caller inbound, the callee outbound. */
export function otherParty(c: Pick<Call, "direction" | "from" | "to">): string | null {
  return c.direction === "outbound" ? c.to : c.from;
}

/** `from` for people. */
export function fromNumber(c: Numbers): string {
  return serverShown(c.from_display, c.from);
}

/** `to` for people. */
export function toNumber(c: Numbers): string {
  return serverShown(c.to_display, c.to);
}

type Party = Numbers & Pick<Call, "direction">;

/** The other party's number for people ("+44 20 7946 0018", "Withheld number"). */
export function partyNumber(c: Party): string {
  return c.direction === "outbound" ? toNumber(c) : fromNumber(c);
}

/** Our side of the call: the line it came in on (or the number it came to), or went out from. */
export function ownNumber(c: Party & Pick<Call, "line">): string | null {
  if (c.line) return shown(c, c.line);
  const raw = c.direction === "outbound" ? c.from : c.to;
  return raw ? (c.direction === "outbound" ? fromNumber(c) : toNumber(c)) : null;
}

/** No number to call, add as a contact or look up: hidden or absent. */
export function isWithheld(c: Pick<Call, "direction" | "from" | "to">): boolean {
  const raw = otherParty(c);
  return !raw || raw.trim() === "" || HIDDEN.test(raw.trim());
}

/** Who the contacts say the other party is: "Ada", "Ada or Charles", "Ada or 2 others"; null when nobody knows. */
export function callerName(c: Pick<Call, "contacts">): string | null {
  const m = c.contacts ?? [];
  if (m.length === 0) return null;
  if (m.length === 1) return m[0].name;
  if (m.length === 2) return t("caller.two", { a: m[0].name, b: m[1].name });
  return t("caller.many", { name: m[0].name, count: m.length - 1 });
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
  if (source === "local") return t("source.local");
  if (source === "crm") return t("source.crm");
  if (source.startsWith("carddav:")) return t("source.carddav", { name: source.slice("carddav:".length) });
  return source;
}

/** 0:07, 4:05, 1:02:03 */
export function formatDuration(totalSeconds: number | null | undefined): string {
  if (totalSeconds == null || !Number.isFinite(totalSeconds)) return "—";
  const total = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Whole seconds from `since` (RFC 3339) to `now` (ms), never negative. */
export function secondsSince(since: string | null, now: number): number {
  if (!since) return 0;
  const at = Date.parse(since);
  if (Number.isNaN(at)) return 0;
  return Math.max(0, Math.floor((now - at) / 1000));
}

/** The duration a finished call lasted: the server's `duration_s`, else from its timestamps. */
export function callDuration(c: Call): number | null {
  if (c.duration_s != null) return c.duration_s;
  if (c.answered_at && c.ended_at) {
    return Math.max(0, Math.round((Date.parse(c.ended_at) - Date.parse(c.answered_at)) / 1000));
  }
  return null;
}

// Intl formatters for the locale in force, made once per locale.
const cache = new Map<string, Intl.DateTimeFormat | Intl.RelativeTimeFormat | Intl.NumberFormat>();
function fmt<T>(kind: string, make: (locale: string) => T): T {
  const key = `${i18n.locale}:${kind}`;
  let f = cache.get(key) as T | undefined;
  if (!f) {
    f = make(i18n.locale);
    cache.set(key, f as never);
  }
  return f;
}
const timeFmt = () => fmt("time", (l) => new Intl.DateTimeFormat(l, { hour: "numeric", minute: "2-digit" }));
const timeSecFmt = () =>
  fmt("timesec", (l) => new Intl.DateTimeFormat(l, { hour: "numeric", minute: "2-digit", second: "2-digit" }));
const dayFmt = () => fmt("day", (l) => new Intl.DateTimeFormat(l, { month: "short", day: "numeric" }));
const fullFmt = () => fmt("full", (l) => new Intl.DateTimeFormat(l, { dateStyle: "medium", timeStyle: "short" }));
const relFmt = () => fmt("rel", (l) => new Intl.RelativeTimeFormat(l, { numeric: "auto", style: "long" }));
const intFmt = () => fmt("int", (l) => new Intl.NumberFormat(l));

/** A count as the locale writes numbers. */
export function formatCount(n: number): string {
  return intFmt().format(n);
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" today, "Yesterday 14:05", else "20 Nov, 14:05" (in the locale's words and order). */
export function formatWhen(iso: string | null, now: number = Date.now()): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date(now);
  if (sameDay(d, today)) return timeFmt().format(d);
  const yesterday = new Date(now - 86_400_000);
  if (sameDay(d, yesterday)) return t("when.yesterday", { time: timeFmt().format(d) });
  return t("when.dayTime", { day: dayFmt().format(d), time: timeFmt().format(d) });
}

export function formatTimeOfDay(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeSecFmt().format(d);
}

export function formatFull(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : fullFmt().format(d);
}

/** "just now", "4 minutes ago", "2 hours ago" (within six hours), else the day and time. */
export function formatAgo(iso: string | null, now: number): string {
  if (!iso) return "—";
  const s = secondsSince(iso, now);
  if (s < 45) return t("when.justNow");
  if (s < 3600) return relFmt().format(-Math.max(1, Math.round(s / 60)), "minute");
  if (s < 6 * 3600) return relFmt().format(-Math.floor(s / 3600), "hour");
  return formatWhen(iso, now);
}

/** One way to say when, never two: "4 minutes ago" within the hour, else the day and time. */
export function formatRecent(iso: string | null, now: number): string {
  if (!iso) return "—";
  return secondsSince(iso, now) < 3600 ? formatAgo(iso, now) : formatWhen(iso, now);
}

/**
 * Earlier times of a group, each said once: calls in the same minute read "11:55 (×2)".
 * At most `max` distinct times; the rest as "+N".
 */
export function earlierTimes(isos: string[], now: number, max = 4): string {
  const seen: { text: string; n: number }[] = [];
  for (const iso of isos) {
    const text = formatWhen(iso, now);
    const last = seen.find((s) => s.text === text);
    if (last) last.n++;
    else seen.push({ text, n: 1 });
  }
  const shownTimes = seen.slice(0, max).map((s) => (s.n > 1 ? `${s.text} (×${s.n})` : s.text));
  const rest = seen.slice(max).reduce((n, s) => n + s.n, 0);
  return rest ? `${shownTimes.join(", ")}, +${rest}` : shownTimes.join(", ");
}

export function stateLabel(s: CallState): string {
  return t(`state.${s}`);
}

export function endReasonLabel(r: EndReason): string {
  return t(`endReason.${r}`);
}

/** Whom a ringing call is ringing, from its legs still ringing. */
export function ringingAgents(c: Call): string[] {
  return c.legs.filter((l) => l.state === "ringing").map((l) => l.agent);
}

/** Every agent the call rang, once each, in order. */
export function agentsRung(c: Call): string[] {
  return [...new Set(c.legs.map((l) => l.agent))];
}

/** Who answered: `answered_by`, else the answered leg. */
export function answeredBy(c: Call): string | null {
  return c.answered_by ?? c.legs.find((l) => l.state === "answered")?.agent ?? null;
}

/** A number's digits only, for comparing numbers whatever their punctuation. */
export function digitsOf(s: string): string {
  return s.replace(/[^\d]/g, "");
}
