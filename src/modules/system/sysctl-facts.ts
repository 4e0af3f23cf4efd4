/** A kernel setting as /proc/sys shows it. */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export interface SysctlFact {
  exists: boolean;
  /** Whether it can be written here (a container mounts most of /proc/sys read-only). */
  writable: boolean;
  /** The value, its fields separated by one space (the kernel separates them by tabs). */
  value?: string;
}

export const procPath = (name: string) => `/proc/sys/${name.replaceAll('.', '/')}`;

export const sysctlFact: FactKind<{ name: string }, SysctlFact> = {
  kind: 'sysctl',
  key: (p) => `sysctl:${p.name}`,
  script: (p) =>
    [
      `p=${sq(procPath(p.name))}`,
      `if [ -f "$p" ]; then echo exists=yes; if [ -w "$p" ]; then echo writable=yes; fi`,
      `  if v=$(tr -s '\\t\\n' '  ' < "$p" 2>/dev/null); then printf 'value=%s\\n' "$v"; fi; fi`,
    ].join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    const f: SysctlFact = { exists: kv.exists === 'yes', writable: kv.writable === 'yes' };
    if (kv.value !== undefined) f.value = normalValue(kv.value);
    return f;
  },
};

/** One space between fields (the kernel prints them back separated by tabs). */
export function normalValue(v: string): string {
  return v.trim().split(/\s+/).filter(Boolean).join(' ');
}

/** A number the kernel would not print back as written: 065 (read as octal 53), +5, 0x10. */
export const unprintable = (v: string) => v.split(/\s+/).some((x) => /^([+]|-?0\d|-?0x)/i.test(x));
