// The Engines view and "Start the local engine": with tug.engine.host on a socket where nothing
// listens, the view is empty (its welcome content offers the start); the command starts tugd
// there, and the view then shows it in use, with its version.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import { tug, until } from './helpers';

suite('Engines', () => {
  test('starts the local engine where none answers, and shows it in use', async () => {
    const api = await tug();
    const dir = mkdtempSync(join(tmpdir(), 'tug-start-'));
    const socket = join(dir, 'tug.sock');
    const config = vscode.workspace.getConfiguration('tug');
    let pid: number | undefined;
    try {
      await config.update('engine.dataRoot', join(dir, 'data'), vscode.ConfigurationTarget.Global);
      await config.update('engine.host', `unix://${socket}`, vscode.ConfigurationTarget.Global);
      await until('the session on the new host', () => api.session().host === `unix://${socket}`);
      await until('the view empty, for its welcome content', async () => api.engines.getChildren().length === 0 && !api.engines.engineInfo());
      assert.deepEqual(await api.containers.getChildren().then((c) => c.map((e) => e.kind)), ['message']);

      await vscode.commands.executeCommand('tug.startLocalEngine');
      pid = api.startedEnginePid();
      assert.ok(pid, 'the extension started no engine');
      const [engine] = await until('the engine in the view', () => api.engines.getChildren().length === 1 && api.engines.getChildren());
      assert.deepEqual(engine, { host: `unix://${socket}`, active: true });
      assert.match(String(api.engines.getTreeItem(engine).description), /^Tug \S+ · in use$/);
      await until('the containers view connected', () => api.session().connected);
      assert.deepEqual(await api.containers.getChildren(), []);
    } finally {
      if (pid) {
        process.kill(pid, 'SIGTERM');
        await until('the engine stopped', () => {
          try {
            process.kill(pid!, 0);
            return false;
          } catch {
            return true;
          }
        });
      }
      await config.update('engine.host', undefined, vscode.ConfigurationTarget.Global);
      await config.update('engine.dataRoot', undefined, vscode.ConfigurationTarget.Global);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
