// The app's state: active calls, missed calls, history, settings, connection, the clock that
// drives the timers, and the status line. One instance, created by App.svelte.

import type { Call } from "./bindings/Call";
import type { CallView } from "./bindings/CallView";
import type { CallState } from "./bindings/CallState";
import type { Contact } from "./bindings/Contact";
import type { ContactInput } from "./bindings/ContactInput";
import type { Direction } from "./bindings/Direction";
import {
  errorMessage,
  failedWith,
  type Backend,
  type CallQuery,
  type ConnectionState,
  type SettingsView,
  type Status,
} from "./backend";
import { callerLabel, digitsOf, otherParty, plural } from "./format";

export type Tab = "live" | "missed" | "history" | "contacts" | "settings";
/** In the order the header shows them. */
export const TABS: Tab[] = ["live", "missed", "history", "contacts", "settings"];
/** The key that opens each tab (Settings kept its 4 when Contacts came). */
export const TAB_KEYS: Record<Tab, string> = { live: "1", missed: "2", history: "3", settings: "4", contacts: "5" };
export type Scope = "me" | "everyone";
export const SCOPE_KEY = "ringside.scope";

export type Notice = {
  tone: "info" | "ok" | "error";
  text: string;
  /** A call back's URI, shown as code (and kept for tests as data-testid=callback-uri). */
  uri?: string;
  /** Said because Ringside was unreachable: cleared once it answers again. */
  offline?: boolean;
  id: number;
};

/** The contact form: a new contact (from a call's number, or empty) or a local one to edit. */
export type ContactForm = { contact: Contact | null; input: ContactInput };

export type MissedGroup = {
  key: string;
  number: string | null;
  calls: CallView[];
  last: CallView;
};

export type HistoryFilter = {
  q: string;
  state: CallState | "";
  direction: Direction | "";
  /** yyyy-mm-dd from <input type=date>, local days. */
  from: string;
  to: string;
};

const PAGE = 100;
const ACTIVE: CallState[] = ["ringing", "answered"];

function time(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

function newestFirst(a: Call, b: Call): number {
  return time(b.started_at) - time(a.started_at) || (b.id < a.id ? -1 : 1);
}

/** A local yyyy-mm-dd's start as RFC 3339 (UTC); `dayAfter` gives the next day's start. */
export function dayStart(ymd: string, dayAfter = false): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (dayAfter ? 1 : 0));
  return d.toISOString();
}

export function historyQuery(f: HistoryFilter): CallQuery {
  const q: CallQuery = {};
  if (f.q.trim()) q.q = f.q.trim();
  if (f.state) q.state = f.state;
  if (f.direction) q.direction = f.direction;
  const since = dayStart(f.from);
  const until = dayStart(f.to, true);
  if (since) q.since = since;
  if (until) q.until = until;
  return q;
}

function readScope(): Scope | null {
  try {
    const v = localStorage.getItem(SCOPE_KEY);
    return v === "me" || v === "everyone" ? v : null;
  } catch {
    return null;
  }
}

export class Store {
  backend: Backend;

  connection = $state<ConnectionState | "connecting">("connecting");
  /** Calls ringing or answered, by id. */
  active = $state<Record<string, CallView>>({});
  /** Missed calls not yet done. */
  missed = $state<CallView[]>([]);
  settings = $state<SettingsView | null>(null);
  status = $state<Status | null>(null);
  scope = $state<Scope>(readScope() ?? "me");
  /** The clock the timers read, ms; ticks on each wall-clock second. */
  now = $state(Date.now());
  notice = $state<Notice | null>(null);
  /** For screen readers: a new call ringing, a call missed (read out politely). */
  announcement = $state("");
  /** The open contact form (a dialog over any tab), or null. */
  contactForm = $state<ContactForm | null>(null);
  /** Bumped on every contact saved, deleted or imported: the Contacts tab refetches. */
  contactsVersion = $state(0);
  /** Set when the API refuses the token (web only): the app asks for another. */
  authFailed = $state(false);
  loaded = $state(false);

  history = $state<CallView[]>([]);
  historyFilter = $state<HistoryFilter>({ q: "", state: "", direction: "", from: "", to: "" });
  historyLoading = $state(false);
  historyMore = $state(false);
  historyError = $state<string | null>(null);
  private historyLoaded = false;
  private historySeq = 0;

  /** Newest version seen of every call, and when (local clock) it arrived over the stream. */
  private latest = new Map<string, { call: CallView; streamedAt: number }>();
  private scopeChosen = readScope() !== null;
  private noticeSeq = 0;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private clockTimer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;
  private unlistenAddContact: (() => void) | null = null;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  start(): void {
    this.tickClock();
    this.unsubscribe = this.backend.subscribe(
      (c) => this.applyCall(c),
      (s) => {
        this.connection = s;
        if (s === "live") void this.resync();
      },
      () => void this.resync(),
    );
    this.unlistenAddContact = this.backend.onAddContact((number) => this.newContact(number));
    void this.loadSettings();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unlistenAddContact?.();
    if (this.clockTimer) clearTimeout(this.clockTimer);
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
  }

  private tickClock = (): void => {
    this.now = Date.now();
    // Wake just after the next wall-clock second, so every timer on screen turns together.
    this.clockTimer = setTimeout(this.tickClock, 1000 - (Date.now() % 1000) + 15);
  };

  // ---- who is "me" ------------------------------------------------------------------------

  /** My identities as the server reads them (numbers in E.164). */
  identities = $derived(this.settings?.identities ?? []);

  /** Whether "Me" can filter at all: without identities every call is shown. */
  hasIdentities = $derived(this.identities.length > 0);

  /** Mine, as the server worked it out (one rule, `Me::owns`, for the pop and this view). */
  isMine(c: CallView): boolean {
    return c.mine;
  }

  private visible(c: CallView): boolean {
    return this.scope === "everyone" || !this.hasIdentities || this.isMine(c);
  }

  setScope(s: Scope): void {
    this.scope = s;
    this.scopeChosen = true;
    try {
      localStorage.setItem(SCOPE_KEY, s);
    } catch {
      /* ignore */
    }
  }

  // ---- derived views ----------------------------------------------------------------------

  liveCalls = $derived(
    Object.values(this.active)
      .filter((c) => this.visible(c))
      .sort(newestFirst),
  );

  missedCalls = $derived(this.missed.filter((c) => this.visible(c)));

  missedGroups = $derived.by((): MissedGroup[] => {
    const groups = new Map<string, MissedGroup>();
    for (const c of [...this.missedCalls].sort(newestFirst)) {
      const n = otherParty(c);
      const key = n ? digitsOf(n) || n.toLowerCase() : "unknown";
      const g = groups.get(key);
      if (g) g.calls.push(c);
      else groups.set(key, { key, number: n, calls: [c], last: c });
    }
    return [...groups.values()];
  });

  historyCalls = $derived(this.history.filter((c) => this.visible(c)));

  // ---- data flow ----------------------------------------------------------------------------

  /** One stored change from the stream. */
  applyCall(c: CallView): void {
    const prev = this.latest.get(c.id);
    if (prev && time(prev.call.updated_at) > time(c.updated_at)) return;
    this.latest.set(c.id, { call: c, streamedAt: Date.now() });
    if (prev?.call.state !== c.state && this.visible(c)) {
      const who = callerLabel(c);
      if (c.state === "ringing") this.announcement = `Ringing: ${who}`;
      else if (c.state === "missed") this.announcement = `Missed call from ${who}`;
    }
    this.place(c);
  }

  /** Put the newest version of a call where it belongs in every list. */
  private place(c: CallView): void {
    if (ACTIVE.includes(c.state)) {
      this.active[c.id] = c;
    } else if (c.id in this.active) {
      delete this.active[c.id];
    }

    const i = this.missed.findIndex((m) => m.id === c.id);
    const isMissed = c.state === "missed" && !c.done;
    if (isMissed && i >= 0) this.missed[i] = c;
    else if (isMissed) this.missed = [c, ...this.missed].sort(newestFirst);
    else if (i >= 0) this.missed = this.missed.filter((m) => m.id !== c.id);

    if (this.historyLoaded) {
      const h = this.history.findIndex((m) => m.id === c.id);
      if (h >= 0) this.history[h] = c;
      else if (this.historyUnfiltered()) this.history = [c, ...this.history].sort(newestFirst);
    }
  }

  private historyUnfiltered(): boolean {
    const f = this.historyFilter;
    return !f.q.trim() && !f.state && !f.direction && !f.from && !f.to;
  }

  /** The newer of a fetched call and what the stream said about it. */
  private newest(c: CallView): CallView {
    const seen = this.latest.get(c.id);
    if (seen && time(seen.call.updated_at) > time(c.updated_at)) return seen.call;
    this.latest.set(c.id, { call: c, streamedAt: seen?.streamedAt ?? 0 });
    return c;
  }

  /** Refetch everything shown: after (re)connecting, a lagged stream, waking up. */
  resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = this.doResync().finally(() => {
      this.resyncing = null;
      if (this.resyncAgain) {
        this.resyncAgain = false;
        void this.resync();
      }
    });
    return this.resyncing;
  }

  private async doResync(): Promise<void> {
    const startedAt = Date.now();
    try {
      const [ringing, answered, missed] = await Promise.all([
        this.backend.listCalls({ state: "ringing", limit: 500 }),
        this.backend.listCalls({ state: "answered", limit: 500 }),
        this.backend.listMissed(),
      ]);
      // What the stream delivered while we fetched is newer than the answers.
      const streamedSince = [...this.latest.values()]
        .filter((v) => v.streamedAt >= startedAt)
        .map((v) => v.call);

      const active: Record<string, CallView> = {};
      for (const c of [...ringing, ...answered].map((c) => this.newest(c))) {
        if (ACTIVE.includes(c.state)) active[c.id] = c;
      }
      for (const c of streamedSince) if (ACTIVE.includes(c.state)) active[c.id] = c;
      this.active = active;

      const m = new Map<string, CallView>();
      for (const c of missed.map((c) => this.newest(c))) if (c.state === "missed" && !c.done) m.set(c.id, c);
      for (const c of streamedSince) {
        if (c.state === "missed" && !c.done) m.set(c.id, c);
        else m.delete(c.id);
      }
      this.missed = [...m.values()].sort(newestFirst);
      this.loaded = true;
      this.pruneLatest();
      if (this.notice?.tone === "error" && this.notice.offline) this.notice = null;
    } catch (e) {
      // Unreachable: the connection pill already says "Reconnecting…"; the stream retries.
      if (failedWith(e, "network")) return;
      this.fail(e);
    }
    if (this.historyLoaded) void this.loadHistory();
    void this.loadStatus();
  }

  private pruneLatest(): void {
    if (this.latest.size < 5000) return;
    const keep = new Set([...Object.keys(this.active), ...this.missed.map((c) => c.id), ...this.history.map((c) => c.id)]);
    for (const id of this.latest.keys()) if (!keep.has(id)) this.latest.delete(id);
  }

  async loadSettings(): Promise<void> {
    try {
      this.settings = await this.backend.getSettings();
      if (!this.scopeChosen) this.scope = this.settings.config.agent.supervisor ? "everyone" : "me";
    } catch (e) {
      this.fail(e);
    }
  }

  async loadStatus(): Promise<void> {
    try {
      this.status = await this.backend.status();
    } catch {
      /* optional: the header just shows no source */
    }
  }

  async loadHistory(more = false): Promise<void> {
    const seq = ++this.historySeq;
    this.historyLoading = true;
    this.historyError = null;
    const q: CallQuery = { ...historyQuery(this.historyFilter), limit: PAGE };
    const last = this.history[this.history.length - 1];
    if (more && last) {
      q.before = last.started_at;
      q.before_id = last.id;
    }
    try {
      const page = (await this.backend.listCalls(q)).map((c) => this.newest(c));
      if (seq !== this.historySeq) return;
      this.history = more ? [...this.history, ...page] : page;
      this.historyMore = page.length === PAGE;
      this.historyLoaded = true;
    } catch (e) {
      if (seq !== this.historySeq) return;
      this.historyError = errorMessage(e);
      this.checkAuth(e);
    } finally {
      if (seq === this.historySeq) this.historyLoading = false;
    }
  }

  // ---- actions ------------------------------------------------------------------------------

  async callBack(c: Call): Promise<void> {
    const who = callerLabel(c);
    try {
      const uri = await this.backend.callBack(c.id);
      this.say({ tone: "ok", text: `Calling ${who}:`, uri }, 0);
    } catch (e) {
      this.fail(e, `Could not call back ${who}: `);
    }
  }

  /** A CRM record URL template is set: every caller has a record to open. */
  hasCrmTemplate = $derived(Boolean(this.settings?.config.crm.url));

  /** The record of the call's other party, as contact `key` (one of `c.contacts`; default the best). */
  async openRecord(c: Call, key?: string): Promise<void> {
    try {
      const url = await this.backend.openRecord(c.id, key ?? null);
      if (url) this.say({ tone: "ok", text: `Opened the record: ${url}` });
      else this.say({ tone: "info", text: "No record to open: this contact has none and no CRM template is set in Settings." });
    } catch (e) {
      this.fail(e, "Could not open the record: ");
    }
  }

  // ---- contacts -----------------------------------------------------------------------------

  /** Open the new-contact form, `number` filled in (from a call, or the desktop pop). */
  newContact(number = ""): void {
    this.contactForm = {
      contact: null,
      input: { name: "", company: null, numbers: [{ label: null, number }], record_url: null },
    };
  }

  editContact(c: Contact): void {
    this.contactForm = {
      contact: c,
      input: {
        name: c.name,
        company: c.company,
        numbers: c.numbers.map((n) => ({ label: n.label, number: n.number })),
        record_url: c.record_url,
      },
    };
  }

  /**
   * Save the open form: create or update. Calls from its numbers are named by the server and
   * arrive again over the stream. Throws (for the form to show) when the server refuses.
   */
  async saveContact(input: ContactInput): Promise<Contact> {
    const editing = this.contactForm?.contact;
    const saved = editing
      ? await this.backend.updateContact(editing.id, input)
      : await this.backend.createContact(input);
    this.contactForm = null;
    this.contactsVersion++;
    this.say({ tone: "ok", text: `${editing ? "Saved" : "Added"} ${saved.name}.` });
    return saved;
  }

  async deleteContact(c: Contact): Promise<void> {
    await this.backend.deleteContact(c.id);
    this.contactForm = null;
    this.contactsVersion++;
    this.say({ tone: "ok", text: `Deleted ${c.name}.` });
  }

  async markDone(calls: Call[]): Promise<boolean> {
    try {
      const done = await Promise.all(calls.map((c) => this.backend.markDone(c.id)));
      for (const c of done) this.applyCall(c);
      this.say({ tone: "ok", text: calls.length === 1 ? "Marked done." : `Marked ${calls.length} calls done.` });
      return true;
    } catch (e) {
      this.fail(e, "Could not mark done: ");
      void this.resync();
      return false;
    }
  }

  /** Everyone's missed calls at once; with "Me", only mine (one by one). */
  async markAllDone(): Promise<void> {
    const mine = this.missedCalls;
    if (mine.length === this.missed.length) {
      try {
        const n = await this.backend.markAllDone();
        this.missed = [];
        this.say({ tone: "ok", text: `Marked ${plural(n, "missed call")} done.` });
        void this.resync();
      } catch (e) {
        this.fail(e, "Could not mark all done: ");
      }
    } else {
      await this.markDone(mine);
    }
  }

  async simulate(name: string): Promise<void> {
    try {
      await this.backend.simulate(name);
      this.say({ tone: "ok", text: `Test call "${name}" sent. Watch the Live panel.` });
    } catch (e) {
      this.fail(e, "Could not send the test call: ");
    }
  }

  async exportCsv(): Promise<void> {
    try {
      const path = await this.backend.exportCsv(historyQuery(this.historyFilter));
      this.say({ tone: "ok", text: path ? `Saved the calls to ${path}` : "Downloaded the calls as CSV." });
    } catch (e) {
      this.fail(e, "Could not export: ");
    }
  }

  // ---- the status line -----------------------------------------------------------------

  say(n: Omit<Notice, "id">, ttlMs = 6000): void {
    this.notice = { ...n, id: ++this.noticeSeq };
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    if (ttlMs > 0) {
      const id = this.noticeSeq;
      this.noticeTimer = setTimeout(() => {
        if (this.notice?.id === id) this.notice = null;
      }, ttlMs);
    }
  }

  dismiss(): void {
    this.notice = null;
  }

  fail(e: unknown, prefix = ""): void {
    if (this.checkAuth(e)) return;
    const offline = failedWith(e, "network");
    this.say({ tone: "error", text: prefix + errorMessage(e), offline }, 0);
  }

  private checkAuth(e: unknown): boolean {
    if (e && typeof e === "object" && "status" in e && (e as { status: unknown }).status === 401) {
      this.authFailed = true;
      return true;
    }
    return false;
  }
}
