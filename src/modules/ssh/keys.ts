/**
 * authorized_keys lines as Ansible's authorized_key reads them: `[options] type blob [comment]`.
 * A key is identified by its type and blob; any other line (a comment, a blank line, a line
 * that is not a key) is kept as it is.
 */

export interface KeyLine {
  options?: string;
  type: string;
  blob: string;
  comment?: string;
}

const TYPE = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com|(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521))-cert-v01@openssh\.com)$/;
const BLOB = /^[A-Za-z0-9+/]+={0,3}$/;

/** Split on whitespace outside double quotes (options may quote spaces: command="a b"). */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && quoted && i + 1 < line.length) {
      cur += c + line[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

/** A key line, or undefined for anything else. */
export function parseKey(line: string): KeyLine | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#')) return undefined;
  const f = fields(t);
  // `type blob …`, or `options type blob …`
  const at = TYPE.test(f[0] ?? '') ? 0 : TYPE.test(f[1] ?? '') ? 1 : -1;
  if (at < 0 || !BLOB.test(f[at + 1] ?? '')) return undefined;
  const rest = f.slice(at + 2).join(' ');
  return { ...(at === 1 ? { options: normOptions(f[0]) } : {}), type: f[at], blob: f[at + 1], ...(rest ? { comment: rest } : {}) };
}

/** Options as one comma-separated string, split outside quotes (Ansible re-serialises them so). */
export function normOptions(s: string): string | undefined {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s.trim()) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      if (cur.trim()) parts.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts.length ? parts.join(',') : undefined;
}

export const identity = (k: KeyLine) => `${k.type} ${k.blob}`;

export function formatKey(k: KeyLine): string {
  return [k.options, k.type, k.blob, k.comment].filter((x) => x !== undefined && x !== '').join(' ');
}

const same = (a: KeyLine, b: KeyLine) => identity(a) === identity(b) && (a.options ?? '') === (b.options ?? '') && (a.comment ?? '') === (b.comment ?? '');

/**
 * The file's new lines (Ansible's enforce_state): present keys that differ in options or
 * comment are replaced, new ones appended in the order given; absent keys removed; exclusive
 * keeps nothing but the given keys (comments and other lines go too).
 */
export function enforce(existing: string[], keys: KeyLine[], state: 'present' | 'absent', exclusive: boolean): string[] {
  const wanted = new Map(keys.map((k) => [identity(k), k]));
  const out: string[] = [];
  const kept = new Set<string>();
  for (const line of existing) {
    const k = parseKey(line);
    if (!k) {
      if (!(exclusive && state === 'present')) out.push(line);
      continue;
    }
    const w = wanted.get(identity(k));
    if (state === 'absent') {
      if (!w) out.push(line);
      continue;
    }
    if (w && same(k, w) && !kept.has(identity(k))) {
      out.push(line);
      kept.add(identity(k));
    } else if (!w && !exclusive) out.push(line);
  }
  if (state === 'present') for (const [id, k] of wanted) if (!kept.has(id)) out.push(formatKey(k));
  return out;
}

