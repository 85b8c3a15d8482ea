#!/usr/bin/env node
// galileo-original.mjs: a GalileoSend client that behaves exactly like the original 2013
// JavaScript client (as the protocol text in docs/protocol/galileosend.md, section 1,
// describes it), driven from Node over the `ws` WebSocket client. It knows nothing of
// Ferry's resume extension: it is the "old client" of the compatibility rules.
//
//   node galileo-original.mjs --url ws://HOST/galileo?access_token=T --file PATH
//        [--name NAME] [--timeout SECS]
//
// What it does, step by step, like the original:
// - connect, send `{"name":NAME,"size":SIZE}` as text (NAME defaults to the file's base name);
// - on each ready: send the next chunk of the file as ONE binary frame, 250000 bytes unless
//   the ready's `chunksize` is a positive number; an empty file is sent as one empty binary
//   frame on the first ready;
// - on the first ready after the last chunk: send `{"finished":true}` (no hash);
// - on an error signal: record it; a fatal one closes the connection (the upload failed);
// - on a close signal: close the connection; the upload succeeded iff all data was sent.
// - a connection that ends without a close signal is a failure.
// The file is read one chunk at a time, never whole.
//
// On top of behaving like the original it checks one compatibility rule: a server must not
// show an old client the resume extension, so no server message may carry `upload` or
// `offset`. Such keys are reported and fail the run.
//
// Success prints one JSON line on stdout and exits 0:
//   {"bytes":<bytes sent>,"seconds":...,"chunks":<binary frames sent>,
//    "errors":[<every error signal received>],"extension_keys":[]}
// Failure prints `galileo-original: <what>` on stderr, then the same JSON line with
// `"ok":false` on stdout, and exits 1 (2 for bad arguments).

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import WebSocket from 'ws';

const DEFAULT_CHUNK_SIZE = 250000;

function usage(message) {
  process.stderr.write(`galileo-original: ${message}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      url: { type: 'string' },
      file: { type: 'string' },
      name: { type: 'string' },
      timeout: { type: 'string', default: '120' },
    },
    strict: true,
  }));
} catch (e) {
  usage(e.message);
}
if (!args.url) usage('--url is required');
if (!args.file) usage('--file is required');
const timeoutSecs = Number(args.timeout);
if (!(timeoutSecs > 0)) usage(`bad --timeout ${args.timeout}`);

const file = await fsp.open(args.file, 'r').catch((e) => usage(`cannot open ${args.file}: ${e.message}`));
const size = (await file.stat()).size;
const name = args.name ?? path.basename(args.file);

const state = {
  sent: 0, // bytes of file data sent
  chunks: 0, // binary frames sent
  emptySent: false, // the empty frame of an empty file
  finishedSent: false,
  closeReceived: false,
  errors: [], // every error signal, in order
  extensionKeys: [], // `upload` / `offset` seen in server messages
  problem: null, // why the run failed, if it did
};
const started = process.hrtime.bigint();

function allDataSent() {
  return state.sent === size && (size > 0 || state.emptySent);
}

function finish() {
  clearTimeout(timer);
  if (!state.problem && !state.closeReceived) {
    state.problem = 'the connection closed without a close signal';
  }
  if (!state.problem && !allDataSent()) {
    state.problem = `close signal after ${state.sent} of ${size} bytes`;
  }
  if (!state.problem && state.extensionKeys.length > 0) {
    state.problem = `the server showed an old client the resume extension: ${state.extensionKeys.join(', ')}`;
  }
  const result = {
    bytes: state.sent,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    chunks: state.chunks,
    errors: state.errors,
    extension_keys: state.extensionKeys,
  };
  if (state.problem) {
    process.stderr.write(`galileo-original: upload of ${args.file} failed: ${state.problem}\n`);
    process.stdout.write(`${JSON.stringify({ ok: false, ...result })}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const timer = setTimeout(() => {
  state.problem = `no end of the session within ${timeoutSecs} s`;
  finish();
}, timeoutSecs * 1000);

const ws = new WebSocket(args.url);

// Messages are handled strictly one after another (reading the chunk is asynchronous), as the
// browser client handled one onmessage at a time.
let queue = Promise.resolve();

ws.on('open', () => ws.send(JSON.stringify({ name, size })));

ws.on('message', (data, isBinary) => {
  queue = queue.then(() => onMessage(data, isBinary)).catch((e) => {
    state.problem = `client failure: ${e.message}`;
    ws.terminate();
  });
});

ws.on('error', (e) => {
  state.problem ??= `WebSocket error: ${e.message}`;
});

ws.on('close', () => {
  queue.finally(finish);
});

async function onMessage(data, isBinary) {
  if (state.problem) return;
  if (isBinary) {
    state.problem = `the server sent a binary frame of ${data.length} bytes`;
    ws.close();
    return;
  }
  let signal;
  try {
    signal = JSON.parse(data.toString('utf8'));
  } catch {
    state.problem = `the server sent text that is not JSON: ${data.toString('utf8').slice(0, 200)}`;
    ws.close();
    return;
  }
  if (signal === null || typeof signal !== 'object') {
    state.problem = `the server sent a message that is not a JSON object: ${JSON.stringify(signal)}`;
    ws.close();
    return;
  }
  for (const key of ['upload', 'offset']) {
    if (Object.hasOwn(signal, key)) state.extensionKeys.push(`${key} in ${JSON.stringify(signal)}`);
  }
  // Truth is JavaScript truthiness, as in the original; precedence error > close > ready.
  if (signal.error) {
    state.errors.push(signal);
    if (signal.fatal) {
      state.problem = `fatal error signal: ${JSON.stringify(signal)}`;
      ws.close();
    }
    return;
  }
  if (signal.close) {
    state.closeReceived = true;
    ws.close();
    return;
  }
  if (signal.ready) {
    if (allDataSent()) {
      if (state.finishedSent) {
        state.problem = 'a ready after finished';
        ws.close();
        return;
      }
      state.finishedSent = true;
      ws.send(JSON.stringify({ finished: true }));
      return;
    }
    const asked = Number(signal.chunksize);
    const chunkSize = typeof signal.chunksize !== 'boolean' && asked > 0 ? Math.floor(asked) : DEFAULT_CHUNK_SIZE;
    const length = Math.min(chunkSize, size - state.sent);
    const chunk = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await file.read(chunk, filled, length - filled, state.sent + filled);
      if (bytesRead === 0) throw new Error(`${args.file} shrank while it was read`);
      filled += bytesRead;
    }
    ws.send(chunk, { binary: true });
    state.sent += length;
    state.chunks += 1;
    if (size === 0) state.emptySent = true;
    return;
  }
  // Anything else is ignored, as the original ignored signals it did not know.
}
