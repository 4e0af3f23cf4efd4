/** systemd unit facts. */
import { sq } from '../../engine/shell.js';
import type { Effect, FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export interface UnitFact {
  exists: boolean;
  active: string; // active, inactive, failed, activating, ...
  enabled: string; // enabled, disabled, static, masked, ...
  needDaemonReload: boolean;
  /** Check mode: the unit does not exist now; a pending package install provides it (packages/apt.ts). */
  byInstall?: boolean;
  /** Check mode: it does not exist now; whether a pending install provides it is not known (the reason). */
  maybeByInstall?: string;
}

export function unitName(name: string): string {
  return /\.(service|socket|timer|target|mount|path)$/.test(name) ? name : `${name}.service`;
}

export const unitFact: FactKind<{ name: string }, UnitFact> = {
  kind: 'unit',
  key: (p) => `unit:${unitName(p.name)}`,
  script: (p) =>
    `systemctl show -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload ${sq(unitName(p.name))} 2>/dev/null || echo LoadState=error`,
  parse: (out) => {
    const kv = keyValues(out);
    return {
      exists: kv.LoadState === 'loaded' || kv.LoadState === 'masked',
      active: kv.ActiveState ?? 'unknown',
      enabled: kv.UnitFileState || 'unknown',
      needDaemonReload: kv.NeedDaemonReload === 'yes',
    };
  },
};

const UNIT_DIRS = /^\/(etc|run|lib|usr\/lib)\/systemd\/system\/([^/]+\.(service|socket|timer|target|mount|path))$/;

/**
 * Check mode: writing a unit file. systemd loads a new unit file when it is first used (a
 * start needs no daemon-reload); an already loaded unit whose file changed needs one.
 */
export function unitFileWritten(path: string, content: Buffer): Effect[] {
  const m = UNIT_DIRS.exec(path);
  if (!m) return [];
  const installable = /^\s*\[Install\]/m.test(content.toString('utf8'));
  return [
    {
      touches: (k) => k === `unit:${m[2]}`,
      apply: (before) => {
        const u = before as UnitFact;
        return u.exists ? { ...u, needDaemonReload: true } : { exists: true, active: 'inactive', enabled: installable ? 'disabled' : 'static', needDaemonReload: false };
      },
    },
  ];
}
