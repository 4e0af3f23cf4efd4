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
 *   playbook: [ { name: p1, hosts: all, tasks: [...] } ]
 */
import { readFileSync } from 'node:fs';
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
  playbook: unknown[];
}

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
  return { name: file.replace(/^.*\//, ''), hosts: doc.hosts, setup: doc.setup, templates: doc.templates, files: doc.files, playbook: doc.playbook };
}

/** The case as a YAML file, with `comment` lines on top. */
export function caseToYaml(c: Case, comment: string[] = []): string {
  const body: Record<string, unknown> = { hosts: c.hosts };
  if (c.setup && Object.keys(c.setup).length) body.setup = c.setup;
  if (c.templates && Object.keys(c.templates).length) body.templates = c.templates;
  if (c.files && Object.keys(c.files).length) body.files = c.files;
  body.playbook = c.playbook;
  const head = comment.map((l) => `# ${l}`.trimEnd()).join('\n');
  return (head ? head + '\n' : '') + stringify(body, { lineWidth: 0 });
}
