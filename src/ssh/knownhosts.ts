/**
 * OpenSSH known_hosts support: parsing, lookup and host key verification.
 *
 * Supported syntax (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 *  - `[marker] hostpatterns keytype base64-key [comment]`
 *  - host patterns: comma lists, `*` / `?` wildcards, `!negation`, `[host]:port` for ports other than 22
 *  - hashed host names `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`
 *  - markers: `@revoked` (a matching key is always refused) and `@cert-authority` (ignored:
 *    certificates are not supported)
 *  - comments (`#`) and blank lines
 *
 * Everything here is synchronous: the files are small and a synchronous check keeps concurrent
 * accept-new appends from interleaving.
 */
import { sq } from '../engine/shell.js';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export type KnownHostMarker = 'revoked' | 'cert-authority';

export interface KnownHostEntry {
  file: string;
  /** 1-based line number in `file`. */
  line: number;
  marker?: KnownHostMarker;
  /** The host field as written (pattern list or `|1|salt|hash`). */
  hosts: string;
  hashed: boolean;
  /** Key type as written, e.g. `ssh-ed25519`. */
  keyType: string;
  /** Base64 of the wire-format public key, as written. */
  keyBase64: string;
  /** Decoded key blob. */
  key: Buffer;
  comment?: string;
}

export type HostKeyPolicy = 'strict' | 'accept-new';

export type VerifyResult =
  | { ok: true; added?: boolean; recorded?: boolean; entry?: KnownHostEntry }
  | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; message: string };

/**
 * Host keys accepted for one run only, never written: a dry run (--check) changes nothing on the
 * controller, known_hosts included. accept-new keeps a new key here instead of appending it to
 * the file, and the run's later connections (reconnects, delegates, jump hosts) are checked
 * against it as if it were recorded: a different key for the same host is still refused.
 */
export class RunOnlyHostKeys {
  private readonly keys: KnownHostEntry[] = [];

  entries(file: string, host: string, port: number): KnownHostEntry[] {
    const name = knownHostsName(host, port);
    return this.keys.filter((e) => e.file === `${file} (accepted for this run only)` && e.hosts === name);
  }

  add(file: string, host: string, port: number, key: Buffer): void {
    const keyType = keyTypeOfBlob(key);
    const hosts = knownHostsName(host, port);
    this.keys.push({ file: `${file} (accepted for this run only)`, line: 0, hosts, hashed: false, keyType, keyBase64: key.toString('base64'), key });
  }
}

/** The name a host is recorded under: `host` for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 || port === 0 ? h : `[${h}]:${port}`;
}

/** Parse the text of a known_hosts file. Malformed lines are skipped. */
export function parseKnownHosts(text: string, file = '<known_hosts>'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostMarker | undefined;
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: ignore the line, like OpenSSH
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, keyBase64, ...rest] = fields;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) continue;
    const key = Buffer.from(keyBase64, 'base64');
    if (key.length < 4) continue;
    entries.push({
      file,
      line: i + 1,
      ...(marker ? { marker } : {}),
      hosts,
      hashed: hosts.startsWith('|1|'),
      keyType,
      keyBase64,
      key,
      ...(rest.length ? { comment: rest.join(' ') } : {}),
    });
  }
  return entries;
}

/** Read and parse a known_hosts file; a missing file has no entries. */
export function readKnownHosts(file: string): KnownHostEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') return [];
    throw err;
  }
  return parseKnownHosts(text, file);
}

/** OpenSSH-style wildcard match (`*`, `?`), case-insensitive. */
export function matchPattern(name: string, pattern: string): boolean {
  const n = name.toLowerCase();
  const p = pattern.toLowerCase();
  // Iterative glob match with backtracking on the last `*`.
  let ni = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (ni < n.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === n[ni])) {
      ni++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ni;
    } else if (star !== -1) {
      pi = star + 1;
      ni = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

function matchHashed(field: string, name: string): boolean {
  // |1|base64salt|base64hash
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Hash a host name the way `ssh-keygen -H` does (a random salt unless given). */
export function hashHostName(name: string, salt?: Buffer): string {
  const s = salt ?? randomBytes(20);
  const h = createHmac('sha1', s).update(name).digest();
  return `|1|${s.toString('base64')}|${h.toString('base64')}`;
}

/** Whether a known_hosts host field matches host:port. */
export function matchHostField(field: string, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (field.startsWith('|')) return matchHashed(field, name);
  let matched = false;
  for (const pat of field.split(',')) {
    if (pat === '') continue;
    if (pat.startsWith('!')) {
      if (matchPattern(name, pat.slice(1))) return false; // a negated match wins
    } else if (matchPattern(name, pat)) {
      matched = true;
    }
  }
  return matched;
}

/** All entries of `file` (including @revoked / @cert-authority lines) whose host field matches host:port. */
export function lookup(file: string, host: string, port: number): KnownHostEntry[] {
  return readKnownHosts(file).filter((e) => matchHostField(e.hosts, host, port));
}

/** The key type string at the start of an SSH wire-format public key blob. */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) throw new Error('invalid SSH public key blob (too short)');
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) throw new Error('invalid SSH public key blob');
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:...` fingerprint of a key blob, as printed by OpenSSH. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Map known key types to ssh2 host key algorithm names (to prefer the types already known for a host). */
export function hostKeyAlgorithmsFor(keyTypes: string[]): string[] {
  const out: string[] = [];
  const push = (a: string) => {
    if (!out.includes(a)) out.push(a);
  };
  for (const t of keyTypes) {
    switch (t) {
      case 'ssh-ed25519':
      case 'ecdsa-sha2-nistp256':
      case 'ecdsa-sha2-nistp384':
      case 'ecdsa-sha2-nistp521':
        push(t);
        break;
      case 'ssh-rsa':
        push('rsa-sha2-512');
        push('rsa-sha2-256');
        push('ssh-rsa');
        break;
      default:
        break; // certificates, sk-* and dss keys: not offered specially
    }
  }
  return out;
}

function addHint(file: string, host: string, port: number): string {
  return (
    `add it with: ssh-keyscan -p ${port} ${sq(host)} >> ${sq(file)} ` +
    `(then compare the fingerprint with the one shown on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
    `or opt in to trust-on-first-use with --accept-new-host-keys`
  );
}

/**
 * Verify a host key (the raw wire-format blob ssh2 hands to `hostVerifier`) against a known_hosts file.
 *
 *  - revoked key -> refused ('revoked'), whatever the policy
 *  - a known key of the same type for this host matches -> ok
 *  - known keys of this type exist but none matches -> refused ('changed'), whatever the policy
 *  - only keys of other types are known -> refused ('changed'): the caller prefers the known types
 *    in the key exchange, so a legitimate server does not get here
 *  - nothing known -> 'strict': refused ('unknown'); 'accept-new': appended to the file, ok + added
 *    (with `runOnly`: kept there for this run, not written; ok + added, recorded false)
 */
export function verifyHostKey(
  file: string,
  host: string,
  port: number,
  keyBlob: Buffer,
  policy: HostKeyPolicy,
  runOnly?: RunOnlyHostKeys,
): VerifyResult {
  const name = knownHostsName(host, port);
  let type: string;
  try {
    type = keyTypeOfBlob(keyBlob);
  } catch (err: any) {
    return { ok: false, reason: 'unknown', message: `${name}: ${err.message}` };
  }
  const fp = fingerprint(keyBlob);
  let entries: KnownHostEntry[];
  try {
    entries = [...lookup(file, host, port), ...(runOnly?.entries(file, host, port) ?? [])];
  } catch (err: any) {
    return { ok: false, reason: 'unknown', message: `cannot read known_hosts file ${file}: ${err.message}` };
  }

  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(keyBlob));
  if (revoked) {
    return {
      ok: false,
      reason: 'revoked',
      message:
        `host key for ${name} (${type} ${fp}) is marked as REVOKED in ${file}:${revoked.line}; ` +
        `refusing to connect`,
    };
  }

  const plain = entries.filter((e) => e.marker === undefined);
  const match = plain.find((e) => e.key.equals(keyBlob));
  if (match) return { ok: true, entry: match };

  const sameType = plain.filter((e) => e.keyType === type);
  if (sameType.length > 0) {
    const where = sameType.map((e) => `${e.file}:${e.line}`).join(', ');
    return {
      ok: false,
      reason: 'changed',
      message:
        `REMOTE HOST KEY CHANGED for ${name}! The ${type} key presented by the host (${fp}) does not match ` +
        `the one recorded in ${where}. Someone could be eavesdropping on you right now ` +
        `(possible man-in-the-middle attack), or the host key has just been changed. ` +
        `Refusing to connect. If the change is expected, remove the old key with ` +
        `ssh-keygen -f ${sq(file)} -R ${sq(name)} and add the new one.`,
    };
  }

  if (plain.length > 0) {
    const known = plain.map((e) => `${e.keyType} at ${e.file}:${e.line}`).join(', ');
    return {
      ok: false,
      reason: 'changed',
      message:
        `REMOTE HOST KEY CHANGED for ${name}? The host presented a ${type} key (${fp}) but known_hosts ` +
        `only records other key types for it (${known}). This is a possible man-in-the-middle attack; ` +
        `refusing to connect and not adding the key automatically. If the host's keys really changed, ` +
        `update ${file} (ssh-keygen -f ${sq(file)} -R ${sq(name)}, then ` +
        `ssh-keyscan -p ${port} ${sq(host)} >> ${sq(file)}).`,
    };
  }

  if (policy === 'strict') {
    return {
      ok: false,
      reason: 'unknown',
      message:
        `host key for ${name} is not known (${type} ${fp}) and strict host key checking is on ` +
        `(known_hosts file: ${file}); ${addHint(file, host, port)}`,
    };
  }

  if (runOnly) {
    runOnly.add(file, host, port, keyBlob);
    return { ok: true, added: true, recorded: false };
  }
  try {
    appendKnownHost(file, host, port, keyBlob);
  } catch (err: any) {
    return {
      ok: false,
      reason: 'unknown',
      message: `cannot record the new host key for ${name} in ${file}: ${err.message}`,
    };
  }
  return { ok: true, added: true, recorded: true };
}

/** Append `name type base64` to the file (creating it and its directory if needed). */
export function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer): void {
  const type = keyTypeOfBlob(keyBlob);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const st = statSync(file);
    if (st.size > 0) {
      const text = readFileSync(file);
      if (text[text.length - 1] !== 0x0a) prefix = '\n';
    }
  } catch {
    // missing file: created by appendFileSync
  }
  appendFileSync(file, `${prefix}${knownHostsName(host, port)} ${type} ${keyBlob.toString('base64')}\n`, {
    mode: 0o644,
  });
}
