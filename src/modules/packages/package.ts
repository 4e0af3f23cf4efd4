/**
 * package: Ansible's generic package module. On Debian it is apt: `name` and `state` mean what
 * they mean there (and so does check mode); `use` may only name apt.
 */
import { z } from 'zod';
import { apt } from './apt.js';

type AptArgs = typeof apt extends { schema: z.ZodType<infer A> } ? A : never;

const schema = z
  .object({ name: z.unknown(), state: z.unknown().optional(), use: z.enum(['auto', 'apt']).optional() })
  .strict()
  .transform(({ use: _use, ...a }) => a)
  .pipe(apt.schema as z.ZodType<AptArgs, { name: unknown; state?: unknown }>);

export const packageModule: typeof apt = { ...apt, name: 'package', schema };
