/**
 * Modes as Ansible's file module takes them: octal ('0644') or symbolic ('u=rwX,g=rX,o=').
 * A symbolic mode is resolved on the controller against the path's current mode and type
 * (X: execute only for a directory or where some execute bit is already set), so the plan
 * carries the octal mode it sets and check mode knows it exactly.
 */
import { z } from 'zod';

/** One clause: who (u, g, o, a; at least one), an operator, and permissions (possibly none: `o=`). */
const CLAUSE = /^([ugoa]+)([-+=])([rwxXst]*)$/;
const OCTAL = /^(0o)?[0-7]{3,4}$/;

export const isSymbolicMode = (mode: string) => !OCTAL.test(mode);

/** The `mode` argument of file: quoted octal or symbolic clauses (who is required: `+x` alone depends on the umask in Ansible). */
export const modeArg = z
  .string({ error: "a quoted octal mode like '0644' or a symbolic mode like 'u=rwX,g=rX,o=' (unquoted, YAML reads 0644 as a decimal number)" })
  .refine((m) => OCTAL.test(m) || m.split(',').every((c) => CLAUSE.test(c)), {
    message: "an octal mode like '0644' or symbolic clauses like 'u=rwX,g=rX,o=' (each naming u, g, o or a; then +, - or =; then letters of rwxXst)",
  });

const WHO: Record<string, { r: number; w: number; x: number; s: number; t: number; all: number }> = {
  u: { r: 0o400, w: 0o200, x: 0o100, s: 0o4000, t: 0, all: 0o4700 },
  g: { r: 0o040, w: 0o020, x: 0o010, s: 0o2000, t: 0, all: 0o2070 },
  o: { r: 0o004, w: 0o002, x: 0o001, s: 0, t: 0o1000, all: 0o1007 },
};

/** The octal mode ('0750') that symbolic `spec` gives a path of mode `current` ('0644'). */
export function applySymbolic(spec: string, current: string, isDir: boolean): string {
  let mode = parseInt(current, 8);
  for (const clause of spec.split(',')) {
    const m = CLAUSE.exec(clause);
    if (!m) throw new Error(`invalid symbolic mode clause '${clause}'`);
    const [, whoText, op, perms] = m;
    const who = whoText.includes('a') ? ['u', 'g', 'o'] : [...new Set(whoText)];
    // as Ansible: X looks at the mode as the clauses before it left it
    const x = isDir || (mode & 0o111) !== 0;
    let bits = 0;
    let clear = 0;
    for (const w of who) {
      const b = WHO[w];
      clear |= b.all;
      for (const p of perms) bits |= p === 'X' ? (x ? b.x : 0) : b[p as 'r' | 'w' | 'x' | 's' | 't'];
    }
    if (op === '+') mode |= bits;
    else if (op === '-') mode &= ~bits;
    else mode = (mode & ~clear) | bits;
  }
  return mode.toString(8).padStart(4, '0');
}

/** The mode `spec` (octal or symbolic) sets on a path now of mode `current`; undefined: no mode given. */
export function modeFor(spec: string | undefined, current: string | undefined, isDir: boolean): string | undefined {
  if (spec === undefined) return undefined;
  if (!isSymbolicMode(spec)) return spec.replace(/^0o/, '').padStart(4, '0');
  return applySymbolic(spec, current ?? '0000', isDir);
}
