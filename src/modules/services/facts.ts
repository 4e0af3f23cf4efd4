/** systemd unit facts. */
import { sq } from '../../engine/shell.js';
import { TaskError, type Effect, type FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export interface UnitFact {
  exists: boolean;
  active: string; // active, inactive, failed, activating, ...
  enabled: string; // enabled, disabled, static, masked, ...
  needDaemonReload: boolean;
  /** systemd's CanReload: the loaded unit has an ExecReload. Check mode: undefined when not known (a unit file changed, a unit a package brings). */
  canReload?: boolean;
  /** Check mode: the unit does not exist now; a pending package install provides it (packages/apt.ts). */
  byInstall?: boolean;
  /** Check mode: it does not exist now; whether a pending install provides it is not known (the reason). */
  maybeByInstall?: string;
}

export function unitName(name: string): string {
  return /\.(service|socket|timer|target|mount|path)$/.test(name) ? name : `${name}.service`;
}

const SHOW = 'systemctl show -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload -p CanReload';
const FALLBACK = '@@one-by-one';

export const unitFact: FactKind<{ name: string }, UnitFact> = {
  kind: 'unit',
  key: (p) => `unit:${unitName(p.name)}`,
  script: (p) => `${SHOW} ${sq(unitName(p.name))} 2>/dev/null || echo LoadState=error`,
  inline: true,
  // one systemctl show for all (it prints a block per unit, in order, with an empty line
  // between); if it fails (a name it refuses), each unit on its own, as its own script would
  batch: {
    script: (ps) => {
      const names = [...new Set(ps.map((p) => sq(unitName(p.name))))].join(' ');
      return `if out=$(${SHOW} ${names} 2>/dev/null); then printf '%s\\n' "$out"; else echo ${FALLBACK}; for u in ${names}; do echo ${FALLBACK}; ${SHOW} "$u" 2>/dev/null || echo LoadState=error; done; fi`;
    },
    split: (out, ps) => {
      const names = [...new Set(ps.map((p) => unitName(p.name)))];
      const blocks = out.startsWith(`${FALLBACK}\n`) ? out.split(`${FALLBACK}\n`).slice(2) : out.split(/\n\s*\n/);
      if (blocks.length !== names.length) throw new TaskError(`systemctl show printed ${blocks.length} blocks for ${names.length} units`);
      return ps.map((p) => blocks[names.indexOf(unitName(p.name))]);
    },
  },
  parse: (out) => {
    const kv = keyValues(out);
    return {
      exists: kv.LoadState === 'loaded' || kv.LoadState === 'masked',
      active: kv.ActiveState ?? 'unknown',
      enabled: kv.UnitFileState || 'unknown',
      needDaemonReload: kv.NeedDaemonReload === 'yes',
      canReload: kv.CanReload === 'yes',
    };
  },
};

const UNIT_DIRS = /^\/(etc|run|lib|usr\/lib)\/systemd\/system\/([^/]+\.(service|socket|timer|target|mount|path))(\.d\/[^/]+\.conf)?$/;

/**
 * Check mode: writing a unit file or a drop-in. systemd loads a new unit file when it is
 * first used (a start needs no daemon-reload); an already loaded unit whose file changed, or
 * whose drop-ins changed, needs one, and what it can do after it is read again then.
 */
export function unitFileWritten(path: string, content: Buffer): Effect[] {
  const m = UNIT_DIRS.exec(path);
  if (!m) return [];
  const text = content.toString('utf8');
  const dropIn = m[4] !== undefined;
  return [
    {
      touches: (k) => k === `unit:${m[2]}`,
      apply: (before) => {
        const u = before as UnitFact;
        if (u.exists) return { ...u, needDaemonReload: true, canReload: undefined };
        // a drop-in alone does not make a unit
        if (dropIn) return u;
        const installable = /^\s*\[Install\]/m.test(text);
        return { exists: true, active: 'inactive', enabled: installable ? 'disabled' : 'static', needDaemonReload: false, canReload: /^\s*ExecReload\s*=/m.test(text) };
      },
    },
  ];
}
