// The app's state: active calls, missed calls, history, settings, connection, the clock that
// drives the timers, the pops, what is known of callers, the calls waiting for a wrap-up, and
// the status line. One instance, created by App.svelte.

import type { Call } from "./bindings/Call";
import type { Dialled } from "./bindings/Dialled";
import type { CallerContext } from "./bindings/CallerContext";
import type { CallView } from "./bindings/CallView";
import type { CallState } from "./bindings/CallState";
import type { Contact } from "./bindings/Contact";
import type { ContactInput } from "./bindings/ContactInput";
import type { Direction } from "./bindings/Direction";
import type { PopKind } from "./bindings/PopKind";
import type { Phrases } from "./bindings/Phrases";
import type { WrapupInput } from "./bindings/WrapupInput";
import {
  errorMessage,
  failedWith,
  type Backend,
  type CallQuery,
  type ConnectionState,
  type SettingsView,
  type Status,
} from "./backend";
import { callerLabel, digitsOf, isWithheld, otherParty, partyNumber, shown } from "./format";
import { i18n, t } from "./i18n.svelte";
import { WebPops } from "./pops";

export type Tab = "live" | "missed" | "history" | "contacts" | "settings";
/** In the order the header shows them; keys 1 to 5 open them in that order. */
export const TABS: Tab[] = ["live", "missed", "history", "contacts", "settings"];
export const TAB_KEYS: Record<Tab, string> = { live: "1", missed: "2", history: "3", contacts: "4", settings: "5" };
export type Scope = "me" | "everyone";
export const SCOPE_KEY = "ringside.scope";

export type Notice = {
  tone: "info" | "ok" | "error";
  text: string;
  /** A call back's URI, shown as code (and kept for tests as data-testid=callback-uri). */
  uri?: string;
  /** A button beside the text: Undo. */
  action?: { label: string; run: () => void | Promise<void> };
  /** Said because Ringside was unreachable: cleared once it answers again. */
  offline?: boolean;
  id: number;
};

/** The contact form: a new contact (from a call's number, or empty) or a local one to edit. */
export type ContactForm = { contact: Contact | null; input: ContactInput };

/** A caller's missed calls: one group per number (withheld callers each alone). */
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
/** How many ended calls wait for a wrap-up on the Live tab. */
const WRAPUP_DUE = 3;

function time(iso: string | null | undefined): number {
  const at = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(at) ? 0 : at;
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

/** The words of a pop for `c`, as the desktop's pops say them (`screenpop::pop`). */
export function popText(c: CallView, kind: PopKind, ctx?: CallerContext): { title: string; body: string } {
  const who = callerLabel(c);
  const title =
    kind === "missed"
      ? t("pop.missed", { who })
      : kind === "answered"
        ? t("pop.onCall", { who })
        : c.direction === "outbound"
          ? t("pop.calling", { who })
          : t("pop.incoming", { who });
  const lines: string[] = [];
  if (c.contacts.length) lines.push(partyNumber(c));
  const line = c.line ?? (c.direction === "inbound" ? c.to : null);
  if (line && c.direction === "inbound") lines.push(t("pop.toLine", { line: shown(c, line) }));
  const ringing = c.legs.filter((l) => l.state === "ringing").map((l) => shown(c, l.agent));
  if (kind === "ringing" && ringing.length) lines.push(t("pop.ringing", { agents: ringing.join(", ") }));
  const known = [
    ctx?.earlier ? t("context.earlier", { count: ctx.earlier }) : null,
    ctx?.open_missed ? t("context.openMissed", { count: ctx.open_missed }) : null,
  ].filter(Boolean);
  const body = lines.join(" · ");
  return { title, body: known.length && kind !== "missed" ? `${known.join(" · ")}\n${body}` : body };
}

export class Store {
  backend: Backend;
  /** The always-on-top mini window (desktop): only the call for me, no pops of its own. */
  mini: boolean;

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
  /** For screen readers: a call ringing (read out at once), a call missed (politely). */
  urgent = $state("");
  announcement = $state("");
  /** The open contact form (a dialog over any tab), or null. */
  contactForm = $state<ContactForm | null>(null);
  /** Bumped on every contact saved, deleted or imported: the Contacts tab refetches. */
  contactsVersion = $state(0);
  /** Set when the API refuses the token (web only): the app asks for another. */
  authFailed = $state(false);
  loaded = $state(false);
  /** What is known of each call's caller, by call id (fetched for the calls on screen). */
  contexts = $state<Record<string, CallerContext>>({});
  /** Calls I answered that ended while I watched, waiting for a wrap-up, newest first. */
  wrapupDue = $state<CallView[]>([]);
  /** The browser's notification permission (web). */
  notifyPermission = $state<NotificationPermission | "unsupported">(WebPops.permission());
  /** The ring is sounding. */
  ringing = $state(false);
  /** Asked by the desktop's shortcut: focus the current caller on the Live tab. */
  focusCaller = $state(0);

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
  private unlisten: (() => void)[] = [];
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private contextAsked = new Set<string>();
  pops: WebPops | null = null;

  constructor(backend: Backend, mini = false) {
    this.backend = backend;
    this.mini = mini;
    if (!mini) {
      this.pops = new WebPops(
        (c, kind) => popText(c, kind, this.contexts[c.id]),
        () => {
          this.openTab?.("live");
        },
        () => ({
          notify: this.backend.kind === "web",
          sound: Boolean(this.settings?.config.screenpop.sound) && !this.settings?.config.screenpop.dnd,
        }),
        (on) => (this.ringing = on),
      );
    }
  }

  /** Set by the app: switch tabs (a notification clicked). */
  openTab: ((t: Tab) => void) | null = null;

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
    this.unlisten.push(this.backend.onAddContact((number) => this.newContact(number)));
    this.unlisten.push(
      this.backend.onShortcut({
        focus: () => {
          this.openTab?.("live");
          this.focusCaller++;
        },
        called: (c) => (c ? this.saidCallBack(c, null) : this.say({ tone: "info", text: t("missed.noneToCall") })),
        failed: (e) => this.fail(e, t("callback.failed")),
      }),
    );
    if (this.pops) {
      window.addEventListener("pointerdown", this.pops.unlockAudio, { once: true, capture: true });
      window.addEventListener("keydown", this.pops.unlockAudio, { once: true, capture: true });
    }
    void this.loadSettings();
  }

  stop(): void {
    this.unsubscribe?.();
    for (const u of this.unlisten) u();
    this.pops?.stop();
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
      // Withheld callers are different people: each call stands alone.
      const key = isWithheld(c) ? `withheld:${c.id}` : n ? digitsOf(n) || n.toLowerCase() : `unknown:${c.id}`;
      const g = groups.get(key);
      if (g) g.calls.push(c);
      else groups.set(key, { key, number: isWithheld(c) ? null : n, calls: [c], last: c });
    }
    return [...groups.values()];
  });

  historyCalls = $derived(this.history.filter((c) => this.visible(c)));

  dnd = $derived(Boolean(this.settings?.config.screenpop.dnd));

  // ---- data flow ----------------------------------------------------------------------------

  /** One stored change from the stream. */
  applyCall(c: CallView): void {
    const prev = this.latest.get(c.id);
    if (prev && time(prev.call.updated_at) > time(c.updated_at)) return;
    this.latest.set(c.id, { call: c, streamedAt: Date.now() });
    if (prev?.call.state !== c.state && this.visible(c)) {
      const who = callerLabel(c);
      if (c.state === "ringing") this.urgent = t("announce.ringing", { who });
      else if (c.state === "missed") this.announcement = t("announce.missed", { who });
    }
    if (prev?.call.state === "answered" && c.state === "ended") this.dueForWrapup(c);
    this.place(c);
    this.pops?.update(c);
    if (ACTIVE.includes(c.state)) void this.loadContext(c);
  }

  /** My answered call ended: its wrap-up waits on the Live tab. */
  private dueForWrapup(c: CallView): void {
    const mine = !this.hasIdentities || c.mine;
    if (!mine || c.wrapup || this.mini) return;
    this.wrapupDue = [c, ...this.wrapupDue.filter((w) => w.id !== c.id)].slice(0, WRAPUP_DUE);
  }

  skipWrapup(id: string): void {
    this.wrapupDue = this.wrapupDue.filter((w) => w.id !== id);
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

    const w = this.wrapupDue.findIndex((m) => m.id === c.id);
    if (w >= 0) {
      if (c.wrapup) this.wrapupDue = this.wrapupDue.filter((m) => m.id !== c.id);
      else this.wrapupDue[w] = c;
    }

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

  /** What is known of `c`'s caller (once per call). */
  async loadContext(c: CallView): Promise<void> {
    if (isWithheld(c) || this.contextAsked.has(c.id)) return;
    this.contextAsked.add(c.id);
    try {
      this.contexts[c.id] = await this.backend.context(c.id);
      // The notification says it too, once known.
      const now = this.latest.get(c.id)?.call ?? c;
      if (ACTIVE.includes(now.state)) this.pops?.update(now);
    } catch {
      this.contextAsked.delete(c.id);
    }
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
      for (const c of Object.values(active)) {
        this.pops?.update(c);
        void this.loadContext(c);
      }
      this.pops?.keepOnly(new Set(Object.keys(active)));
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
      this.useSettings(await this.backend.getSettings());
    } catch (e) {
      this.fail(e);
    }
  }

  /** Settings in force: the language, the scope's default, the desktop's phrases. */
  useSettings(v: SettingsView): void {
    const before = this.settings?.config.screenpop;
    this.settings = v;
    // What pops changed with the settings (do-not-disturb, the modes): ask again.
    if (before && JSON.stringify(before) !== JSON.stringify(v.config.screenpop)) void this.resync();
    if (!this.scopeChosen) this.scope = v.config.agent.supervisor ? "everyone" : "me";
    void i18n.use(v.config.app.locale).then(() => this.sendPhrases());
  }

  /** The desktop's pops and tray speak the UI's language. */
  async sendPhrases(): Promise<void> {
    if (this.backend.kind !== "tauri" || this.mini) return;
    const r = (k: string) => i18n.raw(k).replace(/\{\{(\w+)\}\}/g, "{$1}");
    const p: Phrases = {
      incoming: r("pop.incoming"),
      calling: r("pop.calling"),
      on_call: r("pop.onCall"),
      missed: r("pop.missed"),
      several: r("pop.several"),
      or: r("pop.or"),
      to_line: r("pop.toLine"),
      ringing: r("pop.ringing"),
      via: r("pop.via"),
      withheld: r("number.withheld"),
      show: r("pop.show"),
      open_record: r("actions.openRecord"),
      open_name: r("pop.openName"),
      add_contact: r("actions.addContact"),
      dismiss: r("actions.dismiss"),
      missed_none: r("tray.none"),
      missed_one: r("tray.missed_one"),
      missed_many: r("tray.missed_other"),
      tray_open: r("tray.open"),
      tray_quit: r("tray.quit"),
      earlier_one: i18n.t("context.earlier", { count: 1 }),
      earlier_many: r("context.earlier_other"),
      open_missed_one: i18n.t("context.openMissed", { count: 1 }),
      open_missed_many: r("context.openMissed_other"),
    };
    try {
      await this.backend.setPhrases(p);
      // Which language the desktop's pops speak now (for tests and the curious).
      document.documentElement.dataset.phrases = i18n.locale;
    } catch {
      /* an older shell: English pops */
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

  /** Call `c`'s other party back; its missed calls are done, with an Undo. */
  async callBack(c: Call): Promise<void> {
    const who = callerLabel(c);
    try {
      this.saidCallBack(await this.backend.callBack(c.id), who);
    } catch (e) {
      this.fail(e, t("callback.failedWho", { who }));
    }
  }

  /** Call a number (a contact's, a history row's). */
  async dial(number: string, who: string): Promise<void> {
    try {
      this.saidCallBack(await this.backend.dial(number), who);
    } catch (e) {
      this.fail(e, t("callback.failedWho", { who }));
    }
  }

  /** What a call back did, on the status line. */
  private saidCallBack(r: Dialled, who: string | null): void {
    const name = who ?? r.number;
    const text = r.uri ? t("callback.calling", { who: name }) : t("callback.ringingYou", { who: name });
    const action = r.resolved.length
      ? { label: t("actions.undo"), run: () => this.undoDone(r.resolved, t("callback.keptMissed")) }
      : undefined;
    this.say({ tone: "ok", text, uri: r.uri ?? undefined, action }, 10_000);
  }

  /** Mark `calls` done, with an Undo. */
  async markDone(calls: Call[]): Promise<boolean> {
    const ids = calls.map((c) => c.id);
    try {
      const done = await this.backend.setDone(ids, true);
      for (const c of done) this.applyCall(c);
      this.say(
        {
          tone: "ok",
          text: t("missed.markedDone", { count: ids.length }),
          action: { label: t("actions.undo"), run: () => this.undoDone(ids, t("missed.backInMissed", { count: ids.length })) },
        },
        10_000,
      );
      return true;
    } catch (e) {
      this.fail(e, t("missed.couldNotMark"));
      void this.resync();
      return false;
    }
  }

  /** The missed calls on screen, every group, with an Undo. Never calls nobody here sees. */
  markAllDone(): Promise<boolean> {
    return this.markDone(this.missedCalls);
  }

  private async undoDone(ids: string[], said: string): Promise<void> {
    try {
      const back = await this.backend.setDone(ids, false);
      for (const c of back) this.applyCall(c);
      this.say({ tone: "info", text: said });
    } catch (e) {
      this.fail(e, t("missed.couldNotUndo"));
    }
  }

  /** Note how call `id` went. Throws (for the form to show) when the server refuses. */
  async wrapUp(id: string, input: WrapupInput): Promise<CallView> {
    const c = await this.backend.wrapUp(id, input);
    this.applyCall(c);
    this.say({ tone: "ok", text: input.disposition || input.note ? t("wrapup.saved") : t("wrapup.cleared") });
    return c;
  }

  /** A CRM record URL template is set: every caller with a number has a record to open. */
  hasCrmTemplate = $derived(Boolean(this.settings?.config.crm.url));

  /** The record of the call's other party, as contact `key` (one of `c.contacts`; default the best). */
  async openRecord(c: Call, key?: string): Promise<void> {
    try {
      const url = await this.backend.openRecord(c.id, key ?? null);
      if (url) this.say({ tone: "ok", text: t("record.opened"), uri: url });
      else this.say({ tone: "info", text: t("record.none") });
    } catch (e) {
      this.fail(e, t("record.failed"));
    }
  }

  /** Whether "Open record" has anything to open for `c`: a contact's record, or the template and a number. */
  canOpenRecord(c: Call): boolean {
    return c.contacts.some((m) => m.record_url) || (this.hasCrmTemplate && !isWithheld(c));
  }

  // ---- settings ------------------------------------------------------------------------------

  /** Do not disturb on or off, saved at once. */
  async setDnd(on: boolean): Promise<void> {
    const v = this.settings;
    if (!v) return;
    const config = JSON.parse(JSON.stringify(v.config)) as SettingsView["config"];
    config.screenpop.dnd = on;
    try {
      this.useSettings(await this.backend.saveSettings(config));
      this.say({ tone: "ok", text: on ? t("dnd.on") : t("dnd.off") });
    } catch (e) {
      this.fail(e);
    }
  }

  /** Ask the browser for notifications. */
  async askNotifications(): Promise<void> {
    this.notifyPermission = await WebPops.ask();
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
    this.say({ tone: "ok", text: editing ? t("contacts.saved", { name: saved.name }) : t("contacts.added", { name: saved.name }) });
    return saved;
  }

  async deleteContact(c: Contact): Promise<void> {
    await this.backend.deleteContact(c.id);
    this.contactForm = null;
    this.contactsVersion++;
    this.say({ tone: "ok", text: t("contacts.deleted", { name: c.name }) });
  }

  async simulate(name: string): Promise<void> {
    try {
      await this.backend.simulate(name);
      this.say({ tone: "ok", text: t("settings.test.sent", { name }) });
    } catch (e) {
      this.fail(e, t("settings.test.failed"));
    }
  }

  async exportCsv(): Promise<void> {
    try {
      const path = await this.backend.exportCsv(historyQuery(this.historyFilter));
      this.say({ tone: "ok", text: path ? t("history.savedTo", { path }) : t("history.downloaded") });
    } catch (e) {
      this.fail(e, t("history.exportFailed"));
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
    this.say({ tone: "error", text: prefix + failureText(e), offline }, 0);
  }

  private checkAuth(e: unknown): boolean {
    if (e && typeof e === "object" && "status" in e && (e as { status: unknown }).status === 401) {
      this.authFailed = true;
      return true;
    }
    return false;
  }
}

/** A failure in the agent's words: known codes translated, else the server's message. */
export function failureText(e: unknown): string {
  if (failedWith(e, "not_callable")) return t("errors.notCallable");
  if (failedWith(e, "network")) return t("errors.network");
  if (failedWith(e, "internal")) return t("errors.internal");
  if (failedWith(e, "dial_failed")) return t("errors.dialFailed", { why: errorMessage(e) });
  return errorMessage(e);
}
