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

/**
 * Whether `value` is bytes of `min` or more in memory of their own thread: shared memory (a
 * view of a SharedArrayBuffer) is meant to be seen by both sides, and is posted as it is.
 */
function bulk(value: unknown, min: number): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength >= min && value.buffer instanceof ArrayBuffer;
}

/**
 * `args` with each top-level Uint8Array of `min` bytes or more (not shared memory) copied into
 * a buffer of its own — once, exactly its bytes, even when handed over: the caller may still
 * hold it, and a request may be sent again — and those buffers, to be moved with a message;
 * `args` is not changed. Posting a view as it is would clone its whole buffer (a piece of a
 * request is a view of the request's buffer), serialised and then deserialised. Anything but a
 * plain object of arguments is returned as it is.
 */
export function ownBytes(args: unknown, min: number): { copy: unknown; transfer: ArrayBuffer[] } {
  if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof Uint8Array) return { copy: args, transfer: [] };
  const transfer: ArrayBuffer[] = [];
  let copy: Record<string, unknown> | null = null;
  for (const [name, value] of Object.entries(args)) {
    if (!bulk(value, min)) continue;
    const own = new Uint8Array(value); // not value.slice(): a Buffer's slice is a view
    copy ??= { ...args };
    copy[name] = own;
    transfer.push(own.buffer);
  }
  return { copy: copy ?? args, transfer };
}

/**
 * A frame as a message on a port, and the buffers moved with it: a reply's bytes value (moved as
 * it is when handed over, else copied once) and a request's top-level bytes arguments (copied
 * once, see ownBytes), each of `min` bytes or more and not shared memory; the others are
 * cloned with the message. The frame itself is not changed.
 */
export function portMessage(frame: Frame, min: number): { message: Frame; transfer: ArrayBuffer[] } {
  const value = frame[0] === OK ? frame[2] : undefined;
  if (bulk(value, min)) {
    const own = handedOver.has(value.buffer as ArrayBuffer) ? value : new Uint8Array(value);
    return { message: own === value ? frame : [OK, frame[1], own], transfer: [own.buffer as ArrayBuffer] };
  }
  if (frame[0] !== REQ) return { message: frame, transfer: [] };
  const { copy, transfer } = ownBytes(frame[4], min);
  return { message: transfer.length === 0 ? frame : [REQ, frame[1], frame[2], frame[3], copy], transfer };
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
