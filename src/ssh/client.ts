/**
 * Start an ssh2 client connecting. provision used node-ssh only for this; ssh2's client module is
 * loaded alone, not ssh2's index (which also loads its server, HTTP agents and key generator):
 * about 40 ms less CPU per run (bench/README.md, issue 21).
 */
import Client from 'ssh2/lib/client.js';

export interface Connecting {
  /** The ssh2 Client, which exists before anything is received: attach listeners right away. */
  client: any;
  /** Resolves once authenticated; rejects with ssh2's error, or when the connection closes first. */
  ready: Promise<void>;
}

export function connectClient(cfg: Record<string, unknown>): Connecting {
  const client = new Client();
  const ready = new Promise<void>((resolve, reject) => {
    client.on('error', reject);
    client.on('ready', () => {
      client.removeListener('error', reject);
      resolve();
    });
    // as node-ssh: a close before 'ready' (no error event) is a timeout to the caller
    client.on('close', () => reject(Object.assign(new Error('No response from server'), { code: 'ETIMEDOUT' })));
    client.connect(cfg);
  });
  return { client, ready };
}
