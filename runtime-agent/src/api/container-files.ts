// The endpoints that reach into a container's files: `/containers/{id}/archive` (HEAD: a path's
// stat; GET: the path as a tar; PUT: a tar extracted into a directory), which `docker cp` uses
// both ways, and `/containers/{id}/export`, the whole root as a tar.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine } from '../engine';
import { UnsafeLayerError } from '../images/layers';
import { TarFormatError, writeTar, type TarWriteEntry } from '../images/tar';
import { absolutePath, archiveEntries, containerUser, extractInto, hostPath, resolveInRoot, rootEntries, statPath, withContainerRoot } from '../runtime/container-files';
import type { ContainerRecord } from '../runtime/containers';
import { badRequest, notFound } from './errors';
import type { ApiServer, Call } from './server';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function pathOf(call: Call): string {
  const path = call.query.get('path');
  if (!path) throw badRequest('path cannot be empty');
  return path;
}

const missing = (call: Call, path: string) => notFound(`Could not find the file ${path} in container ${call.params.id}`);

/** The volumes and binds of a container, by where they are mounted in it. */
const mountPoints = (record: ContainerRecord) => new Set(record.Mounts.filter((m) => m.Type === 'volume' || m.Type === 'bind').map((m) => m.Destination));

/**
 * Streams a tar; a failure once it has begun cuts the connection, so that the client sees a
 * broken archive rather than a short one.
 */
async function sendTar(call: Call, entries: AsyncIterable<TarWriteEntry>): Promise<void> {
  const res = call.stream('application/x-tar');
  try {
    await pipeline(Readable.from(writeTar(entries)), res);
  } catch (error) {
    if (!call.closed.aborted) {
      console.error(`${call.path}: the archive broke off: ${(error as Error).message}`);
      res.destroy();
    }
  }
}

/**
 * Docker's rule for writing into a container: into a volume or bind only if it is writable, and
 * elsewhere only if the root is (`--read-only` refuses every other path, tmpfs ones too).
 */
function checkWritable(record: ContainerRecord, inside: string): void {
  const under = (dest: string) => inside === dest || inside.startsWith(dest === '/' ? '/' : `${dest}/`);
  const mount = record.Mounts.filter((m) => (m.Type === 'volume' || m.Type === 'bind') && under(m.Destination)).sort((a, b) => b.Destination.length - a.Destination.length)[0];
  if (mount && !mount.RW) throw badRequest('mounted volume is marked read-only');
  if (!mount && record.HostConfig.ReadonlyRootfs === true) throw badRequest('container rootfs is marked read-only');
}

export function containerFileRoutes(api: ApiServer, engine: Engine): void {
  const { containers } = engine;

  // HEAD (the stat alone) comes here too.
  api.route('GET', '/containers/{id}/archive', async (call) => {
    const path = pathOf(call);
    const record = containers.get(call.params.id);
    const head = call.req.method === 'HEAD';
    await withContainerRoot(containers, record.Id, { writable: false }, async (root) => {
      const found = await statPath(root, path);
      if (!found) throw missing(call, path);
      call.header(STAT_HEADER, Buffer.from(JSON.stringify(found.stat)).toString('base64'));
      if (head) call.send(200);
      else await sendTar(call, archiveEntries(found, path, mountPoints(record)));
    });
    if (!head) containers.emit('archive-path', record);
  });

  api.route('PUT', '/containers/{id}/archive', async (call) => {
    const path = pathOf(call);
    const record = containers.get(call.params.id);
    await withContainerRoot(containers, record.Id, { writable: true }, async (root) => {
      // The extraction point's own symlink is followed too: a tar may go into a link to a directory.
      const inside = await resolveInRoot(root, absolutePath(path));
      const found = await statPath(root, inside);
      if (!found) throw missing(call, path);
      if (!found.info.isDirectory()) throw badRequest('extraction point is not a directory');
      checkWritable(record, inside);
      try {
        // -a: what is copied becomes the container's user's (a container without one keeps the archive's owners, as Docker's does).
        const owner = call.bool('copyUIDGID') && record.Config.User ? await containerUser(root, record.Config.User) : undefined;
        await extractInto(call.req, hostPath(root, inside), { owner, noOverwriteDirNonDir: call.bool('noOverwriteDirNonDir') });
      } catch (error) {
        if (error instanceof UnsafeLayerError || error instanceof TarFormatError) throw badRequest(error.message);
        throw error;
      }
    });
    containers.emit('extract-to-dir', record);
    call.send(200);
  });

  // The image's files and the container's changes, whiteouts applied; volumes are not in it.
  api.route('GET', '/containers/{id}/export', async (call) => {
    const record = containers.get(call.params.id);
    await withContainerRoot(containers, record.Id, { writable: false, rootfsOnly: true }, (root) => sendTar(call, rootEntries(root)));
    containers.emit('export', record);
  });
}
