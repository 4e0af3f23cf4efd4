// The lowest a Node.js controller can do (issue 21, bench/floor.sh): connect to every host of a
// list in parallel, run `true` on each, exit.
//
//   node bench/floor-ssh2.mjs TARGETS.json            ssh2, as provision connects
//   node bench/floor-ssh2.mjs TARGETS.json --openssh [SSH OPTION...]
//                                                     one OpenSSH `ssh host true` process per host
//
// TARGETS.json: [{ name, address, port, user, key, knownHosts, hostKeyPolicy }] (bench/floor.sh
// writes it from the inventory). ssh2 mode loads ssh2 the way a provision run does: the bundle's
// connection chunk (dist/bundle/cli/connection-*.js, ssh2's client module and its native
// sshcrypto.node binding), and connects with its connectSsh (the same key, host key check against
// known_hosts, algorithms and TCP_NODELAY). Then, unlike a run, it uses the ssh2 Client directly:
// one exec channel of `true` per host, no wrapper script, no sudo, then the connection is ended.
// Exit status 1 if a host fails or `true` exits non-zero.
import { readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import process from 'node:process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [file, mode, ...sshOptions] = process.argv.slice(2);
if (!file || (mode !== undefined && mode !== '--openssh')) {
  process.stderr.write('usage: node bench/floor-ssh2.mjs TARGETS.json [--openssh [SSH OPTION...]]\n');
  process.exit(2);
}
const targets = JSON.parse(readFileSync(file, 'utf8'));

function fail(t, err) {
  process.stderr.write(`${t.name}: ${err?.message ?? err}\n`);
  process.exitCode = 1;
}

if (mode === '--openssh') {
  // as the floor in bench/floor.sh: BatchMode, the key, the known_hosts, strict checking (and
  // the options given after --openssh, e.g. its key exchange)
  await Promise.all(
    targets.map(
      (t) =>
        new Promise((resolve) => {
          const args = ['-i', t.key, '-o', `UserKnownHostsFile=${t.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', String(t.port), ...sshOptions, `${t.user}@${t.address}`, 'true'];
          const p = spawn('ssh', args, { stdio: ['ignore', 'inherit', 'inherit'] });
          p.on('error', (err) => (fail(t, err), resolve()));
          p.on('exit', (code, sig) => {
            if (code !== 0) fail(t, `ssh exited ${code ?? sig}`);
            resolve();
          });
        }),
    ),
  );
} else {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bundle', 'cli');
  const chunk = readdirSync(dir).find((f) => /^connection-[A-Z0-9]+\.js$/.test(f));
  if (!chunk) throw new Error(`no connection chunk in ${dir} (run node scripts/bundle.mjs)`);
  const { connectSsh } = await import(join(dir, chunk));
  await Promise.all(
    targets.map(async (t) => {
      let client;
      try {
        const conn = await connectSsh({ ...t, become: false });
        // the authenticated ssh2 Client (SshConnection's `main`, private in TypeScript only)
        client = conn.main.client;
        const code = await new Promise((resolve, reject) => {
          client.exec('true', (err, ch) => {
            if (err) return reject(err);
            let status;
            ch.on('exit', (c) => (status = c));
            ch.on('close', () => resolve(status));
            ch.resume();
            ch.stderr.resume();
          });
        });
        if (code !== 0) fail(t, `true exited ${code}`);
      } catch (err) {
        fail(t, err);
      } finally {
        client?.end();
      }
    }),
  );
}
