/** service: a systemd unit started/stopped/restarted/reloaded (a unit without ExecReload is restarted) and enabled/disabled. */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Effect, type StateModule } from '../contract.js';
import { unknownUnder, UnknownFact } from '../../engine/prediction.js';
import { unitFact, unitName, type UnitFact } from './facts.js';

const schema = z
  .object({
    name: z.string().min(1),
    state: z.enum(['started', 'stopped', 'restarted', 'reloaded']).optional(),
    enabled: z.boolean().optional(),
    daemon_reload: z.boolean().default(false),
  })
  .strict()
  .refine((a) => a.state !== undefined || a.enabled !== undefined || a.daemon_reload, { message: "give 'state' and/or 'enabled'" });

type Args = z.infer<typeof schema>;

/**
 * systemctl with one retry after a second: in containers a job occasionally fails
 * transiently (e.g. 219/CGROUP right after a oneshot unit started). A real failure fails twice.
 */
function ctl(verb: string, unit: string): string {
  return `systemctl ${verb} ${unit} || { sleep 1; systemctl ${verb} ${unit}; }`;
}

const ENABLED = new Set(['enabled', 'enabled-runtime', 'static', 'indirect', 'generated', 'alias']);

export const service: StateModule<Args, { unit: UnitFact }> = {
  name: 'service',
  type: 'state',
  schema,
  facts: (args) => ({ unit: fact(unitFact, { name: args.name }) }),
  plan(args, { unit }) {
    const name = unitName(args.name);
    const u = sq(name);
    const changes: Change[] = [];
    if (!unit.exists && unit.maybeByInstall) throw new Unknown(unit.maybeByInstall);
    if (!unit.exists) throw new TaskError(`unit ${name} not found on this host (is its package installed?)`);
    if (unit.byInstall) {
      // Check mode: the unit comes with a package an earlier task installs. Packages are
      // installed with services stopped, so a start is certain; enablement is not.
      if (args.state === undefined || args.state === 'stopped') {
        throw new Unknown(`${name} does not exist yet (provided by a pending package install); its enablement after install cannot be predicted`);
      }
      changes.push({ action: 'start', target: name, summary: `start ${name} (unit provided by a pending package install)`, commands: [{ cmd: ctl('start', u) }] });
      if (args.enabled === true) changes.push({ action: 'enable', target: name, summary: `enable ${name} (if the package did not)`, commands: [{ cmd: `systemctl enable ${u}` }] });
      return changes;
    }
    // A unit file changed on disk is always reloaded first (systemd says so: NeedDaemonReload);
    // `daemon_reload: true` is accepted for Ansible familiarity and means the same.
    if (unit.needDaemonReload) {
      changes.push({ action: 'daemon-reload', target: name, summary: `systemctl daemon-reload (${name} changed on disk)`, commands: [{ cmd: 'systemctl daemon-reload' }] });
    }
    const active = unit.active === 'active' || unit.active === 'activating' || unit.active === 'reloading';
    switch (args.state) {
      case 'started':
        if (!active) changes.push({ action: 'start', target: name, summary: `start ${name} (${unit.active})`, commands: [{ cmd: ctl('start', u) }] });
        break;
      case 'stopped':
        if (active) changes.push({ action: 'stop', target: name, summary: `stop ${name}`, commands: [{ cmd: ctl('stop', u) }] });
        break;
      case 'restarted':
        if (!active) changes.push({ action: 'start', target: name, summary: `start ${name} (${unit.active})`, commands: [{ cmd: ctl('start', u) }] });
        else changes.push({ action: 'restart', target: name, summary: `restart ${name}`, oneShot: true, commands: [{ cmd: ctl('restart', u) }] });
        break;
      case 'reloaded':
        if (!active) changes.push({ action: 'start', target: name, summary: `start ${name} (${unit.active})`, commands: [{ cmd: ctl('start', u) }] });
        // systemd refuses to reload a unit without ExecReload: reload-or-restart restarts it
        // instead, so the outcome does not hang on what a unit a pending install brings can do
        else if (unit.canReload === false && !unit.needDaemonReload) changes.push({ action: 'restart', target: name, summary: `restart ${name} (it has no ExecReload)`, oneShot: true, commands: [{ cmd: ctl('restart', u) }] });
        else changes.push({ action: 'reload', target: name, summary: `reload ${name}`, oneShot: true, commands: [{ cmd: ctl('reload-or-restart', u) }] });
        break;
    }
    if (args.enabled === true && !ENABLED.has(unit.enabled)) {
      if (unit.enabled === 'masked') throw new TaskError(`${name} is masked; unmask it first`);
      changes.push({ action: 'enable', target: name, summary: `enable ${name} (${unit.enabled})`, commands: [{ cmd: `systemctl enable ${u}` }] });
    }
    if (args.enabled === false && (unit.enabled === 'enabled' || unit.enabled === 'enabled-runtime')) {
      changes.push({ action: 'disable', target: name, summary: `disable ${name}`, commands: [{ cmd: `systemctl disable ${u}` }] });
    }
    return changes;
  },
  footprint(args) {
    const name = unitName(args.name);
    const why = `${name} is managed by a task whose outcome is unknown in check mode`;
    return [unknownUnder(`unit:${name}`, why), ...(/^(mariadb|mysql)\.service$/.test(name) ? [unknownUnder('mysql_', why)] : [])];
  },
  predict(args, { unit }) {
    const name = unitName(args.name);
    const active = args.state === undefined ? unit.active : args.state === 'stopped' ? 'inactive' : 'active';
    const enabled =
      args.enabled === undefined ? unit.enabled : args.enabled ? (ENABLED.has(unit.enabled) ? unit.enabled : 'enabled') : unit.enabled === 'static' ? 'static' : 'disabled';
    const effects: Effect[] = [
      {
        touches: (k) => k === `unit:${name}`,
        // enablement of a unit a package brings is not known (the package may enable it)
        apply: () =>
          unit.byInstall && args.enabled === undefined
            ? new UnknownFact(`whether the package enabled ${name}`)
            : // after a daemon-reload, whether it can reload comes from the new unit file
              { exists: true, active, enabled, needDaemonReload: false, canReload: unit.needDaemonReload || unit.byInstall ? undefined : unit.canReload },
      },
    ];
    if (/^(mariadb|mysql)\.service$/.test(name) && active === 'active') effects.push(databaseServerStarts(name, Boolean(unit.byInstall)));
    return effects;
  },
};

/** Starting the database server: what the MySQL modules then read (mysql/facts.ts). */
function databaseServerStarts(name: string, fresh: boolean): Effect {
  return {
    touches: (k) => k.startsWith('mysql_'),
    apply: (before) => {
      const f = before as { server: string; freshServer?: boolean };
      // running now, or already predicted to start fresh: a (re)start keeps its data
      if (f.server === 'ok' || f.freshServer) return before;
      // a freshly installed server starts empty; a stopped one has data nobody has read
      return fresh ? { ...f, freshServer: true } : new UnknownFact(`${name} is started by an earlier task; its databases and accounts are known only then`);
    },
  };
}
