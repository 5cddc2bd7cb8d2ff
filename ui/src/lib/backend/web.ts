// The backend over HTTP: the JSON API and the /api/live websocket of ringside-server, on the
// origin that served this page. The API token comes from the URL fragment (`#token=...`, which
// the server prints) or localStorage.

import type { BookSync } from "../bindings/BookSync";
import type { Dialled } from "../bindings/Dialled";
import type { CallerContext } from "../bindings/CallerContext";
import type { WrapupInput } from "../bindings/WrapupInput";
import type { CallView } from "../bindings/CallView";
import type { CallWithTimeline } from "../bindings/CallWithTimeline";
import type { Config } from "../bindings/Config";
import type { Contact } from "../bindings/Contact";
import type { ContactFormat } from "../bindings/ContactFormat";
import type { ContactInput } from "../bindings/ContactInput";
import type { ImportResult } from "../bindings/ImportResult";
import type { LiveFrame } from "../bindings/LiveFrame";
import { FrameReader } from "./frames";
import {
  BackendError,
  type FailureCode,
  type Backend,
  type CallQuery,
  type ConnectionState,
  type ContactQuery,
  type Scenario,
  type SettingsView,
  type Status,
} from "./types";

export const TOKEN_KEY = "ringside.token";

/**
 * The token from the address bar's fragment (stored, then removed from the address bar so it
 * does not linger in history or screenshots), else the stored one, else null.
 */
export function takeToken(): string | null {
  const hash = window.location.hash.replace(/^#/, "");
  if (hash) {
    const params = new URLSearchParams(hash);
    const t = params.get("token");
    if (t) {
      storeToken(t);
      params.delete("token");
      const rest = params.toString();
      const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
      history.replaceState(history.state, "", url);
      return t.trim();
    }
  }
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(t: string): void {
  try {
    localStorage.setItem(TOKEN_KEY, t.trim());
  } catch {
    /* private mode: the token lives for this page only */
  }
}

export function forgetToken(): void {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* ignore */
  }
}

function queryString(q: CallQuery | ContactQuery): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === null || v === undefined || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/**
 * Hand a URI to the OS: a call back's tel:/sip:/callto: URI goes to the dialer
 * (`location.href`), a record's https: URL opens in a new tab. A page embedding Ringside (or a
 * test) can take it instead: a `ringside:open-external` listener that calls preventDefault()
 * gets `detail.uri` and `detail.kind` ("callback" or "record") and the browser opens nothing.
 */
export const OPEN_EXTERNAL_EVENT = "ringside:open-external";
function openExternal(uri: string, kind: "callback" | "record"): void {
  const ev = new CustomEvent(OPEN_EXTERNAL_EVENT, { detail: { uri, kind }, cancelable: true });
  if (!window.dispatchEvent(ev)) return;
  if (kind === "record") window.open(uri, "_blank", "noopener");
  else window.location.href = uri;
}

function unreachable(): BackendError {
  return new BackendError("network", "Ringside is not reachable. Is it running?");
}

export class WebBackend implements Backend {
  readonly kind = "web" as const;
  private readonly base: string;

  constructor(
    private token: string,
    base: string = window.location.origin,
  ) {
    this.base = base.replace(/\/$/, "");
  }

  /** `body`: JSON, or a Blob sent as it is (a file). */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: "application/json",
    };
    const raw = body instanceof Blob;
    if (body !== undefined) headers["Content-Type"] = raw ? body.type || "application/octet-stream" : "application/json";
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw unreachable();
    }
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  listCalls(q: CallQuery): Promise<CallView[]> {
    return this.request("GET", `/api/calls${queryString(q)}`);
  }
  getCall(id: string): Promise<CallWithTimeline> {
    return this.request("GET", `/api/calls/${encodeURIComponent(id)}`);
  }
  listMissed(): Promise<CallView[]> {
    return this.request("GET", "/api/missed");
  }
  markDone(id: string): Promise<CallView> {
    return this.request("POST", `/api/calls/${encodeURIComponent(id)}/done`);
  }
  async markAllDone(): Promise<number> {
    const r = await this.request<{ marked: number }>("POST", "/api/missed/done");
    return r.marked;
  }
  setDone(ids: string[], done: boolean): Promise<CallView[]> {
    return this.request("POST", "/api/calls/done", { ids, done });
  }
  async callBack(id: string): Promise<Dialled> {
    const r = await this.request<Dialled>("POST", `/api/calls/${encodeURIComponent(id)}/callback`);
    if (r.uri) openExternal(r.uri, "callback");
    return r;
  }
  async dial(number: string): Promise<Dialled> {
    const r = await this.request<Dialled>("POST", "/api/dial", { number });
    if (r.uri) openExternal(r.uri, "callback");
    return r;
  }
  wrapUp(id: string, input: WrapupInput): Promise<CallView> {
    return this.request("POST", `/api/calls/${encodeURIComponent(id)}/wrapup`, input);
  }
  context(id: string): Promise<CallerContext> {
    return this.request("GET", `/api/calls/${encodeURIComponent(id)}/context`);
  }
  async recording(id: string): Promise<Blob> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/calls/${encodeURIComponent(id)}/recording`, {
        headers: { Authorization: `Bearer ${this.token}` },
        cache: "no-store",
      });
    } catch {
      throw unreachable();
    }
    if (!res.ok) throw await errorFrom(res);
    return res.blob();
  }
  async openRecord(id: string, contact?: string | null): Promise<string | null> {
    const q = contact ? `?contact=${encodeURIComponent(contact)}` : "";
    const r = await this.request<{ url: string | null }>("GET", `/api/calls/${encodeURIComponent(id)}/record${q}`);
    if (r.url) openExternal(r.url, "record");
    return r.url;
  }
  getSettings(): Promise<SettingsView> {
    return this.request("GET", "/api/settings");
  }
  saveSettings(config: Config): Promise<SettingsView> {
    return this.request("PUT", "/api/settings", config);
  }
  listScenarios(): Promise<Scenario[]> {
    return this.request("GET", "/api/scenarios");
  }
  async simulate(name: string): Promise<void> {
    await this.request("POST", "/api/simulate", { scenario: name });
  }
  /** GET `path` and save the answer as `file` through the browser's downloads. */
  private async download(path: string, file: string): Promise<null> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        headers: { Authorization: `Bearer ${this.token}` },
        cache: "no-store",
      });
    } catch {
      throw unreachable();
    }
    if (!res.ok) throw await errorFrom(res);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = file;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return null;
  }
  exportCsv(q: CallQuery): Promise<string | null> {
    return this.download(`/api/calls.csv${queryString(q)}`, `ringside-calls-${today()}.csv`);
  }
  status(): Promise<Status> {
    return this.request("GET", "/api/status");
  }

  listContacts(q: ContactQuery): Promise<Contact[]> {
    return this.request("GET", `/api/contacts${queryString(q)}`);
  }
  createContact(input: ContactInput): Promise<Contact> {
    return this.request("POST", "/api/contacts", input);
  }
  updateContact(id: number, input: ContactInput): Promise<Contact> {
    return this.request("PUT", `/api/contacts/${id}`, input);
  }
  async deleteContact(id: number): Promise<void> {
    await this.request("DELETE", `/api/contacts/${id}`);
  }
  importContacts(file: Blob, format: ContactFormat | null, mapping: string[]): Promise<ImportResult> {
    const p = new URLSearchParams();
    if (format) p.set("format", format);
    for (const m of mapping) p.append("column", m);
    const q = p.toString();
    return this.request("POST", `/api/contacts/import${q ? `?${q}` : ""}`, file);
  }
  exportContacts(format: ContactFormat): Promise<string | null> {
    const ext = format === "vcard" ? "vcf" : "csv";
    return this.download(`/api/contacts.${ext}`, `ringside-contacts-${today()}.${ext}`);
  }
  async syncContacts(): Promise<BookSync[]> {
    const r = await this.request<{ books: BookSync[] }>("POST", "/api/contacts/sync");
    return r.books;
  }
  onAddContact(): () => void {
    // Only the desktop's screen-pops send it.
    return () => {};
  }
  onShortcut(): () => void {
    // Global shortcuts are the desktop's.
    return () => {};
  }
  async setPhrases(): Promise<void> {}
  async showMain(): Promise<void> {}
  async hideMini(): Promise<void> {}

  subscribe(
    onCall: (c: CallView) => void,
    onConnection: (state: ConnectionState) => void,
    onResync?: () => void,
  ): () => void {
    const frames = new FrameReader(onCall, onResync ?? (() => {}));
    return new LiveSocket(this.base, this.token, frames, onConnection, onResync ?? (() => {})).stop;
  }
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

async function errorFrom(res: Response): Promise<BackendError> {
  let code: FailureCode = "error";
  let message = `${res.status} ${res.statusText}`.trim();
  let field: string | null = null;
  try {
    const body = (await res.json()) as { error?: { code?: FailureCode; message?: string; field?: string } };
    if (body?.error?.message) message = body.error.message;
    if (body?.error?.code) code = body.error.code;
    if (body?.error?.field) field = body.error.field;
  } catch {
    /* not JSON: keep the status line */
  }
  return new BackendError(code, message, res.status, field);
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const WAKE_GAP_MS = 30_000;
const WAKE_TICK_MS = 5_000;

/**
 * `/api/live` with reconnection: capped exponential backoff with jitter. Every (re)connect
 * reports "live", which makes the UI refetch; a `resync` frame, the tab becoming visible, the
 * network coming back and the machine waking up (a timer that fired > 30 s late) do too.
 */
class LiveSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private lastTick = Date.now();
  private wakeTimer: ReturnType<typeof setInterval>;

  constructor(
    private base: string,
    private token: string,
    private frames: FrameReader,
    private onConnection: (state: ConnectionState) => void,
    private onResync: () => void,
  ) {
    this.connect();
    this.wakeTimer = setInterval(this.tick, WAKE_TICK_MS);
    document.addEventListener("visibilitychange", this.onVisible);
    window.addEventListener("online", this.onOnline);
  }

  private url(): string {
    const u = new URL(this.base);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.pathname = "/api/live";
    u.search = `?token=${encodeURIComponent(this.token)}`;
    u.hash = "";
    return u.toString();
  }

  private connect = (): void => {
    if (this.stopped) return;
    this.retry = null;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.frames.reset();
      this.onConnection("live");
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== "string") return;
      let frame: LiveFrame;
      try {
        frame = JSON.parse(ev.data) as LiveFrame;
      } catch {
        return;
      }
      this.frames.read(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.onConnection("reconnecting");
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  };

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.attempt = Math.min(this.attempt + 1, 16);
    this.retry = setTimeout(this.connect, delay);
  }

  /** Drop the current socket (it may be dead without knowing it) and connect at once. */
  private reconnectNow(): void {
    if (this.stopped) return;
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = null;
    }
    const old = this.ws;
    this.ws = null;
    if (old) {
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      old.close();
      this.onConnection("reconnecting");
    }
    this.attempt = 0;
    this.connect();
  }

  private tick = (): void => {
    const now = Date.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > WAKE_GAP_MS) this.reconnectNow();
  };

  private onVisible = (): void => {
    if (document.visibilityState !== "visible") return;
    if (this.ws?.readyState === WebSocket.CONNECTING) return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.onResync();
    else this.reconnectNow();
  };

  private onOnline = (): void => {
    if (this.ws?.readyState === WebSocket.CONNECTING) return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.onResync();
    else this.reconnectNow();
  };

  stop = (): void => {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    clearInterval(this.wakeTimer);
    document.removeEventListener("visibilitychange", this.onVisible);
    window.removeEventListener("online", this.onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws.close();
    }
  };
}
