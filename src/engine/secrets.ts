/**
 * Secrets: `secret('name')` in playbooks and inventories.
 * Value from the environment variable PROVISION_SECRET_<NAME> if set; otherwise generated
 * once and kept in `.provision/secrets/<inventory>.json` (mode 0600, never committed).
 *
 * Output is kept free of secrets in two layers:
 *  - Display renders (display.ts): every task's arguments and templates are rendered a second
 *    time with a placeholder per secret (`«secret name»`); whatever differs is shown from that
 *    render. This holds for any encoding a template can compute.
 *  - The Masker: every secret value handed out (and every value the store knows, current or
 *    previous) is replaced with ******** in all output, in its raw form and its usual encodings
 *    (shell-quoted, JSON, URL, base64, backslash-escaped), as a second line of defence for text
 *    that does not come from a render (host output, errors).
 *
 * Rotation: the store keeps a salted SHA-256 (and the length) of every value it handed out in a
 * real run, in `<inventory>.history.json` next to the store (0600). A previous value (the store
 * was edited, or the environment variable changed) is recognised by hash in output and masked.
 *
 * `--check` writes nothing: a secret that does not exist yet is not generated; tasks see a
 * stand-in value and output shows `«secret name (generated on the first real run)»`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigError } from '../load/yaml.js';

export const MASK = '********';
/** Shorter values cannot be masked reliably (they occur in ordinary text). */
export const MIN_SECRET_LENGTH = 4;

/** The text shown in place of a secret in display renders. */
export function secretPlaceholder(name: string, pending = false): string {
  return pending ? `«secret ${name} (generated on the first real run)»` : `«secret ${name}»`;
}

/** The forms a value commonly takes once a template or a tool has encoded it. */
export function encodedForms(value: string): string[] {
  const forms = new Set<string>([value]);
  if (value.includes("'")) forms.add(value.replace(/'/g, `'\\''`));
  forms.add(JSON.stringify(value).slice(1, -1));
  forms.add(encodeURIComponent(value));
  forms.add(encodeURIComponent(value).replace(/%20/g, '+'));
  // double-quoted shell / systemd / dotenv: \ " ` $ escaped
  forms.add(value.replace(/[\\"`$]/g, (c) => `\\${c}`));
  forms.add(value.replace(/[\\"]/g, (c) => `\\${c}`));
  // base64 at each of the 3 alignments a value can have inside a longer base64 text: the part
  // that does not depend on the neighbouring bytes
  const bytes = Buffer.from(value, 'utf8');
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const start = pad === 0 ? 0 : 4; // the first group mixes in the unknown preceding bytes
    const full = Math.floor((pad + bytes.length) / 3) * 4; // groups made only of known bytes
    const core = b64.slice(start, full);
    if (core.length >= 8) forms.add(core);
    if (pad === 0) forms.add(b64);
  }
  forms.add(Buffer.from(value, 'utf8').toString('hex'));
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/**
 * A keyed polynomial fingerprint mod 2^32 (Math.imul: exact and fast): lets the Masker find the
 * windows worth a SHA-256 in O(n) instead of hashing every position.
 */
function rollBase(salt: Buffer): number {
  return salt.readUInt32BE(0) | 1;
}
export function rollingHash(s: string, salt: Buffer): number {
  const b = rollBase(salt);
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, b) + s.charCodeAt(i)) | 0;
  return h >>> 0;
}

export function saltedDigest(salt: Buffer, value: string): string {
  return createHash('sha256').update(salt).update(value, 'utf8').digest('hex');
}

/** Name under which the history keeps values derived from secrets (not a valid secret name). */
const DERIVED = '*derived';

export class Masker {
  private values = new Set<string>();
  /**
   * Every value as one alternation, longest first (a secret containing another is masked whole):
   * one linear pass over the output however many values there are. Built when first needed.
   */
  private pattern: RegExp | undefined;
  /** Told of each value derived from a secret (display.ts), to record it hashed (SecretStore). */
  onDerived: ((value: string) => void) | undefined;
  private derived = new Set<string>();
  /** previous values known only by hash: salt, lengths and digests */
  private salt: Buffer | undefined;
  /** length -> rolling fingerprints -> salted SHA-256 digests */
  private hashed = new Map<number, Map<number, Set<string>>>();

  add(value: string): void {
    if (value.length < MIN_SECRET_LENGTH || this.values.has(value)) return;
    for (const f of encodedForms(value)) this.values.add(f);
    // each line of a multi-line secret (diffs, re-indented tails)
    for (const line of value.split('\n')) if (line.trim().length >= 8) this.values.add(line.trim());
    this.pattern = undefined;
  }

  /**
   * A value computed from secrets (a span where the real render and the display render differ:
   * `secret('pw').toUpperCase()`, a template's encoding): masked from now on in whatever the
   * hosts send back, and remembered (hashed) for later runs.
   */
  addDerived(value: string): void {
    if (value.length < MIN_SECRET_LENGTH || this.derived.has(value)) return;
    this.derived.add(value);
    // an encoded form of the secret itself is masked already, but is remembered too: it must
    // stay masked once the secret is rotated
    if (!this.values.has(value)) this.add(value);
    this.onDerived?.(value);
  }

  /** Recognise a value known only as sha256(salt + value) with the given length. */
  addHashed(salt: Buffer, length: number, digest: string, roll: number): void {
    if (length < MIN_SECRET_LENGTH) return;
    if (this.salt && !this.salt.equals(salt)) throw new Error('one salt per masker');
    this.salt = salt;
    let byRoll = this.hashed.get(length);
    if (!byRoll) this.hashed.set(length, (byRoll = new Map()));
    let set = byRoll.get(roll);
    if (!set) byRoll.set(roll, (set = new Set()));
    set.add(digest);
  }

  mask = (s: string): string => {
    let out = s;
    if (this.values.size) {
      this.pattern ??= new RegExp(
        [...this.values]
          .sort((a, b) => b.length - a.length)
          .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('|'),
        'g',
      );
      out = out.replace(this.pattern, MASK);
    }
    if (this.hashed.size) out = this.maskHashed(out);
    return out;
  };

  private maskHashed(s: string): string {
    const salt = this.salt!;
    const b = rollBase(salt);
    let out = s;
    for (const [len, byRoll] of this.hashed) {
      if (out.length < len) continue;
      // b^(len-1) mod 2^32, to drop the leading character
      let top = 1;
      for (let k = 0; k < len - 1; k++) top = Math.imul(top, b);
      let h = 0;
      for (let k = 0; k < len; k++) h = (Math.imul(h, b) + out.charCodeAt(k)) | 0;
      let result = '';
      let last = 0;
      const n = out.length;
      for (let i = 0; i + len <= n; i++) {
        const digests = byRoll.get(h >>> 0);
        if (digests !== undefined && i >= last && digests.has(saltedDigest(salt, out.slice(i, i + len)))) {
          result += out.slice(last, i) + MASK;
          last = i + len;
        }
        if (i + len < n) h = (Math.imul(h - Math.imul(out.charCodeAt(i), top), b) + out.charCodeAt(i + len)) | 0;
      }
      out = result + out.slice(last);
    }
    return out;
  }

  /** Mask every string inside a JSON-like value. */
  maskDeep<T>(value: T): T {
    if (typeof value === 'string') return this.mask(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.maskDeep(v)) as T;
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.maskDeep(v);
      return out as T;
    }
    return value;
  }
}

interface History {
  salt: string;
  /** per secret name: the values handed out in real runs, as length + sha256(salt + value) */
  seen: Record<string, { length: number; sha256: string; roll: number }[]>;
}

export interface SecretStoreOptions {
  /** --check: never write the store or its history; a missing secret is not generated. */
  dryRun?: boolean;
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/;

export class SecretStore {
  private data: Record<string, string>;
  private history: History;
  private readonly historyFile: string;
  private readonly dryRun: boolean;

  /** Loads and validates the store; a broken store is a ConfigError (exit 2). */
  constructor(
    private readonly file: string,
    private readonly masker: Masker,
    private readonly env: NodeJS.ProcessEnv = process.env,
    opts: SecretStoreOptions = {},
  ) {
    this.dryRun = opts.dryRun ?? false;
    this.historyFile = file.replace(/(\.json)?$/, '.history.json');
    for (const [k, v] of Object.entries(env)) {
      if (!k.startsWith('PROVISION_SECRET_') || v === undefined || v === '') continue;
      if (v.length < MIN_SECRET_LENGTH) {
        throw new ConfigError(`${k} is shorter than ${MIN_SECRET_LENGTH} characters: too short to mask reliably in output`);
      }
      // Known secrets are masked from the start, even before a task asks for them.
      masker.add(v);
    }
    this.data = this.loadStore();
    for (const v of Object.values(this.data)) masker.add(v);
    this.history = this.loadHistory();
    masker.onDerived = (v) => this.rememberDerived(v);
    const salt = Buffer.from(this.history.salt, 'hex');
    for (const list of Object.values(this.history.seen)) for (const e of list) masker.addHashed(salt, e.length, e.sha256, e.roll);
  }

  /** Whether a secret has a value (environment or store) without generating one. */
  has(name: string): boolean {
    const v = this.env[envName(name)];
    return (v !== undefined && v !== '') || Object.hasOwn(this.data, name);
  }

  /** The placeholder shown instead of this secret in display renders. */
  placeholder(name: string): string {
    checkName(name);
    return secretPlaceholder(name, this.dryRun && !this.has(name));
  }

  get(name: string): string {
    checkName(name);
    const ev = envName(name);
    let value = this.env[ev];
    if (value !== undefined && value !== '' && value.length < MIN_SECRET_LENGTH) {
      throw new Error(`secret '${name}' from ${ev} is shorter than ${MIN_SECRET_LENGTH} characters: too short to mask reliably in output`);
    }
    if (value === undefined || value === '') {
      value = this.data[name];
      if (value === undefined) {
        // check mode writes nothing on the controller: a stand-in that no real run ever uses
        if (this.dryRun) return `(secret ${name}: generated on the first real run)`;
        // 24 url-safe characters, no quotes or backslashes: safe in SQL, shell and config files.
        value = randomBytes(18).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
        this.data[name] = value;
        this.save(this.file, this.data);
      }
    }
    this.masker.add(value);
    this.remember(name, value);
    return value;
  }

  /** Record a salted hash of a value handed out, so that it is recognised once rotated. */
  private remember(name: string, value: string): void {
    if (this.dryRun) return;
    const salt = Buffer.from(this.history.salt, 'hex');
    const digest = saltedDigest(salt, value);
    const list = (this.history.seen[name] ??= []);
    if (list.some((e) => e.sha256 === digest)) return;
    list.push({ length: value.length, sha256: digest, roll: rollingHash(value, salt) });
    this.save(this.historyFile, this.history);
  }

  /** A value derived from secrets, hashed like a handed-out one: masked in later runs too (rotation). */
  private rememberDerived(value: string): void {
    if (this.dryRun) return;
    this.remember(DERIVED, value);
  }

  private loadStore(): Record<string, string> {
    if (!existsSync(this.file)) return {};
    const name = this.file;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`${name}: invalid secret store: ${(e as Error).message} (expected a JSON object of name: "value")`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(`${name}: invalid secret store: expected a JSON object of name: "value"`);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (!NAME_RE.test(k)) throw new ConfigError(`${name}: invalid secret name '${k}' (letters, digits, _)`);
      if (typeof v !== 'string') throw new ConfigError(`${name}: secret '${k}' must be a string, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}`);
      if (v.length < MIN_SECRET_LENGTH) {
        throw new ConfigError(`${name}: secret '${k}' is shorter than ${MIN_SECRET_LENGTH} characters: too short to mask reliably in output`);
      }
      out[k] = v;
    }
    return out;
  }

  private loadHistory(): History {
    const fresh = (): History => ({ salt: randomBytes(16).toString('hex'), seen: {} });
    if (!existsSync(this.historyFile)) return fresh();
    let h: History;
    try {
      h = JSON.parse(readFileSync(this.historyFile, 'utf8')) as History;
    } catch (e) {
      throw new ConfigError(`${this.historyFile}: invalid secret history: ${(e as Error).message} (delete it to start a new one)`);
    }
    const ok =
      h !== null &&
      typeof h === 'object' &&
      typeof h.salt === 'string' &&
      /^[0-9a-f]{32}$/.test(h.salt) &&
      h.seen !== null &&
      typeof h.seen === 'object' &&
      Object.values(h.seen).every(
        (l) =>
          Array.isArray(l) &&
          l.every((e) => e && Number.isInteger(e.length) && Number.isInteger(e.roll) && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256)),
      );
    if (!ok) throw new ConfigError(`${this.historyFile}: invalid secret history (delete ${basename(this.historyFile)} to start a new one)`);
    return h;
  }

  private save(file: string, data: unknown): void {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
}

function envName(name: string): string {
  return `PROVISION_SECRET_${name.toUpperCase()}`;
}

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new Error(`invalid secret name '${name}' (letters, digits, _)`);
}
