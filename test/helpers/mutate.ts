/** The fuzz test's seeded mutator (test/unit/fuzz.test.ts): byte, line, YAML, EJS and expression mutations. */
/** mulberry32: small, seedable, good enough to pick mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '{{', '}}', '{{ ', ' }}', '{{}}', '{{ a + }}', '{{ host.name', '}} }}', '{{ [1, 2 }}', '{{ x ? }}', '{{ ) }}', '{{ `', "{{ '", '{{ /re/ }}',
  '<%', '%>', '<%-', '<%=', '<%#', '<%_', '-%>', '<%%', '<% } %>', '<% if (x) { %>', '<%- foo( %>', '<% for (;;) %>',
  '&a ', '*a', '*nope', '<<: *a', ': ', '- ', '-', ':', '[', ']', '{', '}', ',', '"', "'", '\n', '\n  ', '\n- ', '\t', '#', '|', '>', '? ',
  '!!binary ', '!!str ', '!!int ', '!!float ', '!!map ', '!!seq ', '!!js/function ', '!<tag:x> ', '%YAML 1.1\n', '%TAG ! x\n', '---\n', '...\n',
  '@', '`', '\\', '~', 'null', 'true', '.nan', '.inf', '-.inf', '0x', '0o', '0b1', '1e400', '99999999999999999999999', '-1', '3000000',
  '4294967296', '1e-400', '0.5', '-0', ' notify: x', ' register: host', ' delegate_to: ghost', ' when: "a ==="', ' loop: "{{ [ }}"',
  'hosts: ","', ',', '!', '&', '!,', '\u0000', '\ufeff', '\u2028', '\u00e9', '\u{1F600}', '__proto__', 'constructor', 'toString',
  '$(reboot)', '${x}', '%s', '*', '?', '[abc', '\r\n', '\r',
];
const HUGE = ['3000000', '1e308', '1e400', '99999999999999999999999', '-1', '0', '0.5', '-0', '4294967296', '65536', '.inf', '.nan', '2147483648'];
const BAD_UTF8 = [[0xff], [0xfe], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];

export interface Mutated {
  bytes: Buffer;
  ops: string[];
}

export function mutate(input: Buffer, r: () => number): Mutated {
  let b: Buffer = Buffer.from(input);
  const ops: string[] = [];
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: T[]): T => a[int(a.length)];
  const at = () => int(b.length + 1);
  const n = 1 + int(3);
  for (let k = 0; k < n; k++) {
    const op = int(13);
    if (op === 0 && b.length) {
      const i = int(b.length);
      b[i] ^= 1 << int(8);
      ops.push(`flip@${i}`);
    } else if (op === 1 && b.length) {
      const i = int(b.length);
      const len = 1 + int(24);
      b = Buffer.concat([b.subarray(0, i), b.subarray(i + len)]);
      ops.push(`delete@${i}+${len}`);
    } else if (op === 2 && b.length) {
      const i = int(b.length);
      const len = 1 + int(80);
      const j = at();
      b = Buffer.concat([b.subarray(0, j), b.subarray(i, i + len), b.subarray(j)]);
      ops.push(`dup@${i}+${len}->${j}`);
    } else if (op === 3 || op === 4) {
      const tok = pick(TOKENS);
      const j = at();
      b = Buffer.concat([b.subarray(0, j), Buffer.from(tok), b.subarray(j)]);
      ops.push(`insert@${j}:${JSON.stringify(tok)}`);
    } else if (op === 5) {
      const s = b.toString('latin1');
      const runs = [...s.matchAll(/\d+/g)];
      if (runs.length) {
        const m = pick(runs);
        const v = pick(HUGE);
        b = Buffer.concat([b.subarray(0, m.index), Buffer.from(v), b.subarray(m.index + m[0].length)]);
        ops.push(`number@${m.index}:${v}`);
      }
    } else if (op === 6) {
      const bad = Buffer.from(pick(BAD_UTF8));
      const j = at();
      b = Buffer.concat([b.subarray(0, j), bad, b.subarray(j)]);
      ops.push(`utf8@${j}:${bad.toString('hex')}`);
    } else if (op === 7) {
      b = aliasBomb(b, r);
      ops.push('alias-bomb');
    } else if (op === 8 || op === 9) {
      const lines = b.toString('latin1').split('\n');
      const i = int(lines.length);
      const j = int(lines.length);
      const what = pick(['swap', 'drop', 'dup', 'indent', 'dedent']);
      if (what === 'swap') [lines[i], lines[j]] = [lines[j], lines[i]];
      else if (what === 'drop') lines.splice(i, 1);
      else if (what === 'dup') lines.splice(j, 0, lines[i]);
      else if (what === 'indent') lines[i] = `  ${lines[i]}`;
      else lines[i] = lines[i].replace(/^ {1,2}/, '');
      b = Buffer.from(lines.join('\n'), 'latin1');
      ops.push(`line-${what}@${i},${j}`);
    } else if (op === 10) {
      const j = at();
      b = b.subarray(0, j);
      ops.push(`truncate@${j}`);
    } else if (op === 11) {
      // replace one scalar value with another of the corpus' words
      const s = b.toString('latin1');
      const vals = [...s.matchAll(/: ([^\s{}[\],#]+)/g)];
      if (vals.length >= 2) {
        const m = pick(vals);
        const v = pick(vals)[1];
        const i = m.index + 2;
        b = Buffer.concat([b.subarray(0, i), Buffer.from(v, 'latin1'), b.subarray(i + m[1].length)]);
        ops.push(`value@${i}:${v}`);
      }
    } else {
      // a key renamed: unknown keys, missing required keys, reserved names
      const s = b.toString('latin1');
      const keys = [...s.matchAll(/^(\s*-?\s*)([a-z_]+):/gm)];
      if (keys.length) {
        const m = pick(keys);
        const to = pick(['notify', 'register', 'delegate_to', 'when', 'loop', 'hosts', 'vars', 'tasks', 'handlers', 'import_playbook', 'vars_files', 'src', 'priv', 'port', 'connect_timeout', 'name', 'x']);
        const i = m.index + m[1].length;
        b = Buffer.concat([b.subarray(0, i), Buffer.from(to), b.subarray(i + m[2].length)]);
        ops.push(`key@${i}:${m[2]}->${to}`);
      }
    }
  }
  return { bytes: b, ops };
}

/** Insert a "billion laughs" before a random line, shaped like that line (list item or key). */
function aliasBomb(b: Buffer, r: () => number): Buffer {
  const lines = b.toString('latin1').split('\n');
  const i = Math.floor(r() * lines.length);
  const ind = /^\s*/.exec(lines[i])![0];
  const item = /^\s*- /.test(lines[i]);
  const levels = 4 + Math.floor(r() * 4);
  const out: string[] = [];
  for (let l = 0; l < levels; l++) {
    const body = l === 0 ? '[lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]' : `[${Array(10).fill(`*z${l - 1}`).join(', ')}]`;
    out.push(item ? `${ind}- &z${l} ${body}` : `${ind}zz${l}: &z${l} ${body}`);
  }
  lines.splice(i, 0, ...out);
  return Buffer.from(lines.join('\n'), 'latin1');
}

