// A link between two threads over a pair of shared-memory rings: frames are msgpackr-encoded
// into the ring towards the peer. The port beside the rings carries what the rings cannot: a
// wake-up when the peer's poller is parked, a frame too big for the ring or one that finds it
// full (so a sender never waits for space), bulk data (a reply's handed over by its owner is
// moved, not copied: see handOver in ./frame.ts; any other is copied once and moved: see
// portMessage), and the news that the peer is gone. A frame sent on the port leaves an empty
// record in the ring, so that the peer looks at its port at once.

import { Packr } from 'msgpackr';
import { REQ, portMessage, type Frame } from './frame.js';
import { PortLink, type PortLike } from './port-link.js';
import type { Poller, RingSource } from './poller.js';
import { Doorbell, Ring } from './ring.js';

/** The shared memory of one link end: what it writes to, what it reads from, whom it wakes. */
export interface RingEnds {
  tx: SharedArrayBuffer;
  rx: SharedArrayBuffer;
  peerBell: SharedArrayBuffer;
}

/**
 * Bytes per ring: frames in flight are small, and a frame over half a ring (128 KiB) goes by the
 * port. Each channel has two rings, zeroed when made; at 1 MiB, a microkernel boot allocated 18
 * MiB of them, and booted 3-5 ms slower (median of 8 boots, 4 turns each).
 */
export const RING_CAPACITY = 1 << 18;

/**
 * Bytes of this size or more — a handed-over reply's, moved as they are, or any other reply's
 * or a request's, copied once — are moved over the port rather than copied through the ring (an
 * encoding copy, the ring's copy and the decoding copy; and over half a ring, an encoding that
 * was wasted and a clone of the whole buffer of each view).
 */
export const MOVE_MIN_BYTES = 64 * 1024;

const PORT_NOTICE = new Uint8Array(0);

/** The port message that wakes a parked poller. */
const WAKE = 'wake';

/** Both ends of a new link: give `a` to one thread and `b` to the other. */
export function ringPair(bellA: SharedArrayBuffer, bellB: SharedArrayBuffer): { a: RingEnds; b: RingEnds } {
  const ab = Ring.allocate(RING_CAPACITY);
  const ba = Ring.allocate(RING_CAPACITY);
  return { a: { tx: ab, rx: ba, peerBell: bellB }, b: { tx: ba, rx: ab, peerBell: bellA } };
}

// Binary fields are copied out of the ring, so a frame outlives the ring space it came in.
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });

export class RingLink extends PortLink implements RingSource {
  readonly rx: Ring;
  private readonly tx: Ring;
  private readonly peerBell: Doorbell;
  /** Requests sent and not yet answered. */
  private unanswered = 0;

  constructor(ends: RingEnds, port: PortLike, private readonly poller: Poller, closePort?: () => void) {
    super(port, closePort);
    this.tx = new Ring(ends.tx);
    this.rx = new Ring(ends.rx);
    this.peerBell = new Doorbell(ends.peerBell, poller.share);
    poller.add(this);
  }

  get waiting(): boolean {
    return this.unanswered > 0;
  }

  override send(frame: Frame): void {
    if (!this.open) return;
    if (frame[0] === REQ) this.unanswered++;
    const { message, transfer } = portMessage(frame, MOVE_MIN_BYTES);
    if (transfer.length === 0 && this.tx.tryWrite(packr.pack(frame))) {
      if (this.peerBell.ring()) this.port.postMessage(WAKE);
      return;
    }
    this.port.postMessage(message, transfer);
    // The peer may have taken the frame and parked again before the notice lands: a wake-up
    // claimed here must be sent, or the peer would sleep with a record in its ring.
    if (this.tx.tryWrite(PORT_NOTICE) && this.peerBell.ring()) this.port.postMessage(WAKE);
  }

  deliver(record: Uint8Array): void {
    if (record.length === 0) this.poller.turnEventLoop();
    else this.frame(packr.unpack(record));
  }

  override lost(reason: string): void {
    if (this.open) this.poller.remove(this);
    super.lost(reason);
  }

  /** Anything on the port means the peer is active: a wake-up, or a frame that did not fit. */
  protected override received(value: unknown): void {
    this.poller.wake();
    if (value !== WAKE) this.frame(value);
  }

  private frame(frame: unknown): void {
    if (!this.open) return;
    if (Array.isArray(frame) && frame[0] !== REQ) this.unanswered--;
    this.onFrame(frame);
  }
}
