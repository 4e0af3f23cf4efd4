/**
 * sysctl: a kernel setting in a sysctl file (default /etc/sysctl.conf) and, with `reload`, in
 * the running kernel. As Ansible's: the file changes only when its value for the name differs
 * (it is then rewritten with one `name=value` line per setting, duplicates dropped); `reload`
 * applies the setting when the file changed, `sysctl_set` also when only the kernel differs.
 * Unlike Ansible, reload sets this one setting (`sysctl -w`), not every setting of the file
 * (`sysctl -p`): check mode then knows exactly what the kernel is given.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { setsTo, unknownUnder } from '../../engine/prediction.js';
import { fact, TaskError, type Change, type Effect, type ModuleContext, type StateModule } from '../contract.js';
import { contentFootprint } from '../files/content.js';
import { normalValue, procPath, unprintable, sysctlFact, type SysctlFact } from './sysctl-facts.js';
import { linesOf, planText, predictText, textFileFacts, textOf, textOfLines, type TextFileFacts } from './text-file.js';

const TRUE = new Set(['y', 'yes', 'on', '1', 'true', 't']);
const FALSE = new Set(['n', 'no', 'off', '0', 'false', 'f']);

/** Ansible's value: booleans (and their spellings) are 1 and 0. */
function parseValue(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  const s = String(v).trim();
  if (TRUE.has(s.toLowerCase())) return '1';
  if (FALSE.has(s.toLowerCase())) return '0';
  return s;
}

const schema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a kernel setting such as net.ipv4.ip_forward (letters, digits, _ - and dots; no spaces or slashes)'),
    value: z.union([z.string(), z.number(), z.boolean()]).transform(parseValue).optional(),
    state: z.enum(['present', 'absent']).default('present'),
    sysctl_file: z.string().regex(/^\/[^\0]*[^/]$/, 'an absolute file path').default('/etc/sysctl.conf'),
    reload: z.boolean().default(true),
    sysctl_set: z.boolean().default(false),
  })
  .strict()
  .refine((a) => a.state === 'absent' || (a.value !== undefined && a.value !== ''), { message: "state: present needs a 'value'" })
  .refine((a) => a.value === undefined || !/[\n\r]/.test(a.value), { message: "'value' must be one line" })
  .refine((a) => a.value === undefined || !unprintable(a.value), { message: "'value': write numbers in decimal without a sign or leading zeros (the kernel reads 065 as octal 53, and prints numbers back in decimal)" });

type Args = z.infer<typeof schema>;
type Facts = TextFileFacts & { kernel: SysctlFact };

const same = (a: string, b: string) => normalValue(a) === normalValue(b);

/** The file's settings: name -> first value (comments, blank lines and lines without '=' are not settings). */
function isSetting(line: string): boolean {
  const t = line.trim();
  return t !== '' && !t.startsWith('#') && !t.startsWith(';') && t.includes('=');
}

function fileValue(lines: string[], name: string): string | undefined {
  for (const l of lines.filter(isSetting)) {
    const [k, ...v] = l.trim().split('=');
    if (k.trim() === name) return v.join('=').trim();
  }
  return undefined;
}

/** Ansible's rewrite of the file: `k=v` per setting, the first of duplicates kept, the name set or dropped. */
export function rewrite(lines: string[], name: string, value: string | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const l of lines) {
    if (!isSetting(l)) {
      out.push(l);
      continue;
    }
    const t = l.trim();
    const i = t.indexOf('=');
    const k = t.slice(0, i).trim();
    if (seen.has(k)) continue;
    seen.add(k);
    if (k !== name) out.push(`${k}=${t.slice(i + 1).trim()}`);
    else if (value !== undefined) out.push(`${k}=${value}`);
  }
  if (!seen.has(name) && value !== undefined) out.push(`${name}=${value}`);
  return out;
}

/** The file's new text, or undefined when its value for the name is already the wanted one. */
function newText(args: Args, facts: Facts, ctx: Pick<ModuleContext, 'check'>): string | undefined {
  const lines = linesOf(textOf(facts.file, args.sysctl_file, ctx) ?? '');
  const current = fileValue(lines, args.name);
  const want = args.state === 'present' ? args.value! : undefined;
  if (want === undefined ? current === undefined : current !== undefined && same(current, want)) return undefined;
  return textOfLines(rewrite(lines, args.name, want));
}

/** Whether the running kernel is given the value: when the file changed (reload), or it differs (sysctl_set). */
function setsKernel(args: Args, facts: Facts, fileChanges: boolean): boolean {
  if (args.state !== 'present' || !((fileChanges && args.reload) || args.sysctl_set)) return false;
  const k = facts.kernel;
  if (!k.exists) throw new TaskError(`no kernel setting ${args.name} on this host (${procPath(args.name)} does not exist)`);
  if (k.value !== undefined && same(k.value, args.value!)) return false;
  if (!k.writable) throw new TaskError(`${args.name} cannot be set on this host (${procPath(args.name)} is read-only, as most of /proc/sys in a container)`);
  return true;
}

export const sysctl: StateModule<Args, Facts> = {
  name: 'sysctl',
  type: 'state',
  schema,
  facts: (args, ctx) => ({ ...textFileFacts(args.sysctl_file, ctx), kernel: fact(sysctlFact, { name: args.name }) }),
  plan(args, facts, ctx) {
    const text = newText(args, facts, ctx);
    const changes: Change[] = text === undefined ? [] : planText({ dest: args.sysctl_file }, text, facts.file, ctx);
    if (setsKernel(args, facts, text !== undefined)) {
      const v = normalValue(args.value!);
      changes.push({
        action: 'set',
        target: `sysctl ${args.name}`,
        summary: `${args.name} ${facts.kernel.value ?? '?'} -> ${v} in the running kernel`,
        commands: [{ cmd: `sysctl -q -w ${sq(`${args.name}=${args.value!}`)}` }],
      });
    }
    return changes;
  },
  predict(args, facts, changes, ctx) {
    const text = newText(args, facts, ctx);
    const effects: Effect[] = text === undefined ? [] : predictText({ dest: args.sysctl_file }, text, facts);
    if (changes.some((c) => c.action === 'set')) effects.push(setsTo(`sysctl:${args.name}`, { exists: true, writable: true, value: normalValue(args.value!) }));
    return effects;
  },
  footprint: (args) => [...contentFootprint(args.sysctl_file), unknownUnder(`sysctl:${args.name}`, `${args.name} is set by a task whose outcome is unknown in check mode`)],
};
