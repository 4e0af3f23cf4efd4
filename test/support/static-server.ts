/**
 * A static file server for tests: the files under `dir` (git's dumb HTTP protocol is static
 * files too), on `host` at a free port; anything else is a 404. Test hosts reach it at the
 * testbed bridge's address, so nothing leaves the machine.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';

export interface StaticServer {
  server: Server;
  port: number;
  /** The paths asked for, in order. */
  requests: string[];
}

export function serveStatic(dir: string, host: string): Promise<StaticServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    let file: string;
    try {
      file = normalize(join(dir, decodeURIComponent((req.url ?? '/').split('?')[0])));
    } catch {
      return void res.writeHead(400).end();
    }
    if (!file.startsWith(dir + '/') || !statSync(file, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end();
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, host, () => ok({ server, port: (server.address() as { port: number }).port, requests }));
  });
}
