/**
 * What an archive holds, read on the controller from its bytes (a file of the project, or the
 * bytes a remote_src fact brought back): every member's type, path, mode, size, link target and,
 * for regular files, the sha256 of its content. unarchive compares that with dest's files, so
 * that it extracts only when the tree differs, and --check knows it exactly.
 *
 * Formats: tar (plain, gzip, xz, bzip2: xz and bzip2 are decompressed with the controller's own
 * xz/bzip2) and zip (stored or deflated, no zip64, no encryption). Everything is bounded: the
 * expanded size, the number of members and the length of their names.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { gunzipSync, inflateRawSync } from 'node:zlib';

/** Largest archive (compressed, and expanded) read on the controller. */
export const MAX_ARCHIVE_BYTES = 512 * 1024 * 1024;
/** Most members one archive may have (each is a file fact read on the host). */
export const MAX_MEMBERS = 5000;
/** Most bytes of member names in all. */
export const MAX_NAME_BYTES = 1024 * 1024;

export type Format = 'tar' | 'tar.gz' | 'tar.xz' | 'tar.bz2' | 'zip';

export interface Member {
  /** Relative to dest, normalised: no './', no trailing '/'. */
  path: string;
  type: 'file' | 'dir' | 'link' | 'hardlink';
  /** Permission bits as the archive gives them (07777). */
  mode: number;
  size: number;
  sha256?: string;
  /** Symlink target (as stored), or a hard link's member path (normalised). */
  target?: string;
}

export interface Listing {
  format: Format;
  members: Member[];
  /** The plain tar (for tar.xz/tar.bz2: what is sent to the host, which may lack xz/bzip2). */
  tar?: Buffer;
}

/** A bad archive: corrupt, of an unknown format, too large, or with a member that may not be written. */
export class ArchiveError extends Error {}

export function formatOf(b: Buffer): Format | undefined {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'tar.gz';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'tar.xz';
  if (b.length >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return 'tar.bz2';
  if (b.length >= 4 && (b.readUInt32LE(0) === 0x04034b50 || b.readUInt32LE(0) === 0x06054b50)) return 'zip';
  if (b.length >= 512 && (b.subarray(257, 262).toString('latin1') === 'ustar' || headerSumOk(b.subarray(0, 512)))) return 'tar';
  return undefined;
}

/** The members of the archive in `b` (the last of two members with one path wins, as extraction does). */
export function readArchive(b: Buffer, stripComponents = 0): Listing {
  if (b.length > MAX_ARCHIVE_BYTES) throw new ArchiveError(`the archive is larger than ${MAX_ARCHIVE_BYTES} bytes`);
  const format = formatOf(b);
  if (!format) throw new ArchiveError('not a tar, tar.gz, tar.xz, tar.bz2 or zip archive (unknown format)');
  if (format === 'zip') return { format, members: checked(readZip(b), 0) };
  const tar = format === 'tar' ? b : expand(format, b);
  return { format, members: checked(readTar(tar), stripComponents), ...(format === 'tar.xz' || format === 'tar.bz2' ? { tar } : {}) };
}

function expand(format: Format, b: Buffer): Buffer {
  try {
    if (format === 'tar.gz') return gunzipSync(b, { maxOutputLength: MAX_ARCHIVE_BYTES });
    const tool = format === 'tar.xz' ? 'xz' : 'bzip2';
    return execFileSync(tool, ['-dc'], { input: b, maxBuffer: MAX_ARCHIVE_BYTES, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new ArchiveError(`${format} needs ${format === 'tar.xz' ? 'xz' : 'bzip2'} on the controller, and it is not installed`);
    if (err.code === 'ENOBUFS' || err.code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength|maxBuffer/i.test(err.message)) throw new ArchiveError(`it expands to more than ${MAX_ARCHIVE_BYTES} bytes`);
    throw new ArchiveError(`corrupt ${format}: ${(err.stderr?.toString().trim() || err.message).split('\n')[0]}`);
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function headerSumOk(h: Buffer): boolean {
  const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/[\0 ]+/g, ' ').trim(), 8);
  if (Number.isNaN(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === stored;
}

const cstr = (b: Buffer) => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
};

function octal(b: Buffer): number {
  // base-256 (GNU) for sizes of 8 GiB or more
  if (b[0] & 0x80) return b.subarray(1).reduce((n, x) => n * 256 + x, b[0] & 0x7f);
  const s = b.toString('latin1').replace(/\0.*$/s, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** pax extended header records: "LEN key=value\n". */
function paxRecords(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < b.length) {
    const sp = b.indexOf(0x20, i);
    const len = parseInt(b.subarray(i, sp).toString('latin1'), 10);
    if (sp < 0 || !(len > 0)) break;
    const rec = b.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

interface Raw {
  name: string;
  type: Member['type'] | 'other';
  mode: number;
  size: number;
  sha256?: string;
  target?: string;
}

function readTar(b: Buffer): Raw[] {
  const out: Raw[] = [];
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (off + 512 <= b.length) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    if (!headerSumOk(h)) throw new ArchiveError(`corrupt tar: bad header checksum at byte ${off}`);
    const flag = String.fromCharCode(h[156] || 0x30);
    const size = pax.size !== undefined ? Number(pax.size) : octal(h.subarray(124, 136));
    const start = off + 512;
    if (!Number.isSafeInteger(size) || size < 0 || start + size > b.length) throw new ArchiveError(`corrupt tar: member at byte ${off} runs past the end (truncated?)`);
    const data = b.subarray(start, start + size);
    off = start + Math.ceil(size / 512) * 512;
    if (flag === 'L') longName = cstr(data);
    else if (flag === 'K') longLink = cstr(data);
    else if (flag === 'x') pax = paxRecords(data);
    else if (flag === 'g') continue;
    else {
      const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? cstr(h.subarray(345, 500)) : '';
      const name = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h.subarray(0, 100)));
      const target = pax.linkpath ?? longLink ?? cstr(h.subarray(157, 257));
      const mode = octal(h.subarray(100, 108)) & 0o7777;
      const type: Raw['type'] = flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'link' : flag === '1' ? 'hardlink' : 'other';
      out.push({ name, type, mode, size: type === 'file' ? size : 0, ...(type === 'file' ? { sha256: sha256(data) } : {}), ...(type === 'link' || type === 'hardlink' ? { target } : {}) });
      longName = longLink = undefined;
      pax = {};
      if (out.length > MAX_MEMBERS) throw new ArchiveError(`it has more than ${MAX_MEMBERS} members (provision's limit)`);
    }
  }
  if (off + 512 > b.length && out.length === 0 && b.length > 0 && off === 0) throw new ArchiveError('corrupt tar: no header');
  return out;
}

function readZip(b: Buffer): Raw[] {
  // the end of central directory record: in the last 64 KiB + 22 bytes
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65557); i--) {
    if (b.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ArchiveError('corrupt zip: no end of central directory (truncated?)');
  const count = b.readUInt16LE(eocd + 10);
  let p = b.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) throw new ArchiveError('zip64 archives are not supported');
  if (count > MAX_MEMBERS) throw new ArchiveError(`it has more than ${MAX_MEMBERS} members (provision's limit)`);
  const out: Raw[] = [];
  let expanded = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > b.length || b.readUInt32LE(p) !== 0x02014b50) throw new ArchiveError('corrupt zip: bad central directory');
    const madeBy = b.readUInt16LE(p + 4) >> 8;
    const flags = b.readUInt16LE(p + 8);
    const method = b.readUInt16LE(p + 10);
    const csize = b.readUInt32LE(p + 20);
    const usize = b.readUInt32LE(p + 24);
    const nlen = b.readUInt16LE(p + 28);
    const xlen = b.readUInt16LE(p + 30);
    const clen = b.readUInt16LE(p + 32);
    const attr = b.readUInt32LE(p + 38) >>> 16;
    const local = b.readUInt32LE(p + 42);
    const name = b.subarray(p + 46, p + 46 + nlen).toString('utf8');
    p += 46 + nlen + xlen + clen;
    if (flags & 1) throw new ArchiveError(`member ${name} is encrypted (not supported)`);
    if (local + 30 > b.length || b.readUInt32LE(local) !== 0x04034b50) throw new ArchiveError(`corrupt zip: bad local header of ${name}`);
    const start = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
    if (start + csize > b.length) throw new ArchiveError(`corrupt zip: ${name} runs past the end (truncated?)`);
    const unix = madeBy === 3 && attr !== 0;
    const kind = unix ? attr & 0o170000 : name.endsWith('/') ? 0o040000 : 0o100000;
    const type: Raw['type'] = kind === 0o040000 ? 'dir' : kind === 0o120000 ? 'link' : kind === 0o100000 ? 'file' : 'other';
    const mode = unix ? attr & 0o7777 : type === 'dir' ? 0o755 : 0o644;
    if (type === 'dir') {
      out.push({ name, type, mode, size: 0 });
      continue;
    }
    if (method !== 0 && method !== 8) throw new ArchiveError(`member ${name} uses compression method ${method} (only stored and deflated are supported)`);
    expanded += usize;
    if (expanded > MAX_ARCHIVE_BYTES) throw new ArchiveError(`it expands to more than ${MAX_ARCHIVE_BYTES} bytes`);
    let data: Buffer;
    try {
      data = method === 0 ? b.subarray(start, start + csize) : inflateRawSync(b.subarray(start, start + csize), { maxOutputLength: Math.max(usize, 1) });
    } catch (e) {
      throw new ArchiveError(`corrupt zip: ${name}: ${(e as Error).message}`);
    }
    if (data.length !== usize) throw new ArchiveError(`corrupt zip: ${name} has ${data.length} bytes, its header says ${usize}`);
    if (type === 'link') out.push({ name, type, mode, size: 0, target: data.toString('utf8') });
    else out.push({ name, type, mode, size: usize, ...(type === 'file' ? { sha256: sha256(data) } : {}) });
  }
  return out;
}

/** Normalise a member's path; an ArchiveError names a member that would be written outside dest. */
export function memberPath(name: string, strip = 0): string | undefined {
  if (name.startsWith('/')) throw new ArchiveError(`member ${JSON.stringify(name)} has an absolute path (it would be written outside dest)`);
  if (/[\0\n\r]/.test(name)) throw new ArchiveError(`member ${JSON.stringify(name)} has a control character in its name (not supported)`);
  // repeated slashes are one, as tar reads them; GNU tar's --strip-components counts '.' as a
  // component ('./a/f.txt' with 1 is 'a/f.txt'), so it is dropped only from what is kept
  const parts = name.split('/').filter((s) => s !== '');
  if (parts.includes('..')) throw new ArchiveError(`member ${JSON.stringify(name)} has a '..' in its path (it would be written outside dest)`);
  const kept = parts.slice(strip).filter((s) => s !== '.');
  return kept.length ? kept.join('/') : undefined;
}

function checked(raw: Raw[], strip: number): Member[] {
  let names = 0;
  const byPath = new Map<string, Member>();
  for (const r of raw) {
    names += Buffer.byteLength(r.name);
    if (names > MAX_NAME_BYTES) throw new ArchiveError(`its member names exceed ${MAX_NAME_BYTES} bytes (provision's limit)`);
    const path = memberPath(r.name, strip);
    // the archive's top directory ('./'), or what --strip-components removes: not extracted as a member
    if (path === undefined) continue;
    if (r.type === 'other') throw new ArchiveError(`member ${JSON.stringify(r.name)} is a device, fifo or socket (not supported)`);
    let target = r.target;
    if (r.type === 'hardlink') {
      const t = memberPath(r.target ?? '', strip);
      if (t === undefined) throw new ArchiveError(`member ${JSON.stringify(r.name)} is a hard link to ${JSON.stringify(r.target)}, outside what is extracted`);
      target = t;
    }
    byPath.delete(path);
    byPath.set(path, { path, type: r.type, mode: r.mode, size: r.size, ...(r.sha256 ? { sha256: r.sha256 } : {}), ...(target !== undefined ? { target } : {}) });
  }
  const members = [...byPath.values()];
  for (const m of members) {
    // a member below another member that is a symlink would be written through it (anywhere)
    const parts = m.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const up = byPath.get(parts.slice(0, i).join('/'));
      if (up && up.type !== 'dir') throw new ArchiveError(`member ${m.path} lies under member ${up.path}, which is a ${up.type === 'link' ? 'symlink' : 'file'} (it could be written outside dest)`);
    }
    if (m.type === 'hardlink') {
      const t = byPath.get(m.target!);
      if (!t || t.type !== 'file') throw new ArchiveError(`member ${m.path} is a hard link to ${m.target}, which is not a regular file of the archive`);
      // one inode: the link has the target's content and mode
      m.size = t.size;
      m.sha256 = t.sha256;
      m.mode = t.mode;
    }
  }
  return members;
}
