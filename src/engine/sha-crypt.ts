/**
 * SHA-256/SHA-512 crypt ($5$, $6$), as glibc's crypt(3) and `openssl passwd -5/-6` compute it
 * (Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification). Used by the
 * `password_hash` template filter, computed on the controller.
 */
import { createHash, randomInt } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const SALT_RE = /^[./0-9A-Za-z]*$/;
export const MAX_SALT = 16;
const DEFAULT_ROUNDS = 5000;

type Algo = 'sha256' | 'sha512';

/** Byte order of the final encoding: groups of three bytes (spec, "Produce the output string"). */
function order(algo: Algo): { groups: [number, number, number][]; tail: [number, number, number]; tailChars: number } {
  const groups: [number, number, number][] = [];
  if (algo === 'sha512') {
    for (let i = 0; i < 21; i++) {
      const [a, b, c] = [i, i + 21, i + 42];
      groups.push(i % 3 === 0 ? [a, b, c] : i % 3 === 1 ? [b, c, a] : [c, a, b]);
    }
    return { groups, tail: [-1, -1, 63], tailChars: 2 };
  }
  for (let i = 0; i < 10; i++) {
    const [a, b, c] = [i, i + 10, i + 20];
    groups.push(i % 3 === 0 ? [a, b, c] : i % 3 === 1 ? [c, a, b] : [b, c, a]);
  }
  return { groups, tail: [-1, 31, 30], tailChars: 3 };
}

function encode(digest: Buffer, algo: Algo): string {
  const { groups, tail, tailChars } = order(algo);
  const byte = (i: number) => (i < 0 ? 0 : digest[i]);
  let out = '';
  const put = ([b2, b1, b0]: [number, number, number], n: number) => {
    let w = (byte(b2) << 16) | (byte(b1) << 8) | byte(b0);
    for (let k = 0; k < n; k++) {
      out += ITOA64[w & 0x3f];
      w >>= 6;
    }
  };
  for (const g of groups) put(g, 4);
  put(tail, tailChars);
  return out;
}

/** `len` bytes of `block` repeated. */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/**
 * The crypt string of `password` with `salt` (at most 16 characters of [./0-9A-Za-z]; longer is
 * truncated as the spec says). `rounds` other than 5000 are written into the result.
 */
export function shaCrypt(algo: Algo, password: string, salt: string, rounds?: number): string {
  const key = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, MAX_SALT), 'utf8');
  const r = rounds === undefined ? DEFAULT_ROUNDS : Math.min(999_999_999, Math.max(1000, Math.floor(rounds)));
  const n = algo === 'sha512' ? 64 : 32;
  const h = () => createHash(algo);

  const b = h().update(key).update(s).update(key).digest();
  const a = h().update(key).update(s);
  a.update(repeatTo(b, key.length));
  for (let cnt = key.length; cnt > 0; cnt >>= 1) a.update(cnt & 1 ? b : key);
  const aDigest = a.digest();

  const dp = h();
  for (let i = 0; i < key.length; i++) dp.update(key);
  const p = repeatTo(dp.digest(), key.length);

  const ds = h();
  for (let i = 0; i < 16 + aDigest[0]; i++) ds.update(s);
  const sBytes = repeatTo(ds.digest(), s.length);

  let c = aDigest;
  for (let i = 0; i < r; i++) {
    const x = h();
    x.update(i & 1 ? p : c);
    if (i % 3) x.update(sBytes);
    if (i % 7) x.update(p);
    x.update(i & 1 ? c : p);
    c = x.digest();
  }
  if (c.length !== n) throw new Error(`${algo}: unexpected digest length`);
  const id = algo === 'sha512' ? '6' : '5';
  const roundsPart = rounds === undefined || r === DEFAULT_ROUNDS ? '' : `rounds=${r}$`;
  return `$${id}$${roundsPart}${s.toString('utf8')}$${encode(c, algo)}`;
}

/** A random salt of `size` characters from the crypt alphabet. */
export function randomSalt(size = MAX_SALT): string {
  let out = '';
  for (let i = 0; i < size; i++) out += ITOA64[randomInt(64)];
  return out;
}
