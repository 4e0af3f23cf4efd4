/**
 * A differential test case: everything needed to run one playbook on fresh test hosts, as one
 * YAML file (the format of test/difftest/regressions/*.yml and of saved failing seeds):
 *
 *   # comment: what it tests
 *   hosts:                      # logical inventory hosts (h1, h2); each is mapped to a fresh container
 *     h1: { user: root }
 *     h2: { user: deploy }      # login user: root, or deploy (passwordless sudo); become: optional
 *   setup:                      # optional: a shell script run as root on the host before the runs
 *     h1: "apt-get install -y cron && systemctl stop cron"
 *   templates: { t1.ejs: "..." }   # written to templates/ next to the playbook
 *   files: { f1.txt: "..." }       # written to files/ next to the playbook
 *   taskFiles: { inc1.yml: [...] } # task files next to the playbook (import_tasks, include_tasks)
 *   roles:                         # written to roles/NAME/ next to the playbook
 *     rl1: { tasks: [...], defaults: {...}, vars: {...}, handlers: [...], meta: { dependencies: [...] },
 *            templates: { x.ejs: "..." }, files: { y.txt: "..." } }
 *   playbook: [ { name: p1, hosts: all, tasks: [...] } ]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

export interface CaseHost {
  user: 'root' | 'deploy';
  become?: boolean;
}

export interface Case {
  /** "seed 42" or the file name of a regression. */
  name: string;
  hosts: Record<string, CaseHost>;
  setup?: Record<string, string>;
  templates?: Record<string, string>;
  files?: Record<string, string>;
  /** Task files next to the playbook, by file name. */
  taskFiles?: Record<string, unknown[]>;
  roles?: Record<string, CaseRole>;
  playbook: unknown[];
}

export interface CaseRole {
  tasks?: unknown[];
  handlers?: unknown[];
  defaults?: Record<string, unknown>;
  vars?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  templates?: Record<string, string>;
  files?: Record<string, string>;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The logical host names a case may use (the harness maps them onto containers). */
export const HOST_NAMES = ['h1', 'h2'] as const;

export function loadCase(file: string): Case {
  const doc = parse(readFileSync(file, 'utf8')) as Partial<Case> | null;
  if (!doc || typeof doc !== 'object' || !doc.hosts || !Array.isArray(doc.playbook)) {
    throw new Error(`${file}: not a difftest case (expected the keys hosts and playbook)`);
  }
  for (const h of Object.keys(doc.hosts)) {
    if (!(HOST_NAMES as readonly string[]).includes(h)) throw new Error(`${file}: host ${h}: only ${HOST_NAMES.join(', ')} are available`);
    const u = doc.hosts[h]?.user;
    if (u !== 'root' && u !== 'deploy') throw new Error(`${file}: host ${h}: user must be root or deploy`);
  }
  for (const n of [...Object.keys(doc.taskFiles ?? {}), ...Object.keys(doc.roles ?? {})]) {
    if (!SAFE_NAME.test(n)) throw new Error(`${file}: '${n}': task file and role names are plain file names`);
  }
  return {
    name: file.replace(/^.*\//, ''),
    hosts: doc.hosts,
    setup: doc.setup,
    templates: doc.templates,
    files: doc.files,
    ...(doc.taskFiles ? { taskFiles: doc.taskFiles } : {}),
    ...(doc.roles ? { roles: doc.roles } : {}),
    playbook: doc.playbook,
  };
}

const yaml = (v: unknown) => stringify(v, { lineWidth: 0 });

function writeAll(dir: string, files: Record<string, string> | undefined): void {
  if (!files || !Object.keys(files).length) return;
  mkdirSync(dir, { recursive: true });
  for (const [n, text] of Object.entries(files)) {
    // 'tree/sub/x.txt': a directory src of copy
    mkdirSync(path.dirname(path.join(dir, n)), { recursive: true });
    writeFileSync(path.join(dir, n), text);
  }
}

/**
 * Write the case's playbook and everything it names into `dir`: playbook.yml, templates/,
 * files/, its task files, roles/NAME/{tasks,handlers,defaults,vars,meta}/main.yml and the
 * roles' templates/ and files/. Returns the playbook's path.
 */
export function writeCaseFiles(dir: string, c: Case): string {
  mkdirSync(path.join(dir, 'templates'), { recursive: true });
  mkdirSync(path.join(dir, 'files'), { recursive: true });
  const playbook = path.join(dir, 'playbook.yml');
  writeFileSync(playbook, yaml(c.playbook));
  writeAll(path.join(dir, 'templates'), c.templates);
  writeAll(path.join(dir, 'files'), c.files);
  for (const [n, tasks] of Object.entries(c.taskFiles ?? {})) writeFileSync(path.join(dir, n), yaml(tasks));
  for (const [name, r] of Object.entries(c.roles ?? {})) {
    const root = path.join(dir, 'roles', name);
    mkdirSync(root, { recursive: true });
    for (const sub of ['tasks', 'handlers', 'defaults', 'vars', 'meta'] as const) {
      const v = r[sub];
      if (v === undefined) continue;
      mkdirSync(path.join(root, sub), { recursive: true });
      writeFileSync(path.join(root, sub, 'main.yml'), yaml(v));
    }
    writeAll(path.join(root, 'templates'), r.templates);
    writeAll(path.join(root, 'files'), r.files);
  }
  return playbook;
}

/** The case as a YAML file, with `comment` lines on top. */
export function caseToYaml(c: Case, comment: string[] = []): string {
  const body: Record<string, unknown> = { hosts: c.hosts };
  if (c.setup && Object.keys(c.setup).length) body.setup = c.setup;
  if (c.templates && Object.keys(c.templates).length) body.templates = c.templates;
  if (c.files && Object.keys(c.files).length) body.files = c.files;
  if (c.taskFiles && Object.keys(c.taskFiles).length) body.taskFiles = c.taskFiles;
  if (c.roles && Object.keys(c.roles).length) body.roles = c.roles;
  body.playbook = c.playbook;
  const head = comment.map((l) => `# ${l}`.trimEnd()).join('\n');
  return (head ? head + '\n' : '') + stringify(body, { lineWidth: 0 });
}

/**
 * Whether a task of the case says `check_mode: false`: it then changes the hosts in the dry run
 * too, so the real run needs the hosts reset to the state the dry run started from.
 */
export function changesHostsInCheck(c: Case): boolean {
  const has = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.some(has);
    if (v === null || typeof v !== 'object') return false;
    return Object.entries(v).some(([k, x]) => (k === 'check_mode' && x === false) || has(x));
  };
  return has(c.playbook) || has(c.taskFiles) || has(c.roles);
}
