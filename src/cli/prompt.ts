/** Read a line from the terminal without echoing it (for passwords). */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ConfigError } from '../load/yaml.js';

export function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    return Promise.reject(new ConfigError('--ask-become-pass needs a terminal; set PROVISION_BECOME_PASSWORD instead'));
  }
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolveFn) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolveFn(answer);
    });
    muted = true;
  });
}
