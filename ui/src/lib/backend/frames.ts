// The live stream's frames, read the same way by both backends: a `call` frame is a stored
// change; a `resync` frame says changes were missed (reload), and any frame numbered at or
// below it is covered by that reload.

import type { CallView } from "../bindings/CallView";
import type { LiveFrame } from "../bindings/LiveFrame";

export class FrameReader {
  private coveredUpTo = 0;

  constructor(
    private onCall: (c: CallView) => void,
    private onResync: () => void,
  ) {}

  /** A new connection: its numbering may start over (the server restarted). */
  reset(): void {
    this.coveredUpTo = 0;
  }

  read(frame: LiveFrame): void {
    if (frame.type === "resync") {
      this.coveredUpTo = frame.seq;
      this.onResync();
    } else if (frame.type === "call" && frame.seq > this.coveredUpTo) {
      this.onCall(frame.call);
    }
  }
}
