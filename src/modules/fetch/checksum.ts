/**
 * get_url's `checksum`: `ALGORITHM:HEX` as Ansible writes it, and the fact that reads a file's
 * digest with that algorithm (sha256 comes with the file fact itself).
 */
import { createHash } from 'node:crypto';
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export const DIGEST_HEX_LENGTH = { md5: 32, sha1: 40, sha256: 64, sha512: 128 } as const;
export type Algorithm = keyof typeof DIGEST_HEX_LENGTH;

export interface Checksum {
  algorithm: Algorithm;
  /** lower-case hex */
  hex: string;
}

/** `sha256:ABC...` -> { algorithm, hex }, or the reason it is not one (Ansible's `ALG:URL` form is not supported). */
export function parseChecksum(text: string): Checksum | string {
  const m = /^([a-z0-9]+):(.*)$/i.exec(text.trim());
  if (!m) return `a checksum 'ALGORITHM:HEX' (e.g. sha256:<64 hex digits>), not '${text}'`;
  const algorithm = m[1].toLowerCase();
  if (!Object.hasOwn(DIGEST_HEX_LENGTH, algorithm)) return `checksum algorithm '${m[1]}': one of ${Object.keys(DIGEST_HEX_LENGTH).join(', ')}`;
  const len = DIGEST_HEX_LENGTH[algorithm as Algorithm];
  if (/^[a-z]+:\/\//i.test(m[2])) return `checksum '${text}': a checksum file URL is not supported; give the digest itself`;
  if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(m[2])) return `checksum '${text}': ${algorithm} needs exactly ${len} hex digits`;
  return { algorithm: algorithm as Algorithm, hex: m[2].toLowerCase() };
}

/** The digest of bytes with an algorithm (hex). */
export function digestOf(algorithm: Algorithm, data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

/** A regular file's digest with `algorithm`, and its sha256 (to tell whether it is the same content the file fact describes). */
export interface DigestFact {
  sha256?: string;
  sum?: string;
}

export const digestFact: FactKind<{ path: string; algorithm: Algorithm }, DigestFact> = {
  kind: 'digest',
  // read when its task runs: an earlier task's write is checked against the file fact (get_url.ts)
  volatile: true,
  key: (p) => `digest:${p.algorithm}:${p.path}`,
  script: (p) =>
    `p=${sq(p.path)}; if [ -f "$p" ] && [ ! -L "$p" ]; then h=$(sha256sum < "$p") && printf 'sha256=%s\\n' "\${h%% *}"; ` +
    `h=$(${p.algorithm}sum < "$p") && printf 'sum=%s\\n' "\${h%% *}"; fi`,
  parse: (out) => {
    const kv = keyValues(out);
    return { ...(kv.sha256 ? { sha256: kv.sha256 } : {}), ...(kv.sum ? { sum: kv.sum } : {}) };
  },
};
