// Build and Run publishes what the image EXPOSEs: EXPOSE 18089 answers on localhost:18089 (a free
// port of this machine), the terminal says where, and the Containers view's "Open in Browser"
// has the port.
import assert from 'node:assert/strict';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import type { BuildAndRunOutcome } from '../../../client/src/build-and-run';
import type { ContainerElement } from '../../../client/src/containers-view';
import { testImage, tug, until, workspaceFolder } from './helpers';

suite('Published ports', () => {
  test('an EXPOSEd port answers on the same port of localhost; the terminal tells where', async () => {
    const api = await tug();
    const dir = await workspaceFolder('exposed', {
      Dockerfile: `FROM ${testImage()}\nRUN mkdir /www && echo served > /www/index.html\nEXPOSE 18089\n`,
    });
    // Options of its own: other tests leave theirs remembered for the workspace.
    const run = { tag: 'exposed:latest', command: ['busybox', 'httpd', '-f', '-p', '18089', '-h', '/www'], env: [], ports: [], interactive: false, autoRemove: false };
    const outcome = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', vscode.Uri.joinPath(dir, 'Dockerfile'), run))!;
    try {
      assert.equal(outcome.error, undefined);
      const text = await until('the published address in the terminal', () => {
        const t = api.terminalText(outcome.terminal);
        return t?.includes('18089/tcp is published at') && t;
      });
      assert.match(text, /18089\/tcp is published at http:\/\/localhost:18089\r?\n/);
      const body = await until('the server answering', () => fetch('http://127.0.0.1:18089/').then((r) => r.text()));
      assert.equal(body, 'served\n');
      const row = await until('the ports in the view', () => api.session().containers.get(outcome.containerId!)?.Ports.find((p) => p.PublicPort === 18089));
      assert.deepEqual(row, { IP: '0.0.0.0', PrivatePort: 18089, PublicPort: 18089, Type: 'tcp' });
      // Its row offers Open in Browser (the menu's when clause matches container.running.ports).
      const element = await until('the container in the view', async () =>
        (await api.containers.getChildren()).find((e): e is ContainerElement & { kind: 'container' } => e.kind === 'container' && e.id === outcome.containerId),
      );
      assert.equal(api.containers.getTreeItem(element).contextValue, 'container.running.ports');
    } finally {
      outcome.terminal.dispose();
      await api.session().client.call('DELETE', `/containers/${outcome.containerId}?force=1`).catch(() => {});
    }
  });
});
