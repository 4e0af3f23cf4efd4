/**
 * --start-at-task: where a run starts. As in Ansible, a pattern matches a task whose name, with
 * or without its role's prefix (`role : name`), equals it or matches it as a shell glob
 * (fnmatch: `*`, `?`, `[abc]`, `[!abc]`). Candidates are the tasks a host reaches walking the
 * tree known at load: tasks, includes (themselves, not what they include) and blocks' block and
 * always sections (a rescue runs only after a failure, and before the start nothing has failed).
 */
import type { Include, Node, Play, Task } from '../load/tree.js';

/** Python's fnmatch.translate, for the parts Ansible users write. */
function globRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        let set = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        else if (set.startsWith('^')) set = `\\${set}`;
        out += `[${set}]`;
        i = end;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 's');
}

/** The names a node answers to: its full name, and without its role's prefix. */
function namesOf(n: Task | Include): string[] {
  if (n.kind === 'task' && n.role && n.name.startsWith(`${n.role.name} : `)) return [n.name, n.name.slice(n.role.name.length + 3)];
  return [n.name];
}

export function startMatcher(pattern: string): (n: Task | Include) => boolean {
  const re = globRegExp(pattern);
  return (n) => !(n.kind === 'task' && n.implicit) && namesOf(n).some((name) => name === pattern || re.test(name));
}

/** The start candidates of a play, in order. */
export function startCandidates(play: Play): (Task | Include)[] {
  const out: (Task | Include)[] = [];
  const visit = (ns: Node[]) => {
    for (const n of ns) {
      if (n.kind === 'block') [n.block, n.always].forEach(visit);
      else if (!(n.kind === 'task' && n.implicit)) out.push(n);
    }
  };
  visit(play.body);
  return out;
}

/** Whether the run starts in this play (a task of it matches). */
export function playHasStart(play: Play, pattern: string): boolean {
  return startCandidates(play).some(startMatcher(pattern));
}

/** Per host and play: skipping until the first task that matches (walk.ts). */
export interface StartAt {
  matches: (n: Task | Include) => boolean;
  started: boolean;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Why a pattern cannot start the run (no task matches), with the closest names; undefined when it can. */
export function startAtError(plays: Play[], pattern: string): string | undefined {
  if (plays.some((p) => playHasStart(p, pattern))) return undefined;
  const names = [...new Set(plays.flatMap((p) => startCandidates(p).map((n) => n.name)))];
  // a role task is near by its full name or its own
  const score = (name: string) => Math.min(...[name, name.slice(name.indexOf(' : ') + 3)].map((n) => distance(n.toLowerCase(), pattern.toLowerCase())));
  const closest = names.sort((a, b) => score(a) - score(b)).slice(0, 3);
  const known = closest.length ? `; the closest task names: ${closest.map((n) => `'${n}'`).join(', ')}` : '; the playbooks have no task';
  return `--start-at-task '${pattern}': no task is named so (exactly, or as a glob with * ? [...], with or without its role's 'role : ' prefix)${known}`;
}
