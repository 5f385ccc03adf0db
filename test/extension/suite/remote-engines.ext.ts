// Remote engines in the Engines view: the test host (a real sshd in a network namespace of the
// runner's, named as a Host of the ~/.ssh/config the runner wrote) added as an engine and used
// over SSH: Build and Run there, the container in the Containers view with its processes; and a host that does not answer, which the
// views say they keep trying to reach.
import assert from 'node:assert/strict';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import type { BuildAndRunOutcome } from '../../../client/src/build-and-run';
import type { ContainerElement } from '../../../client/src/containers-view';
import { testImage, tug, until, workspaceFolder } from './helpers';

suite('Remote engines', () => {
  const config = () => vscode.workspace.getConfiguration('tug');

  test('adds the test host as an engine, uses it over SSH: Build and Run there, its containers and their processes listed', async function () {
    // Installing the engine there, a build and a run: more than a view's usual wait on a busy machine.
    this.timeout(120_000);
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

      // Build and Run there: the context goes over SSH, the container's output comes back.
      const dir = await workspaceFolder('remote-app', {
        Dockerfile: `FROM ${testImage()}\nCOPY greeting /greeting\n`,
        greeting: 'hello from over there\n',
      });
      // Options of its own: other tests leave theirs remembered for the workspace.
      const run = { tag: 'remote-app:latest', command: ['sh', '-c', "trap 'exit 0' TERM; cat /greeting; sleep 300 & wait"], env: [], interactive: true, autoRemove: false };
      const outcome = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', vscode.Uri.joinPath(dir, 'Dockerfile'), run))!;
      assert.equal(outcome.error, undefined);
      id = outcome.containerId;
      await until('its output in the terminal', () => api.terminalText(outcome.terminal)?.includes('hello from over there'));
      // It shows in the Containers view, running, and expands into its processes.
      const row = await until('the container in the Containers view, running', async () => {
        const found = (await api.containers.getChildren()).find((e): e is ContainerElement & { kind: 'container' } => e.kind === 'container' && e.id === id);
        return found && String(api.containers.getTreeItem(found).description).startsWith('remote-app:latest · Up ') && found;
      });
      assert.equal(api.containers.getTreeItem(row).contextValue, 'container.running');
      const [root] = await until('its processes', async () => {
        const r = await api.containers.getChildren(row);
        return r[0]?.kind === 'process' && r[0].process.children.some((c) => c.command.startsWith('sleep 300')) && r;
      });
      assert.equal(root.kind === 'process' && root.process.pid, 1);
      outcome.terminal.dispose();
    } finally {
      if (id) await api.session().client.call('DELETE', `/containers/${id}?force=1`).catch(() => {});
      await api.session().client.call('DELETE', '/images/remote-app:latest').catch(() => {});
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
