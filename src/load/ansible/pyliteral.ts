/**
 * INI inventory values the way Ansible reads them: `ast.literal_eval` when the text is a Python
 * literal (numbers, True/False/None, quoted strings, lists, tuples, dicts), else the text as is.
 * So `port=22` is a number, `become=True` a boolean, `become=yes` or `x=true` the string, and
 * `False # note` is False (a comment after a literal) while `hello # note` keeps its comment.
 */

class NotLiteral extends Error {}

/** A literal Python holds exactly but a JavaScript number cannot: an error, never a rounded value. */
export class LiteralTooLarge extends Error {}

export function pyLiteral(text: string): unknown {
  const src = text.replace(/^[ \t]+/, '');
  let i = 0;
  let tooLarge: string | undefined;
  // a `#` comment runs to the end of the line, as in Python: `False # note` is False
  const ws = () => {
    for (;;) {
      while (i < src.length && /[ \t\r\n]/.test(src[i])) i++;
      if (src[i] !== '#') return;
      while (i < src.length && src[i] !== '\n') i++;
    }
  };
  const fail = (): never => {
    throw new NotLiteral();
  };
  const str = (): string => {
    const q = src[i];
    const triple = src.startsWith(q.repeat(3), i);
    i += triple ? 3 : 1;
    let out = '';
    for (;;) {
      if (i >= src.length) fail();
      const c = src[i];
      if (triple ? src.startsWith(q.repeat(3), i) : c === q) {
        i += triple ? 3 : 1;
        return out;
      }
      if (!triple && c === '\n') fail();
      if (c === '\\') {
        const n = src[i + 1];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
        if (n !== undefined && n in simple) {
          out += simple[n];
          i += 2;
        } else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(src.slice(i + 2, i + 4))) {
          out += String.fromCharCode(parseInt(src.slice(i + 2, i + 4), 16));
          i += 4;
        } else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          out += c;
          i++;
        }
        continue;
      }
      out += c;
      i++;
    }
  };
  const value = (): unknown => {
    ws();
    const c = src[i];
    if (c === undefined) fail();
    if (c === "'" || c === '"') {
      let s = str();
      // adjacent literals concatenate: 'a' 'b'
      for (;;) {
        const save = i;
        ws();
        if (src[i] === "'" || src[i] === '"') s += str();
        else {
          i = save;
          return s;
        }
      }
    }
    if (c === '[' || c === '(') return seq(c === '[' ? ']' : ')');
    if (c === '{') return dict();
    const word = /^(True|False|None)(?![A-Za-z0-9_])/.exec(src.slice(i));
    if (word) {
      i += word[1].length;
      return word[1] === 'True' ? true : word[1] === 'False' ? false : null;
    }
    const num = /^[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*\.)(?![A-Za-z0-9_.])/.exec(src.slice(i));
    if (num) {
      const t = num[0].replace(/_/g, '');
      const body = t.replace(/^[+-]/, '');
      // Python rejects leading zeros in decimal integers ("01")
      if (/^0\d/.test(body) && !/[.eE]/.test(body)) fail();
      i += num[0].length;
      const sign = t.startsWith('-') ? -1 : 1;
      const radix = /^0[xob]/i.test(body);
      if (radix || !/[.eE]/.test(body)) {
        const n = BigInt(body.toLowerCase());
        // an error only if the whole text is a literal (checked at the end)
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) tooLarge ??= num[0];
        return sign * Number(n);
      }
      return Number(t);
    }
    return fail();
  };
  const seq = (close: string): unknown[] => {
    i++;
    const out: unknown[] = [];
    ws();
    if (src[i] === close) {
      i++;
      return out;
    }
    for (;;) {
      out.push(value());
      ws();
      if (src[i] === ',') {
        i++;
        ws();
        if (src[i] === close) {
          i++;
          return out;
        }
        continue;
      }
      if (src[i] === close) {
        i++;
        // (x) without a comma is just x in Python
        return close === ')' && out.length === 1 ? (out[0] as unknown[]) : out;
      }
      fail();
    }
  };
  const dict = (): Record<string, unknown> => {
    i++;
    const out: Record<string, unknown> = {};
    ws();
    if (src[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const k = value();
      if (typeof k === 'object' && k !== null) fail();
      ws();
      if (src[i] !== ':') fail();
      i++;
      out[String(k)] = value();
      ws();
      if (src[i] === ',') {
        i++;
        ws();
        if (src[i] === '}') {
          i++;
          return out;
        }
        continue;
      }
      if (src[i] === '}') {
        i++;
        return out;
      }
      fail();
    }
  };
  try {
    const v = value();
    ws();
    if (i !== src.length) return text;
    if (tooLarge !== undefined) throw new LiteralTooLarge(`the integer ${tooLarge} is too large for provision to hold exactly (more than 2^53)`);
    return v;
  } catch (e) {
    if (e instanceof NotLiteral) return text;
    throw e;
  }
}

export interface Token {
  text: string;
  /** 0-based column of the token's first character. */
  col: number;
}

/**
 * POSIX shell-like split as Python's shlex.split(line, comments=True): quotes, backslash
 * escapes, an unquoted `#` starting a comment (also inside a word: `a=x#y` is `a=x`).
 * Returns the tokens or an error.
 */
export function shlexSplit(line: string): Token[] | { error: string; col: number } {
  const tokens: Token[] = [];
  let cur: string | null = null;
  let start = 0;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (cur === null) {
      if (/[ \t\r\n]/.test(c)) {
        i++;
        continue;
      }
      if (c === '#') break;
      cur = '';
      start = i;
    }
    if (c === '#') {
      tokens.push({ text: cur, col: start });
      cur = null;
      break;
    }
    if (/[ \t\r\n]/.test(c)) {
      tokens.push({ text: cur, col: start });
      cur = null;
      i++;
      continue;
    }
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { error: 'no closing quotation', col: i };
      cur += line.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return { error: 'no closing quotation', col: start };
        if (line[i] === '"') break;
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) i++;
        cur += line[i];
        i++;
      }
      i++;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= line.length) return { error: 'no escaped character', col: i };
      cur += line[i + 1];
      i += 2;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur !== null) tokens.push({ text: cur, col: start });
  return tokens;
}
