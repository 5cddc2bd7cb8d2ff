// Pick the backend for where this page runs: Tauri IPC inside the desktop window, HTTP in a
// browser. The Tauri module is loaded only when needed.

import type { Backend } from "./types";
import { WebBackend } from "./web";

export * from "./types";
export { takeToken, storeToken, forgetToken } from "./web";

export function isTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

/** The desktop backend, or the web one with `token` (null when the web page has none yet). */
export async function createBackend(token: string | null): Promise<Backend | null> {
  if (isTauri()) {
    const { TauriBackend } = await import("./tauri");
    return new TauriBackend();
  }
  return token ? new WebBackend(token) : null;
}
