// Pops an agent cannot miss, in the browser: a system notification per call (with the agent's
// permission) and a ring while a call for them rings. What each call's pop is comes from the
// server (`CallView.pop`, the same rule as the desktop's pops, `screenpop::kind`); this only
// carries it out, like the desktop shell does: show, replace or close each call's
// notification, and a missed call's only when its ringing one was on screen.

import type { CallView } from "./bindings/CallView";
import type { PopKind } from "./bindings/PopKind";

export type PopText = { title: string; body: string };

/** What a browser notification needs; `Notification` itself in the page. */
type Note = { close(): void; onclick: ((this: Notification, ev: Event) => unknown) | null };

/** One ring: two short bursts of two tones, as a desk phone rings (UK style). */
const RING_MS = 3000;

export class WebPops {
  /** Calls with a notification on screen, and what it says. */
  private shown = new Map<string, { kind: PopKind; key: string; note: Note | null; rings: boolean }>();
  private audio: AudioContext | null = null;
  private ringTimer: ReturnType<typeof setInterval> | null = null;
  /** Whether the ring is sounding now (for tests and the header's indicator). */
  ringing = false;

  constructor(
    private text: (c: CallView, kind: PopKind) => PopText,
    private onOpen: (c: CallView) => void,
    private options: () => { notify: boolean; sound: boolean },
    private onRinging: (on: boolean) => void,
  ) {}

  /** Whether the browser can show notifications, and whether the agent allowed it. */
  static permission(): NotificationPermission | "unsupported" {
    return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
  }

  static async ask(): Promise<NotificationPermission | "unsupported"> {
    if (typeof Notification === "undefined") return "unsupported";
    return Notification.requestPermission();
  }

  /** The page may play sound after the agent's first click or key (the browser's rule). */
  unlockAudio = (): void => {
    if (this.audio || typeof AudioContext === "undefined") return;
    try {
      this.audio = new AudioContext();
    } catch {
      this.audio = null;
    }
  };

  /** `c` changed: carry out what its pop should be now. */
  update(c: CallView): void {
    const want = c.pop;
    const had = this.shown.get(c.id);
    if (!want || (want === "missed" && !had)) {
      if (had) this.close(c.id);
      this.sound();
      return;
    }
    const { title, body } = this.text(c, want);
    const key = `${want}|${title}|${body}`;
    // A ringing pop for a call whose phone rings: the call itself, or a leg (a transfer). A
    // provider that never reports ringing pops "ringing" on a call already connected (VoiceShot's
    // IVR, Whippy's `call.started`): that pop is shown, but no phone rings.
    const rings = want === "ringing" && (c.state === "ringing" || c.legs.some((l) => l.state === "ringing"));
    if (had?.key === key) {
      had.rings = rings;
      this.sound();
      return;
    }
    had?.note?.close();
    const note = this.notify(c, want, title, body);
    this.shown.set(c.id, { kind: want, key, note, rings });
    this.sound();
  }

  /** After a reload: calls no longer listed lose their pops. */
  keepOnly(ids: Set<string>): void {
    for (const id of [...this.shown.keys()]) if (!ids.has(id) && this.shown.get(id)?.kind !== "missed") this.close(id);
    this.sound();
  }

  private close(id: string): void {
    this.shown.get(id)?.note?.close();
    this.shown.delete(id);
  }

  private notify(c: CallView, kind: PopKind, title: string, body: string): Note | null {
    if (!this.options().notify || WebPops.permission() !== "granted") return null;
    try {
      const n = new Notification(title, {
        body,
        tag: `ringside:${c.id}`,
        requireInteraction: kind !== "missed",
        silent: true,
      });
      n.onclick = () => {
        window.focus();
        this.onOpen(c);
        n.close();
      };
      return n;
    } catch {
      return null;
    }
  }

  /** Ring while a ringing pop is on screen for a phone that rings and the agent wants sound. */
  private sound(): void {
    const want = this.options().sound && [...this.shown.values()].some((s) => s.rings);
    if (want === this.ringing) return;
    this.ringing = want;
    this.onRinging(want);
    if (this.ringTimer) clearInterval(this.ringTimer);
    this.ringTimer = null;
    if (want) {
      this.ring();
      this.ringTimer = setInterval(() => this.ring(), RING_MS);
    }
  }

  private ring(): void {
    const ctx = this.audio;
    if (!ctx) return;
    if (ctx.state === "suspended") void ctx.resume();
    const start = ctx.currentTime + 0.02;
    for (const offset of [0, 0.6]) {
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, start + offset);
      gain.gain.linearRampToValueAtTime(0.18, start + offset + 0.02);
      gain.gain.setValueAtTime(0.18, start + offset + 0.38);
      gain.gain.linearRampToValueAtTime(0, start + offset + 0.4);
      gain.connect(ctx.destination);
      for (const hz of [400, 450]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start(start + offset);
        osc.stop(start + offset + 0.42);
      }
    }
  }

  stop(): void {
    for (const id of [...this.shown.keys()]) this.close(id);
    if (this.ringTimer) clearInterval(this.ringTimer);
    this.ringTimer = null;
    void this.audio?.close();
  }
}
