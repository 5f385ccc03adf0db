// Remote engines in the Engines view: the test host (a real sshd in a network namespace of the
// runner's, named as a Host of the ~/.ssh/config the runner wrote) added as an engine, used over
// SSH, its containers listed in the Containers view; and a host that does not answer, which the
// views say they keep trying to reach.
import assert from 'node:assert/strict';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import type { ContainerElement } from '../../../client/src/containers-view';
import { testImage, tug, until } from './helpers';

suite('Remote engines', () => {
  const config = () => vscode.workspace.getConfiguration('tug');

  test('adds the test host as an engine, uses it over SSH, and lists its containers', async () => {
    const alias = process.env.TUG_TEST_SSH_ALIAS;
    if (!alias) throw new Error('TUG_TEST_SSH_ALIAS is not set: run the suite through test/extension/vscode.test.ts');
    const api = await tug();
    const host = `ssh://${alias}`;
    let id: string | undefined;
    try {
      // As typed into Add Engine: the Host alias alone.
      assert.equal(await vscode.commands.executeCommand('tug.engines.add', alias), host);
      assert.deepEqual(config().get('engines'), [host]);
      await until('the session on the remote engine', () => api.session().host === host);
      await until('connected over SSH', () => api.session().link?.state.status === 'connected');
      const rows = await until('the engine in use, and the local one to go back to', () => api.engines.engineInfo() && api.engines.getChildren());
      assert.deepEqual(rows, [{ host, active: true }, { host: 'unix:///run/tug/tug.sock', active: false }]);
      const item = api.engines.getTreeItem(rows[0]);
      assert.equal(item.label, alias);
      assert.match(String(item.description), /^Tug \S+ · in use$/);
      assert.equal(item.contextValue, 'engine ssh active listed connected');
      assert.equal(api.engines.getTreeItem(rows[1]).contextValue, 'engine unix inactive');

      // A container made through the remote engine shows in the view.
      const client = api.session().client;
      ({ Id: id } = await client.call<{ Id: string }>('POST', '/containers/create', { Image: testImage(), Cmd: ['sleep', '60'] }));
      await client.call('POST', `/containers/${id}/start`);
      const row = await until('the container in the Containers view, running', async () => {
        const found = (await api.containers.getChildren()).find((e): e is ContainerElement & { kind: 'container' } => e.kind === 'container' && e.id === id);
        return found && String(api.containers.getTreeItem(found).description).startsWith(`${testImage()} · Up `) && found;
      });
      assert.equal(api.containers.getTreeItem(row).contextValue, 'container.running');
    } finally {
      if (id) await api.session().client.call('DELETE', `/containers/${id}?force=1`).catch(() => {});
      await vscode.commands.executeCommand('tug.engines.remove', host);
    }
    assert.deepEqual(config().get('engines'), []);
    await until('back on the engine of before', () => api.session().host === process.env.TUG_HOST);
  });

  test('a host that does not answer: the view and the status bar say it is being retried', async () => {
    const api = await tug();
    // Nothing listens on port 1 of loopback: each attempt is refused at once.
    const host = 'ssh://root@127.0.0.1:1';
    try {
      await vscode.commands.executeCommand('tug.engines.add', host);
      await until('the session on it', () => api.session().host === host);
      const state = await until('the link down, with a retry set', () => {
        const s = api.session().link?.state;
        return s?.status === 'disconnected' && s.retryAt !== undefined && s;
      });
      assert.match(state.status === 'disconnected' ? state.error.message : '', /cannot connect to \[127\.0\.0\.1\]:1: connect ECONNREFUSED/);
      const [row] = await until('its row', () => api.engines.getChildren().length && api.engines.getChildren());
      await until('the row says so', () => /^(disconnected · reconnecting|reconnecting…)$/.test(String(api.engines.getTreeItem(row).description)));
      assert.match(String(api.engines.getTreeItem(row).contextValue), /^engine ssh active listed disconnected$/);
      await until('the status bar says so', () => / \((disconnected · reconnecting|reconnecting…)\)$/.test(api.statusText()));
    } finally {
      await vscode.commands.executeCommand('tug.engines.remove', host);
    }
    await until('back on the engine of before', () => api.session().host === process.env.TUG_HOST);
  });
});
