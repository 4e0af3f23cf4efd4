/**
 * Secrets: `secret('name')` in playbooks and inventories.
 * Value from the environment variable PROVISION_SECRET_<NAME> if set; otherwise generated
 * once and kept in `.provision/secrets/<inventory>.json` (mode 0600, never committed).
 * Every secret value handed out is registered with the Masker, which replaces it with
 * ******** in all output: task lines, diffs, command logs, errors and the JSON report.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';

export const MASK = '********';

export class Masker {
  private values = new Set<string>();
  /** longest first, so that a secret containing another is masked whole */
  private sorted: string[] = [];

  add(value: string): void {
    if (value.length < 4) return;
    this.values.add(value);
    // the shell-quoted form (sq) and each line of a multi-line secret (diffs, re-indented tails)
    if (value.includes("'")) this.values.add(value.replace(/'/g, `'\\''`));
    for (const line of value.split('\n')) if (line.trim().length >= 8) this.values.add(line.trim());
    this.sorted = [...this.values].sort((a, b) => b.length - a.length);
  }

  mask = (s: string): string => {
    let out = s;
    for (const v of this.sorted) {
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    return out;
  };

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

export class SecretStore {
  private data: Record<string, string> | undefined;

  constructor(
    private readonly file: string,
    private readonly masker: Masker,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    // Known secrets are masked from the start, even before a task asks for them.
    for (const [k, v] of Object.entries(env)) if (k.startsWith('PROVISION_SECRET_') && v) masker.add(v);
    if (existsSync(file)) for (const v of Object.values(this.load())) masker.add(v);
  }

  get(name: string): string {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid secret name '${name}' (letters, digits, _)`);
    const envName = `PROVISION_SECRET_${name.toUpperCase()}`;
    let value = this.env[envName];
    if (value !== undefined && value !== '' && value.length < 4) {
      throw new Error(`secret '${name}' from ${envName} is shorter than 4 characters: too short to mask reliably in output`);
    }
    if (value === undefined || value === '') {
      const data = this.load();
      value = data[name];
      if (value === undefined) {
        // 24 url-safe characters, no quotes or backslashes: safe in SQL, shell and config files.
        value = randomBytes(18).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
        data[name] = value;
        this.save(data);
      }
    }
    this.masker.add(value);
    return value;
  }

  private load(): Record<string, string> {
    if (!this.data) {
      this.data = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>) : {};
    }
    return this.data;
  }

  private save(data: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileSync(this.file, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
    chmodSync(this.file, 0o600);
  }
}
