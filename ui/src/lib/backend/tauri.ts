// The backend over Tauri IPC: the desktop app's commands (the same operations the HTTP API
// calls) and its `live` event (the same frames as `/api/live`). Loaded only inside the Tauri
// window.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { BookSync } from "../bindings/BookSync";
import type { Dialled } from "../bindings/Dialled";
import type { CallerContext } from "../bindings/CallerContext";
import type { Phrases } from "../bindings/Phrases";
import type { WrapupInput } from "../bindings/WrapupInput";
import type { CallView } from "../bindings/CallView";
import type { CallFilter } from "../bindings/CallFilter";
import type { CallWithTimeline } from "../bindings/CallWithTimeline";
import type { Config } from "../bindings/Config";
import type { Contact } from "../bindings/Contact";
import type { ContactFilter } from "../bindings/ContactFilter";
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

/** Commands fail with `{code, message, field}`; anything else is wrapped the same way. */
async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    if (e && typeof e === "object" && "message" in e) {
      const { code, message, field } = e as { code?: FailureCode; message?: unknown; field?: string };
      throw new BackendError(code ?? "error", String(message), null, field ?? null);
    }
    throw new BackendError("error", typeof e === "string" ? e : "The desktop app did not answer");
  }
}

/** The full filter the command deserializes, with absent fields as null. */
function filter(q: CallQuery): CallFilter {
  const none = (v: string | null | undefined) => (v === undefined || v === "" ? null : v);
  return {
    q: none(q.q),
    state: q.state ?? null,
    direction: q.direction ?? null,
    since: none(q.since),
    until: none(q.until),
    limit: q.limit ?? null,
    before: none(q.before),
    before_id: none(q.before_id),
  };
}

/** Listen for the app's `event` until the returned function is called (even before `listen` resolved). */
function listenWhileSubscribed<T>(event: string, f: (payload: T) => void, onListening?: () => void): () => void {
  let unlisten: UnlistenFn | null = null;
  let stopped = false;
  listen<T>(event, (ev) => f(ev.payload)).then((u) => {
    if (stopped) u();
    else {
      unlisten = u;
      onListening?.();
    }
  });
  return () => {
    stopped = true;
    unlisten?.();
  };
}

export class TauriBackend implements Backend {
  readonly kind = "tauri" as const;

  listCalls(q: CallQuery): Promise<CallView[]> {
    return call("list_calls", { query: filter(q) });
  }
  getCall(id: string): Promise<CallWithTimeline> {
    return call("get_call", { id });
  }
  listMissed(): Promise<CallView[]> {
    return call("list_missed");
  }
  markDone(id: string): Promise<CallView> {
    return call("mark_done", { id });
  }
  markAllDone(): Promise<number> {
    return call("mark_all_done");
  }
  setDone(ids: string[], done: boolean): Promise<CallView[]> {
    return call("set_done", { ids, done });
  }
  callBack(id: string): Promise<Dialled> {
    return call("call_back", { id });
  }
  dial(number: string): Promise<Dialled> {
    return call("dial", { number });
  }
  wrapUp(id: string, input: WrapupInput): Promise<CallView> {
    return call("wrap_up", { id, input });
  }
  context(id: string): Promise<CallerContext> {
    return call("caller_context", { id });
  }
  async recording(id: string): Promise<Blob> {
    const bytes = await call<ArrayBuffer>("recording", { id });
    return new Blob([bytes]);
  }
  openRecord(id: string, contact?: string | null): Promise<string | null> {
    return call("open_record", { id, contact: contact ?? null });
  }
  getSettings(): Promise<SettingsView> {
    return call("get_settings");
  }
  saveSettings(config: Config): Promise<SettingsView> {
    return call("save_settings", { config });
  }
  listScenarios(): Promise<Scenario[]> {
    return call("list_scenarios");
  }
  simulate(name: string): Promise<void> {
    return call("simulate", { name });
  }
  exportCsv(q: CallQuery): Promise<string | null> {
    return call("export_csv", { query: filter(q) });
  }
  status(): Promise<Status> {
    return call("status");
  }

  listContacts(q: ContactQuery): Promise<Contact[]> {
    const query: ContactFilter = { q: q.q || null, limit: q.limit ?? null };
    return call("list_contacts", { query });
  }
  createContact(input: ContactInput): Promise<Contact> {
    return call("create_contact", { input });
  }
  updateContact(id: number, input: ContactInput): Promise<Contact> {
    return call("update_contact", { id, input });
  }
  deleteContact(id: number): Promise<void> {
    return call("delete_contact", { id });
  }
  async importContacts(file: Blob, format: ContactFormat | null, mapping: string[]): Promise<ImportResult> {
    return call("import_contacts", { text: await file.text(), format, mapping });
  }
  exportContacts(format: ContactFormat): Promise<string | null> {
    return call("export_contacts", { format });
  }
  syncContacts(): Promise<BookSync[]> {
    return call("sync_contacts");
  }
  onAddContact(f: (number: string) => void): () => void {
    return listenWhileSubscribed<string>("add-contact", f);
  }
  onShortcut(h: { focus: () => void; called: (c: Dialled | null) => void; failed: (e: BackendError) => void }): () => void {
    const stops = [
      listenWhileSubscribed<null>("focus-caller", () => h.focus()),
      listenWhileSubscribed<Dialled | null>("called-back", (c) => h.called(c)),
      listenWhileSubscribed<{ code?: FailureCode; message?: string }>("call-back-failed", (e) =>
        h.failed(new BackendError(e.code ?? "error", String(e.message ?? ""))),
      ),
    ];
    return () => stops.forEach((s) => s());
  }
  setPhrases(phrases: Phrases): Promise<void> {
    return call("set_phrases", { phrases });
  }
  showMain(): Promise<void> {
    return call("show_main");
  }
  hideMini(): Promise<void> {
    return call("hide_mini");
  }

  subscribe(
    onCall: (c: CallView) => void,
    onConnection: (state: ConnectionState) => void,
    onResync?: () => void,
  ): () => void {
    // In-process: the stream is always live. Refetch once now that no change can slip by.
    const frames = new FrameReader(onCall, onResync ?? (() => {}));
    const stop = listenWhileSubscribed<LiveFrame>("live", (f) => frames.read(f), () => onConnection("live"));
    const onVisible = () => {
      if (document.visibilityState === "visible") onResync?.();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      document.removeEventListener("visibilitychange", onVisible);
      stop();
    };
  }
}
