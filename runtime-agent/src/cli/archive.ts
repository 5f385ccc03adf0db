// `tug save` and `tug load`, as docker's: an image archive to a file or stdout, and from a file
// or stdin.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EngineError, type EngineClient } from './client';
import { UsageError, on, one, parse } from './flags';

export async function save(client: EngineClient, args: string[]): Promise<number> {
  const { flags, rest: names } = parse(args, [], false);
  if (names.length === 0) throw new UsageError('"tug save" requires at least 1 argument');
  const output = one(flags, '-o', '--output');
  if (!output && process.stdout.isTTY) throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const query = new URLSearchParams();
  for (const name of names) query.append('names', name);
  const res = await client.stream('GET', `/images/get?${query}`);
  if (!output) {
    for await (const chunk of res) if (!process.stdout.write(chunk as Buffer)) await once(process.stdout, 'drain');
    return 0;
  }
  // Written beside the file and renamed once whole: a failed save leaves no partial archive.
  const tmp = join(dirname(output), `.${basename(output)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await pipeline(res, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    await rename(tmp, output);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return 0;
}

interface LoadMessage {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
}

export async function load(client: EngineClient, args: string[]): Promise<number> {
  const { flags, rest } = parse(args, ['-q', '--quiet'], false);
  if (rest.length) throw new UsageError(`"tug load" accepts no arguments`);
  const input = one(flags, '-i', '--input');
  if (!input && process.stdin.isTTY) throw new UsageError('requested load from stdin, but stdin is empty');
  // Progress is for a person watching a terminal, as docker has it.
  const quiet = on(flags, '-q', '--quiet') || !process.stdout.isTTY;
  // Opened first, so that a missing file is said before anything is sent.
  const file = input ? await open(input, 'r') : null;
  const body = file ? file.createReadStream({ highWaterMark: 256 * 1024 }) : process.stdin;
  let line = false;
  try {
    const path = `/images/load?quiet=${quiet ? 1 : 0}`;
    for await (const message of client.upload<LoadMessage>('POST', path, body, { 'Content-Type': 'application/x-tar' })) {
      if (message.error) throw new EngineError(500, message.error);
      if (message.status) {
        process.stdout.write(`\r\x1b[K${message.id ? `${message.id}: ` : ''}${message.status} ${message.progress ?? ''}`);
        line = true;
      } else if (message.stream) {
        if (line) process.stdout.write('\n');
        line = false;
        process.stdout.write(message.stream);
      }
    }
  } finally {
    if (line) process.stdout.write('\n');
    await file?.close();
  }
  return 0;
}
