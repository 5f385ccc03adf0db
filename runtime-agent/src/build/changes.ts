// Dockerfile instructions applied to an image's config, as `docker commit --change` takes them:
// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR, read by the
// same parser as the builder and the language server, variables expanded from the config's own
// environment, each instruction with the builder's meaning.

import { posix } from 'node:path';
import { processWord, type ExpandOptions } from '../../../server/src/dockerfile/expand';
import { analyze } from '../../../server/src/dockerfile/model';
import type { Instruction } from '../../../server/src/dockerfile/syntax';
import { buildErrors } from '../../../server/src/rules/validator';
import type { ContainerConfig } from '../images/store';
import { parseSignal } from '../runtime/containers';
import { envMap, exposedPorts } from './builder';

/** The instructions Docker allows as changes. */
const CHANGES = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** A change Docker would refuse; its message is Docker's where Docker has one. */
export class ChangeError extends Error {}

/** A copy of `config` with the changes (one instruction each) applied in order. */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const out = structuredClone(config);
  if (!changes.length) return out;
  const model = analyze(`FROM scratch\n${changes.join('\n')}\n`);
  const instructions = model.stages.flatMap((stage) => stage.instructions).slice(1);
  for (const ins of instructions) {
    if (!CHANGES.has(ins.keyword)) throw new ChangeError(`${ins.keyword.toLowerCase()} is not a valid change command`);
  }
  const error = buildErrors(model)[0];
  if (error) throw new ChangeError(error.message);
  // As Docker's builder: ENTRYPOINT resets CMD unless a CMD came before it.
  let cmdSet = false;
  for (const ins of instructions) {
    const env = envMap(out.Env ?? []);
    const options: ExpandOptions = { escape: model.syntax.escape, env: (name) => env.get(name) };
    const expand = (word: string) => {
      try {
        return processWord(word, options);
      } catch (error) {
        throw new ChangeError((error as Error).message);
      }
    };
    const args = ins.args ? ins.logical.text.slice(ins.argsAt, ins.argsEnd) : '';
    const exec = ins.json ? ins.json.items.map((i) => i.value) : null;
    const shell = out.Shell?.length ? out.Shell : DEFAULT_SHELL;
    const pairs = () => ins.pairs.map((p) => [expand(p.key), p.value === null ? '' : expand(p.value)] as const);
    switch (ins.keyword) {
      case 'CMD':
        out.Cmd = exec ?? [...shell, args];
        cmdSet = true;
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = exec ?? (args === '' ? [] : [...shell, args]);
        if (!cmdSet) out.Cmd = null;
        break;
      case 'ENV':
        for (const [key, value] of pairs()) env.set(key, value);
        out.Env = [...env].map(([key, value]) => `${key}=${value}`);
        break;
      case 'LABEL':
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(pairs()) };
        break;
      case 'EXPOSE':
        out.ExposedPorts = { ...(out.ExposedPorts ?? {}) };
        for (const port of ins.words.flatMap((w) => ports(expand(w.text), ins))) out.ExposedPorts[port] = {};
        break;
      case 'VOLUME':
        out.Volumes = { ...(out.Volumes ?? {}) };
        for (const volume of (exec ?? ins.words.map((w) => w.text)).map(expand).filter((v) => v !== '')) out.Volumes[volume] = {};
        break;
      case 'USER':
        out.User = expand(args);
        break;
      case 'STOPSIGNAL': {
        const signal = expand(args);
        try {
          parseSignal(signal);
        } catch (error) {
          throw new ChangeError((error as Error).message);
        }
        out.StopSignal = signal;
        break;
      }
      case 'WORKDIR':
        out.WorkingDir = posix.resolve(out.WorkingDir || '/', expand(args));
        break;
      case 'ONBUILD':
        out.OnBuild = [...(out.OnBuild ?? []), ins.logical.text.replace(/^\s*ONBUILD\s*/i, '').trim()];
        break;
    }
  }
  return out;
}

function ports(spec: string, ins: Instruction): string[] {
  try {
    return exposedPorts(spec, ins.startLine + 1);
  } catch (error) {
    throw new ChangeError((error as Error).message);
  }
}
