/**
 * --list-hosts, --list-tasks, --list-tags: what `ansible-playbook` prints for them, in its
 * format (an Ansible user reads it the same way), from the tree known at load; no host is
 * contacted. Differences from Ansible: a block's rescue and always sections are listed too (Ansible
 * lists only its block section); hosts are in inventory order (Ansible's order varies).
 */
import type { Inventory } from '../load/inventory.js';
import type { Node, Play } from '../load/tree.js';

export interface ListOptions {
  hosts: boolean;
  tasks: boolean;
  tags: boolean;
  /** the hosts --limit selects (undefined: no --limit) */
  limited?: Set<string>;
  onlyTags: string[];
  skipTags: string[];
  selectHosts: (inventory: Inventory, pattern: string) => string[];
}

/** The engine's tag selection (Runner.selected in engine/scheduler.ts), so the list is what runs. */
function selected(tags: string[], o: ListOptions): boolean {
  if (o.skipTags.length && tags.some((t) => o.skipTags.includes(t))) return false;
  if (o.onlyTags.length === 0) return true;
  return tags.includes('always') || tags.some((t) => o.onlyTags.includes(t));
}

const sorted = (tags: Iterable<string>) => [...new Set(tags)].sort();

/** The tasks of a play as listed: [name, tags] in order; includes as themselves. */
function listedTasks(play: Play, o: ListOptions): { name: string; tags: string[] }[] {
  const out: { name: string; tags: string[] }[] = [];
  const visit = (ns: Node[]) => {
    for (const n of ns) {
      if (n.kind === 'block') [n.block, n.rescue, n.always].forEach(visit);
      else if (n.kind === 'task' && n.implicit) continue;
      else if (selected(n.tags, o)) out.push({ name: n.name, tags: sorted([...play.tags, ...n.tags]) });
    }
  };
  visit(play.body);
  return out;
}

/** Python's repr of a list of one string (Ansible prints `pattern: ['web']`). */
const pyList = (s: string) => `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;

export function listPlaybooks(playbooks: { shown: string; plays: Play[] }[], inventory: Inventory, o: ListOptions): string {
  let out = '';
  for (const pb of playbooks) {
    out += `\nplaybook: ${pb.shown}\n`;
    for (const [i, play] of pb.plays.entries()) {
      out += `\n  play #${i + 1} (${play.hosts}): ${play.name}\tTAGS: [${sorted(play.tags).join(',')}]\n`;
      if (o.hosts) {
        const hosts = o.selectHosts(inventory, play.hosts).filter((h) => !o.limited || o.limited.has(h));
        out += `    pattern: ${pyList(play.hosts)}\n    hosts (${hosts.length}):\n${hosts.map((h) => `      ${h}\n`).join('')}`;
      }
      if (!o.tasks && !o.tags) continue;
      const tasks = listedTasks(play, o);
      if (o.tasks) out += `    tasks:\n${tasks.map((t) => `      ${t.name}\tTAGS: [${t.tags.join(', ')}]\n`).join('')}`;
      if (o.tags) out += `      TASK TAGS: [${sorted([...play.tags, ...tasks.flatMap((t) => t.tags)]).join(', ')}]\n`;
    }
  }
  return out;
}
