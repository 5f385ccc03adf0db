// `docker exec` through the real docker CLI: the process joins the running container (its PID,
// UTS, mount, network and IPC namespaces, its root and cgroups), takes -e, -u, -w, -i and -t, and
// its exit code comes back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { busyboxEngine } from '../helpers/busybox-engine';

const t = busyboxEngine({ pull: true });
let id = '';

test('the process runs inside the container: its PIDs, hostname, files and cgroups', async () => {
  // The container the tests exec into (removed with the engine).
  const run = await t.engine.docker(['run', '-d', '--name', 'target', '-e', 'FROM_IMAGE=yes', '-w', '/home', t.busybox, 'sh', '-c', 'echo inside > /tmp/mark; exec sleep 300']);
  assert.equal(run.code, 0, run.stderr);
  id = run.stdout.trim();
  const r = await t.engine.docker(['exec', 'target', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; hostname; cat /tmp/mark; echo $FROM_IMAGE; pwd; cat /proc/self/cgroup | grep -c .']);
  assert.equal(r.code, 0, r.stderr);
  const [cmdline, hostname, mark, env, cwd] = r.stdout.split('\n');
  assert.equal(cmdline, 'sleep 300 ');
  assert.equal(hostname, id.slice(0, 12));
  assert.equal(mark, 'inside');
  assert.equal(env, 'yes', 'the container\'s environment');
  assert.equal(cwd, '/home', 'the container\'s working directory');
  // Its cgroups are the container's: those of the container's init as the host sees it.
  const pid = (await t.engine.docker(['inspect', '-f', '{{.State.Pid}}', 'target'])).stdout.trim();
  const inCgroups = await t.engine.docker(['exec', 'target', 'sh', '-c', 'cat /proc/$$/cgroup']);
  const hostView = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').filter((l) => /:(memory|pids):/.test(l));
  for (const line of hostView) assert.ok(inCgroups.stdout.includes(line.split(':')[1]), `${line} in ${inCgroups.stdout}`);
  const top = await t.engine.docker(['top', 'target']);
  assert.doesNotMatch(top.stdout, /cat \/proc/, 'the exec has ended');
});

test('-e, -u and -w; the exit code comes back', async () => {
  const r = await t.engine.docker(['exec', '-e', 'A=1', '-u', '1000', '-w', '/tmp', 'target', 'sh', '-c', 'echo $A; id -u; pwd; exit 3']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '1\n1000\n/tmp\n');
  const named = await t.engine.docker(['exec', '-u', 'app', 'target', 'id', '-un']);
  assert.equal(named.stdout, 'app\n');
});

test('-i passes stdin; output and errors stay apart', async () => {
  const r = await t.engine.docker(['exec', '-i', 'target', 'sh', '-c', 'cat; echo oops >&2'], { input: 'typed\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'typed\n');
  assert.equal(r.stderr, 'oops\n');
});

test('input for a process that has already ended holds nothing up (the engine still stops at the end)', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await t.engine.docker(['exec', '-i', 'target', 'true'], { input: 'never read\n' });
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await fetchEngine('/_ping')).body, 'OK');
});

test('-it: a terminal of the client\'s size', async () => {
  const out = await new Promise<string>((resolve) => {
    execFile('script', ['-qec', `stty rows 21 cols 77; docker exec -it target sh -c 'stty size; tty'`, '/dev/null'], { env: { ...process.env, DOCKER_HOST: t.engine.host }, timeout: 30_000 }, (_e, stdout) => resolve(stdout));
  });
  assert.match(out, /21 77\r+\n\/dev\/pts\/\d+/);
});

test('a missing command, a stopped container and an unknown exec get Docker\'s errors', async () => {
  // Told on the stream (as Docker tells it), the code from exec inspect.
  const missing = await t.engine.docker(['exec', 'target', 'nosuch']);
  assert.equal(missing.code, 127);
  assert.match(missing.stdout, /^OCI runtime exec failed: exec failed: .*"nosuch": executable file not found in \$PATH/);
  const stopped = (await t.engine.docker(['create', t.busybox, 'true'])).stdout.trim();
  const refused = await t.engine.docker(['exec', stopped, 'true']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /is not running/);
  await t.engine.docker(['rm', stopped]);
  const unknown = await fetchEngine(`/exec/${'0'.repeat(64)}/json`);
  assert.equal(unknown.status, 404);
  assert.match(unknown.body, /No such exec instance/);
});

async function fetchEngine(path: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    request({ socketPath: t.engine.socket, path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}
