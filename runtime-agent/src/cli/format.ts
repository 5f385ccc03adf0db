// Times and sizes as the docker CLI prints them in its lists; the extension shows them the same way.

/** How long ago, as `docker ps` and `docker images` say it. */
export function ago(seconds: number): string {
  const s = Math.floor(Date.now() / 1000 - seconds);
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.floor(s / 60)} minutes ago`;
  if (s < 172800) return `${Math.floor(s / 3600)} hours ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

/** A size as `docker images` prints it (three significant digits). */
export function size(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : n.toPrecision(3)}${units[u]}`;
}
