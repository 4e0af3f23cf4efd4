/**
 * unarchive with remote_src: the archive on the host, read as a fact (read-only) together with
 * what dest holds at its members' paths. The archive's bytes come back (base64, up to
 * MAX_REMOTE_ARCHIVE) and are read on the controller as a controller archive is; its member
 * names are listed on the host (tar -t / unzip -Z1) only to know which paths under dest to stat
 * and hash, in the same round trip.
 */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import type { FileFact } from './facts.js';

/** Largest archive on the host that is read back to the controller (base64 in the fact). */
export const MAX_REMOTE_ARCHIVE = 32 * 1024 * 1024;

export interface HostArchiveParams {
  src: string;
  dest: string;
  strip: number;
}

export interface HostArchiveFact {
  state: 'file' | 'absent' | 'notfile' | 'unreadable' | 'toolarge';
  size?: number;
  /** base64 of the archive. */
  bytes?: string;
  /** Tools the host has: unzip, xz, bzip2. */
  tools: string[];
  /** Why the host could not list the archive's names (tar -t / unzip -Z1). */
  listError?: string;
  /** What dest holds at each member path (and each directory above one), relative to dest; absent paths are not listed. */
  entries: Record<string, Pick<FileFact, 'type' | 'mode' | 'owner' | 'group' | 'size' | 'sha256' | 'target'>>;
}

/**
 * The names, with empty parts dropped, `strip` leading parts removed (a '.' counts, as in GNU
 * tar), '.' dropped from the rest, and each directory above them: relative paths under dest
 * (awk, one process, no fork per name).
 */
const AWK_PATHS = `awk -v strip="$strip" '{ n = split($0, a, "/"); p = ""; k = 0; for (i = 1; i <= n; i++) { if (a[i] == "") continue; k++; if (k <= strip || a[i] == ".") continue; p = (p == "" ? a[i] : p "/" a[i]); if (!(p in seen)) { seen[p] = 1; print "./" p } } }'`;

export const hostArchiveFact: FactKind<HostArchiveParams, HostArchiveFact> = {
  kind: 'unarchive_src',
  key: (p) => `unarchive_src:${p.src}|${p.dest}|${p.strip}`,
  // dest's files as they are (other modules' effects do not name this fact): unknown once
  // anything on the host is predicted to change
  readsAnything: true,
  script: (p) =>
    [
      // a subshell: it changes directory
      `(s=${sq(p.src)}; d=${sq(p.dest)}; strip=${p.strip}`,
      'if [ ! -e "$s" ]; then echo state=absent',
      'elif [ ! -f "$s" ]; then echo state=notfile',
      'elif [ ! -r "$s" ]; then echo state=unreadable',
      'else',
      '  sz=$(stat -c %s -- "$s"); echo "size=$sz"',
      `  if [ "$sz" -gt ${MAX_REMOTE_ARCHIVE} ]; then echo state=toolarge; else`,
      '    echo state=file',
      '    for t in unzip xz bzip2; do if command -v $t >/dev/null 2>&1; then echo "tool=$t"; fi; done',
      "    printf 'bytes='; base64 -w0 < \"$s\"; echo",
      // zip by its magic bytes, else tar (which recognises the compression itself)
      `    if [ "$(head -c 2 "$s")" = PK ]; then lister="unzip -Z1"; else lister="tar --quoting-style=literal -tf"; fi`,
      '    if names=$($lister "$s" 2>&1); then',
      '      if [ -d "$d" ] && cd "$d"; then',
      `        paths=$(printf '%s\\n' "$names" | ${AWK_PATHS})`,
      // one stat, one find for the links' targets, one sha256sum for all (missing paths: no line)
      `        echo '@stat'; printf '%s\\n' "$paths" | tr '\\n' '\\0' | xargs -0r stat -c '%F|%a|%U|%G|%s|%n' -- 2>/dev/null`,
      `        echo '@links'; printf '%s\\n' "$paths" | tr '\\n' '\\0' | xargs -0r sh -c 'find "$@" -maxdepth 0 -type l -printf "%p|%l\\n"' sh 2>/dev/null`,
      `        echo '@sums'; printf '%s\\n' "$paths" | tr '\\n' '\\0' | xargs -0r sh -c 'find "$@" -maxdepth 0 -type f -exec sha256sum -- {} +' sh 2>/dev/null`,
      '      fi',
      "    else printf 'listerror=%s\\n' \"$(printf '%s' \"$names\" | tail -n 3 | tr '\\n' ' ')\"",
      '    fi',
      '  fi',
      'fi)',
    ].join('\n'),
  parse: (out) => parseHostArchive(out),
};

const rel = (p: string) => p.replace(/^\.\//, '');

export function parseHostArchive(out: string): HostArchiveFact {
  const f: HostArchiveFact = { state: 'absent', tools: [], entries: {} };
  let section = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('@')) {
      section = line;
      continue;
    }
    if (section === '') {
      const i = line.indexOf('=');
      const k = line.slice(0, i);
      const v = line.slice(i + 1);
      if (k === 'state') f.state = v as HostArchiveFact['state'];
      else if (k === 'size') f.size = Number(v);
      else if (k === 'tool') f.tools.push(v);
      else if (k === 'bytes') f.bytes = v;
      else if (k === 'listerror') f.listError = v.trim();
    } else if (section === '@stat' && line) {
      const [kind, mode, owner, group, size, ...name] = line.split('|');
      const type = kind === 'directory' ? 'directory' : kind === 'symbolic link' ? 'link' : kind.startsWith('regular') ? 'file' : 'other';
      f.entries[rel(name.join('|'))] = { type, mode: mode.padStart(4, '0'), owner, group, size: Number(size) };
    } else if (section === '@links' && line) {
      const i = line.indexOf('|');
      const e = f.entries[rel(line.slice(0, i))];
      if (e) e.target = line.slice(i + 1);
    } else if (section === '@sums' && line) {
      // sha256sum marks a name with a backslash or newline by a leading '\' (and escapes it)
      const esc = line.startsWith('\\');
      const l = esc ? line.slice(1) : line;
      const name = l.slice(66);
      const e = f.entries[rel(esc ? name.replace(/\\\\/g, '\\') : name)];
      if (e) e.sha256 = l.slice(0, 64);
    }
  }
  return f;
}

/** The archive's bytes from the fact (their size checked against what stat said). */
export function hostArchiveBytes(f: HostArchiveFact): Buffer | undefined {
  if (f.bytes === undefined) return undefined;
  const b = Buffer.from(f.bytes, 'base64');
  return b.length === f.size ? b : undefined;
}
