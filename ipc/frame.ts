// The messages every transport carries. A request names the component and op it is for;
// replies are matched to requests by id, so a channel can have many calls in flight.

export const REQ = 0;
export const OK = 1;
export const ERR = 2;

export type Request = [kind: typeof REQ, id: number, to: string, op: string, args: unknown];
export type OkReply = [kind: typeof OK, id: number, value: unknown];
export type ErrReply = [kind: typeof ERR, id: number, errno: string, message: string];
export type Frame = Request | OkReply | ErrReply;

/**
 * The most bytes one op may carry in a `bytes` argument, and the most one read returns: 16 MiB.
 * Every transport must carry a frame of this much data and its envelope (see MAX_FRAME in
 * ./stream-link.ts), so a call that passes validation never fails for its size under any policy.
 * The syscall layer keeps to it as Linux keeps to MAX_RW_COUNT: a larger read or write moves this
 * much and returns a short count.
 */
export const MAX_IO = 16 * 1024 * 1024;

const handedOver = new WeakSet<ArrayBuffer>();

/**
 * Marks bytes their owner made to reply with and will not touch again, so that a thread
 * transport may move them to the receiving thread instead of copying them (the sender's array
 * is then empty). Only a whole, unshared buffer qualifies; anything else is copied as usual.
 */
export function handOver<T extends Uint8Array>(bytes: T): T {
  const b = bytes.buffer;
  if (b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength) handedOver.add(b);
  return bytes;
}

/** The buffer a frame may move: a reply's value, handed over and at least `min` bytes long. */
export function movableBuffer(frame: Frame, min: number): ArrayBuffer | null {
  if (frame[0] !== OK) return null; // never a request's: a retried request is sent again
  const v = frame[2];
  if (!(v instanceof Uint8Array) || v.byteLength < min || !handedOver.has(v.buffer as ArrayBuffer)) return null;
  return v.buffer as ArrayBuffer;
}

/** Checks the shape of a frame that arrived from outside; null when it is malformed. */
export function asFrame(x: unknown): Frame | null {
  if (!Array.isArray(x) || !Number.isSafeInteger(x[1])) return null;
  switch (x[0]) {
    case REQ:
      return x.length === 5 && typeof x[2] === 'string' && typeof x[3] === 'string' ? (x as Request) : null;
    case OK:
      return x.length === 3 ? (x as OkReply) : null;
    case ERR:
      return x.length === 4 && typeof x[2] === 'string' && typeof x[3] === 'string' ? (x as ErrReply) : null;
    default:
      return null;
  }
}

/**
 * One side of a connection between two domains. A link moves frames and reports when the
 * other side is gone; the Endpoint above it matches requests and replies.
 */
export interface Link {
  send(frame: Frame): void;
  /** Installed by the endpoint: called for each frame received. */
  onFrame: (frame: unknown) => void;
  /** Installed by the endpoint: called once when the link closes, for any reason. */
  onClose: (reason: string) => void;
  close(): void;
}
