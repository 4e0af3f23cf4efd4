/**
 * systemd (also `systemd_service`): the service module's states and enablement, plus `masked`.
 * Masking links /etc/systemd/system/NAME to /dev/null (systemctl refuses when a unit file of
 * that name is there); unmasking removes that link, and what the unit then is (its file, its
 * enablement) is read again only when the task runs, so check mode says unknown after it.
 * Only `scope: system`; `daemon_reload` as in service (a reload whenever systemd says a unit
 * file changed on disk).
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { UnknownFact } from '../../engine/prediction.js';
import { fact, TaskError, type Change, type Effect, type StateModule } from '../contract.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { pathBecomes, removedTree, unknownTree } from '../files/effects.js';
import { unitFact, unitName, type UnitFact } from './facts.js';
import { service } from './service.js';

const schema = z
  .object({
    name: z.string().min(1),
    state: z.enum(['started', 'stopped', 'restarted', 'reloaded']).optional(),
    enabled: z.boolean().optional(),
    masked: z.boolean().optional(),
    daemon_reload: z.boolean().default(false),
    scope: z.literal('system', { message: 'only scope: system is supported' }).default('system'),
  })
  .strict()
  .refine((a) => a.state !== undefined || a.enabled !== undefined || a.masked !== undefined || a.daemon_reload, { message: "give 'state', 'enabled', 'masked' and/or 'daemon_reload'" })
  .refine((a) => a.masked !== true || (a.enabled !== true && (a.state === undefined || a.state === 'stopped')), { message: 'a masked unit cannot be enabled or started' });

type Args = z.infer<typeof schema>;
type Facts = { unit: UnitFact; link: FileFact };

const MASK_DIR = '/etc/systemd/system';
const linkPath = (args: Args) => `${MASK_DIR}/${unitName(args.name)}`;
const serviceArgs = (a: Args) => ({ name: a.name, state: a.state, enabled: a.enabled, daemon_reload: a.daemon_reload });

function planMask(args: Args, f: Facts): Change[] {
  const name = unitName(args.name);
  const path = linkPath(args);
  const masked = f.unit.enabled === 'masked';
  if (args.masked === true && !masked) {
    if (f.link.type !== 'absent' && !(f.link.type === 'link' && f.link.target === '/dev/null')) {
      throw new TaskError(`cannot mask ${name}: ${path} exists (a unit file there cannot be masked; remove it first)`);
    }
    return [{ action: 'mask', target: name, summary: `mask ${name}`, commands: [{ cmd: `systemctl mask ${sq(name)}` }] }];
  }
  if (args.masked === false && masked) return [{ action: 'unmask', target: name, summary: `unmask ${name}`, commands: [{ cmd: `systemctl unmask ${sq(name)}` }] }];
  return [];
}

export const systemd: StateModule<Args, Facts> = {
  name: 'systemd',
  type: 'state',
  schema,
  facts: (args) => ({ unit: fact(unitFact, { name: args.name }), link: fact(fileFact, { path: linkPath(args) }) }),
  plan(args, facts, ctx, local) {
    const name = unitName(args.name);
    const changes = planMask(args, facts);
    const rest = args.state !== undefined || args.enabled !== undefined || (args.daemon_reload && facts.unit.exists);
    if (!rest) return changes;
    if (changes.some((c) => c.action === 'unmask')) {
      // what the unit is once unmasked is read only when it runs: start and enable it as asked
      const why = `what ${name} is once unmasked (its unit file, its enablement) is known only when the task runs`;
      const u = sq(name);
      if (args.state !== undefined && args.state !== 'stopped') changes.push({ action: 'start', target: name, summary: `${args.state === 'started' ? 'start' : args.state.replace(/ed$/, '')} ${name}`, uncertain: why, commands: [{ cmd: `systemctl ${args.state === 'started' ? 'start' : args.state === 'restarted' ? 'restart' : 'reload-or-restart'} ${u}` }] });
      if (args.enabled !== undefined) changes.push({ action: args.enabled ? 'enable' : 'disable', target: name, summary: `${args.enabled ? 'enable' : 'disable'} ${name}`, uncertain: why, commands: [{ cmd: `systemctl ${args.enabled ? 'enable' : 'disable'} ${u}` }] });
      return changes;
    }
    // a unit masked here (or masked already) is handled as service handles it, masked
    const unit = changes.length ? { ...facts.unit, exists: true, enabled: 'masked' } : facts.unit;
    return [...changes, ...service.plan(serviceArgs(args), { unit }, ctx, local)];
  },
  predict(args, facts, changes, ctx, local) {
    const name = unitName(args.name);
    const names = [linkPath(args)];
    const effects: Effect[] = [];
    if (changes.some((c) => c.action === 'unmask')) {
      return [
        { touches: (k) => k === `unit:${name}`, apply: () => new UnknownFact(`${name} is unmasked by an earlier task: what it is then is known only when it runs`) },
        removedTree(names),
      ];
    }
    let unit = facts.unit;
    if (changes.some((c) => c.action === 'mask')) {
      // systemctl mask reloads systemd, which then loads the unit as masked
      unit = { exists: true, active: unit.exists ? unit.active : 'inactive', enabled: 'masked', needDaemonReload: false, canReload: false };
      effects.push(pathBecomes(names, () => ({ type: 'link', parentExists: true, target: '/dev/null', mode: '0777', owner: 'root', group: 'root' })));
    }
    const rest = changes.filter((c) => c.action !== 'mask');
    const after = rest.length && service.predict ? service.predict(serviceArgs(args), { unit }, rest, ctx, local) : [];
    const fixed = unit;
    return [...effects, ...(after.length ? after : [{ touches: (k: string) => k === `unit:${name}`, apply: () => fixed }])];
  },
  footprint: (args, ctx) => [...(service.footprint?.(serviceArgs(args), ctx) ?? []), unknownTree([linkPath(args)], `${linkPath(args)} may be (un)masked by a task whose outcome is unknown in check mode`)],
};

/** Ansible's other name for it. */
export const systemdService: StateModule<Args, Facts> = { ...systemd, name: 'systemd_service' };
