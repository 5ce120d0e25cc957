// Names as bytes. A POSIX file name is any bytes but '/' and NUL; inside the kernel (vfs, the
// file systems, the wire, kept records) a name or path is a *byte string*: a JS string holding one
// char per byte, codes 0–255 (a latin1 string), which every transport carries losslessly. Clients
// speak the *client form*: a Uint8Array of the bytes, or a JS string taken as UTF-8 where a lone
// surrogate U+DC80–U+DCFF stands for the raw byte 0x80–0xFF that is not part of valid UTF-8
// (Python's surrogateescape, PEP 383). The conversion happens at the client boundary only
// (kernel/proc.ts); this module has the codecs, and the form `ls` shows a name in.

import { SysError } from '../ipc/errno.js';

/** Chars made at once by String.fromCharCode: well under any engine's argument limit. */
const CHUNK = 8192;

/** First of the lone surrogates that stand for a raw byte: U+DC00 + byte, for bytes 0x80–0xFF. */
const ESCAPE_BASE = 0xdc00;

/** A string of the first `length` char codes of `codes`, made chunk by chunk. */
function fromCodes(codes: Uint8Array | Uint16Array, length: number): string {
  if (length <= CHUNK) return String.fromCharCode(...codes.subarray(0, length));
  const parts: string[] = [];
  for (let at = 0; at < length; at += CHUNK) parts.push(String.fromCharCode(...codes.subarray(at, Math.min(length, at + CHUNK))));
  return parts.join('');
}

/** Whether `s` is a byte string: every char's code is 0–255. */
export function isByteString(s: string): boolean {
  return !/[^\0-\xff]/.test(s);
}

/** The byte string of `bytes`: one char per byte, code = byte. */
export function byteString(bytes: Uint8Array): string {
  return fromCodes(bytes, bytes.length);
}

/**
 * The bytes of a byte string. Throws a SysError EINVAL for a char above 0xFF (the string is
 * not a byte string): a name is never cut down to bytes it did not have.
 */
export function bytesOf(byteStr: string): Uint8Array {
  const out = new Uint8Array(byteStr.length);
  for (let i = 0; i < byteStr.length; i++) {
    const c = byteStr.charCodeAt(i);
    if (c > 0xff) throw new SysError('EINVAL', `a name holds the char U+${hex(c)}, which is not a byte`);
    out[i] = c;
  }
  return out;
}

const hex = (c: number) => c.toString(16).toUpperCase().padStart(4, '0');

const ASCII_ONLY = /^[\0-\x7f]*$/;

/**
 * The byte string of a name or path in client form: a Uint8Array as its bytes; a JS string as
 * its UTF-8, where a lone surrogate U+DC80–U+DCFF is the raw byte 0x80–0xFF. Throws a SysError
 * EINVAL for any other lone surrogate, which stands for no byte.
 */
export function toByteString(p: string | Uint8Array): string {
  if (typeof p !== 'string') return byteString(p);
  if (ASCII_ONLY.test(p)) return p;
  const out = new Uint8Array(p.length * 3);
  let n = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < p.length && (p.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (p.charCodeAt(++i) - 0xdc00);
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 0x3f);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      out[n++] = c - ESCAPE_BASE;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      throw new SysError('EINVAL', `a name holds the lone surrogate U+${hex(c)}, which stands for no byte (only U+DC80–U+DCFF stand for the bytes 0x80–0xFF)`);
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return fromCodes(out, n);
}

/**
 * The code point of the valid UTF-8 sequence at `at` of byte string s, and its length in bytes;
 * null when the bytes there are not one (a stray or missing continuation byte, an overlong form,
 * a surrogate, a code point past U+10FFFF). The ranges are those of RFC 3629's table.
 */
function utf8At(s: string, at: number): { cp: number; len: number } | null {
  const b = s.charCodeAt(at);
  if (b < 0x80) return { cp: b, len: 1 };
  const cont = (i: number, lo = 0x80, hi = 0xbf) => {
    const c = s.charCodeAt(at + i);
    return c >= lo && c <= hi; // NaN past the end is neither
  };
  const tail = (i: number) => s.charCodeAt(at + i) & 0x3f;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? { cp: ((b & 0x1f) << 6) | tail(1), len: 2 } : null;
  if (b >= 0xe0 && b <= 0xef) {
    const ok = b === 0xe0 ? cont(1, 0xa0) : b === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return ok && cont(2) ? { cp: ((b & 0x0f) << 12) | (tail(1) << 6) | tail(2), len: 3 } : null;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const ok = b === 0xf0 ? cont(1, 0x90) : b === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return ok && cont(2) && cont(3) ? { cp: ((b & 0x07) << 18) | (tail(1) << 12) | (tail(2) << 6) | tail(3), len: 4 } : null;
  }
  return null;
}

/**
 * The client form of a byte string: its UTF-8 decoded, where every byte that is not part of
 * valid UTF-8 becomes the lone surrogate U+DC00 + byte. Lossless:
 * `toByteString(fromByteString(s)) === s` for every byte string s (bytes below 0x80 are always
 * valid, so no U+DC00–U+DC7F is ever made). Chars above 0xFF (not bytes) are left as they are.
 */
export function fromByteString(s: string): string {
  if (ASCII_ONLY.test(s)) return s;
  const out = new Uint16Array(s.length * 2);
  let n = 0;
  for (let i = 0; i < s.length; ) {
    if (s.charCodeAt(i) > 0xff) {
      out[n++] = s.charCodeAt(i++);
      continue;
    }
    const ch = utf8At(s, i);
    if (!ch) {
      out[n++] = ESCAPE_BASE + s.charCodeAt(i++);
    } else if (ch.cp >= 0x10000) {
      out[n++] = 0xd800 + ((ch.cp - 0x10000) >> 10);
      out[n++] = 0xdc00 + ((ch.cp - 0x10000) & 0x3ff);
      i += ch.len;
    } else {
      out[n++] = ch.cp;
      i += ch.len;
    }
  }
  return fromCodes(out, n);
}

/** C0 and C1 control characters and DEL: what ls does not print as they are. */
const printable = (cp: number) => cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0);

/** Escapes of $'…' that GNU ls writes by letter; other bytes go as three octal digits. */
const C_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };

/**
 * A name (or path) in client form as `ls` shows it: a name that is printable UTF-8, unchanged
 * (as GNU ls prints to a pipe; it is not quoted for a shell); any other in GNU ls's shell-escape
 * quoting, printable runs in '…' and every other byte in $'…' (`'caf'$'\351'` for the bytes
 * "caf\xe9", `'a'$'\n''b'` for "a\nb"), so that pasting that one into a shell gives the name back. Throws as toByteString for a string that is no client form.
 */
export function displayName(name: string | Uint8Array): string {
  const s = toByteString(name);
  const runs: { text: string; printable: boolean }[] = [];
  for (let i = 0; i < s.length; ) {
    const ch = utf8At(s, i);
    const ok = ch !== null && printable(ch.cp);
    const len = ch?.len ?? 1;
    const last = runs[runs.length - 1];
    const piece = s.slice(i, i + len);
    if (last && last.printable === ok) last.text += piece;
    else runs.push({ text: piece, printable: ok });
    i += len;
  }
  if (runs.every((r) => r.printable)) return fromByteString(s);
  // Opened at once, as GNU ls does: a name that starts with an escaped byte shows as ''$'…'.
  let out = "'";
  let quoted = true;
  for (const r of runs) {
    if (r.printable) {
      out += (quoted ? '' : "'") + fromByteString(r.text).replaceAll("'", "'\\''");
      quoted = true;
    } else {
      const escaped = Array.from(r.text, (c) => C_ESCAPES[c.charCodeAt(0)] ?? `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
      out += `${quoted ? "'" : ''}$'${escaped.join('')}'`;
      quoted = false;
    }
  }
  return quoted ? `${out}'` : out;
}
