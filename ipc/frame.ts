// The messages every transport carries. A request names the component and op it is for;
// replies are matched to requests by id, so a channel can have many calls in flight.

export const REQ = 0;
export const OK = 1;
export const ERR = 2;

export type Request = [kind: typeof REQ, id: number, to: string, op: string, args: unknown];
export type OkReply = [kind: typeof OK, id: number, value: unknown];
export type ErrReply = [kind: typeof ERR, id: number, errno: string, message: string];
export type Frame = Request | OkReply | ErrReply;

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
