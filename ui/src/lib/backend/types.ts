// The one interface the UI talks to. Two implementations: `web.ts` (HTTP + websocket, for the
// browser page ringside-server serves) and `tauri.ts` (IPC, for the desktop window).
//
// The call model and the settings shapes are generated from Rust (ts-rs) into ../bindings:
// import them, never redefine them.

import type { BookSync } from "../bindings/BookSync";
import type { Dialled } from "../bindings/Dialled";
import type { CallerContext } from "../bindings/CallerContext";
import type { CallView } from "../bindings/CallView";
import type { Phrases } from "../bindings/Phrases";
import type { WrapupInput } from "../bindings/WrapupInput";
import type { CallFilter } from "../bindings/CallFilter";
import type { CallWithTimeline } from "../bindings/CallWithTimeline";
import type { Config } from "../bindings/Config";
import type { Contact } from "../bindings/Contact";
import type { ContactFilter } from "../bindings/ContactFilter";
import type { ContactFormat } from "../bindings/ContactFormat";
import type { ContactInput } from "../bindings/ContactInput";
import type { ErrorCode } from "../bindings/ErrorCode";
import type { HttpErrorCode } from "../bindings/HttpErrorCode";
import type { ImportResult } from "../bindings/ImportResult";
import type { ScenarioInfo } from "../bindings/ScenarioInfo";
import type { SettingsView as GeneratedSettingsView } from "../bindings/SettingsView";
import type { Source as GeneratedSource } from "../bindings/Source";
import type { SourceState as GeneratedSourceState } from "../bindings/SourceState";
import type { Status as GeneratedStatus } from "../bindings/Status";
import type { Webhook as GeneratedWebhook } from "../bindings/Webhook";

/** Which calls to list. Every field is optional here; an absent field means "any". */
export type CallQuery = { [K in keyof CallFilter]?: CallFilter[K] };

/** Which contacts to list; an absent field means "any" (the server's default limit is 200). */
export type ContactQuery = { [K in keyof ContactFilter]?: ContactFilter[K] };

/** `GET /api/settings` / `get_settings`: the config plus what follows from it. */
export type SettingsView = GeneratedSettingsView;
export type Webhook = GeneratedWebhook;

/** `GET /api/scenarios` / `list_scenarios`: a built-in test call. */
export type Scenario = ScenarioInfo;

/** `GET /api/status` / `status`: the version and the sources Ringside connects to itself. */
export type Status = GeneratedStatus;
export type Source = GeneratedSource;
export type SourceState = GeneratedSourceState;

/** The UI's connection to the engine: "live" while events flow, else "reconnecting". */
export type ConnectionState = "live" | "reconnecting";

/**
 * What a failure is, for the UI to branch on (never the message): the application's codes,
 * the HTTP API's own, `network` when Ringside did not answer, `error` for anything else.
 */
export type FailureCode = ErrorCode | HttpErrorCode | "network" | "error";

/** What every failure looks like: the HTTP error body's `error`, or a Tauri command's error. */
export class BackendError extends Error {
  readonly code: FailureCode;
  readonly status: number | null;
  /** The setting or field at fault (`api.token`), when the server names one. */
  readonly field: string | null;
  constructor(code: FailureCode, message: string, status: number | null = null, field: string | null = null) {
    super(message);
    this.name = "BackendError";
    this.code = code;
    this.status = status;
    this.field = field;
  }
}

/** Whether `e` is a failure with `code`. */
export function failedWith(e: unknown, code: FailureCode): boolean {
  return e instanceof BackendError && e.code === code;
}

/** The message to show a person for anything thrown by a backend call. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return "Something went wrong";
}

export interface Backend {
  /** "web" or "tauri": lets the UI word things right (e.g. where an export went). */
  readonly kind: "web" | "tauri";
  listCalls(q: CallQuery): Promise<CallView[]>;
  getCall(id: string): Promise<CallWithTimeline>;
  listMissed(): Promise<CallView[]>;
  markDone(id: string): Promise<CallView>;
  markAllDone(): Promise<number>;
  /** Mark calls done, or not done again (`done` false: undo). */
  setDone(ids: string[], done: boolean): Promise<CallView[]>;
  /**
   * Calls the other party of call `id` back as Settings say: a link handed to the OS (`uri`)
   * or a request the phone system took; the number's missed calls are done (`resolved`).
   */
  callBack(id: string): Promise<Dialled>;
  /** Calls `number` the same way. */
  dial(number: string): Promise<Dialled>;
  /** Notes how call `id` went; both fields empty clears it. */
  wrapUp(id: string, input: WrapupInput): Promise<CallView>;
  /** The caller's earlier calls and open missed calls. */
  context(id: string): Promise<CallerContext>;
  /** The call's recording, fetched by Ringside from the provider, to play in place. */
  recording(id: string): Promise<Blob>;
  /**
   * Opens the caller's record: as contact `contact` (a `ContactMatch.key` of the call; default
   * the best match). Returns its URL, or null when there is none (no `record_url`, no CRM
   * template).
   */
  openRecord(id: string, contact?: string | null): Promise<string | null>;
  getSettings(): Promise<SettingsView>;
  saveSettings(config: Config): Promise<SettingsView>;
  listScenarios(): Promise<Scenario[]>;
  simulate(name: string): Promise<void>;
  /** Web: downloads the file, resolves null. Tauri: saves it, resolves the saved path. */
  exportCsv(q: CallQuery): Promise<string | null>;
  status(): Promise<Status>;

  listContacts(q: ContactQuery): Promise<Contact[]>;
  createContact(input: ContactInput): Promise<Contact>;
  /** Local contacts only: a synced one is refused with code `read_only`. */
  updateContact(id: number, input: ContactInput): Promise<Contact>;
  deleteContact(id: number): Promise<void>;
  /**
   * Import a CSV or vCard file into the local contacts. `format` null: the server tells them
   * apart. `mapping`: CSV `field=Header` overrides (`phone=Mobile`).
   */
  importContacts(file: Blob, format: ContactFormat | null, mapping: string[]): Promise<ImportResult>;
  /** Web: downloads the file, resolves null. Tauri: saves it, resolves the saved path. */
  exportContacts(format: ContactFormat): Promise<string | null>;
  /** Sync every CardDAV address book now; resolves when they are done, one entry per book. */
  syncContacts(): Promise<BookSync[]>;
  /**
   * The desktop's screen-pop "Add contact" action: `f` gets the caller's number. Returns the
   * unsubscribe function (a no-op where nothing sends it).
   */
  onAddContact(f: (number: string) => void): () => void;
  /**
   * The desktop's global shortcuts: bring up the current caller (`focus`), or a call back of
   * the newest missed call done (`called`, null: there was none) or refused (`failed`).
   * Return the unsubscribe function (no-ops in the browser).
   */
  onShortcut(handlers: {
    focus: () => void;
    called: (c: Dialled | null) => void;
    failed: (e: BackendError) => void;
  }): () => void;
  /** The desktop pops and tray in the UI's language (nothing in the browser). */
  setPhrases(p: Phrases): Promise<void>;
  /** The desktop's mini window: bring the main window forward; put the mini window away. */
  showMain(): Promise<void>;
  hideMini(): Promise<void>;
  /**
   * Call changes as they are stored (the live stream's `call` frames), and the connection's
   * state. Every "live" (the first connect and each reconnect) and every `onResync` (a
   * `resync` frame) means: events may have been missed, refetch the lists. Returns the
   * unsubscribe function.
   */
  subscribe(
    onCall: (c: CallView) => void,
    onConnection: (state: ConnectionState) => void,
    onResync?: () => void,
  ): () => void;
}
