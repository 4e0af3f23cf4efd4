/**
 * deb822_repository: an apt source in the deb822 format, /etc/apt/sources.list.d/SLUG.sources,
 * written as Ansible's module writes it (fields in the order of its argument names, `X-Repolib-Name`
 * for `name`). `signed_by` is, as in Ansible, an ASCII-armored key (written inline), the path of a
 * keyring on the host, or fingerprints; unlike Ansible, a relative path names a key file on the
 * controller (files/, as copy's src), shipped to /etc/apt/keyrings/SLUG.asc (or .gpg); a URL is
 * refused (download it with get_url first). `update_cache` (not in Ansible's module, which never
 * updates) runs apt-get update after a change.
 */
import { z } from 'zod';
import { setsTo } from '../../engine/prediction.js';
import { fact, type Change, type Effect, type StateModule } from '../contract.js';
import { contentFootprint, planContent, predictContent } from '../files/content.js';
import { readLocal } from '../files/copy.js';
import { fileFact, identityFact, type FileFact, type IdentityFact } from '../files/facts.js';
import type { AptCacheFact } from './facts.js';
import { cacheFacts, KEYRINGS_DIR, planRemove, predictRemove, predictUpdate, presence, SOURCES_DIR, updateFootprint, withUpdate } from './sources.js';

const oneLine = z.string().min(1).regex(/^[^\n\r]*$/, 'one line');
const list = z.union([oneLine, z.array(oneLine).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));
const ARMORED = '-----BEGIN PGP PUBLIC KEY BLOCK-----';
const FINGERPRINTS = /^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})!?(\s*,?\s*([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})!?)*$/;

const schema = z
  .object({
    name: oneLine,
    types: z.union([z.enum(['deb', 'deb-src']), z.array(z.enum(['deb', 'deb-src'])).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])).default(['deb']),
    uris: list.optional(),
    suites: list.optional(),
    components: list.optional(),
    architectures: list.optional(),
    languages: list.optional(),
    targets: list.optional(),
    signed_by: z
      .string()
      .min(1)
      .refine((v) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(v.trim()), {
        message: 'a URL is not fetched here: download the key with get_url (dest: /etc/apt/keyrings/NAME.asc) and give signed_by: /etc/apt/keyrings/NAME.asc, or put the key file in files/ and give its relative path',
      })
      .optional(),
    enabled: z.boolean().optional(),
    trusted: z.boolean().optional(),
    allow_insecure: z.boolean().optional(),
    allow_weak: z.boolean().optional(),
    allow_downgrade_to_insecure: z.boolean().optional(),
    by_hash: z.boolean().optional(),
    check_date: z.boolean().optional(),
    check_valid_until: z.boolean().optional(),
    pdiffs: z.boolean().optional(),
    date_max_future: z.number().int().min(0).optional(),
    inrelease_path: oneLine.optional(),
    mode: z.string().regex(/^(0o)?[0-7]{3,4}$/, "an octal mode like '0644'").default('0644'),
    state: z.enum(['present', 'absent']).default('present'),
    update_cache: z.boolean().default(false),
  })
  .strict()
  .refine((a) => slug(a.name) !== '', { message: "'name' needs letters or digits (the file is named after them)" })
  .refine((a) => a.state === 'absent' || (a.uris && a.suites), { message: "state: present needs 'uris' and 'suites'" })
  .refine((a) => a.state === 'absent' || a.components || a.suites!.every((s) => s.endsWith('/')), { message: "give 'components', or suites that are exact paths ending in '/'" });

type Args = z.infer<typeof schema>;
type Facts = { file: FileFact; who: IdentityFact; key?: FileFact; keyrings?: FileFact; asc?: FileFact; gpg?: FileFact; cache?: AptCacheFact };

/** Ansible's file name for `name`: lowercase, runs of _ and blanks become '-', all else but [a-z0-9-] dropped. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[_\s]+/g, '-').replace(/[^a-z0-9-]+/g, '');
}

const sourcesPath = (a: Args) => `${SOURCES_DIR}/${slug(a.name)}.sources`;
const keyPath = (a: Args, ext: 'asc' | 'gpg') => `${KEYRINGS_DIR}/${slug(a.name)}.${ext}`;

/** What signed_by is: inline key text, a host path or fingerprints (as they are), or a controller file to ship. */
function signedBy(v: string): 'inline' | 'asis' | 'ship' {
  if (v.includes(ARMORED)) return 'inline';
  if (v.startsWith('/') || FINGERPRINTS.test(v.trim())) return 'asis';
  return 'ship';
}

/** The key file to write: its path and bytes (armored keys as .asc, binary keyrings as .gpg, as Ansible names them). */
function shipped(a: Args, key: Buffer): { path: string; bytes: Buffer } {
  return { path: keyPath(a, key.includes(Buffer.from(ARMORED)) ? 'asc' : 'gpg'), bytes: key };
}

const FIELDS: [keyof Args, string][] = [
  ['allow_downgrade_to_insecure', 'Allow-Downgrade-To-Insecure'],
  ['allow_insecure', 'Allow-Insecure'],
  ['allow_weak', 'Allow-Weak'],
  ['architectures', 'Architectures'],
  ['by_hash', 'By-Hash'],
  ['check_date', 'Check-Date'],
  ['check_valid_until', 'Check-Valid-Until'],
  ['components', 'Components'],
  ['date_max_future', 'Date-Max-Future'],
  ['enabled', 'Enabled'],
  ['inrelease_path', 'Inrelease-Path'],
  ['languages', 'Languages'],
  ['name', 'X-Repolib-Name'],
  ['pdiffs', 'Pdiffs'],
  ['signed_by', 'Signed-By'],
  ['suites', 'Suites'],
  ['targets', 'Targets'],
  ['trusted', 'Trusted'],
  ['types', 'Types'],
  ['uris', 'URIs'],
];

/** The .sources file's text: `Field: value` lines; a multi-line value indented, blank lines as '.' (deb822). */
export function sourcesText(a: Args, keyFile?: string): string {
  let out = '';
  for (const [k, field] of FIELDS) {
    let v = a[k] as unknown;
    if (v === undefined) continue;
    if (k === 'signed_by') v = keyFile ?? (v as string);
    const s = typeof v === 'boolean' ? (v ? 'yes' : 'no') : Array.isArray(v) ? v.join(' ') : String(v);
    if (s.includes('\n')) {
      const lines = s.trim().split('\n').map((l) => `    ${l.trim() || '.'}`);
      out += `${field}:\n${lines.join('\n')}\n`;
    } else out += `${field}: ${s}\n`;
  }
  return out;
}

export const deb822Repository: StateModule<Args, Facts, Buffer | undefined> = {
  name: 'deb822_repository',
  type: 'state',
  schema,
  prepare: (a, ctx) => (a.state === 'present' && a.signed_by && signedBy(a.signed_by) === 'ship' ? readLocal(ctx, 'files', a.signed_by) : undefined),
  facts(a, ctx) {
    const base = { file: fact(fileFact, { path: sourcesPath(a), content: true }), who: fact(identityFact, { become: ctx.become }), ...cacheFacts(a.update_cache) };
    if (a.state === 'absent') return { ...base, asc: presence(keyPath(a, 'asc')), gpg: presence(keyPath(a, 'gpg')) } as never;
    if (a.signed_by && signedBy(a.signed_by) === 'ship') {
      // the extension depends on the key's bytes (prepare): both paths' facts are read
      return { ...base, asc: fact(fileFact, { path: keyPath(a, 'asc'), content: true }), gpg: fact(fileFact, { path: keyPath(a, 'gpg'), content: true }), keyrings: presence(KEYRINGS_DIR) } as never;
    }
    return base as never;
  },
  plan(a, facts, ctx, key) {
    if (a.state === 'absent') {
      const p = sourcesPath(a);
      return withUpdate([...planRemove(p, facts.file), ...planRemove(keyPath(a, 'asc'), facts.asc!), ...planRemove(keyPath(a, 'gpg'), facts.gpg!)], a.update_cache);
    }
    const changes: Change[] = [];
    let keyFile: string | undefined;
    if (key) {
      const k = shipped(a, key);
      keyFile = k.path;
      const kf = k.path.endsWith('.asc') ? facts.asc! : facts.gpg!;
      // as Ansible: the keyrings directory is made when missing (Debian 12 ships it)
      if (facts.keyrings!.type === 'absent') {
        changes.push({ action: 'mkdir', target: KEYRINGS_DIR, summary: `create ${KEYRINGS_DIR}`, commands: [{ cmd: `install -d -m 0755 ${KEYRINGS_DIR}` }] });
      }
      changes.push(...planContent({ dest: k.path, mode: '0644' }, k.bytes, { ...kf, parentExists: true }, ctx));
    }
    changes.push(...planContent({ dest: sourcesPath(a), mode: a.mode }, Buffer.from(sourcesText(a, keyFile), 'utf8'), facts.file, ctx));
    return withUpdate(changes, a.update_cache);
  },
  predict(a, facts, changes, _ctx, key) {
    const effects: Effect[] = [...predictUpdate(changes, facts.cache)];
    if (a.state === 'absent') return [...effects, ...predictRemove(sourcesPath(a), facts.file), ...predictRemove(keyPath(a, 'asc'), facts.asc!), ...predictRemove(keyPath(a, 'gpg'), facts.gpg!)];
    let keyFile: string | undefined;
    if (key) {
      const k = shipped(a, key);
      keyFile = k.path;
      const kf = k.path.endsWith('.asc') ? facts.asc! : facts.gpg!;
      if (facts.keyrings!.type === 'absent') effects.push(setsTo(`file:${KEYRINGS_DIR}`, { type: 'directory', mode: '0755', owner: 'root', group: 'root', parentExists: true }));
      effects.push(...predictContent({ dest: k.path, mode: '0644' }, k.bytes, { ...kf, parentExists: true }, facts.who));
    }
    effects.push(...predictContent({ dest: sourcesPath(a), mode: a.mode }, Buffer.from(sourcesText(a, keyFile), 'utf8'), facts.file, facts.who));
    return effects;
  },
  footprint: (a) => [...contentFootprint(sourcesPath(a)), ...contentFootprint(keyPath(a, 'asc')), ...contentFootprint(keyPath(a, 'gpg')), ...contentFootprint(KEYRINGS_DIR), ...updateFootprint(a.update_cache)],
};
