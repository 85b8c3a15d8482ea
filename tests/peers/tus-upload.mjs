#!/usr/bin/env node
// tus-upload.mjs: uploads one file with the real tus-js-client (Node build) to a tus server.
//
//   node tus-upload.mjs --endpoint URL --token T --file PATH
//        [--chunk-size N] [--parallel N] [--interrupt-after BYTES] [--resume-url URL]
//        [--name REMOTE] [--metadata-sha1] [--timeout SECS]
//
// The file is read through tus-js-client's Node file source (an fs.ReadStream that it reopens
// per chunk), never loaded whole. Every request carries `Authorization: Bearer T`; the upload
// carries the metadata `filename` (the last part of REMOTE) and `relativePath` (REMOTE, by
// default the file's own name), plus `sha1` (hex of the whole file) with --metadata-sha1.
//
// --chunk-size N      bytes per PATCH (default: the whole rest of the file in one PATCH)
// --parallel N        tus-js-client's `parallelUploads: N` (partial uploads + concatenation)
// --interrupt-after B abort (without terminating) once the server confirmed at least B bytes,
//                     then print the upload URL so that a second run can resume it
// --resume-url URL    resume that upload (tus-js-client's `uploadUrl`): HEAD, then go on from
//                     the server's offset
//
// Success prints one JSON line on stdout and exits 0:
//   {"url":..., "bytes":<file size>, "seconds":..., "resumed_from":<offset or null>,
//    "interrupted":false}
// or, with --interrupt-after, {"url":..., "bytes":<bytes confirmed>, "seconds":...,
//    "interrupted":true}. Failure prints `tus-upload: <what>` on stderr and exits 1
// (2 for bad arguments).

import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { Upload } from 'tus-js-client';

const NAME = 'tus-upload';

// stdout and stderr are synchronous for files and pipes on Linux, so exiting at once loses
// nothing.
function fail(code, message) {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(code);
}

function positiveInt(name, value, fallback) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    fail(2, `--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

async function sha1Hex(file) {
  const hash = createHash('sha1');
  for await (const piece of createReadStream(file)) hash.update(piece);
  return hash.digest('hex');
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        endpoint: { type: 'string' },
        token: { type: 'string' },
        file: { type: 'string' },
        'chunk-size': { type: 'string' },
        parallel: { type: 'string' },
        'interrupt-after': { type: 'string' },
        'resume-url': { type: 'string' },
        name: { type: 'string' },
        'metadata-sha1': { type: 'boolean', default: false },
        timeout: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    fail(2, e.message);
  }
  for (const needed of ['endpoint', 'token', 'file']) {
    if (!args[needed]) fail(2, `--${needed} is required`);
  }
  const chunkSize = positiveInt('chunk-size', args['chunk-size'], Number.POSITIVE_INFINITY);
  const parallel = positiveInt('parallel', args.parallel, 1);
  const interruptAfter = positiveInt('interrupt-after', args['interrupt-after'], null);
  const timeoutSecs = positiveInt('timeout', args.timeout, 600);
  if (parallel > 1 && (interruptAfter !== null || args['resume-url'])) {
    fail(2, '--parallel cannot be combined with --interrupt-after or --resume-url');
  }

  const stat = await fsp.stat(args.file).catch((e) => fail(1, `cannot read ${args.file}: ${e.message}`));
  const remote = args.name ?? path.basename(args.file);
  const metadata = { filename: remote.split('/').pop(), relativePath: remote };
  if (args['metadata-sha1']) metadata.sha1 = await sha1Hex(args.file);

  const timer = setTimeout(
    () => fail(1, `the upload did not finish within ${timeoutSecs} s`),
    timeoutSecs * 1000,
  );

  let resumedFrom = null;
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;

  const result = await new Promise((resolve, reject) => {
    let interrupted = false;
    const upload = new Upload(createReadStream(args.file), {
      endpoint: args.endpoint,
      uploadUrl: args['resume-url'] ?? null,
      headers: { Authorization: `Bearer ${args.token}` },
      metadata,
      chunkSize,
      parallelUploads: parallel,
      // A few quick retries, as an application would configure; a server that keeps failing
      // still fails the run within seconds.
      retryDelays: [0, 500, 2000],
      // Record where a resumed upload went on from: the HEAD answer's Upload-Offset.
      onAfterResponse(req, res) {
        if (req.getMethod() === 'HEAD' && resumedFrom === null) {
          const offset = res.getHeader('Upload-Offset');
          if (offset !== undefined && offset !== null) resumedFrom = Number(offset);
        }
      },
      onChunkComplete(_chunk, accepted) {
        if (interruptAfter !== null && !interrupted && accepted >= interruptAfter) {
          interrupted = true;
          // abort(false): stop sending, keep the upload on the server so it can be resumed.
          upload
            .abort(false)
            .then(() => resolve({ url: upload.url, bytes: accepted, seconds: seconds(), interrupted: true }))
            .catch(reject);
        }
      },
      onSuccess() {
        if (interrupted) return;
        if (interruptAfter !== null) {
          reject(new Error(`the upload finished before ${interruptAfter} bytes were confirmed in one chunk; use a smaller --chunk-size`));
          return;
        }
        resolve({ url: upload.url, bytes: stat.size, seconds: seconds(), resumed_from: resumedFrom, interrupted: false });
      },
      onError(error) {
        reject(error);
      },
    });
    upload.start();
  }).catch((e) => fail(1, `upload of ${args.file} to ${args['resume-url'] ?? args.endpoint} failed: ${e.message}`));
  clearTimeout(timer);
  if (!result.url) fail(1, 'the upload has no URL (the server sent no Location)');
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Exit explicitly: idle keep-alive sockets must not keep the process alive.
  process.exit(0);
}

main().catch((e) => fail(1, e.stack ?? String(e)));
