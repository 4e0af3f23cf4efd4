/**
 * unarchive: an archive's members extracted into an existing directory `dest`, only when dest's
 * files differ from them. The archive (on the controller) is read there (archive-read.ts): every
 * member's type, mode, size, link target and content hash; each member's path under dest is a
 * file fact. So the plan, and --check, know exactly whether extracting changes anything.
 *
 * What "differs" means here (Ansible runs `tar --diff` / reads `unzip -Z`): a member that is
 * missing, of another type, another size or content, another link target, or another mode (the
 * archive's, or `mode`); owner and group only when given. Modification times are not compared,
 * files in dest that the archive does not hold are left alone. Owners: extraction never keeps
 * the archive's (tar --no-same-owner): files belong to the user that runs the task, or to
 * `owner`/`group`.
 */
import { statSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { UnknownFact } from '../../engine/prediction.js';
import { fact, TaskError, Unknown, type Change, type Command, type Effect, type ModuleContext, type StateModule } from '../contract.js';
import { fileFact, identityFact, modeUnder, type FileFact, type IdentityFact } from './facts.js';
import { namesOf, pathBecomes, unknownTree } from './effects.js';
import { fileAttrs, readLocal } from './copy.js';
import { localPath } from './local-path.js';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { packageFact, type PackageFact } from '../packages/facts.js';
import { ArchiveError, MAX_ARCHIVE_BYTES, readArchive, type Listing, type Member } from './archive-read.js';
import { hostArchiveBytes, hostArchiveFact, MAX_REMOTE_ARCHIVE, type HostArchiveFact } from './unarchive-facts.js';

/** The extra_opts provision models: they change which paths are written, so they must be known. */
const STRIP = /^--strip(?:-components)?=(\d{1,2})$/;

const schema = z
  .object({
    src: z
      .string()
      .min(1)
      .refine((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s), {
        message: 'a URL src is not supported: download it first with get_url (dest: a path on the host), then unarchive it with remote_src: true',
      }),
    dest: z.string().startsWith('/', 'an absolute path'),
    /** `src` is an archive on the host (read back as a fact, up to MAX_REMOTE_ARCHIVE bytes). */
    remote_src: z.boolean().default(false),
    creates: z.string().startsWith('/', 'an absolute path').optional(),
    extra_opts: z.array(z.string().regex(STRIP, "only '--strip-components=N' is supported (other options would change what is extracted in ways provision does not model)")).max(1).default([]),
    list_files: z.boolean().default(false),
    ...fileAttrs,
  })
  .strict()
  .refine((a) => !a.remote_src || a.src.startsWith('/'), { message: "remote_src: 'src' is the absolute path of an archive on the host", path: ['src'] });

type Args = z.infer<typeof schema>;

type Facts = { dest: FileFact; who: IdentityFact; creates?: FileFact; unzip?: PackageFact; remote?: HostArchiveFact } & AccountFacts & Record<string, FileFact | IdentityFact | PackageFact | HostArchiveFact | undefined>;

const stripOf = (a: Args) => Number(STRIP.exec(a.extra_opts[0] ?? '')?.[1] ?? 0);
const under = (dest: string, rel: string) => `${dest.replace(/\/+$/, '')}/${rel}`;
const key = (rel: string) => `m:${rel}`;

/** The listing of prepare()'s bytes, read once per buffer. */
const listings = new WeakMap<Buffer, Map<number, Listing>>();
function listingOf(a: Args, bytes: Buffer): Listing {
  const strip = stripOf(a);
  let byStrip = listings.get(bytes);
  if (!byStrip) listings.set(bytes, (byStrip = new Map()));
  let l = byStrip.get(strip);
  if (!l) {
    try {
      l = readArchive(bytes, strip);
    } catch (e) {
      if (e instanceof ArchiveError) throw new TaskError(`${a.src}: ${e.message}`);
      throw e;
    }
    byStrip.set(strip, l);
  }
  return l;
}

/** facts() runs before prepare() (and again to verify): the controller's archive read once per version of the file. */
const byFile = new Map<string, Listing | null>();
function controllerListing(a: Args, ctx: ModuleContext): Listing | null {
  const path = localPath(ctx, 'files', a.src);
  let id: string;
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_ARCHIVE_BYTES) return null;
    id = `${path}\0${st.size}\0${st.mtimeMs}\0${stripOf(a)}`;
  } catch {
    return null;
  }
  if (!byFile.has(id)) {
    let l: Listing | null;
    try {
      l = readArchive(readFileSync(path), stripOf(a));
    } catch {
      l = null; // prepare() reads it again and fails the task with the reason
    }
    if (byFile.size >= 16) byFile.delete(byFile.keys().next().value!);
    byFile.set(id, l);
  }
  return byFile.get(id)!;
}

/** Directories that members lie in but the archive does not list: extraction makes them. */
function impliedDirs(members: Member[]): string[] {
  const listed = new Set(members.map((m) => m.path));
  const out = new Set<string>();
  for (const m of members) {
    const parts = m.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!listed.has(p)) out.add(p);
    }
  }
  return [...out];
}

const octal = (n: number) => n.toString(8).padStart(4, '0');
const wantMode = (a: Args, m: Member) => (m.type === 'link' ? undefined : (a.mode?.replace(/^0o/, '').padStart(4, '0') ?? octal(m.mode)));

/** Why a member's path in dest is not what the archive holds (content: extraction needed), or undefined. */
function memberDiff(a: Args, m: Member, f: FileFact, check: boolean): { content?: string; attrs?: string } {
  const path = under(a.dest, m.path);
  if (m.type === 'dir') {
    if (f.type === 'link') throw new TaskError(`${path} is a symlink where the archive has a directory: extracting would write through it (remove it first)`);
    if (f.type === 'absent') return { content: 'missing' };
    if (f.type !== 'directory') throw new TaskError(`${path} is a ${f.type} where the archive has a directory (remove it first)`);
  } else if (f.type === 'directory') {
    throw new TaskError(`${path} is a directory where the archive has a ${m.type === 'link' ? 'symlink' : 'file'} (remove it first)`);
  } else if (m.type === 'link') {
    if (f.type !== 'link') return { content: f.type === 'absent' ? 'missing' : `a ${f.type}, not a symlink` };
    if (f.target !== m.target) return { content: `links to ${f.target}, not ${m.target}` };
  } else {
    if (f.type !== 'file') return { content: f.type === 'absent' ? 'missing' : `a ${f.type}, not a file` };
    if (f.size !== m.size) return { content: 'size differs' };
    if (f.sha256 === undefined) {
      if (check) throw new Unknown(`the content of ${path} is not known before the real run`);
      throw new TaskError(`cannot read ${path} to compare it with the archive`);
    }
    if (f.sha256 !== m.sha256) return { content: 'content differs' };
  }
  const why: string[] = [];
  const mode = wantMode(a, m);
  if (mode && f.mode !== mode) why.push(`mode ${f.mode} -> ${mode}`);
  if (a.owner && f.owner !== a.owner) why.push(`owner ${f.owner} -> ${a.owner}`);
  if (a.group && f.group !== a.group) why.push(`group ${f.group} -> ${a.group}`);
  return why.length ? { attrs: why.join(', ') } : {};
}

/** `chmod MODE -- paths` per mode, and `chown -h` of all (when owner/group are given). */
function attrCommands(a: Args, dest: string, paths: { rel: string; mode?: string }[]): string[] {
  const byMode = new Map<string, string[]>();
  for (const p of paths) if (p.mode) byMode.set(p.mode, [...(byMode.get(p.mode) ?? []), p.rel]);
  const q = (rels: string[]) => rels.map((r) => sq(`./${r}`)).join(' ');
  const out = [`cd ${sq(dest)}`];
  if (a.owner || a.group) out.push(`chown -h ${sq(`${a.owner ?? ''}${a.group ? `:${a.group}` : ''}`)} -- ${q(paths.map((p) => p.rel))}`);
  for (const [mode, rels] of byMode) out.push(`chmod ${mode} -- ${q(rels)}`);
  return out;
}

interface Planned {
  listing: Listing;
  /** Members and implied directories that extraction (re)writes, with what they are now. */
  before: Map<string, FileFact>;
  madeDirs: string[];
}

function plannedOf(a: Args, f: Facts, local: Buffer | undefined): Planned {
  const bytes = a.remote_src ? remoteBytes(a, f.remote!) : local;
  if (bytes === undefined) throw new TaskError(`${a.src}: the archive was not read on the controller`);
  const listing = listingOf(a, bytes);
  if (a.remote_src) hostCanExtract(a, listing, f.remote!);
  const before = new Map<string, FileFact>();
  for (const rel of [...listing.members.map((m) => m.path), ...impliedDirs(listing.members)]) {
    const v = a.remote_src ? remoteEntry(f.remote!, rel) : (f[key(rel)] as FileFact | undefined);
    if (!v) throw new TaskError(`${a.src} changed on the controller while it was read (run again)`);
    before.set(rel, v);
  }
  return { listing, before, madeDirs: impliedDirs(listing.members).filter((d) => before.get(d)!.type === 'absent') };
}

/** remote_src: the archive's bytes the fact brought back (one Buffer per fact value). */
const remoteBuffers = new WeakMap<HostArchiveFact, Buffer>();
function remoteBytes(a: Args, r: HostArchiveFact): Buffer {
  if (r.state === 'absent') throw new TaskError(`src ${a.src} does not exist on the host`);
  if (r.state === 'notfile') throw new TaskError(`src ${a.src} on the host is not a regular file`);
  if (r.state === 'unreadable') throw new TaskError(`src ${a.src} on the host cannot be read`);
  if (r.state === 'toolarge') throw new TaskError(`src ${a.src} on the host has ${r.size} bytes: remote_src archives are read back to the controller up to ${MAX_REMOTE_ARCHIVE} bytes (put it in files/ and drop remote_src)`);
  let b = remoteBuffers.get(r);
  if (!b) {
    b = hostArchiveBytes(r);
    if (!b) throw new TaskError(`src ${a.src} changed on the host while it was read (run again)`);
    remoteBuffers.set(r, b);
  }
  return b;
}

/** remote_src: the tool the format needs is on the host (the archive is extracted there as it is). */
function hostCanExtract(a: Args, l: Listing, r: HostArchiveFact): void {
  const need = l.format === 'zip' ? ['unzip', 'unzip'] : l.format === 'tar.xz' ? ['xz', 'xz-utils'] : l.format === 'tar.bz2' ? ['bzip2', 'bzip2'] : undefined;
  if (need && !r.tools.includes(need[0])) throw new TaskError(`${a.src} is a ${l.format} archive and ${need[0]} is not installed on the host (install it first: apt, name: ${need[1]})`);
  if (r.listError !== undefined) throw new TaskError(`cannot list ${a.src} on the host: ${r.listError}`);
}

function remoteEntry(r: HostArchiveFact, rel: string): FileFact {
  const e = r.entries[rel];
  return e ? { ...e, parentExists: true } : { type: 'absent', parentExists: true };
}

/** Pure: extract when a member's content or type differs; only chmod/chown when only attributes do. */
export function planUnarchive(a: Args, f: Facts, ctx: ModuleContext, local: Buffer | undefined): Change[] {
  if (a.creates && f.creates && f.creates.type !== 'absent') {
    ctx.note(`skipped: ${a.creates} exists`);
    return [];
  }
  if (f.dest.type === 'absent') throw new TaskError(`dest ${a.dest} does not exist (unarchive extracts into an existing directory: create it first with a 'file' task, state: directory)`);
  if (f.dest.type !== 'directory') throw new TaskError(`dest ${a.dest} is not a directory`);
  requireAccounts(f, a.owner, a.group);
  const p = plannedOf(a, f, local);
  const { listing } = p;
  for (const d of impliedDirs(listing.members)) {
    const b = p.before.get(d)!;
    if (b.type === 'link') throw new TaskError(`${under(a.dest, d)} is a symlink where the archive's members lie: extracting would write through it (remove it first)`);
    if (b.type !== 'directory' && b.type !== 'absent') throw new TaskError(`${under(a.dest, d)} is a ${b.type} where the archive has a directory (remove it first)`);
  }
  const content: string[] = [];
  const attrs: { rel: string; why: string; mode?: string }[] = [];
  for (const m of listing.members) {
    const d = memberDiff(a, m, p.before.get(m.path)!, ctx.check);
    if (d.content) content.push(`${m.path} (${d.content})`);
    else if (d.attrs) attrs.push({ rel: m.path, why: d.attrs, mode: wantMode(a, m) });
  }
  if (p.madeDirs.length) content.push(...p.madeDirs.map((d) => `${d}/ (missing)`));
  const first = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? `, and ${xs.length - 3} more` : '');
  if (content.length === 0 && attrs.length === 0) return [];
  if (content.length === 0) {
    return [
      {
        action: 'chmod',
        target: a.dest,
        summary: `${a.dest}: ${first(attrs.map((x) => `${x.rel}: ${x.why}`))}`,
        commands: [{ cmd: ['set -e', ...attrCommands(a, a.dest, attrs)].join('\n'), display: `set the attributes of ${attrs.length} extracted file(s) in ${a.dest}` }],
      },
    ];
  }
  if (listing.format === 'zip' && !a.remote_src && !f.unzip?.installed) throw new TaskError(`${a.src} is a zip archive and unzip is not installed on the host (install it first: apt, name: unzip)`);
  return [
    {
      action: 'extract',
      target: a.dest,
      summary: `extract ${a.src} (${listing.format}, ${listing.members.length} members) into ${a.dest}: ${first(content)}`,
      commands: [extractCommand(a, p, local, f.who)],
    },
  ];
}

/** The archive on stdin: tar reads it from there; unzip needs a file (a temp file, removed). Then the attributes, exactly. */
function extractCommand(a: Args, p: Planned, bytes: Buffer | undefined, who: IdentityFact): Command {
  const { listing } = p;
  const dest = sq(a.dest);
  const steps = ['set -e'];
  const strip = stripOf(a) ? ` --strip-components=${stripOf(a)}` : '';
  if (a.remote_src) {
    // the host's archive as it is: tar recognises the compression of a file itself
    steps.push(listing.format === 'zip' ? `unzip -o -q ${sq(a.src)} -d ${dest}` : `tar -x --no-same-owner -p -f ${sq(a.src)}${strip} -C ${dest}`);
  } else if (listing.format === 'zip') {
    steps.push(
      'tmp=$(mktemp "${TMPDIR:-/tmp}/.provision-unarchive.XXXXXX")',
      `trap 'rm -f "$tmp"' EXIT`,
      'cat > "$tmp"',
      `unzip -o -q "$tmp" -d ${dest}`,
    );
  } else {
    steps.push(`tar -x${listing.format === 'tar.gz' ? 'z' : ''} --no-same-owner -p -f -${strip} -C ${dest}`);
  }
  const made = modeUnder(who.umask, 0o777);
  steps.push(...attrCommands(a, a.dest, [...listing.members.map((m) => ({ rel: m.path, mode: wantMode(a, m) })), ...p.madeDirs.map((d) => ({ rel: d, mode: made }))]));
  const stdin = a.remote_src ? undefined : (listing.tar ?? bytes);
  return { cmd: steps.join('\n'), ...(stdin ? { stdin } : {}), display: `extract ${a.src} into ${a.dest} (${listing.format === 'zip' ? 'unzip' : 'tar'}), then set modes${a.owner || a.group ? ' and owners' : ''}` };
}

/** Check mode: every member (and each directory made) becomes what the archive and the arguments say. */
function predictUnarchive(a: Args, f: Facts, changes: Change[], local: Buffer | undefined): Effect[] {
  const p = plannedOf(a, f, local);
  const extract = changes.some((c) => c.action === 'extract');
  const setgid = (rel: string) => {
    const dir = rel.includes('/') ? p.before.get(rel.replace(/\/[^/]*$/, '')) : f.dest;
    return dir !== undefined && dir.type === 'directory' && (parseInt(dir.mode ?? '0', 8) & 0o2000) !== 0;
  };
  const effects: Effect[] = [];
  const become = (rel: string, after: (b: FileFact) => FileFact | UnknownFact) => {
    const names = namesOf(under(a.dest, rel), p.before.get(rel)!);
    const e = pathBecomes(names, (b) => after(b) as FileFact);
    effects.push(e);
  };
  for (const m of p.listing.members) {
    const mode = wantMode(a, m);
    become(m.path, (b) => {
      if (!extract) return { ...b, mode: mode ?? b.mode, owner: a.owner ?? b.owner, group: a.group ?? b.group };
      // files and links are made anew (unlinked first); directories that exist stay
      const fresh = m.type !== 'dir' || b.type === 'absent';
      if (fresh && !a.group && setgid(m.path)) return new UnknownFact(`the group of ${under(a.dest, m.path)}, made in a setgid directory, is not modelled`);
      const owner = a.owner ?? (fresh ? f.who.user : b.owner);
      const group = a.group ?? (fresh ? f.who.group : b.group);
      const base = { parentExists: true, owner, group, ...(b.real ? { real: b.real } : {}) };
      if (m.type === 'dir') return { ...b, ...base, type: 'directory', mode };
      if (m.type === 'link') return { ...base, type: 'link', mode: '0777', target: m.target, size: Buffer.byteLength(m.target!) };
      return { ...base, type: 'file', mode, size: m.size, sha256: m.sha256 };
    });
  }
  for (const d of p.madeDirs) {
    become(d, (b) => {
      if (!a.group && setgid(d)) return new UnknownFact(`the group of ${under(a.dest, d)}, made in a setgid directory, is not modelled`);
      return { parentExists: true, ...(b.real ? { real: b.real } : {}), type: 'directory', mode: modeUnder(f.who.umask, 0o777), owner: a.owner ?? f.who.user, group: a.group ?? f.who.group };
    });
  }
  return effects;
}

export const unarchive: StateModule<Args, Facts, Buffer | undefined> = {
  name: 'unarchive',
  type: 'state',
  exactEffects: true,
  schema,
  prepare: (a, ctx) => (a.remote_src ? undefined : readLocal(ctx, 'files', a.src)),
  facts(a, ctx) {
    const listing = a.remote_src ? null : controllerListing(a, ctx);
    const members: Record<string, unknown> = {};
    if (listing) for (const rel of [...listing.members.map((m) => m.path), ...impliedDirs(listing.members)]) members[key(rel)] = fact(fileFact, { path: under(a.dest, rel) });
    return {
      dest: fact(fileFact, { path: a.dest }),
      who: fact(identityFact, { become: ctx.become }),
      ...(a.creates ? { creates: fact(fileFact, { path: a.creates }) } : {}),
      ...(listing?.format === 'zip' ? { unzip: fact(packageFact, { name: 'unzip' }) } : {}),
      ...(a.remote_src ? { remote: fact(hostArchiveFact, { src: a.src, dest: a.dest, strip: stripOf(a) }) } : {}),
      ...accountFacts(a.owner, a.group),
      ...members,
    } as never;
  },
  plan: (a, f, ctx, local) => planUnarchive(a, f, ctx, local),
  predict: (a, f, changes, _ctx, local) => predictUnarchive(a, f, changes, local),
  registerData(a, f, _changes, local) {
    if (!a.list_files) return {};
    if (a.creates && f.creates && f.creates.type !== 'absent') return {};
    return { files: plannedOf(a, f, local).listing.members.map((m) => m.path) };
  },
  footprint: (a) => [unknownTree([a.dest.replace(/\/+$/, '') || '/'], `${a.dest} is extracted into by an unarchive task whose outcome is unknown in check mode`, false)],
};
