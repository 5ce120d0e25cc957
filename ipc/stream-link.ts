// A link over a byte stream (a pipe to a child process, a unix socket): each frame is a
// 4-byte little-endian length and a msgpackr body. Frames written in one tick leave in one
// write. A frame over the size limit, or one that does not decode, closes the link: a peer
// that sends garbage is not a peer we can trust to frame the next message either. Until a
// peer has proved who it is (kernel/sockets.ts), its limit is small: a stranger can make the
// link hold no more than one small frame.

import type { Duplex } from 'node:stream';
import { Packr } from 'msgpackr';
import { SysError } from './errno.js';
import { MAX_IO, type Frame, type Link } from './frame.js';

/**
 * Largest frame sent or accepted, in bytes: four times MAX_IO, so that a call carrying the most
 * data an op may take (or a reply with the most a read returns), with its envelope, always fits.
 */
export const MAX_FRAME = 4 * MAX_IO;

/** Milliseconds a link closed after a last frame (sendAndClose) waits for its peer to close. */
const LINGER_MS = 2_000;

export class StreamLink implements Link {
  /**
   * Largest frame this link accepts, in bytes: MAX_FRAME, or less while the peer is not yet
   * authenticated. Raising it takes effect from the next frame header read.
   */
  limit: number;
  onFrame: (frame: unknown) => void = () => {};
  onClose: (reason: string) => void = () => {};
  /**
   * Optional: the frame a peer is sent, before the link closes, when a frame of its breaks the
   * framing (`EMSGSIZE`: larger than the limit; `EPROTO`: its body is not msgpack). Unset (as
   * between domains), such a link is closed without a word.
   */
  farewell?: (errno: 'EMSGSIZE' | 'EPROTO', reason: string) => Frame;
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  private chunks: Buffer[] = [];
  private buffered = 0;
  private open = true;
  private corked = false;

  /** @param limit  the frame size limit to start with (see `limit`) */
  constructor(private readonly stream: Duplex, limit = MAX_FRAME) {
    this.limit = limit;
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('error', (err) => this.lost(`stream error: ${err.message}`));
    stream.on('close', () => this.lost('stream closed'));
    stream.on('end', () => this.lost('peer closed the stream'));
  }

  send(frame: Frame): void {
    if (!this.open) return;
    const body = this.packr.pack(frame);
    if (body.length > MAX_FRAME) throw new SysError('E2BIG', `a message of ${body.length} bytes is larger than the largest frame (${MAX_FRAME} bytes)`);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.length, 0);
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    this.stream.write(head);
    this.stream.write(body);
  }

  close(): void {
    if (!this.open) return;
    this.lost('closed');
    // Frames sent in this tick wait in the cork until the next one: hand them to the system
    // first, or the last reply (a server's answer to `ctl halt`) is lost with the stream.
    if (this.corked) {
      this.corked = false;
      this.stream.uncork();
    }
    this.stream.destroy();
  }

  /**
   * Sends `frame` as the last one and closes the link: the stream is ended after it, and what
   * the peer still sends is read and dropped (a socket closed with unread input is reset, and a
   * reset can make the peer lose the frame) until the peer closes too, or LINGER_MS have passed.
   */
  sendAndClose(frame: Frame, reason: string): void {
    if (!this.open) return;
    this.lost(reason);
    this.stream.removeAllListeners('data');
    this.stream.on('data', () => {});
    this.stream.resume();
    const body = this.packr.pack(frame);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.length, 0);
    this.stream.end(Buffer.concat([head, body]));
    setTimeout(() => this.stream.destroy(), LINGER_MS).unref();
  }

  private lost(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.onClose(reason);
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.open && this.buffered >= 4) {
      const size = this.take(4, false).readUInt32LE(0);
      if (size > this.limit) return this.abort('EMSGSIZE', `a frame of ${size} bytes exceeds the limit of ${this.limit}`);
      if (this.buffered < 4 + size) return;
      const whole = this.take(4 + size, true);
      // Decode from a plain Uint8Array view, so binary fields arrive as Uint8Array, not Buffer.
      let frame: unknown;
      try {
        frame = this.packr.unpack(new Uint8Array(whole.buffer, whole.byteOffset + 4, size));
      } catch (err) {
        return this.abort('EPROTO', `a frame did not decode: ${(err as Error).message}`);
      }
      this.onFrame(frame);
    }
  }

  /** The first n bytes of the queue, removed from it when consume is true. */
  private take(n: number, consume: boolean): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0];
    if (!consume) return first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return first.subarray(0, n);
  }

  private abort(errno: 'EMSGSIZE' | 'EPROTO', reason: string): void {
    if (this.farewell) return this.sendAndClose(this.farewell(errno, reason), reason);
    this.lost(reason);
    this.stream.destroy();
  }
}
