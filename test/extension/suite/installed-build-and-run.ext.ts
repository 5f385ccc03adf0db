// Tug installed from its .vsix (not this source tree): it activates on a Dockerfile from where
// VS Code installed it, carries its engine and native helper, and Build and Run works.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import type { BuildAndRunOutcome } from '../../../client/src/build-and-run';
import { testImage, tug, until, workspaceFolder } from './helpers';

suite('Installed from the .vsix', () => {
  test('activates from the installed copy, with the engine and its native helper inside', async () => {
    const ext = vscode.extensions.getExtension('tug.tug');
    assert.ok(ext, 'tug.tug is not installed');
    assert.match(ext.extensionPath, /\/extensions\/tug\.tug-\d+\.\d+\.\d+$/);
    const dir = await workspaceFolder('installed', { Dockerfile: `FROM ${testImage()}\nCMD ["echo", "from the installed extension"]\n` });
    await vscode.window.showTextDocument(vscode.Uri.joinPath(dir, 'Dockerfile'));
    await until('activated by the Dockerfile', () => ext.isActive);
    assert.ok(statSync(join(ext.extensionPath, 'dist/tug-shim')).mode & 0o100, 'the native helper is executable');
    assert.ok(statSync(join(ext.extensionPath, 'dist/tug.js')).isFile());
  });

  test('Build and Run works from the installed copy', async () => {
    const api = await tug();
    const dockerfile = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'installed/Dockerfile');
    const ran = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', dockerfile, { tag: 'installed:1', interactive: false, autoRemove: true }))!;
    assert.equal(ran.error, undefined);
    assert.equal(await ran.exited, 0);
    assert.match(api.terminalText(ran.terminal) ?? '', /Built installed:1[\s\S]*from the installed extension/);
  });
});
