/**
 * get_url: a file downloaded from a URL by curl on the host, into a temp file beside `dest`,
 * checked against `checksum`, then moved over `dest` atomically (a failed download or a sum
 * that differs leaves the old file as it was). Ansible's meaning: with a checksum, a `dest`
 * whose sum matches is not downloaded again; without one, an existing `dest` is left alone
 * unless `force: true`.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Effect, type StateModule } from '../contract.js';
import { MAX_WAIT_S, seconds } from '../bounds.js';
import { fileFact, identityFact, normMode, type FileFact, type IdentityFact } from '../files/facts.js';
import { namesOf, pathBecomes } from '../files/effects.js';
import { contentFootprint, permitted, planAttributes } from '../files/content.js';
import { fileAttrs } from '../files/copy.js';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { packageFact, type PackageFact } from '../packages/facts.js';
import { digestFact, digestOf, parseChecksum, type Checksum, type DigestFact } from './checksum.js';

const schema = z
  .object({
    url: z.string().regex(/^(https?|ftp):\/\/[^\s/]+/i, 'an http://, https:// or ftp:// URL'),
    dest: z.string().startsWith('/', 'an absolute path').regex(/[^/]$/, 'the path of the file (a directory dest is not supported)'),
    checksum: z
      .string()
      .superRefine((v, c) => {
        const r = parseChecksum(v);
        if (typeof r === 'string') c.addIssue({ code: 'custom', message: r });
      })
      .optional(),
    force: z.boolean().default(false),
    headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name'), z.string().regex(/^[^\r\n]*$/, 'a header value on one line')).default({}),
    timeout: seconds(MAX_WAIT_S).default(10),
    ...fileAttrs,
  })
  .strict();

type Args = z.infer<typeof schema>;

type Facts = { file: FileFact; who: IdentityFact; curl: PackageFact; digest?: DigestFact } & AccountFacts;

const checksumOf = (a: Args): Checksum | undefined => (a.checksum === undefined ? undefined : (parseChecksum(a.checksum) as Checksum));

/** The existing file's digest with the checksum's algorithm; Unknown when check mode changed the file in a way that does not tell it. */
function currentSum(f: FileFact, sum: Checksum, digest: DigestFact | undefined): string | undefined {
  if (sum.algorithm === 'sha256') return f.sha256;
  // the digest fact describes the content the file fact describes (else an earlier task changed it)
  if (digest && digest.sha256 !== undefined && digest.sha256 === f.sha256) return digest.sum;
  if (f.content !== undefined) return digestOf(sum.algorithm, Buffer.from(f.content, 'base64'));
  throw new Unknown(`the ${sum.algorithm} of ${f.real ?? 'the file'} as an earlier task leaves it is not known before the real run`);
}

/** curl's config (read from stdin, so that the URL's credentials and the headers never reach a command line). */
function curlConfig(a: Args): string {
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\t/g, '\\t')}"`;
  return [`url = ${quote(a.url)}`, ...Object.entries(a.headers).map(([k, v]) => `header = ${quote(`${k}: ${v}`)}`)].join('\n') + '\n';
}

/** Download into a temp file beside dest, check its sum, set attributes, move it over dest. */
function downloadCommand(a: Args, sum: Checksum | undefined, exists: boolean, masked: string) {
  const dest = sq(a.dest);
  const dir = sq(a.dest.replace(/\/[^/]*$/, '') || '/');
  const mode = normMode(a.mode);
  const say = (msg: string) => `printf '%s\\n' ${sq(msg)} >&2`;
  const steps = [
    'set -e',
    `tmp=$(mktemp ${dir}/.provision-tmp.XXXXXX)`,
    `trap 'rm -f "$tmp"' EXIT`,
    // --speed-time: a download that stalls for `timeout` seconds fails, as Ansible's socket timeout does
    `curl -fsSL --connect-timeout ${a.timeout} --speed-limit 1 --speed-time ${a.timeout} -K - -o "$tmp" || { rc=$?; ${say(`get_url: downloading ${masked} failed (curl exit code follows); ${a.dest} is left as it was`)}; echo "curl exit $rc" >&2; exit 4; }`,
  ];
  if (sum) {
    steps.push(
      `h=$(${sum.algorithm}sum < "$tmp"); h=\${h%% *}`,
      `if [ "$h" != ${sum.hex} ]; then ${say(`get_url: the ${sum.algorithm} of ${masked} is not the checksum given (${sum.hex}); ${a.dest} is left as it was. Downloaded:`)}; echo "$h" >&2; exit 3; fi`,
    );
  }
  if (mode) steps.push(`chmod ${mode} "$tmp"`);
  else if (exists) steps.push(`chmod --reference=${dest} "$tmp"`);
  else steps.push(`chmod 0644 "$tmp"`);
  if (exists) steps.push(`chown --reference=${dest} "$tmp"`);
  if (a.owner || a.group) steps.push(`chown ${sq(`${a.owner ?? ''}${a.group ? `:${a.group}` : ''}`)} "$tmp"`);
  steps.push(`mv -fT "$tmp" ${dest}`, 'trap - EXIT');
  return { cmd: steps.join('\n'), stdin: curlConfig(a), display: `download ${masked} to ${a.dest} (curl, then mv)` };
}

/** Pure: the changes that make dest the downloaded file (see the header for when it is downloaded). */
export function planGetUrl(a: Args, facts: Facts, mask: (s: string) => string): Change[] {
  requireAccounts(facts, a.owner, a.group);
  const f = facts.file;
  if (f.type === 'directory') throw new TaskError(`${a.dest} is a directory; give the full path of the file`);
  if (f.type === 'link') throw new TaskError(`${a.dest} is a symlink; give the path of the file itself`);
  if (f.type === 'other') throw new TaskError(`${a.dest} exists and is not a regular file`);
  if (f.type === 'absent') {
    if (f.blocked) throw new TaskError(`cannot create ${a.dest}: ${f.blocked} is not a directory`);
    if (!f.parentExists && f.parentByInstall) throw new Unknown(`the directory of ${a.dest} may be created by a pending package install`);
    if (!f.parentExists) throw new TaskError(`parent directory of ${a.dest} does not exist (create it with a 'file' task, state: directory)`);
  }
  if (!facts.curl.installed) throw new TaskError(`get_url downloads with curl on the host, and curl is not installed (install it first: apt, name: curl)`);
  const sum = checksumOf(a);
  const exists = f.type === 'file';
  const url = mask(a.url);
  let why: string | undefined;
  if (!exists) why = `${a.dest} does not exist`;
  else if (sum) {
    const have = currentSum(f, sum, facts.digest);
    if (have !== sum.hex) why = `its ${sum.algorithm} is ${have ?? 'unknown'}, not the checksum given`;
  } else if (a.force) why = 'force: true';
  if (why === undefined) return planAttributes(a.dest, f, normMode(a.mode), a.owner, a.group);
  return [
    {
      action: exists ? 'update' : 'create',
      target: a.dest,
      summary: `download ${url} to ${a.dest} (${why})`,
      // without a checksum nothing tells that the file is the URL's content: force downloads every time
      ...(!sum ? { oneShot: true } : {}),
      uncertain: `what ${url} serves (and whether it can be downloaded${sum ? ' with that checksum' : ''}) is known only when it is downloaded`,
      commands: [downloadCommand(a, sum, exists, url)],
    },
  ];
}

export const getUrl: StateModule<Args, Facts> = {
  name: 'get_url',
  type: 'state',
  permissionsModelled: true,
  exactEffects: true,
  schema,
  facts: (a, ctx) => {
    const sum = checksumOf(a);
    return {
      file: fact(fileFact, { path: a.dest }),
      who: fact(identityFact, { become: ctx.become }),
      curl: fact(packageFact, { name: 'curl' }),
      ...(sum && sum.algorithm !== 'sha256' ? { digest: fact(digestFact, { path: a.dest, algorithm: sum.algorithm }) } : {}),
      ...accountFacts(a.owner, a.group),
    } as never;
  },
  plan: (a, facts, ctx) => permitted(facts.file, facts.who, planGetUrl(a, facts, ctx.mask), a),
  /** Only attribute changes are predicted: a download makes the task unknown (footprint). */
  predict(a, facts, changes): Effect[] {
    if (changes.some((c) => c.uncertain)) return contentFootprint(a.dest);
    return [pathBecomes(namesOf(a.dest, facts.file), (before) => ({ ...before, mode: normMode(a.mode) ?? before.mode, owner: a.owner ?? before.owner, group: a.group ?? before.group }))];
  },
  footprint: (a) => contentFootprint(a.dest),
};
