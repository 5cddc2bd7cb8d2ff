// The backend over HTTP: the JSON API and the /api/live websocket of ringside-server, on the
// origin that served this page. The API token comes from the URL fragment (`#token=...`, which
// the server prints) or localStorage.

import type { Call } from "../bindings/Call";
import type { CallWithTimeline } from "../bindings/CallWithTimeline";
import type { Config } from "../bindings/Config";
import {
  BackendError,
  type Backend,
  type CallQuery,
  type ConnectionState,
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

function queryString(q: CallQuery): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === null || v === undefined || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/**
 * Hand a tel:/sip:/callto: URI to the OS's dialer. A page embedding Ringside (or a test) can
 * take it instead: a `ringside:open-external` listener that calls preventDefault() gets the URI
 * in `detail.uri` and the browser does not navigate.
 */
export const OPEN_EXTERNAL_EVENT = "ringside:open-external";
function openExternal(uri: string): void {
  const ev = new CustomEvent(OPEN_EXTERNAL_EVENT, { detail: { uri }, cancelable: true });
  if (window.dispatchEvent(ev)) window.location.href = uri;
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

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: "application/json",
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new BackendError("network", "Ringside is not reachable. Is it running?");
    }
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  listCalls(q: CallQuery): Promise<Call[]> {
    return this.request("GET", `/api/calls${queryString(q)}`);
  }
  getCall(id: string): Promise<CallWithTimeline> {
    return this.request("GET", `/api/calls/${encodeURIComponent(id)}`);
  }
  listMissed(): Promise<Call[]> {
    return this.request("GET", "/api/missed");
  }
  markDone(id: string): Promise<Call> {
    return this.request("POST", `/api/calls/${encodeURIComponent(id)}/done`);
  }
  async markAllDone(): Promise<number> {
    const r = await this.request<{ marked: number }>("POST", "/api/missed/done");
    return r.marked;
  }
  async callBack(id: string): Promise<string> {
    const r = await this.request<{ uri: string }>("POST", `/api/calls/${encodeURIComponent(id)}/callback`);
    openExternal(r.uri);
    return r.uri;
  }
  async openRecord(id: string): Promise<string | null> {
    const r = await this.request<{ url: string | null }>("GET", `/api/calls/${encodeURIComponent(id)}/record`);
    if (r.url) window.open(r.url, "_blank", "noopener");
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
  async exportCsv(q: CallQuery): Promise<string | null> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/calls.csv${queryString(q)}`, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: "text/csv" },
        cache: "no-store",
      });
    } catch {
      throw new BackendError("network", "Ringside is not reachable. Is it running?");
    }
    if (!res.ok) throw await errorFrom(res);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `ringside-calls-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return null;
  }
  status(): Promise<Status> {
    return this.request("GET", "/api/status");
  }

  subscribe(
    onCall: (c: Call) => void,
    onConnection: (state: ConnectionState) => void,
    onResync?: () => void,
  ): () => void {
    return new LiveSocket(this.base, this.token, onCall, onConnection, onResync ?? (() => {})).stop;
  }
}

async function errorFrom(res: Response): Promise<BackendError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body?.error?.message) message = body.error.message;
    if (body?.error?.code) code = body.error.code;
  } catch {
    /* not JSON: keep the status line */
  }
  return new BackendError(code, message, res.status);
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const WAKE_GAP_MS = 30_000;
const WAKE_TICK_MS = 5_000;

/**
 * `/api/live` with reconnection: capped exponential backoff with jitter. Every (re)connect
 * reports "live", which makes the UI refetch; a `lagged` frame, the tab becoming visible, the
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
    private onCall: (c: Call) => void,
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
      this.onConnection("live");
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== "string") return;
      let frame: { type?: string; call?: Call };
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === "call" && frame.call) this.onCall(frame.call);
      else if (frame.type === "lagged") this.onResync();
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
