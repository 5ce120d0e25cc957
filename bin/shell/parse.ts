// The shell's language: commands separated by ';' or newlines, joined by '&&' and '||';
// words with '…' and "…" quoting and backslash escapes; redirections '> file', '>> file'
// and '< file'. '#' starts a comment. No pipes, variables or globs.

export interface Redirect {
  op: '>' | '>>' | '<';
  path: string;
}

export interface Command {
  argv: string[];
  redirects: Redirect[];
  /** How this command joins the previous one: run always, only after success, only after failure. */
  join: ';' | '&&' | '||';
}

export class ParseError extends Error {}

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
    if (c === '|' || c === '&') throw new ParseError(`'${c}' is not supported (no pipes or background jobs)`);
    let word = '';
    while (i < line.length && !' \t\n;<>|&'.includes(line[i])) {
      const ch = line[i];
      if (ch === "'") {
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
  let current: Command = { argv: [], redirects: [], join: ';' };
  let pendingJoin: Command['join'] = ';';
  const tokens = tokenize(script);
  const finish = () => {
    if (current.argv.length === 0) {
      if (current.redirects.length) throw new ParseError('a redirection without a command');
      if (pendingJoin !== ';') throw new ParseError(`'${pendingJoin}' without a command after it`);
      return;
    }
    commands.push(current);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if ('word' in t) {
      current.argv.push(t.word);
      continue;
    }
    if (t.op === '>' || t.op === '>>' || t.op === '<') {
      const next = tokens[i + 1];
      if (!next || !('word' in next)) throw new ParseError(`'${t.op}' needs a file name`);
      current.redirects.push({ op: t.op, path: next.word });
      i++;
      continue;
    }
    if ((t.op === '&&' || t.op === '||') && current.argv.length === 0) throw new ParseError(`'${t.op}' without a command before it`);
    finish();
    pendingJoin = t.op as Command['join'];
    current = { argv: [], redirects: [], join: pendingJoin };
  }
  finish();
  return commands;
}
