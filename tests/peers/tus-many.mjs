#!/usr/bin/env node
// tus-many.mjs: uploads every file under a folder with the real tus-js-client (Node build),
// N uploads at a time, as a web uploader such as Uppy does (its default is 20 at a time).
//
//   node tus-many.mjs --endpoint URL --token T --dir DIR [--parallel N] [--prefix P]
//
// Each file is one tus upload (creation, then one PATCH with the whole file) carrying the
// metadata `filename` (its name) and `relativePath` (P/ its path under DIR), and
// `Authorization: Bearer T` on every request. Files are read through tus-js-client's Node
// file source, never loaded whole. Success prints one JSON line on stdout and exits 0:
//   {"files": <count>, "bytes": <total>, "seconds": <wall time of the uploads>}
// Failure prints `tus-many: <what>` on stderr and exits 1 (2 for bad arguments).

import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { Upload } from 'tus-js-client';

function fail(code, message) {
  process.stderr.write(`tus-many: ${message}\n`);
  process.exit(code);
}

async function filesUnder(dir) {
  const found = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.push(path.join(entry.parentPath ?? entry.path, entry.name));
  }
  return found.sort();
}

function upload(file, size, args) {
  const rel = path.relative(args.dir, file).split(path.sep).join('/');
  const remote = args.prefix ? `${args.prefix}/${rel}` : rel;
  return new Promise((resolve, reject) => {
    const task = new Upload(createReadStream(file), {
      endpoint: args.endpoint,
      uploadSize: size,
      metadata: { filename: path.basename(file), relativePath: remote },
      headers: { Authorization: `Bearer ${args.token}` },
      retryDelays: [],
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: false,
      onError: reject,
      onSuccess: resolve,
    });
    task.start();
  });
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        endpoint: { type: 'string' },
        token: { type: 'string' },
        dir: { type: 'string' },
        parallel: { type: 'string', default: '20' },
        prefix: { type: 'string', default: '' },
      },
      strict: true,
    }));
  } catch (e) {
    fail(2, e.message);
  }
  for (const needed of ['endpoint', 'token', 'dir']) {
    if (!args[needed]) fail(2, `--${needed} is required`);
  }
  const parallel = Number(args.parallel);
  if (!Number.isSafeInteger(parallel) || parallel <= 0) fail(2, `bad --parallel ${args.parallel}`);
  const files = await filesUnder(args.dir);
  const sizes = await Promise.all(files.map(async (f) => (await fsp.stat(f)).size));
  const started = process.hrtime.bigint();
  let next = 0;
  async function worker() {
    while (next < files.length) {
      const i = next++;
      await upload(files[i], sizes[i], args);
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));
  } catch (e) {
    fail(1, `an upload failed: ${e.message}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bytes = sizes.reduce((a, b) => a + b, 0);
  process.stdout.write(`${JSON.stringify({ files: files.length, bytes, seconds })}\n`);
}

main().catch((e) => fail(1, e.stack ?? String(e)));
