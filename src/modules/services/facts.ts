/** systemd unit facts. */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export interface UnitFact {
  exists: boolean;
  active: string; // active, inactive, failed, activating, ...
  enabled: string; // enabled, disabled, static, masked, ...
  needDaemonReload: boolean;
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
