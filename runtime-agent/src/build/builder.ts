// The builder: a Dockerfile and its context in, an image out, as Docker's builder makes it
// (`POST /build`). The Dockerfile is read by the same module as the language server (parse,
// stages, variable expansion, the errors Docker refuses). Each step makes an image of its own
// (Docker's intermediate images), so that RUN can run in a container of the image before it;
// a step's key (see cache.ts) finds the image a step made before, and a rebuild with nothing
// changed runs nothing and writes nothing.

import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import type { Engine } from '../engine';
import { sha256 } from '../images/content';
import { diffLayer } from '../images/diff';
import { familiarName, normalizeName, type ContainerConfig, type ImageConfig, type ImageRecord, type LayerRef } from '../images/store';
import { pullInChild } from '../registry/pull-process';
import { readLog } from '../runtime/logs';
import { resolveUser } from '../runtime/users';
import { parseSignal } from '../runtime/containers';
import { findVariableRefs, goQuote, processWord, type ExpandOptions } from '../../../server/src/dockerfile/expand';
import { analyze, type Model, type Stage } from '../../../server/src/dockerfile/model';
import { formatPlatform, hostPlatform, parsePlatform } from '../../../server/src/dockerfile/platform';
import type { Instruction } from '../../../server/src/dockerfile/syntax';
import { buildErrors } from '../../../server/src/rules/validator';
import { BuildCache, cacheKey } from './cache';
import { extractContext, lstatOrNull, pruneContext, readContextFile, resolveInScope } from './context';
import { copyInto, hashSources, resolveSources, type Source } from './copy';
import { checksumError, fetchUrl, isUrlSource, URL_FOR_COPY } from './fetch';
import { mountRootfs, sweepRootfs, type Rootfs } from './mounts';
import { KeyedLocks, MountError, parseRunMount, removeMountStub, type RunMount } from './run-mounts';
import type { ApiMount } from '../runtime/mounts';

export interface BuildRequest {
  /** The Dockerfile's path in the context. */
  dockerfile: string;
  tags: string[];
  /** --build-arg; null: named without a value (and not set in the client's environment). */
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  noCache: boolean;
  pull: boolean;
  target: string;
  networkMode: string;
  platform: string;
  /** Remove intermediate containers after a successful step (Docker's default), or always. */
  rm: boolean;
  forceRm: boolean;
  /** --secret values by ID, for RUN --mount=type=secret. */
  secrets: Record<string, Buffer>;
}

/** Docker's JSON progress messages: {stream}, {status, id, progress…}, {aux}. */
export type Emit = (message: object) => void;

/** A build that cannot go on; `line` is the Dockerfile line (1-based) it stopped at. */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'BuildError';
  }
}

const execFileAsync = promisify(execFile);

/** What Docker shows of an image ID in build output. */
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

const EMPTY_LAYER_MEDIA = 'application/vnd.oci.image.layer.v1.tar';
const PROXY_ARGS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]));
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Where a stage stands: the image of its last step (null: scratch before any) and its config. */
interface State {
  image: ImageRecord | null;
  config: ImageConfig;
}

interface StageRun {
  stage: Stage;
  state: State;
  /** ARGs declared in the stage, with their values. */
  args: Map<string, string | undefined>;
  /** Whether CMD was set in this stage (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

/** A RUN's mounts: for the container, its environment and the step's key; ready() before the run, release() after. */
interface StepMounts {
  api: ApiMount[];
  env: string[];
  key: unknown[];
  /** Mount points in the container, whose stubs do not belong in the layer. */
  targets: string[];
  ready(): Promise<void>;
  release(): Promise<void>;
}

/** A step's effect besides its key: what it does to the config, and its layer if it has one. */
type Change = (config: ContainerConfig) => void;

export class Builder {
  private readonly cache: BuildCache;
  private readonly base: string;
  private readonly locks = new KeyedLocks();

  constructor(private readonly engine: Engine) {
    this.base = join(engine.options.dataRoot, 'build');
    this.cache = new BuildCache(this.base);
  }

  /** Removes what a build interrupted by a crash left (mounts, temp dirs). */
  async open(): Promise<void> {
    await sweepRootfs(join(this.base, 'tmp'));
    await rm(join(this.base, 'tmp'), { recursive: true, force: true });
  }

  /** Runs a build; returns the image's ID. Progress (and the RUN steps' output) goes to `emit`. */
  async build(context: AsyncIterable<Uint8Array>, request: BuildRequest, emit: Emit, signal: AbortSignal): Promise<string> {
    await mkdir(join(this.base, 'tmp'), { recursive: true });
    const dir = await mkdtemp(join(this.base, 'tmp', 'context-'));
    try {
      await extractContext(context, dir);
      const dockerfile = posix.normalize(request.dockerfile || 'Dockerfile');
      if (dockerfile.startsWith('../') || posix.isAbsolute(dockerfile)) throw new BuildError(`the Dockerfile (${request.dockerfile}) must be within the build context`);
      const content = readContextFile(dir, dockerfile);
      if (content === null) throw new BuildError(`Cannot locate specified Dockerfile: ${request.dockerfile || 'Dockerfile'}`);
      const text = content.toString('utf8');
      await pruneContext(dir, dockerfile);
      const run = new Build(this.engine, this.cache, this.locks, this.base, dir, analyze(text), request, emit, signal);
      const id = await run.run();
      await this.cache.save();
      return id;
    } finally {
      // Not on the answer's path: removing a context costs as much as unpacking it. What a crash
      // leaves, open() sweeps.
      void rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** `builder prune`: forgets the cache and removes the images only it kept. */
  async prune(): Promise<{ deleted: string[]; reclaimed: number }> {
    const cached = new Set(await this.cache.clear());
    const images = this.engine.images;
    const deleted: string[] = [];
    let reclaimed = 0;
    // Untagged built images no tagged image descends from and no container uses.
    const needed = new Set<string>();
    for (const image of images.list()) {
      if (image.repoTags.length === 0 && image.repoDigests.length === 0) continue;
      for (let id: string | undefined = image.id; id && !needed.has(id); id = images.get(id)?.parent) needed.add(id);
    }
    for (const container of this.engine.containers.list()) {
      for (let id: string | undefined = container.Image; id && !needed.has(id); id = images.get(id)?.parent) needed.add(id);
    }
    for (const image of images.list()) {
      if (needed.has(image.id) || !(cached.has(image.id) || image.parent)) continue;
      await images.remove(image.id);
      deleted.push(image.id);
      reclaimed += image.layers.at(-1)?.size ?? 0;
    }
    await this.engine.collectGarbage();
    // RUN --mount=type=cache directories go too.
    const mounts = join(this.base, 'cache-mounts');
    for (const name of await readdir(mounts).catch(() => [] as string[])) {
      reclaimed += await treeSize(join(mounts, name));
      await rm(join(mounts, name), { recursive: true, force: true });
      deleted.push(name);
    }
    return { deleted, reclaimed };
  }
}

/** One build: its stages, arguments, steps and output. */
class Build {
  private readonly globals = new Map<string, string | undefined>();
  private readonly usedArgs = new Set<string>();
  private readonly runs = new Map<Stage, StageRun>();
  private step = 0;
  private total = 0;
  private readonly escape: ExpandOptions['escape'];
  private readonly platform = hostPlatform();

  constructor(
    private readonly engine: Engine,
    private readonly cache: BuildCache,
    private readonly locks: KeyedLocks,
    private readonly base: string,
    private readonly context: string,
    private readonly model: Model,
    private readonly request: BuildRequest,
    private readonly emit: Emit,
    private readonly signal: AbortSignal,
  ) {
    this.escape = model.syntax.escape;
  }

  private line(ins: Instruction): number {
    return ins.startLine + 1;
  }

  private say(text: string): void {
    this.emit({ stream: text });
  }

  async run(): Promise<string> {
    const errors = buildErrors(this.model);
    if (errors.length) {
      const first = errors[0];
      const line = this.model.syntax.lines.positionAt(first.span.start).line + 1;
      throw new BuildError(`dockerfile parse error on line ${line}: ${first.message}`, line);
    }
    if (this.request.platform) {
      const wanted = parsePlatform(this.request.platform);
      if (!wanted || wanted.os !== this.platform.os || wanted.architecture !== this.platform.architecture) {
        throw new BuildError(`platform ${this.request.platform} is not supported: this engine builds for ${formatPlatform(this.platform)}`);
      }
    }
    this.defineGlobals();
    const target = this.targetStage();
    const needed = this.neededStages(target);
    this.total = needed.reduce((n, stage) => n + stage.instructions.length, 0);
    let last: StageRun | null = null;
    for (const stage of needed) last = await this.buildStage(stage);
    let state = last!.state;
    if (Object.keys(this.request.labels).length) {
      state = await this.commitStep(last!, null, `LABEL ${Object.entries(this.request.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`, (c) => {
        c.Labels = { ...(c.Labels ?? {}), ...this.request.labels };
      });
    }
    const image = state.image ?? (await this.commit(state, null, 'FROM scratch', () => {}));
    const unused = Object.keys(this.request.buildArgs).filter((name) => !this.usedArgs.has(name) && !PROXY_ARGS.has(name));
    if (unused.length) this.say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    this.emit({ aux: { ID: image.id } });
    this.say(`Successfully built ${short(image.id)}\n`);
    for (const tag of this.request.tags) {
      const name = normalizeName(tag);
      await this.engine.images.tag(image.id, name);
      this.engine.events.emit('image', 'tag', image.id, { name: familiarName(name) });
      this.say(`Successfully tagged ${familiarName(name)}\n`);
    }
    return image.id;
  }

  // Arguments and stages.

  private buildArg(name: string): string | undefined {
    const value = this.request.buildArgs[name];
    return value === null ? undefined : value;
  }

  private predefined(name: string): string | undefined {
    const p = this.platform;
    const values: Record<string, string> = {
      TARGETPLATFORM: formatPlatform(p), TARGETOS: p.os, TARGETARCH: p.architecture, TARGETVARIANT: p.variant ?? '',
      BUILDPLATFORM: formatPlatform(p), BUILDOS: p.os, BUILDARCH: p.architecture, BUILDVARIANT: p.variant ?? '',
    };
    return values[name];
  }

  /** The ARGs before the first FROM: FROM lines and stage ARGs without a default read them. */
  private defineGlobals(): void {
    for (const name of ['TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT']) {
      this.globals.set(name, this.predefined(name));
    }
    const first = this.model.stages[0]?.from;
    for (const ins of this.model.syntax.instructions) {
      if (ins === first) break;
      if (ins.keyword !== 'ARG') continue;
      const env = this.expander((name) => this.globals.get(name));
      for (const pair of ins.pairs) {
        const given = this.buildArg(pair.key);
        if (given !== undefined) this.usedArgs.add(pair.key);
        this.globals.set(pair.key, given ?? (pair.value === null ? this.predefined(pair.key) : this.expand(pair.value, env, ins)));
      }
    }
  }

  private targetStage(): Stage {
    const stages = this.model.stages;
    if (!this.request.target) return stages[stages.length - 1];
    const found = stages.find((s) => s.name?.text.toLowerCase() === this.request.target.toLowerCase());
    if (!found) throw new BuildError(`failed to reach build target ${this.request.target} in Dockerfile`);
    return found;
  }

  /** A stage by name or index, as FROM and COPY --from name them. */
  private stageNamed(ref: string, before: Stage): Stage | undefined {
    const stages = this.model.stages.slice(0, before.index);
    if (/^\d+$/.test(ref)) return stages[Number(ref)];
    return stages.find((s) => s.name?.text.toLowerCase() === ref.toLowerCase());
  }

  private fromImageName(stage: Stage): string {
    if (!stage.image) return '';
    return this.expand(stage.image.text, this.expander((name) => this.globals.get(name)), stage.from);
  }

  /** The target and the stages it needs (FROM one, COPY --from one), in file order. */
  private neededStages(target: Stage): Stage[] {
    const needed = new Set<Stage>();
    const visit = (stage: Stage) => {
      if (needed.has(stage)) return;
      needed.add(stage);
      const base = this.stageNamed(this.fromImageName(stage), stage);
      if (base) visit(base);
      const named = (from: string, ins: Instruction) => this.stageNamed(this.expand(from, this.expander((name) => this.globals.get(name)), ins), stage);
      for (const ins of stage.instructions) {
        const from = ins.flags.find((f) => f.name === 'from')?.value;
        if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && from) {
          const ref = named(from, ins);
          if (ref) visit(ref);
        }
        if (ins.keyword !== 'RUN') continue;
        for (const flag of ins.flags.filter((f) => f.name === 'mount')) {
          const mountFrom = /(?:^|,)from=([^,]+)/.exec(flag.value ?? '')?.[1];
          const ref = mountFrom && named(mountFrom, ins);
          if (ref) visit(ref);
        }
      }
    };
    visit(target);
    return this.model.stages.filter((s) => needed.has(s));
  }

  // Expansion.

  private expander(lookup: (name: string) => string | undefined): ExpandOptions {
    return { escape: this.escape, env: lookup };
  }

  private expand(word: string, options: ExpandOptions, ins: Instruction): string {
    try {
      return processWord(word, options);
    } catch (error) {
      throw new BuildError((error as Error).message, this.line(ins));
    }
  }

  /** A COPY heredoc's body with its variables expanded; quotes are ordinary characters there. */
  private expandHeredoc(body: string, options: ExpandOptions, ins: Instruction): string {
    let out = '';
    let at = 0;
    for (const ref of findVariableRefs(body, this.escape ?? '\\')) {
      out += body.slice(at, ref.start) + this.expand(body.slice(ref.start, ref.end), options, ins);
      at = ref.end;
    }
    return out + body.slice(at);
  }

  /** What an instruction of a stage sees: its ENV, then its ARGs. */
  private stageEnv(run: StageRun): ExpandOptions {
    const env = envMap(run.state.config.config?.Env ?? []);
    return this.expander((name) => (env.has(name) ? env.get(name) : run.args.get(name)));
  }

  private flag(ins: Instruction, name: string, run: StageRun): string | undefined {
    const flag = ins.flags.find((f) => f.name === name);
    if (!flag) return undefined;
    return this.expand(flag.value ?? '', this.stageEnv(run), ins);
  }

  // Stages and steps.

  private async buildStage(stage: Stage): Promise<StageRun> {
    const from = stage.from;
    this.say(`Step ${++this.step}/${this.total} : ${from.logical.text.trim()}\n`);
    const name = this.fromImageName(stage);
    const platformFlag = from.flags.find((f) => f.name === 'platform')?.value;
    if (platformFlag) {
      const wanted = parsePlatform(this.expand(platformFlag, this.expander((n) => this.globals.get(n)), from));
      if (!wanted || wanted.architecture !== this.platform.architecture) throw new BuildError(`FROM --platform=${platformFlag}: this engine builds for ${formatPlatform(this.platform)} only`, this.line(from));
    }
    let state: State;
    const previous = this.stageNamed(name, stage);
    if (previous) {
      state = this.runs.get(previous)!.state;
    } else if (name.toLowerCase() === 'scratch') {
      state = { image: null, config: { architecture: this.platform.architecture, os: this.platform.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] } };
    } else {
      const image = await this.image(name, from);
      state = { image, config: image.config };
    }
    this.say(state.image ? ` ---> ${short(state.image.id)}\n` : ' ---> \n');
    const run: StageRun = { stage, state, args: new Map(), cmdSet: false };
    this.runs.set(stage, run);
    await this.triggers(run);
    for (const ins of stage.instructions.slice(1)) {
      this.signal.throwIfAborted();
      this.say(`Step ${++this.step}/${this.total} : ${ins.logical.text.trim()}\n`);
      await this.dispatch(run, ins);
    }
    return run;
  }

  /** An image by name: from the store, or pulled (always with --pull). */
  private async image(name: string, ins: Instruction): Promise<ImageRecord> {
    const images = this.engine.images;
    const have = images.get(name);
    if (have && !this.request.pull) return have;
    try {
      this.engine.pulls++;
      return await pullInChild(
        { reference: name, content: this.engine.content.root, snapshots: this.engine.snapshots.root, insecure: this.engine.options.insecureRegistries },
        images,
        (message) => this.emit(message),
        this.signal,
      );
    } catch (error) {
      if (have) return have;
      throw new BuildError((error as Error).message, this.line(ins));
    } finally {
      this.engine.pulls--;
    }
  }

  /** The base image's ONBUILD triggers, run as the first steps of the stage (and not passed on). */
  private async triggers(run: StageRun): Promise<void> {
    const triggers = run.state.config.config?.OnBuild ?? [];
    if (!triggers.length) return;
    this.say(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
    for (const text of triggers) {
      const model = analyze(`FROM scratch\n${text}\n`);
      const errors = buildErrors(model);
      const ins = model.stages[0]?.instructions[1];
      if (errors.length || !ins) throw new BuildError(`invalid ONBUILD trigger "${text}": ${errors[0]?.message ?? 'no instruction'}`);
      await this.dispatch(run, ins);
    }
    run.state = { ...run.state, config: { ...run.state.config, config: { ...run.state.config.config, OnBuild: null } } };
  }

  private async dispatch(run: StageRun, ins: Instruction): Promise<void> {
    const env = this.stageEnv(run);
    const args = ins.args ? ins.logical.text.slice(ins.argsAt, ins.argsEnd) : '';
    const exec = ins.json ? ins.json.items.map((i) => i.value) : null;
    const shell = () => run.state.config.config?.Shell ?? DEFAULT_SHELL;
    const command = () => exec ?? [...shell(), args];
    const pairs = () => {
      // One environment for the whole instruction: later pairs do not see earlier ones.
      return ins.pairs.map((p) => [this.expand(p.key, env, ins), p.value === null ? '' : this.expand(p.value, env, ins)] as const);
    };
    const meta = (change: Change, text = `${ins.keyword} ${args}`) => this.metadataStep(run, text, change);
    switch (ins.keyword) {
      case 'ARG':
        for (const pair of ins.pairs) {
          const given = this.buildArg(pair.key);
          if (given !== undefined) this.usedArgs.add(pair.key);
          const fallback = pair.value !== null ? this.expand(pair.value, env, ins) : this.globals.has(pair.key) ? this.globals.get(pair.key) : this.predefined(pair.key);
          run.args.set(pair.key, given ?? fallback);
        }
        // Docker records a stage's ARG as a step, with the declared defaults.
        return meta(() => {}, `ARG ${ins.pairs.map((p) => (p.value === null ? p.key : `${p.key}=${this.expand(p.value, env, ins)}`)).join(' ')}`);
      case 'ENV': {
        const set = pairs();
        return meta((c) => {
          const map = envMap(c.Env ?? []);
          for (const [k, v] of set) map.set(k, v);
          c.Env = [...map].map(([k, v]) => `${k}=${v}`);
        }, `ENV ${set.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      case 'LABEL': {
        const set = pairs();
        return meta((c) => {
          c.Labels = { ...(c.Labels ?? {}) };
          for (const [k, v] of set) c.Labels[k] = v;
        }, `LABEL ${set.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      case 'MAINTAINER': {
        const author = this.expand(args, env, ins);
        run.state = { ...run.state, config: { ...run.state.config, author } };
        return meta(() => {}, `MAINTAINER ${author}`);
      }
      case 'USER': {
        const user = this.expand(args, env, ins);
        return meta((c) => void (c.User = user), `USER ${user}`);
      }
      case 'STOPSIGNAL': {
        const signal = this.expand(args, env, ins);
        try {
          parseSignal(signal);
        } catch (error) {
          throw new BuildError((error as Error).message, this.line(ins));
        }
        return meta((c) => void (c.StopSignal = signal), `STOPSIGNAL ${signal}`);
      }
      case 'EXPOSE': {
        const ports = ins.words.flatMap((w) => exposedPorts(this.expand(w.text, env, ins), this.line(ins)));
        return meta((c) => {
          c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
          for (const p of ports) c.ExposedPorts[p] = {};
        }, `EXPOSE ${ports.join(' ')}`);
      }
      case 'VOLUME': {
        const volumes = (exec ?? ins.words.map((w) => w.text)).map((v) => this.expand(v, env, ins)).filter((v) => v !== '');
        if (!volumes.length) throw new BuildError('VOLUME specified can not be an empty string', this.line(ins));
        return meta((c) => {
          c.Volumes = { ...(c.Volumes ?? {}) };
          for (const v of volumes) c.Volumes[v] = {};
        }, `VOLUME [${volumes.join(' ')}]`);
      }
      case 'CMD':
        run.cmdSet = true;
        return meta((c) => void (c.Cmd = command()), `CMD ${goStrings(command())}`);
      case 'ENTRYPOINT': {
        const entrypoint = exec ?? (args === '' ? [] : [...shell(), args]);
        const keepCmd = run.cmdSet;
        return meta((c) => {
          c.Entrypoint = entrypoint;
          // An ENTRYPOINT resets a CMD inherited from the base image.
          if (!keepCmd) c.Cmd = null;
        }, `ENTRYPOINT ${goStrings(entrypoint)}`);
      }
      case 'SHELL':
        return meta((c) => void (c.Shell = exec ?? []), `SHELL ${goStrings(exec ?? [])}`);
      case 'HEALTHCHECK': {
        const check = healthcheck(ins, args, (f) => this.flag(ins, f, run), this.line(ins));
        return meta((c) => void (c.Healthcheck = check), `HEALTHCHECK ${goHealthcheck(check)}`);
      }
      case 'ONBUILD': {
        // Docker keeps the original text after the keyword.
        const trigger = ins.logical.text.replace(/^\s*ONBUILD\s*/i, '').trim();
        return meta((c) => void (c.OnBuild = [...(c.OnBuild ?? []), trigger]), `ONBUILD ${trigger}`);
      }
      case 'WORKDIR': {
        const current = run.state.config.config?.WorkingDir || '/';
        const dir = posix.resolve(current, this.expand(args, env, ins));
        return this.workdirStep(run, ins, dir);
      }
      case 'RUN':
        return this.runStep(run, ins, exec, args);
      case 'COPY':
      case 'ADD':
        return this.copyStep(run, ins);
      default:
        throw new BuildError(`unknown instruction: ${ins.keyword}`, this.line(ins));
    }
  }

  // Steps that make images.

  /** The args a RUN sees, as Docker puts them in its command for the cache and the history. */
  private runArgs(run: StageRun): [string, string][] {
    const out: [string, string][] = [];
    for (const [name, value] of run.args) if (value !== undefined) out.push([name, value]);
    return out;
  }

  private parentId(run: StageRun): string {
    return run.state.image?.id ?? 'scratch';
  }

  /** A cache hit, said as Docker says it; null on a miss (or with --no-cache). */
  private async cached(key: string): Promise<ImageRecord | null> {
    if (this.request.noCache) return null;
    const id = await this.cache.get(key);
    const image = id ? this.engine.images.get(id) : undefined;
    if (!image) return null;
    this.say(' ---> Using cache\n');
    this.say(` ---> ${short(image.id)}\n`);
    return image;
  }

  private async metadataStep(run: StageRun, text: string, change: Change): Promise<void> {
    const key = cacheKey([this.parentId(run), text, run.state.config.author ?? '']);
    const hit = await this.cached(key);
    if (hit) {
      run.state = { image: hit, config: hit.config };
      return;
    }
    run.state = await this.commitStep(run, null, text, change);
    await this.cache.set(key, run.state.image!.id);
    this.say(` ---> ${short(run.state.image!.id)}\n`);
  }

  /** Commits a step: a new image from the stage's state, its config changed, maybe a layer on top. */
  private async commitStep(run: StageRun, layer: LayerRef | null, text: string, change: Change, createdBy?: string): Promise<State> {
    const image = await this.commit(run.state, layer, createdBy ?? `/bin/sh -c #(nop)  ${text}`, change);
    run.state = { image, config: image.config };
    return run.state;
  }

  private async commit(state: State, layer: LayerRef | null, createdBy: string, change: Change): Promise<ImageRecord> {
    const created = new Date().toISOString();
    const containerConfig: ContainerConfig = structuredClone(state.config.config ?? {});
    change(containerConfig);
    const config: ImageConfig = {
      ...state.config,
      created,
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
      history: [...(state.config.history ?? []), { created, created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }],
    };
    const json = JSON.stringify(config);
    const id = sha256(json);
    await this.engine.content.write(Buffer.from(json), { digest: id });
    const layers = [...(state.image?.layers ?? []), ...(layer ? [layer] : [])];
    const record: ImageRecord = {
      id,
      repoTags: [],
      repoDigests: [],
      manifestDigest: '',
      config,
      layers,
      created,
      size: layers.reduce((n, l) => n + l.size, 0),
      ...(state.image ? { parent: state.image.id } : {}),
    };
    return this.engine.images.add(record);
  }

  /**
   * Commits a step whose changes are in an (unmounted) upper dir: they become its layer, and the
   * dir itself that layer's snapshot, so the next step need not unpack what was just packed.
   */
  private async commitChanges(run: StageRun, upper: string, change: Change, createdBy: string, adopt = true): Promise<void> {
    const { digest, size } = await this.engine.content.add(diffLayer(upper));
    const image = (await this.commitStep(run, { digest, diffId: digest, size, mediaType: EMPTY_LAYER_MEDIA }, '', change, createdBy)).image!;
    if (adopt) await this.engine.snapshots.adopt(image.layers, image.layers.length - 1, upper);
  }

  /** The stage's image mounted with an upper dir on top, for a step that changes files itself. */
  private async writable(run: StageRun): Promise<Rootfs> {
    const lower = run.state.image ? await this.engine.snapshots.prepare(run.state.image) : [];
    return mountRootfs(join(this.base, 'tmp'), lower, true);
  }

  private async workdirStep(run: StageRun, ins: Instruction, dir: string): Promise<void> {
    const text = `WORKDIR ${dir}`;
    const key = cacheKey([this.parentId(run), text]);
    const hit = await this.cached(key);
    if (hit) {
      run.state = { image: hit, config: hit.config };
      return;
    }
    // Docker makes the directory now, in a layer of its own, when the image does not have it.
    const rootfs = await this.writable(run);
    const change: Change = (c) => void (c.WorkingDir = dir);
    try {
      const created = await mkdirInRoot(rootfs.dir, dir, this.line(ins));
      await rootfs.unmount();
      if (created) await this.commitChanges(run, rootfs.upper!, change, `/bin/sh -c #(nop)  ${text}`);
      else await this.commitStep(run, null, text, change);
    } finally {
      await rootfs.release();
    }
    await this.cache.set(key, run.state.image!.id);
    this.say(` ---> ${short(run.state.image!.id)}\n`);
  }

  /** What a RUN runs. Heredocs as BuildKit runs them: one alone is the script (run by its shebang, or by the shell); otherwise the shell reads them as written. */
  private runCommand(run: StageRun, ins: Instruction, exec: string[] | null, args: string): { command: string[]; script?: { path: string; body: string } } {
    const shell = run.state.config.config?.Shell ?? DEFAULT_SHELL;
    if (!ins.heredocs.length) return { command: exec ?? [...shell, args] };
    if (exec) throw new BuildError('RUN in exec form cannot take a heredoc', this.line(ins));
    const text = this.model.syntax.text;
    const first = ins.heredocs[0];
    const last = ins.heredocs[ins.heredocs.length - 1];
    if (ins.heredocs.length === 1 && args.trim() === text.slice(first.marker.start, first.marker.end)) {
      let body = text.slice(first.body.start, first.body.end);
      if (first.chomp) body = body.replace(/^\t+/gm, '');
      if (body.startsWith('#!')) return { command: [`/dev/pipes/${first.name}`], script: { path: `/dev/pipes/${first.name}`, body } };
      return { command: [...shell, body] };
    }
    return { command: [...shell, `${args}\n${text.slice(first.body.start, (last.terminator ?? last.body).end)}`] };
  }

  private async runStep(run: StageRun, ins: Instruction, exec: string[] | null, args: string): Promise<void> {
    const { command, script } = this.runCommand(run, ins, exec, args);
    const network = this.flag(ins, 'network', run) ?? this.request.networkMode ?? 'default';
    if (!['default', 'none', 'host', 'bridge', ''].includes(network)) throw new BuildError(`RUN --network=${network}: expected default, none or host`, this.line(ins));
    const buildArgs = this.runArgs(run);
    // Docker's record of a RUN: the args it saw, then the command.
    const createdBy = `${buildArgs.length ? `|${buildArgs.length} ${buildArgs.map(([k, v]) => `${k}=${v}`).join(' ')} ` : ''}${command.join(' ')}`;
    const mounts = await this.runMounts(run, ins, script);
    try {
      const key = cacheKey([this.parentId(run), 'RUN', command, buildArgs, network, exec === null, script?.body ?? '', mounts.key]);
      const hit = await this.cached(key);
      if (hit) {
        run.state = { image: hit, config: hit.config };
        return;
      }
      await mounts.ready();
      await this.runContainer(run, ins, command, buildArgs, network, mounts, createdBy);
      await this.cache.set(key, run.state.image!.id);
      this.say(` ---> ${short(run.state.image!.id)}\n`);
    } finally {
      await mounts.release();
    }
  }

  /** Runs a RUN's command in a container of the stage's image and commits what it changed. */
  private async runContainer(run: StageRun, ins: Instruction, command: string[], buildArgs: [string, string][], network: string, mounts: StepMounts, createdBy: string): Promise<void> {
    // A RUN runs in a container of the image so far: commit one for a stage that has none yet.
    if (!run.state.image) await this.commitStep(run, null, 'FROM scratch', () => {});
    const containers = this.engine.containers;
    const proxies = Object.entries(this.request.buildArgs).filter(([k, v]) => PROXY_ARGS.has(k) && v !== null && !run.args.has(k)) as [string, string][];
    const visible = envMap(run.state.config.config?.Env ?? []);
    const env = [...[...buildArgs, ...proxies].filter(([k]) => !visible.has(k)).map(([k, v]) => `${k}=${v}`), ...mounts.env];
    const networkMode = network === 'default' || network === '' ? 'bridge' : network;
    const { Id: id } = await containers.create(
      { Image: run.state.image!.id, Cmd: command, Entrypoint: [], Env: env, Labels: {}, HostConfig: { NetworkMode: networkMode, Mounts: mounts.api } },
      null,
    );
    this.say(` ---> Running in ${id.slice(0, 12)}\n`);
    let exitCode: number;
    try {
      const record = containers.get(id);
      await containers.start(id);
      for await (const entry of readLog(record.LogPath, { follow: true, done: () => !containers.running(id), finished: containers.stopped(id), signal: this.signal })) {
        this.emit({ stream: entry.log });
      }
      this.signal.throwIfAborted(); // the log ends early when the client goes away
      exitCode = await containers.waitFor(id, 'not-running');
    } catch (error) {
      // A cancelled build (the client went away) leaves no step running.
      if (this.request.forceRm || this.signal.aborted) await containers.remove(id, { force: true }).catch(() => {});
      if (this.signal.aborted) throw error;
      throw new BuildError((error as Error).message, this.line(ins));
    }
    if (exitCode !== 0) {
      if (this.request.forceRm) await containers.remove(id, { force: true }).catch(() => {});
      throw new BuildError(`The command '${command.join(' ')}' returned a non-zero code: ${exitCode}`, this.line(ins), exitCode);
    }
    const upper = join(containers.dirOf(id), 'upper');
    if (mounts.targets.length) {
      const lower = await this.engine.snapshots.prepare(run.state.image!);
      for (const target of mounts.targets) await removeMountStub(upper, lower, target);
    }
    // A container that is kept keeps its upper dir; the snapshot is then unpacked when needed.
    const remove = this.request.rm || this.request.forceRm;
    await this.commitChanges(run, upper, () => {}, createdBy, remove);
    if (remove) {
      await containers.remove(id, { force: true });
      this.say(` ---> Removed intermediate container ${id.slice(0, 12)}\n`);
    }
  }

  /** A RUN's --mount flags (and its heredoc script) made ready on the host. */
  private async runMounts(run: StageRun, ins: Instruction, script: { path: string; body: string } | undefined): Promise<StepMounts> {
    const tmp = join(this.base, 'tmp');
    const out: StepMounts = { api: [], env: [], key: [], targets: [], ready: async () => {}, release: async () => {} };
    const releases: (() => Promise<void>)[] = [];
    const readies: (() => Promise<void>)[] = [];
    out.release = async () => {
      for (const release of releases.reverse()) await release();
    };
    out.ready = async () => {
      for (const ready of readies) await ready();
    };
    try {
      if (script) {
        const dir = await mkdtemp(join(tmp, 'script-'));
        releases.push(() => rm(dir, { recursive: true, force: true }));
        await writeFile(join(dir, 'script'), script.body, { mode: 0o755 });
        out.api.push({ Type: 'bind', Source: join(dir, 'script'), Target: script.path, ReadOnly: true });
      }
      const env = this.stageEnv(run);
      for (const flag of ins.flags.filter((f) => f.name === 'mount')) {
        let mount: RunMount;
        try {
          mount = parseRunMount(this.expand(flag.value ?? '', env, ins));
        } catch (error) {
          if (error instanceof MountError) throw new BuildError(`RUN --mount: ${error.message}`, this.line(ins));
          throw error;
        }
        const target = mount.target === undefined ? undefined : posix.resolve(run.state.config.config?.WorkingDir || '/', mount.target);
        if (target) out.targets.push(target);
        switch (mount.type) {
          case 'bind': {
            let root = this.context;
            if (mount.from !== undefined) {
              const stage = this.stageNamed(mount.from, run.stage);
              const image = stage ? this.runs.get(stage)?.state.image ?? null : await this.image(mount.from, ins);
              const rootfs = await mountRootfs(tmp, image ? await this.engine.snapshots.prepare(image) : [], false);
              releases.push(() => rootfs.release());
              root = rootfs.dir;
            }
            const found = resolveInScope(root, posix.normalize(`/${mount.source}`).slice(1), true);
            if (found.escape) throw new BuildError(`RUN --mount: source "${mount.source}" goes through the symlink "${found.escape.link}" out of its root`, this.line(ins));
            if (!lstatOrNull(found.path)) throw new BuildError(`RUN --mount: source "${mount.source}" not found`, this.line(ins));
            const sources = await resolveSources(root, [mount.source], mount.from !== undefined ? { from: 'rootfs' } : {});
            out.key.push({ ...mount, content: await hashSources(sources) });
            let source = found.path;
            if (mount.readWrite || mount.from !== undefined) {
              // A copy: writes go to it and are thrown away after the step; a stage's files are
              // read from it. (Not an overlay mount: the container's mount namespace may be older
              // than the mount and not see it.)
              const copy = await mkdtemp(join(tmp, 'bind-'));
              releases.push(() => rm(copy, { recursive: true, force: true }));
              const from = source;
              source = join(copy, 'source');
              const to = source;
              readies.push(async () => void (await execFileAsync('cp', ['-a', from, to])));
            }
            out.api.push({ Type: 'bind', Source: source, Target: target, ReadOnly: !mount.readWrite });
            break;
          }
          case 'cache': {
            out.key.push(mount);
            const dir = join(this.base, 'cache-mounts', sha256(mount.id).slice('sha256:'.length));
            readies.push(async () => {
              if (!lstatOrNull(dir)) {
                await mkdir(dir, { recursive: true });
                await chmod(dir, mount.mode);
                await chown(dir, mount.uid, mount.gid);
              }
              if (mount.sharing !== 'shared') releases.push(await this.locks.take(dir));
            });
            out.api.push({ Type: 'bind', Source: dir, Target: target, ReadOnly: mount.readOnly });
            break;
          }
          case 'tmpfs':
            out.key.push(mount);
            out.api.push({ Type: 'tmpfs', Target: target, ...(mount.size ? { TmpfsOptions: { SizeBytes: mount.size } } : {}) });
            break;
          case 'secret': {
            out.key.push(mount);
            const value = this.request.secrets[mount.id];
            if (value === undefined) {
              if (mount.required) throw new BuildError(`RUN --mount=type=secret: secret ${mount.id} not found (pass it with --secret id=${mount.id},src=FILE)`, this.line(ins));
              break;
            }
            if (mount.env) out.env.push(`${mount.env}=${value.toString('utf8')}`);
            if (target) {
              const dir = await mkdtemp(join(tmp, 'secret-'));
              releases.push(() => rm(dir, { recursive: true, force: true }));
              const file = join(dir, 'secret');
              await writeFile(file, value, { mode: mount.mode });
              await chown(file, mount.uid, mount.gid);
              out.api.push({ Type: 'bind', Source: file, Target: target, ReadOnly: true });
            }
            break;
          }
        }
      }
    } catch (error) {
      await out.release();
      throw error;
    }
    return out;
  }

  private async copyStep(run: StageRun, ins: Instruction): Promise<void> {
    const env = this.stageEnv(run);
    const words = ins.json ? ins.json.items.map((i) => i.value) : ins.words.map((w) => w.text);
    if (words.length < 2) throw new BuildError(`${ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`, this.line(ins));
    const doc = this.model.syntax.text;
    const markers = new Map(ins.heredocs.map((h) => [doc.slice(h.marker.start, h.marker.end), h]));
    const dest = this.expand(words[words.length - 1], env, ins);
    const heredocs = words.slice(0, -1).flatMap((w) => markers.get(w) ?? []);
    const sources = words.slice(0, -1).filter((w) => !markers.has(w)).map((w) => this.expand(w, env, ins));
    if (ins.flags.some((f) => f.name === 'keep-git-dir') || sources.some((s) => s.startsWith('git@'))) {
      throw new BuildError(`${ins.keyword} of a Git repository is not supported by this engine`, this.line(ins));
    }
    if (ins.keyword === 'COPY' && sources.some(isUrlSource)) throw new BuildError(URL_FOR_COPY, this.line(ins));
    const checksum = this.flag(ins, 'checksum', run);
    const checksumProblem = checksum === undefined ? null : checksumError(ins.keyword as 'ADD' | 'COPY', sources, checksum);
    if (checksumProblem) throw new BuildError(checksumProblem, this.line(ins));
    const exclude = ins.flags.filter((f) => f.name === 'exclude').map((f) => this.expand(f.value ?? '', env, ins));
    const parents = ins.flags.some((f) => f.name === 'parents' && f.value !== 'false');
    const from = this.flag(ins, 'from', run);
    const chown = this.flag(ins, 'chown', run);
    const chmodText = this.flag(ins, 'chmod', run);
    let chmod: number | undefined;
    if (chmodText !== undefined) {
      if (!/^[0-7]{1,4}$/.test(chmodText)) throw new BuildError(`invalid chmod parameter: ${chmodText}`, this.line(ins));
      chmod = parseInt(chmodText, 8);
    }
    const workdir = run.state.config.config?.WorkingDir || '/';

    let sourceRoot: Rootfs | null = null;
    // Heredoc files and downloads, for the step.
    let scratch: string | null = null;
    const scratchDir = async () => (scratch ??= await mkdtemp(join(this.base, 'tmp', 'sources-')));
    try {
      let root = this.context;
      if (from !== undefined) {
        const stage = this.stageNamed(from, run.stage);
        const image = stage ? this.runs.get(stage)?.state.image ?? null : await this.image(from, ins);
        sourceRoot = await mountRootfs(join(this.base, 'tmp'), image ? await this.engine.snapshots.prepare(image) : [], false);
        root = sourceRoot.dir;
      }
      let resolved: Source[];
      try {
        const options = {
          ...(from !== undefined ? { from: 'rootfs' as const } : {}),
          ...(exclude.length ? { exclude } : {}),
          ...(parents ? { parents: true } : {}),
          ...(ins.keyword === 'ADD'
            ? { remote: (word: string) => (isUrlSource(word) ? scratchDir().then((dir) => fetchUrl(word, dir, { dest, signal: this.signal, ...(checksum ? { checksum } : {}) })) : undefined) }
            : {}),
        };
        resolved = sources.length || !heredocs.length ? await resolveSources(root, sources, options) : [];
        if (heredocs.length) {
          // Heredoc sources are files of their own, named by their delimiter.
          const heredocDir = await scratchDir();
          for (const heredoc of heredocs) {
            let body = doc.slice(heredoc.body.start, heredoc.body.end);
            if (heredoc.chomp) body = body.replace(/^\t+/gm, '');
            if (heredoc.expand) body = this.expandHeredoc(body, env, ins);
            await writeFile(join(heredocDir, heredoc.name), body, { mode: 0o644 });
            resolved.push({ root: heredocDir, rel: heredoc.name, path: join(heredocDir, heredoc.name), dir: false, noExtract: true });
          }
        }
      } catch (error) {
        throw new BuildError(`${ins.keyword} failed: ${(error as Error).message}`, this.line(ins));
      }
      // Docker's record of what was copied: file:, dir: or multi: and a hash of it.
      const hash = (await hashSources(resolved)).replace(/^sha256:/, '');
      const kind = resolved.length !== 1 ? 'multi' : resolved[0].dir ? 'dir' : 'file';
      const text = `${ins.keyword} ${kind}:${hash} in ${dest}`;
      const key = cacheKey([this.parentId(run), text, workdir, from ?? '', chown ?? '', chmod ?? '', ins.keyword, exclude, parents]);
      const hit = await this.cached(key);
      if (hit) {
        run.state = { image: hit, config: hit.config };
        return;
      }
      const rootfs = await this.writable(run);
      try {
        let owner: { uid: number; gid: number } | undefined;
        if (chown !== undefined) owner = await chownIds(rootfs.dir, chown, this.line(ins));
        try {
          await copyInto(resolved, rootfs.dir, dest, { workdir, ...(owner ? { chown: owner } : from !== undefined ? { preserveOwnership: true } : {}), ...(chmod !== undefined ? { chmod } : {}), ...(ins.keyword === 'ADD' ? { extractArchives: true } : {}) });
        } catch (error) {
          throw new BuildError(`${ins.keyword} failed: ${(error as Error).message}`, this.line(ins));
        }
        await rootfs.unmount();
        await this.commitChanges(run, rootfs.upper!, () => {}, `/bin/sh -c #(nop) ${text} `);
      } finally {
        await rootfs.release();
      }
      await this.cache.set(key, run.state.image!.id);
      this.say(` ---> ${short(run.state.image!.id)}\n`);
    } finally {
      await sourceRoot?.release();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }
}

export function envMap(env: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of env) {
    const eq = e.indexOf('=');
    map.set(eq === -1 ? e : e.slice(0, eq), eq === -1 ? '' : e.slice(eq + 1));
  }
  return map;
}

/** EXPOSE's forms: 80, 80/udp, 8000-8002/tcp; each port as Docker keys it ("80/tcp"). */
export function exposedPorts(spec: string, line: number): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw new BuildError(`invalid containerPort: ${spec}`, line);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (first < 1 || last > 65535 || last < first) throw new BuildError(`invalid port range: ${spec}`, line);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: last - first + 1 }, (_, i) => `${first + i}/${proto}`);
}

/** Go's durations as HEALTHCHECK takes them ("30s", "1m30s", "500ms"), in nanoseconds. */
function duration(text: string, flag: string, line: number): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const parts = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(text) ? text.match(/\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)/g)! : null;
  if (!parts) throw new BuildError(`time: invalid duration "${text}" (--${flag})`, line);
  return Math.round(parts.reduce((n, part) => n + parseFloat(part) * units[/[a-zµ]+$/.exec(part)![0]], 0));
}

function healthcheck(ins: Instruction, args: string, flag: (name: string) => string | undefined, line: number): NonNullable<ContainerConfig['Healthcheck']> {
  const type = ins.words[0]?.text.toUpperCase();
  if (type === 'NONE') return { Test: ['NONE'] };
  const rest = args.replace(/^\s*\S+\s*/, '');
  let test: string[];
  try {
    test = /^\s*\[/.test(rest) ? ['CMD', ...(JSON.parse(rest) as string[])] : ['CMD-SHELL', rest];
  } catch {
    test = ['CMD-SHELL', rest];
  }
  const check: NonNullable<ContainerConfig['Healthcheck']> = { Test: test };
  for (const [name, key] of [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const) {
    const value = flag(name);
    if (value !== undefined) check[key] = duration(value, name, line);
  }
  const retries = flag('retries');
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries)) throw new BuildError(`--retries: invalid syntax "${retries}"`, line);
    check.Retries = Number(retries);
  }
  return check;
}

/** A list of strings as Go's %q prints it, which is how Docker records CMD, ENTRYPOINT and SHELL. */
function goStrings(items: readonly string[]): string {
  return `[${items.map(goQuote).join(' ')}]`;
}

/** A duration as Go's time.Duration prints it: 1h2m3s, 1m30s, 500ms, 0s. */
function goDuration(ns: number | undefined): string {
  if (!ns) return '0s';
  if (ns < 1e9) return ns % 1e6 === 0 ? `${ns / 1e6}ms` : ns % 1e3 === 0 ? `${ns / 1e3}µs` : `${ns}ns`;
  const h = Math.floor(ns / 3.6e12);
  const m = Math.floor((ns % 3.6e12) / 6e10);
  const sec = (ns % 6e10) / 1e9;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}s`;
}

/** A healthcheck as Docker records it: Go's %q of its HealthConfig (the retries as a quoted rune). */
function goHealthcheck(check: NonNullable<ContainerConfig['Healthcheck']>): string {
  const retries = check.Retries ?? 0;
  const rune = retries >= 0x20 && retries < 0x7f ? `'${retries === 0x27 || retries === 0x5c ? '\\' : ''}${String.fromCharCode(retries)}'` : `'\\x${retries.toString(16).padStart(2, '0')}'`;
  const durations = [check.Interval, check.Timeout, check.StartPeriod, check.StartInterval].map((d) => goQuote(goDuration(d)));
  return `&{${goStrings(check.Test ?? [])} ${durations.join(' ')} ${rune}}`;
}

/** The bytes of the files under a directory. */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.isFile()) total += (await lstat(join(entry.parentPath, entry.name)).catch(() => null))?.size ?? 0;
  }
  return total;
}

/** `--chown=user[:group]` against the image's own /etc/passwd and /etc/group. */
async function chownIds(root: string, spec: string, line: number): Promise<{ uid: number; gid: number }> {
  const [user, group] = spec.split(':', 2);
  try {
    const resolved = await resolveUser([root], group === undefined ? user : `${user}:${group}`);
    // Without a group, Docker uses the user's numeric ID as the group ID too.
    return { uid: resolved.uid, gid: group === undefined ? resolved.uid : resolved.gid };
  } catch (error) {
    throw new BuildError(`unable to convert uid/gid chown string to host mapping: ${(error as Error).message}`, line);
  }
}

/** mkdir -p of a path in a root, following the image's symlinks within it; whether it made any. */
async function mkdirInRoot(root: string, dir: string, line: number): Promise<boolean> {
  let current = '/';
  let made = false;
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0, hops = 0; i < parts.length; i++) {
    const next = posix.join(current, parts[i]);
    const st = await lstat(join(root, next)).catch(() => null);
    if (!st) {
      await mkdir(join(root, next), { mode: 0o755 });
      made = true;
      current = next;
    } else if (st.isSymbolicLink()) {
      if (++hops > 40) throw new BuildError(`WORKDIR ${dir}: too many levels of symbolic links`, line);
      const target = await readlink(join(root, next));
      // Resolved inside the root, as Docker resolves it: an absolute target starts at the root.
      const resolved = posix.resolve(target.startsWith('/') ? '/' : current, target);
      parts.splice(0, i + 1, ...resolved.split('/').filter(Boolean));
      current = '/';
      i = -1;
    } else if (!st.isDirectory()) {
      throw new BuildError(`WORKDIR ${dir}: ${next} is not a directory`, line);
    } else {
      current = next;
    }
  }
  return made;
}
