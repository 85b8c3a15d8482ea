#!/usr/bin/env node
// tus-node-server.mjs: the real @tus/server with @tus/file-store, as a reference peer for
// benchmarks and client interop tests.
//
//   node tus-node-server.mjs --dir DIR [--port N]
//
// Listens on 127.0.0.1 only (port 0 by default: a free port), serves tus at `/files/` and,
// once it accepts connections, prints one line on stdout, shaped like ferry-server's:
//   listening on http://127.0.0.1:PORT
// Uploads land in DIR (created if missing). @tus/server checks no credentials: an
// `Authorization` header is accepted and ignored. Stops on SIGINT or SIGTERM.
// Failure prints `tus-node-server: <what>` on stderr and exits 1 (2 for bad arguments).

import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

function fail(code, message) {
  process.stderr.write(`tus-node-server: ${message}\n`);
  process.exit(code);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: { port: { type: 'string', default: '0' }, dir: { type: 'string' } },
    strict: true,
  }));
} catch (e) {
  fail(2, e.message);
}
if (!args.dir) fail(2, '--dir is required');
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(2, `bad --port ${args.port}`);

try {
  mkdirSync(args.dir, { recursive: true });
} catch (e) {
  fail(1, `cannot create ${args.dir}: ${e.message}`);
}

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: args.dir }) });
const server = http.createServer((req, res) => {
  tus.handle(req, res).catch((e) => {
    process.stderr.write(`tus-node-server: request failed: ${e.stack ?? e}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
server.on('error', (e) => fail(1, `cannot listen on 127.0.0.1:${port}: ${e.message}`));
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
