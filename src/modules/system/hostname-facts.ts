/** The running kernel's host name (what `hostname` prints). */
import type { FactKind } from '../contract.js';

export const kernelHostnameFact: FactKind<Record<string, never>, string> = {
  kind: 'kernel-hostname',
  key: () => 'kernel-hostname:',
  script: () => 'cat /proc/sys/kernel/hostname',
  parse: (out) => out.trim(),
};
