// Layer diff: an overlayfs upper dir (what a build step changed) as an OCI layer tar. overlayfs
// records a deletion as a 0/0 character device and a directory that replaced one below as the
// xattr trusted.overlay.opaque=y; the layer says the same with `.wh.<name>` and `.wh..wh..opq`
// entries. Paths go in sorted order, so the same changes make the same bytes (and diffID).
//
// Node cannot read xattrs: getfattr(1) (Debian's `attr`, as setfattr for unpacking) dumps
// them for the whole tree in one run.

import { execFile } from 'node:child_process';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTar, type TarWriteEntry } from './tar';

const OVERLAY_PREFIX = 'trusted.overlay.';

/** Every xattr under `dir`, by path relative to it (symlinks' own, not their targets'). */
export function readXattrs(dir: string): Promise<Map<string, Record<string, Buffer>>> {
  return new Promise((resolve, reject) => {
    execFile(
      'getfattr',
      ['--recursive', '--physical', '--no-dereference', '--absolute-names', '--dump', '--match=-', '--encoding=hex', dir],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          return reject(new Error(`getfattr: ${missing ? "command not found (install Debian's 'attr' package)" : String(stderr).trim() || error.message}`));
        }
        const out = new Map<string, Record<string, Buffer>>();
        let current: Record<string, Buffer> | null = null;
        for (const line of String(stdout).split('\n')) {
          if (line.startsWith('# file: ')) {
            const path = line.slice('# file: '.length);
            const rel = path === dir ? '' : path.slice(dir.length + 1);
            current = {};
            out.set(rel, current);
          } else if (current && line.includes('=0x')) {
            const eq = line.indexOf('=0x');
            current[line.slice(0, eq)] = Buffer.from(line.slice(eq + 3), 'hex');
          } else if (current && /^[^#=]+=?$/.test(line) && line.trim() !== '') {
            current[line.replace(/=$/, '')] = Buffer.alloc(0);
          }
        }
        resolve(out);
      },
    );
  });
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/** The entries of an upper dir, parents first, names sorted, with whiteouts translated. */
async function* entriesOf(upper: string, xattrs: Map<string, Record<string, Buffer>>): AsyncIterable<TarWriteEntry> {
  // Files seen with more than one link, by inode: later names become hardlinks to the first.
  const links = new Map<string, string>();
  async function* walk(rel: string): AsyncIterable<TarWriteEntry> {
    const names = (await readdir(rel ? join(upper, rel) : upper)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(upper, path);
      const st = await lstat(abs);
      const own = xattrs.get(path) ?? {};
      const kept = Object.fromEntries(Object.entries(own).filter(([key]) => !key.startsWith(OVERLAY_PREFIX)));
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), xattrs: kept };
      if (isWhiteout(st)) {
        yield { name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', mode: 0o600, mtime: base.mtime, body: '' };
      } else if (st.isDirectory()) {
        yield { ...base, name: path, type: 'dir' };
        if (own['trusted.overlay.opaque']?.toString() === 'y') yield { name: `${path}/.wh..wh..opq`, type: 'file', mode: 0o600, mtime: base.mtime, body: '' };
        yield* walk(path);
      } else if (st.isSymbolicLink()) {
        yield { ...base, name: path, type: 'symlink', linkname: await readlink(abs) };
      } else if (st.isFile()) {
        const inode = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(inode) : undefined;
        if (first !== undefined) {
          yield { ...base, name: path, type: 'hardlink', linkname: first };
          continue;
        }
        if (st.nlink > 1) links.set(inode, path);
        yield { ...base, name: path, type: 'file', size: st.size, body: createReadStream(abs, { highWaterMark: 256 * 1024 }) };
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        yield { ...base, name: path, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) };
      } else if (st.isFIFO()) {
        yield { ...base, name: path, type: 'fifo' };
      }
      // Sockets are not archived (as tar does not).
    }
  }
  yield* walk('');
}

/** The changes in an overlay upper dir as an uncompressed OCI layer. */
export async function* diffLayer(upper: string): AsyncIterable<Uint8Array> {
  const xattrs = await readXattrs(upper);
  yield* writeTar(entriesOf(upper, xattrs));
}
