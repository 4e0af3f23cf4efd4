/**
 * Gather facts: all of a task's fact snippets run in ONE shell round trip.
 */
import { randomBytes } from 'node:crypto';
import type { Connection, FactKind, FactRequest, HostFacts } from '../../modules/contract.js';
import { lastLines } from '../shell.js';
import { TaskError, Unknown } from '../../modules/contract.js';
import type { HostPrediction } from '../prediction.js';
import { FactCache } from './fact-cache.js';

/** A section of a fact script: one request, or several of a kind that reads many at once (FactKind.batch). */
interface Section {
  kind: FactRequest['kind'];
  /** indexes into the requests */
  members: number[];
}

function sections(requests: FactRequest[]): Section[] {
  const out: Section[] = [];
  const batches = new Map<FactRequest['kind'], Section>();
  requests.forEach((r, i) => {
    const open = r.kind.batch ? batches.get(r.kind) : undefined;
    if (open) return void open.members.push(i);
    const s = { kind: r.kind, members: [i] };
    if (r.kind.batch) batches.set(r.kind, s);
    out.push(s);
  });
  return out;
}

function sectionScript(s: Section, requests: FactRequest[]): string {
  const params = s.members.map((i) => requests[i].params);
  return s.members.length > 1 ? s.kind.batch!.script(params) : s.kind.script(params[0]);
}

/** Build one script for many fact requests; each section is framed by a random boundary. */
export function buildFactScript(requests: FactRequest[], boundary: string): string {
  return sections(requests)
    .map((s, i) => {
      // a section runs in a subshell of its own (its variables, `set --` and exit stay there), unless its kind needs none
      const [open, close] = s.kind.inline && s.members.length === 1 ? ['{', '}'] : ['(', ')'];
      return `printf '%s\\n' '@@${boundary} ${i}'\n${open}\n${sectionScript(s, requests)}\n${close}\nprintf '\\n@@${boundary} end %s\\n' "$?"`;
    })
    .join('\n');
}

/**
 * Section `i` of output framed by a `@@<boundary> <i>` line and a `\n@@<boundary> end` line
 * (searched from `from`): its body and where its end line starts; 'missing' when it never began,
 * 'cut' when it never ended. The fact scripts and the checks run ahead (checks-ahead.ts) frame so.
 */
export function framedSection(out: string, boundary: string, i: number, from = 0): { body: string; end: number } | 'missing' | 'cut' {
  const open = `@@${boundary} ${i}\n`;
  const start = out.indexOf(open, from);
  if (start < 0) return 'missing';
  const bodyAt = start + open.length;
  const end = out.indexOf(`\n@@${boundary} end`, bodyAt - 1);
  if (end < 0) return 'cut';
  return { body: out.slice(bodyAt, end), end: end + 1 };
}

export function parseFactOutput(requests: FactRequest[], out: string, boundary: string): unknown[] {
  const results: unknown[] = new Array(requests.length);
  for (const [i, s] of sections(requests).entries()) {
    const section = framedSection(out, boundary, i);
    if (section === 'missing') throw new TaskError(`fact ${s.kind.kind}: no output (did the fact script abort?)`);
    if (section === 'cut') throw new TaskError(`fact ${s.kind.kind}: truncated output`);
    const body = section.body;
    const params = s.members.map((m) => requests[m].params);
    const bodies = s.members.length > 1 ? s.kind.batch!.split(body, params) : [body];
    s.members.forEach((m, j) => (results[m] = s.kind.parse(bodies[j], params[j])));
  }
  return results;
}

/**
 * Read a task's facts in ONE round trip (none when the host's read-ahead has them all, see
 * fact-cache.ts). In check mode (`prediction` given), each fact is the live value with the
 * predicted effects of earlier tasks folded over it: exact where no effect touches it,
 * predicted where effects do, and Unknown (thrown) where that cannot be known.
 */
export async function gatherFacts<F extends Record<string, unknown>>(
  conn: Connection,
  named: { [K in keyof F]: FactRequest<F[K]> },
  opts: { become?: boolean; prediction?: HostPrediction; cache?: FactCache; refresh?: boolean; reader?: string; readerHost?: string },
): Promise<F> {
  const names = Object.keys(named) as (keyof F)[];
  const facts = {} as F;
  if (names.length === 0) return facts;
  const requests = names.map((n) => named[n]);
  const become = opts.become ?? false;
  const cached = requests.map((r) => (opts.refresh ? undefined : opts.cache?.get(r, become)));
  // audit mode reads everything and compares; otherwise only what the read-ahead lacks
  const toRead = requests.filter((_r, i) => cached[i] === undefined || opts.cache?.mode === 'audit');
  const read = new Map<FactRequest, unknown>();
  const t0 = Date.now();
  if (toRead.length > 0) {
    const values = await readFacts(conn, toRead, become, opts.cache);
    toRead.forEach((r, i) => read.set(r, values[i]));
  }
  const liveMs = Date.now() - t0;
  names.forEach((n, i) => {
    const req = requests[i];
    const c = cached[i];
    if (c !== undefined && read.has(req)) {
      const stale = FactCache.audit(req, c.value, read.get(req), c.readMs + liveMs);
      if (stale) throw new TaskError(stale);
    }
    const live = (c !== undefined ? c.value : read.get(req)) as F[keyof F];
    if (opts.prediction?.changed && req.kind.readsAnything) {
      throw new Unknown(`${req.kind.kind} '${req.kind.key(req.params).slice(req.kind.kind.length + 1, 80)}' reads state that earlier tasks are predicted to change`);
    }
    if (!opts.prediction) {
      facts[n] = live;
      return;
    }
    const dirs = req.kind.under?.(req.params, live);
    const reached = dirs?.length ? opts.prediction.reachesUnder(dirs, opts.readerHost) : undefined;
    if (reached) throw new Unknown(reached);
    const folded = opts.prediction.foldAll([req.kind.key(req.params), ...(req.kind.aliases?.(req.params, live) ?? [])], live, opts.readerHost);
    const unseen = folded !== live && opts.reader !== undefined && opts.reader !== 'root' ? req.kind.seenBy?.(folded, opts.reader) : undefined;
    if (unseen) throw new Unknown(unseen);
    facts[n] = folded;
  });
  return facts;
}

/** One round trip for `requests`; what is read is stored in the host's cache (if given). */
export async function readFacts(conn: Connection, requests: FactRequest[], become: boolean, cache?: FactCache): Promise<unknown[]> {
  const boundary = `PROVISION-${randomBytes(6).toString('hex')}`;
  const script = buildFactScript(requests, boundary);
  const stamp = cache?.stamp() ?? 0;
  const readAt = Date.now();
  const res = await conn.exec(script, { become, phase: 'facts' });
  if (res.code !== 0 && !res.stdout.includes(`@@${boundary} 0\n`)) {
    const err = lastLines(res.stderr, 4);
    throw new TaskError(`reading facts failed (exit ${res.code})${err ? `: ${err}` : ''}`);
  }
  const values = parseFactOutput(requests, res.stdout, boundary);
  const readMs = Date.now() - readAt;
  if (cache) requests.forEach((r, i) => cache.store(r, become, values[i], stamp, readAt, readMs));
  return values;
}

/**
 * Host facts, one round trip at connect time. Builtins where they answer (each process started
 * on a host costs 10–30 ms there); the routes and addresses are parsed here, not by awk there.
 */
export const HOST_FACTS_SCRIPT = [
  `if read -r hn < /proc/sys/kernel/hostname 2>/dev/null; then :; else hn=$(hostname 2>/dev/null || cat /etc/hostname); fi; echo "hostname=$hn"`,
  // not in $(…): a command substitution forks once more (the `|| echo` ends the line where it fails)
  `printf 'login_user='; id -un 2>/dev/null || echo`,
  `printf 'fqdn='; hostname -f 2>/dev/null || echo "$hn"`,
  `if [ -r /etc/os-release ]; then . /etc/os-release; fi; echo "os_id=\${ID:-unknown}"; echo "os_version=\${VERSION_ID:-}"; echo "os_codename=\${VERSION_CODENAME:-}"`,
  // the kernel's release and machine from /proc (builtins; `uname -r -m` where a kernel lacks
  // kernel.arch, before 6.1), as uname prints them: release first
  `if read -r kr < /proc/sys/kernel/osrelease && read -r km < /proc/sys/kernel/arch; then echo "uname=$kr $km"; else printf 'uname='; uname -r -m 2>/dev/null || echo; fi 2>/dev/null`,
  // the online CPUs, as Ansible counts them for processor_vcpus (/proc/cpuinfo's), from their list
  // ("0-3,8"); nproc where there is none
  `if read -r on 2>/dev/null < /sys/devices/system/cpu/online && [ -n "$on" ]; then n=0; IFS=,; for r in $on; do case $r in *-*) n=$((n + \${r#*-} - \${r%-*} + 1)) ;; *) n=$((n + 1)) ;; esac; done; unset IFS; echo "cpus=$n"; else printf 'cpus='; nproc 2>/dev/null || echo 1; fi`,
  `while read -r k v _; do if [ "$k" = MemTotal: ]; then echo "mem_kb=$v"; break; fi; done < /proc/meminfo 2>/dev/null`,
  // one ip for both (-batch), and its lines as they are: parseHostFacts tells routes from addresses
  `ip -4 -o -batch - 2>/dev/null <<'EOF' || { ip -4 -o route show default; ip -4 -o addr show scope global; } 2>/dev/null`,
  'route show default',
  'addr show scope global',
  'EOF',
].join('\n');

/** The host facts as a fact request, so that a read-ahead's round trip can carry them (read-ahead.ts Rider); never cached. */
export const hostFactsKind: FactKind<null, HostFacts> = {
  kind: 'host-facts',
  key: () => 'host-facts:',
  script: () => HOST_FACTS_SCRIPT,
  parse: (out) => parseHostFacts(out),
  volatile: true,
};

export function parseHostFacts(out: string): HostFacts {
  const kv: Record<string, string> = {};
  const routes: string[] = [];
  const addrs: { dev: string; ip: string }[] = [];
  for (const line of out.split('\n')) {
    // ip's lines: "default via 10.0.0.1 dev eth0 ...", "2: eth0    inet 10.0.0.5/24 brd ... scope global eth0 ..."
    if (/^default\s/.test(line)) {
      routes.push(line.trim());
      continue;
    }
    const m = /^\d+:\s+(\S+)\s+inet\s+([0-9.]+)\//.exec(line);
    if (m) {
      if (!addrs.some((a) => a.dev === m[1] && a.ip === m[2])) addrs.push({ dev: m[1], ip: m[2] });
      continue;
    }
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  const words = routes[0]?.split(/\s+/) ?? [];
  const dev = words.includes('dev') ? (words[words.indexOf('dev') + 1] ?? '') : '';
  const [kernel = '', arch = ''] = (kv.uname ?? '').split(/\s+/);
  return {
    hostname: kv.hostname ?? '',
    loginUser: kv.login_user ?? '',
    fqdn: kv.fqdn ?? '',
    os: { id: kv.os_id ?? 'unknown', version: kv.os_version ?? '', codename: kv.os_codename ?? '' },
    arch,
    kernel,
    cpus: Number(kv.cpus ?? 1),
    memoryMb: Math.round(Number(kv.mem_kb ?? 0) / 1024),
    defaultIPv4: (dev && addrs.find((a) => a.dev === dev)?.ip) || '',
    defaultInterface: dev,
    ipv4: addrs.map((a) => a.ip),
  };
}
