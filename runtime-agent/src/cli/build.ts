// `tug build`: docker's `build` command with the legacy builder (DOCKER_BUILDKIT=0) — the same
// flags, the same POST /build query and context tar, and the answer printed as the docker CLI
// prints it.

import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SECRETS_HEADER } from '../api/build';
import { DockerIgnoreError } from '../../../server/src/dockerfile/dockerignore';
import { humanSize } from '../registry/pull';
import { parseReference, ReferenceFormatError } from '../registry/reference';
import { EngineClient, EngineError } from './client';
import { ContextError, directoryContext, stdinContext, type BuildContext } from './context-tar';
import { UsageError, all, one, parse } from './flags';

const SWITCHES = ['--quiet', '--no-cache', '--pull', '--rm', '--force-rm'];
const VALUES = ['--tag', '--file', '--build-arg', '--label', '--target', '--iidfile', '--platform', '--network', '--secret'];
const ALIASES = { '-t': '--tag', '-f': '--file', '-q': '--quiet' };

/** One of the JSON messages of the answer (Docker's jsonmessage.JSONMessage). */
interface Message {
  stream?: string;
  status?: string;
  id?: string;
  from?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: { ID?: unknown };
}

/** Go's strconv.ParseBool, which docker's boolean flags use. */
function bool(name: string, value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new UsageError(`invalid argument "${value}" for "${name}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
}

/** `KEY=VALUE` pairs as a JSON object with sorted keys (as Go marshals a map); `lone` is the value of a bare `KEY`. */
function keyValues(flag: string, pairs: string[], lone: (key: string) => string | null): string | undefined {
  const map = new Map<string, string | null>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (key.trim() === '') throw new UsageError(`invalid argument "${pair}" for "${flag}" flag: empty name`);
    map.set(key, eq === -1 ? lone(key) : pair.slice(eq + 1));
  }
  if (map.size === 0) return undefined;
  return JSON.stringify(Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

async function readAll(input: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * `--secret id=ID[,src=FILE|,env=VAR][,type=file|env]`, as docker buildx reads it (a bare ID is
 * the environment variable of that name when set, else a file named so), for the engine's
 * secrets header. The values never go in the URL.
 */
async function secrets(specs: string[]): Promise<string | undefined> {
  if (specs.length === 0) return undefined;
  const values: Record<string, string> = {};
  for (const spec of specs) {
    const fields = new Map<string, string>();
    for (const field of spec.split(',')) {
      const eq = field.indexOf('=');
      fields.set((eq === -1 ? field : field.slice(0, eq)).toLowerCase(), eq === -1 ? '' : field.slice(eq + 1));
    }
    const src = fields.get('src') ?? fields.get('source');
    const env = fields.get('env');
    const type = fields.get('type');
    const id = fields.get('id') || (src ? basename(src) : env) || '';
    if (!id) throw new UsageError(`invalid secret "${spec}": id is required`);
    if (type !== undefined && type !== 'file' && type !== 'env') throw new UsageError(`invalid secret "${spec}": unsupported secret type "${type}"`);
    const fromEnv = type === 'env' || env !== undefined || (type === undefined && !src && process.env[id] !== undefined);
    if (fromEnv) {
      const value = process.env[env ?? src ?? id];
      if (value === undefined) throw new UsageError(`invalid secret "${spec}": environment variable ${env ?? src ?? id} is not set`);
      values[id] = Buffer.from(value).toString('base64');
    } else {
      try {
        values[id] = (await readFile(src ?? id)).toString('base64');
      } catch (error) {
        throw new UsageError(`invalid secret "${spec}": ${(error as Error).message}`);
      }
    }
  }
  return Buffer.from(JSON.stringify(values)).toString('base64');
}

export async function build(client: EngineClient, args: string[]): Promise<number> {
  const { flags, rest } = parse(args, [...SWITCHES, '-q'], false, ALIASES);
  for (const name of flags.keys()) if (!SWITCHES.includes(name) && !VALUES.includes(name)) throw new UsageError(`unknown flag: ${name}`);
  if (rest.length !== 1) {
    // docker exits 1 here, unlike for a bad flag (125).
    process.stderr.write('"tug build" requires exactly 1 argument: PATH or -\n');
    return 1;
  }

  const last = (name: string) => one(flags, name);
  const flag = (name: string, byDefault: boolean) => (last(name) === undefined ? byDefault : bool(name, last(name)!));
  const quiet = flag('--quiet', false);
  const file = last('--file');
  const iidfile = last('--iidfile');
  const tags = all(flags, '--tag');
  for (const tag of tags) {
    try {
      parseReference(tag);
    } catch (error) {
      if (error instanceof ReferenceFormatError) throw new UsageError(`invalid argument "${tag}" for "-t, --tag" flag: ${error.message}`);
      throw error;
    }
  }

  const query = new URLSearchParams();
  for (const tag of tags) query.append('t', tag);
  if (quiet) query.set('q', '1');
  if (flag('--no-cache', false)) query.set('nocache', '1');
  // The daemon removes intermediate containers unless told not to.
  if (!flag('--rm', true)) query.set('rm', '0');
  if (flag('--force-rm', false)) query.set('forcerm', '1');
  if (flag('--pull', false)) query.set('pull', '1');
  const network = last('--network');
  if (network && network !== 'default') query.set('networkmode', network);
  const target = last('--target');
  if (target) query.set('target', target);
  // A bare KEY takes its value from the environment, and stays unset (null) without one.
  const buildargs = keyValues('--build-arg', all(flags, '--build-arg'), (key) => process.env[key] ?? null);
  if (buildargs) query.set('buildargs', buildargs);
  const labels = keyValues('--label', all(flags, '--label'), () => '');
  if (labels) query.set('labels', labels);
  const platform = last('--platform') ?? process.env.DOCKER_DEFAULT_PLATFORM;
  if (platform) query.set('platform', platform.toLowerCase());
  query.set('version', '1');

  // A stale file would pass for this build's result if it failed.
  if (iidfile) await unlink(iidfile).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));

  const [path] = rest;
  if (path === '-' && file === '-') {
    process.stderr.write("invalid argument: can't use stdin for both build context and dockerfile\n");
    return 1;
  }
  let context: BuildContext;
  try {
    if (path === '-') {
      context = await stdinContext(process.stdin, file);
    } else {
      if (!(await stat(path).then(() => true, () => false))) throw new ContextError(`path "${path}" not found`);
      context = await directoryContext(path, { file, stdinDockerfile: file === '-' ? await readAll(process.stdin) : undefined });
    }
  } catch (error) {
    if (error instanceof ContextError) {
      process.stderr.write(`unable to prepare context: ${error.message}\n`);
      return 1;
    }
    if (error instanceof DockerIgnoreError) {
      process.stderr.write(`error checking context: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (context.dockerfile) query.set('dockerfile', context.dockerfile);

  // As docker: the size sent, once it is all sent; with -q, held back with the build's output
  // and shown only if the build fails.
  let progress = '';
  let output = '';
  const print = (text: string) => (quiet ? (output += text) : process.stdout.write(text));
  async function* counted(tar: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    let sent = 0;
    for await (const chunk of tar) {
      sent += chunk.length;
      yield chunk;
    }
    const line = `Sending build context to Docker daemon ${humanSize(sent).padStart(8)}\r\r\n`;
    if (quiet) progress += line;
    else process.stdout.write(line);
  }

  const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
  const secretValues = await secrets(all(flags, '--secret'));
  if (secretValues) headers[SECRETS_HEADER] = secretValues;

  let imageId = '';
  try {
    for await (const message of client.upload<Message>('POST', `/build?${query}`, counted(context.tar), headers)) {
      if (message.aux !== undefined) {
        if (typeof message.aux.ID === 'string') imageId = message.aux.ID;
        continue;
      }
      // docker fails on errorDetail; a bare "error" is an error too.
      if (message.errorDetail || message.error) {
        if (quiet) process.stderr.write(progress + output);
        process.stderr.write(`${message.errorDetail?.message ?? message.error}\n`);
        return message.errorDetail?.code || 1;
      }
      // Progress bars are for terminals; like docker's output elsewhere, only their outcome shows.
      if ((message.progressDetail?.current ?? 0) > 0 || (message.progressDetail?.total ?? 0) > 0) continue;
      const prefix = `${message.id ? `${message.id}: ` : ''}${message.from ? `(from ${message.from}) ` : ''}`;
      if (message.progress) print(`${prefix}${message.status ?? ''} ${message.progress}`);
      else if (message.stream) print(prefix + message.stream);
      else print(`${prefix}${message.status ?? ''}\n`);
    }
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    if (quiet) process.stderr.write(progress);
    process.stderr.write(`Error response from daemon: ${error.message}\n`);
    return 1;
  }
  // With -q the engine's output is the image ID, and docker takes it as such.
  if (quiet) {
    process.stdout.write(output);
    imageId = output;
  }
  if (iidfile) {
    if (!imageId) {
      process.stderr.write(`Server did not provide an image ID. Cannot write ${iidfile}\n`);
      return 1;
    }
    await writeFile(iidfile, imageId);
  }
  return 0;
}
