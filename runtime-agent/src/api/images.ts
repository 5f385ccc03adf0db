// The /images endpoints of the Docker Engine API: pull, list, inspect, history, tag, remove,
// save and load.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine } from '../engine';
import { ImageNotFoundError, loadArchive, planSave, selectImages, writeArchive } from '../images/archive';
import { familiarName, type ImageRecord } from '../images/store';
import { pullInChild, type PullRequest } from '../registry/pull-process';
import { formatReference, parseReference } from '../registry/reference';
import { parsePlatform } from '../../../server/src/dockerfile/platform';
import { badRequest, conflict, notFound } from './errors';
import type { ApiServer, Call } from './server';

/** X-Registry-Auth: base64url JSON with username/password or an identity token. */
function registryAuth(header: string | string[] | undefined): { username: string; password: string } | { identitytoken: string } | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  try {
    const auth = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, string>;
    if (auth.identitytoken) return { identitytoken: auth.identitytoken };
    if (auth.username) return { username: auth.username, password: auth.password ?? '' };
  } catch {
    // Docker ignores an unreadable header and pulls anonymously.
  }
  return undefined;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

function containerConfig(image: ImageRecord) {
  const c = image.config.config ?? {};
  return {
    Hostname: '',
    Domainname: '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
    Image: '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
  };
}

/** One image as `docker images` lists it. */
export function imageSummary(image: ImageRecord) {
  return {
    Id: image.id,
    ParentId: image.parent ?? '',
    RepoTags: image.repoTags.map(familiarName),
    RepoDigests: image.repoDigests.map(familiarName),
    Created: Math.floor(Date.parse(image.config.created ?? image.created) / 1000) || 0,
    Size: image.size,
    SharedSize: -1,
    Labels: image.config.config?.Labels ?? {},
    Containers: -1,
  };
}

export function imageRoutes(api: ApiServer, engine: Engine): void {
  const { images, containers } = engine;

  const find = (name: string): ImageRecord => {
    const image = images.get(name);
    if (!image) throw notFound(`No such image: ${name}`);
    return image;
  };

  /**
   * Answers with Docker's JSON progress stream while `work` brings blobs into the content store
   * (a pull, a load): garbage collection holds off meanwhile, since those blobs have no image yet.
   * A failure is the stream's last message, in Docker's shape (the status is 200 by then).
   */
  async function blobStream(call: Call, work: (write: (message: object) => void) => Promise<void>): Promise<void> {
    const res = call.stream('application/json');
    const write = (message: object) => res.write(JSON.stringify(message) + '\r\n');
    engine.pulls++;
    try {
      await work(write);
    } catch (error) {
      const message = (error as Error).message;
      write({ errorDetail: { message }, error: message });
    } finally {
      engine.pulls--;
    }
    res.end();
  }

  api.route('POST', '/images/create', async (call) => {
    const fromImage = call.query.get('fromImage');
    if (!fromImage) throw badRequest('importing images (fromSrc) is not supported; give fromImage');
    const tag = call.query.get('tag') || '';
    let ref = fromImage;
    if (tag) ref = tag.includes(':') && tag.startsWith('sha256') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
    try {
      parseReference(ref);
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    const platformText = call.query.get('platform');
    const platform = platformText ? parsePlatform(platformText) : null;
    if (platformText && !platform) throw badRequest(`"${platformText}": unknown operating system or architecture: invalid argument`);
    await blobStream(call, async (write) => {
      const request: PullRequest = {
        reference: ref,
        content: engine.content.root,
        snapshots: engine.snapshots.root,
        ...(platform ? { platform } : {}),
        insecure: engine.options.insecureRegistries,
        auth: registryAuth(call.req.headers['x-registry-auth']),
      };
      await pullInChild(request, images, write, call.closed);
      engine.events.emit('image', 'pull', familiarName(ref), { name: familiarName(ref) });
    });
  });

  api.route('GET', '/images/json', async (call) => {
    const filters = call.filters();
    const dangling = filters.get('dangling')?.[0];
    const references = filters.get('reference') ?? [];
    let list = images.list();
    // Intermediate images (a build's steps: untagged, with children) only with all=1, as Docker.
    if (!call.bool('all')) {
      const parents = new Set(list.map((i) => i.parent));
      list = list.filter((i) => i.repoTags.length > 0 || !parents.has(i.id));
    }
    if (!call.bool('all') || dangling !== undefined) {
      if (dangling === 'true') list = list.filter((i) => i.repoTags.length === 0);
      else if (dangling === 'false') list = list.filter((i) => i.repoTags.length > 0);
    }
    if (references.length) {
      list = list.filter((i) => i.repoTags.some((t) => references.some((r) => globMatch(r.includes(':') ? r : `${r}:*`, t))));
    }
    call.send(200, list.sort((a, b) => Date.parse(b.created) - Date.parse(a.created)).map(imageSummary));
  });

  api.route('GET', '/images/{name*}/json', async (call) => {
    const image = find(call.params.name);
    const lower = engine.snapshots.lowerDirs(image);
    call.send(200, {
      Id: image.id,
      RepoTags: image.repoTags.map(familiarName),
      RepoDigests: image.repoDigests.map(familiarName),
      Parent: image.parent ?? '',
      Comment: image.config.comment ?? '',
      Created: image.config.created ?? image.created,
      DockerVersion: '',
      Author: image.config.author ?? '',
      Config: containerConfig(image),
      Architecture: image.config.architecture,
      ...(image.config.variant ? { Variant: image.config.variant } : {}),
      Os: image.config.os,
      Size: image.size,
      GraphDriver: { Name: 'overlay2', Data: lower.length ? { LowerDir: lower.join(':') } : {} },
      RootFS: { Type: 'layers', Layers: image.layers.map((l) => l.diffId) },
      Metadata: { LastTagTime: image.created },
    });
  });

  api.route('GET', '/images/{name*}/history', async (call) => {
    const image = find(call.params.name);
    const layers = [...image.layers];
    const history = (image.config.history ?? []).map((h) => {
      const layer = h.empty_layer ? undefined : layers.shift();
      return {
        Id: '<missing>',
        Created: Math.floor(Date.parse(h.created ?? '') / 1000) || 0,
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: layer?.size ?? 0,
        Comment: h.comment ?? '',
      };
    });
    history.reverse();
    if (history.length) {
      history[0].Id = image.id;
      history[0].Tags = image.repoTags.map(familiarName);
    }
    call.send(200, history);
  });

  api.route('POST', '/images/{name*}/tag', async (call) => {
    const image = find(call.params.name);
    const repo = call.query.get('repo');
    if (!repo) throw badRequest('repository name must have at least one component');
    const tag = call.query.get('tag') || 'latest';
    let ref;
    try {
      ref = parseReference(`${repo}:${tag}`);
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    if (ref.digest) throw badRequest('refusing to create a tag with a digest reference');
    await images.tag(image.id, formatReference(ref));
    engine.events.emit('image', 'tag', image.id, { name: familiarName(formatReference(ref)) });
    call.send(201);
  });

  // `docker save`: a tar stream of the images and their blobs, sent as it is read from the store.
  const save = async (call: Call, names: string[]) => {
    let selected;
    try {
      selected = selectImages(images, names);
    } catch (error) {
      if (error instanceof ImageNotFoundError) throw notFound(error.message);
      throw badRequest((error as Error).message);
    }
    // Garbage collection leaves the blobs alone while they are sent.
    engine.pulls++;
    try {
      const plan = await planSave(engine.content, selected);
      const res = call.stream('application/x-tar');
      try {
        await pipeline(Readable.from(writeArchive(engine.content, plan)), res);
      } catch (error) {
        if (call.closed.aborted) return;
        throw error;
      }
      for (const { record } of selected) engine.events.emit('image', 'save', record.id, { name: record.id });
    } finally {
      engine.pulls--;
    }
  };

  api.route('GET', '/images/get', (call) => save(call, call.query.getAll('names')));
  api.route('GET', '/images/{name*}/get', (call) => save(call, [call.params.name]));

  // `docker load`: Docker's JSON stream, an error included (the status is 200 by then).
  api.route('POST', '/images/load', async (call) => {
    const quiet = call.query.get('quiet') === null || call.bool('quiet');
    // The body without a way to close it, which would close the connection before the answer.
    const reader = call.req[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    const body: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: () => reader.next() }) };
    await blobStream(call, async (write) => {
      const loaded = await loadArchive(body, {
        content: engine.content,
        images,
        snapshots: engine.snapshots,
        ...(quiet ? {} : { onProgress: write }),
        onLine: (line) => write({ stream: `${line}\n` }),
        mayDelete: () => engine.pulls === 1,
      });
      for (const record of loaded) engine.events.emit('image', 'load', record.id, { name: record.id });
    });
    // The rest of a refused archive is read and dropped, so that the client's upload ends.
    try {
      while (!(await reader.next()).done);
    } catch {
      // The client went away.
    }
  });

  /** `docker rmi`: untags, and removes the image (with the build steps only it kept) once nothing uses it. */
  async function removeImage(name: string, force: boolean, noprune: boolean): Promise<({ Untagged: string } | { Deleted: string })[]> {
    const image = find(name);
    const byId = image.id === name || image.id === `sha256:${name}` || image.id.replace(/^sha256:/, '').startsWith(name.replace(/^sha256:/, ''));
    const deleted: ({ Untagged: string } | { Deleted: string })[] = [];
    const users = containers.usersOf(image.id);
    const running = users.find((c) => c.State.Running);
    // Removing one of several tags only untags.
    if (!byId && image.repoTags.length > 1) {
      const tag = familiarName(name);
      await images.untag(name);
      engine.events.emit('image', 'untag', image.id, { name: tag });
      return [{ Untagged: tag }];
    }
    if (running && (force || byId)) {
      throw conflict(`conflict: unable to delete ${short(image.id)} (cannot be forced) - image is being used by running container ${short(running.Id)}`);
    }
    if (users.length && !force) {
      throw conflict(
        byId
          ? `conflict: unable to delete ${short(image.id)} (must be forced) - image is being used by stopped container ${short(users[0].Id)}`
          : `conflict: unable to remove repository reference "${name}" (must force) - container ${short(users[0].Id)} is using its referenced image ${short(image.id)}`,
      );
    }
    if (byId && image.repoTags.length > 1 && !force) {
      throw conflict(`conflict: unable to delete ${short(image.id)} (must be forced) - image is referenced in multiple repositories`);
    }
    for (const tag of [...image.repoTags, ...image.repoDigests]) {
      await images.untag(tag);
      deleted.push({ Untagged: tag });
      engine.events.emit('image', 'untag', image.id, { name: tag });
    }
    // An image a stopped container still uses stays, untagged, as Docker keeps it.
    if (users.length === 0) {
      await images.remove(image.id);
      deleted.push({ Deleted: image.id });
      // The build steps it came from go with it, up to one that is tagged or used (noprune keeps them).
      for (let parent = image.parent; parent && !noprune; ) {
        const step = images.get(parent);
        const list = images.list();
        if (!step || step.repoTags.length || step.repoDigests.length || list.some((i) => i.parent === step.id) || containers.usersOf(step.id).length) break;
        await images.remove(step.id);
        deleted.push({ Deleted: step.id });
        parent = step.parent;
      }
      for (const chain of await engine.collectGarbage()) deleted.push({ Deleted: chain });
      engine.events.emit('image', 'delete', image.id, { name: image.id });
    }
    return deleted;
  }

  api.route('DELETE', '/images/{name*}', async (call) => {
    call.send(200, await removeImage(call.params.name, call.bool('force'), call.bool('noprune')));
  });

  // `docker image prune`: dangling images (untagged, no image built on them) that no container
  // uses; with dangling=false, every image no container uses.
  api.route('POST', '/images/prune', async (call) => {
    const filters = call.filters();
    for (const name of filters.keys()) if (name !== 'dangling') throw badRequest(`invalid filter '${name}'`);
    const danglingOnly = !['false', '0'].includes(filters.get('dangling')?.[0] ?? 'true');
    const deleted: ({ Untagged: string } | { Deleted: string })[] = [];
    let reclaimed = 0;
    for (;;) {
      const list = images.list();
      const parents = new Set(list.map((i) => i.parent));
      const prunable = list.find((i) => !parents.has(i.id) && containers.usersOf(i.id).length === 0 && (!danglingOnly || i.repoTags.length === 0));
      if (!prunable) break;
      const gone = await removeImage(prunable.id, true, false);
      deleted.push(...gone);
      for (const entry of gone) if ('Deleted' in entry) reclaimed += list.find((i) => i.id === entry.Deleted)?.size ?? 0;
    }
    engine.events.emit('image', 'prune', '', { reclaimed: String(reclaimed) });
    call.send(200, { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.') + '$');
  return re.test(value) || re.test(value.replace(/^docker\.io\/(library\/)?/, ''));
}
