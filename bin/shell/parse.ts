// The shell's language: commands separated by ';' or newlines, joined by '&&' and '||', and
// pipelines of them joined by '|'; words with '…', "…" and $'…' quoting and backslash escapes;
// redirections '> file', '>> file' and '< file'. '#' starts a comment. No variables, globs or
// background jobs. Words are in client form (kernel/names.ts): $'…' can give bytes that are not
// UTF-8, as the names `ls` shows that way.

import { fromByteString, toByteString } from '../../kernel/index.js';

export interface Redirect {
  op: '>' | '>>' | '<';
  path: string;
}

/** One command of a pipeline: its words and redirections. */
export interface Stage {
  argv: string[];
  redirects: Redirect[];
}

/** A command (the first stage of its pipeline) and the stages piped after it. */
export interface Command extends Stage {
  /** How this command joins the previous one: run always, only after success, only after failure. */
  join: ';' | '&&' | '||';
  /** `a | b | c`: b and c, each reading what the stage before it writes. Empty for a lone command. */
  piped: Stage[];
}

export class ParseError extends Error {}

/** Escapes of $'…' (as bash's ANSI-C quoting) that stand for one byte, by letter. */
const ANSI_C: Record<string, number> = { a: 7, b: 8, e: 27, E: 27, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };

/**
 * The $'…' whose opening quote is at `open`: the bytes it stands for (a byte string) and where it
 * ends. \ooo (octal) and \xHH give raw bytes, \uHHHH and \UHHHHHHHH a character's UTF-8;
 * another backslash stays as it is.
 */
function ansiC(line: string, open: number): { bytes: string; end: number } {
  let bytes = '';
  for (let i = open + 1; i < line.length; ) {
    const c = line[i];
    if (c === "'") return { bytes, end: i + 1 };
    if (c !== '\\' || i + 1 >= line.length) {
      const char = String.fromCodePoint(line.codePointAt(i)!); // a surrogate pair whole
      bytes += toByteString(char);
      i += char.length;
      continue;
    }
    const e = line[i + 1];
    const digits = (re: RegExp, max: number) => (re.exec(line.slice(i + 2, i + 2 + max)) ?? [''])[0];
    const octal = /^[0-7]/.test(e) ? (/^[0-7]{1,3}/.exec(line.slice(i + 1, i + 4)) ?? [''])[0] : '';
    const hex = e === 'x' ? digits(/^[0-9a-fA-F]+/, 2) : '';
    const wide = e === 'u' || e === 'U' ? digits(/^[0-9a-fA-F]+/, e === 'u' ? 4 : 8) : '';
    const code = wide ? Number.parseInt(wide, 16) : -1;
    if (octal) {
      bytes += String.fromCharCode(Number.parseInt(octal, 8) & 0xff);
      i += 1 + octal.length;
    } else if (hex) {
      bytes += String.fromCharCode(Number.parseInt(hex, 16));
      i += 2 + hex.length;
    } else if (code >= 0 && code <= 0x10ffff && (code < 0xd800 || code >= 0xe000)) {
      bytes += toByteString(String.fromCodePoint(code));
      i += 2 + wide.length;
    } else if (Object.hasOwn(ANSI_C, e)) {
      bytes += String.fromCharCode(ANSI_C[e]);
      i += 2;
    } else {
      bytes += toByteString(`\\${e}`);
      i += 2;
    }
  }
  throw new ParseError("unterminated quote ($')");
}

/** `word` (client form) followed by the bytes of a $'…': one client-form word, its bytes concatenated. */
function appendBytes(word: string, bytes: string): string {
  try {
    return fromByteString(toByteString(word) + bytes);
  } catch {
    throw new ParseError('a word holds a lone surrogate that stands for no byte');
  }
}

type Token = { word: string } | { op: string };

function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') break;
    if (c === '\n' || c === ';') {
      tokens.push({ op: ';' });
      i++;
      continue;
    }
    const two = line.slice(i, i + 2);
    if (two === '&&' || two === '||' || two === '>>') {
      tokens.push({ op: two });
      i += 2;
      continue;
    }
    if (c === '>' || c === '<') {
      tokens.push({ op: c });
      i++;
      continue;
    }
    if (c === '|') {
      tokens.push({ op: '|' });
      i++;
      continue;
    }
    if (c === '&') throw new ParseError("'&' is not supported (no background jobs)");
    let word = '';
    while (i < line.length && !' \t\n;<>|&'.includes(line[i])) {
      const ch = line[i];
      if (ch === '$' && line[i + 1] === "'") {
        const { bytes, end } = ansiC(line, i + 1);
        word = appendBytes(word, bytes);
        i = end;
      } else if (ch === "'") {
        const end = line.indexOf("'", i + 1);
        if (end < 0) throw new ParseError('unterminated quote (\')');
        word += line.slice(i + 1, end);
        i = end + 1;
      } else if (ch === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) i++;
          word += line[i++];
        }
        if (i >= line.length) throw new ParseError('unterminated quote (")');
        i++;
      } else if (ch === '\\') {
        if (i + 1 < line.length) word += line[i + 1];
        i += 2;
      } else {
        word += ch;
        i++;
      }
    }
    tokens.push({ word });
  }
  return tokens;
}

export function parse(script: string): Command[] {
  const commands: Command[] = [];
  let current: Command = { argv: [], redirects: [], join: ';', piped: [] };
  /** The stage words and redirections go to: current, or the last stage piped after it. */
  let stage: Stage = current;
  let pendingJoin: Command['join'] = ';';
  const tokens = tokenize(script);
  const finish = () => {
    if (stage.argv.length === 0) {
      if (stage.redirects.length) throw new ParseError('a redirection without a command');
      if (stage !== current) throw new ParseError("'|' without a command after it");
      if (pendingJoin !== ';') throw new ParseError(`'${pendingJoin}' without a command after it`);
      return;
    }
    commands.push(current);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if ('word' in t) {
      stage.argv.push(t.word);
      continue;
    }
    if (t.op === '>' || t.op === '>>' || t.op === '<') {
      const next = tokens[i + 1];
      if (!next || !('word' in next)) throw new ParseError(`'${t.op}' needs a file name`);
      stage.redirects.push({ op: t.op, path: next.word });
      i++;
      continue;
    }
    if ((t.op === '&&' || t.op === '||' || t.op === '|') && stage.argv.length === 0) throw new ParseError(`'${t.op}' without a command before it`);
    if (t.op === '|') {
      stage = { argv: [], redirects: [] };
      current.piped.push(stage);
      continue;
    }
    finish();
    pendingJoin = t.op as Command['join'];
    current = { argv: [], redirects: [], join: pendingJoin, piped: [] };
    stage = current;
  }
  finish();
  return commands;
}
