// The engine the extension picks (the one the tug CLI's rule picks, the setting first), and the
// default image name for a folder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultRepository } from '../../client/src/repository';
import { engineHost as chooseEngine } from '../../runtime-agent/src/cli/client';
import { parseReference } from '../../runtime-agent/src/registry/reference';

test('the setting wins, then TUG_HOST, then DOCKER_HOST, then the local tugd; a bare path is a Unix socket', () => {
  assert.equal(chooseEngine('unix:///tmp/a.sock', { DOCKER_HOST: 'unix:///tmp/b.sock' }), 'unix:///tmp/a.sock');
  assert.equal(chooseEngine(' ', { TUG_HOST: '/tmp/t.sock', DOCKER_HOST: 'unix:///tmp/b.sock' }), 'unix:///tmp/t.sock');
  assert.equal(chooseEngine(undefined, { DOCKER_HOST: 'unix:///var/run/docker.sock' }), 'unix:///var/run/docker.sock');
  assert.equal(chooseEngine(undefined, {}), 'unix:///run/tug/tug.sock');
});

test('a folder name becomes a valid repository name', () => {
  for (const [folder, name] of [['My App', 'my-app'], ['web_server.v2', 'web_server.v2'], ['--Ünïcode!', 'n-code'], ['!!!', 'app']]) {
    assert.equal(defaultRepository(folder), name);
    assert.doesNotThrow(() => parseReference(`${name}:latest`));
  }
});
