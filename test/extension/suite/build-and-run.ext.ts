// Build and Run against the real tugd the runner started: the build and the container's output
// in one terminal, the container in the Containers view with its processes as a tree, stop and
// remove through the view's commands, the image and its layers in the Images view; a failing
// build's diagnostic on its line; the remembered tag; a `tug` task.
import assert from 'node:assert/strict';
import { suite, suiteSetup, test } from 'mocha';
import * as vscode from 'vscode';
import type { BuildAndRunOutcome } from '../../../client/src/build-and-run';
import type { ContainerElement } from '../../../client/src/containers-view';
import type { TugApi } from '../../../client/src/extension';
import type { ImageElement } from '../../../client/src/images-view';
import { testImage, tug, until, workspaceFolder } from './helpers';

suite('Build and Run', () => {
  let api: TugApi;
  let dockerfile: vscode.Uri;
  let outcome: BuildAndRunOutcome;

  suiteSetup(async () => {
    api = await tug();
    const dir = await workspaceFolder('web', {
      Dockerfile: `FROM ${testImage()}\nCOPY hello.txt /hello.txt\nCMD ["sh", "-c", "trap 'exit 0' TERM; cat /hello.txt; sleep 300 & wait"]\n`,
      'hello.txt': 'hello from the container\n',
    });
    dockerfile = vscode.Uri.joinPath(dir, 'Dockerfile');
  });

  test('builds and runs a Dockerfile: the build and then the container\'s output in its terminal', async () => {
    outcome = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', dockerfile))!;
    assert.equal(outcome.error, undefined);
    assert.match(outcome.imageId ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok(outcome.containerId);
    const text = await until('the container\'s output in the terminal', () => {
      const t = api.terminalText(outcome.terminal);
      return t?.includes('hello from the container') && t;
    });
    assert.match(text, /Step 2\/3 : COPY hello\.txt \/hello\.txt/);
    assert.match(text, /Built workspace:latest/);
    assert.ok(text.indexOf('Built workspace:latest') < text.indexOf('hello from the container'));
    assert.ok(vscode.window.terminals.includes(outcome.terminal));
    assert.equal(outcome.terminal.name, 'Tug: workspace:latest');
  });

  test('the container shows in the Containers view, running, and expands into its processes with PID 1 at the root', async () => {
    const element = await until('the container in the view', async () =>
      (await api.containers.getChildren()).find((e): e is ContainerElement & { kind: 'container' } => e.kind === 'container' && e.id === outcome.containerId),
    );
    const item = api.containers.getTreeItem(element);
    assert.equal(item.contextValue, 'container.running');
    assert.match(String(item.description), /^workspace:latest · Up /);
    assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    const roots = await until('sh with its sleep', async () => {
      const r = await api.containers.getChildren(element);
      return r.length === 1 && r[0].kind === 'process' && r[0].process.children.some((c) => c.command.startsWith('sleep 300')) && r;
    });
    const root = roots[0] as ContainerElement & { kind: 'process' };
    assert.equal(root.process.pid, 1);
    assert.equal(root.process.ppid, 0);
    assert.match(root.process.command, /^sh -c /);
    assert.match(String(api.containers.getTreeItem(root).description), /^PID 1 · root · /);
    const [sleep] = await api.containers.getChildren(root);
    assert.equal(sleep.kind === 'process' && sleep.process.ppid, 1);
  });

  test('the Images view lists the built image, and its layers as the instructions that made them', async () => {
    const element = await until('the image in the view', async () =>
      (await api.images.getChildren()).find((e): e is ImageElement & { kind: 'image' } => e.kind === 'image' && e.image.repository === 'workspace' && e.image.tag === 'latest'),
    );
    assert.equal(element.image.id, outcome.imageId);
    const layers = (await api.images.getChildren(element)).map((e) => (e.kind === 'layer' ? api.images.getTreeItem(e).label : e.kind));
    // As Docker's builder records them: a copied file by its content's hash, CMD's words quoted.
    assert.match(String(layers.at(-2)), /^COPY file:[0-9a-f]{64} in \/hello\.txt$/);
    assert.equal(layers.at(-1), 'CMD ["sh" "-c" "trap \'exit 0\' TERM; cat /hello.txt; sleep 300 & wait"]');
  });

  test('logs follow in a terminal; inspect opens the engine\'s JSON read-only; copy ID', async () => {
    const element = api.containers.element(outcome.containerId!)!;
    await vscode.commands.executeCommand('tug.container.logs', element);
    const logs = await until('the logs terminal', () => vscode.window.terminals.find((t) => t.name.startsWith('Logs: ')));
    await until('the output in it', () => api.terminalText(logs)?.includes('hello from the container'));
    logs.dispose();
    await vscode.commands.executeCommand('tug.container.inspect', element);
    const doc = await until('the inspect document', () => vscode.window.activeTextEditor?.document.uri.scheme === 'tug-inspect' && vscode.window.activeTextEditor.document);
    assert.equal(doc.languageId, 'json');
    assert.equal(JSON.parse(doc.getText()).Id, outcome.containerId);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await vscode.commands.executeCommand('tug.container.copyId', element);
    assert.equal(await vscode.env.clipboard.readText(), outcome.containerId);
  });

  test('open a shell in the container: keys in, its answers out', async () => {
    await vscode.commands.executeCommand('tug.container.shell', api.containers.element(outcome.containerId!)!);
    const shell = await until('the shell terminal', () => vscode.window.terminals.find((t) => t.name.startsWith('Shell: ')));
    shell.sendText('echo $((6*7)) $(cat /hello.txt)');
    await until('its answer', () => api.terminalText(shell)?.includes('42 hello from the container'));
    shell.sendText('exit');
    await until('the terminal closed with the shell', () => !vscode.window.terminals.includes(shell));
  });

  test('tag and remove an image through the Images view\'s commands', async () => {
    const element = (await api.images.getChildren()).find((e) => e.kind === 'image' && e.image.repository === 'workspace')!;
    await vscode.commands.executeCommand('tug.image.tag', element, 'again:7');
    const tagged = await until('the new tag in the view', async () => (await api.images.getChildren()).find((e) => e.kind === 'image' && e.image.repository === 'again' && e.image.tag === '7'));
    await vscode.commands.executeCommand('tug.image.remove', tagged);
    await until('the tag gone', async () => !(await api.images.getChildren()).some((e) => e.kind === 'image' && e.image.repository === 'again'));
    assert.ok((await api.images.getChildren()).some((e) => e.kind === 'image' && e.image.repository === 'workspace'), 'the other tag stays');
  });

  test('stop and remove through the view\'s commands', async () => {
    const element = api.containers.element(outcome.containerId!)!;
    // The view hears which row changed, so that VS Code renders that row alone.
    const changed: unknown[] = [];
    const listening = api.containers.onDidChangeTreeData((e) => changed.push(e));
    await vscode.commands.executeCommand('tug.container.stop', element);
    await until('the container stopped', () => api.session().containers.get(outcome.containerId!)?.State === 'exited');
    listening.dispose();
    assert.ok(changed.length > 0 && changed.every((e) => e === element), `changes told: ${changed.length}, not all of its row`);
    assert.equal(api.containers.getTreeItem(element).contextValue, 'container.stopped');
    assert.match(api.terminalText(outcome.terminal) ?? '', /The container exited with code 0\./);
    await vscode.commands.executeCommand('tug.container.remove', element);
    await until('the container gone from the view', async () => !(await api.containers.getChildren()).some((e) => e.kind === 'container' && e.id === outcome.containerId));
  });

  test('a failing build puts a diagnostic on the failing line and runs nothing', async () => {
    const dir = await workspaceFolder('broken', { Dockerfile: `FROM ${testImage()}\nRUN echo fine\nRUN echo oops >&2; exit 3\n` });
    const uri = vscode.Uri.joinPath(dir, 'Dockerfile');
    const failed = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', uri, { tag: 'broken:1' }))!;
    assert.equal(failed.containerId, undefined);
    assert.match(failed.error ?? '', /returned a non-zero code: 3/);
    const [diagnostic] = vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'tug build');
    assert.ok(diagnostic, 'no build diagnostic');
    assert.equal(diagnostic.range.start.line, 2);
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
    assert.match(api.terminalText(failed.terminal) ?? '', /oops[\s\S]*The build failed: /);
    // Fixed, it builds, and the diagnostic goes.
    await vscode.workspace.fs.writeFile(uri, Buffer.from(`FROM ${testImage()}\nRUN echo fine\n`));
    const built = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.build', uri, { tag: 'broken:1' }))!;
    assert.equal(built.error, undefined);
    assert.deepEqual(vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'tug build'), []);
  });

  test('closing the terminal detaches: the container runs on', async () => {
    const ran = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', dockerfile, { tag: 'detach:1' }))!;
    await until('its output', () => api.terminalText(ran.terminal)?.includes('hello from the container'));
    ran.terminal.dispose();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(api.session().containers.get(ran.containerId!)?.State, 'running');
    await api.session().client.call('DELETE', `/containers/${ran.containerId}?force=1`);
  });

  test('remembers the tag per Dockerfile and the run options per workspace', async () => {
    const ran = (await vscode.commands.executeCommand<BuildAndRunOutcome>('tug.buildAndRun', dockerfile, { tag: 'mine:2', env: ['GREETING=hi there'], command: 'sh -c \'echo "$GREETING"\'', interactive: false, autoRemove: true }))!;
    assert.equal(await ran.exited, 0);
    assert.match(api.terminalText(ran.terminal) ?? '', /^hi there$/m);
    const options = api.builds.options(dockerfile);
    assert.equal(options.tag, 'mine:2');
    assert.deepEqual(options.env, ['GREETING=hi there']);
    assert.equal(api.builds.rememberedRunLine(), `-e 'GREETING=hi there' --rm sh -c 'echo "$GREETING"'`);
    // The tug.buildAndRun settings win over what was remembered.
    const settings = vscode.workspace.getConfiguration('tug');
    await settings.update('buildAndRun', { tag: 'set:3', env: ['FROM=settings'] }, vscode.ConfigurationTarget.Workspace);
    try {
      assert.deepEqual([api.builds.options(dockerfile).tag, api.builds.options(dockerfile).env], ['set:3', ['FROM=settings']]);
    } finally {
      await settings.update('buildAndRun', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('a tug task in tasks.json fixes the options and runs as a task with the container\'s exit code', async () => {
    const folder = vscode.workspace.workspaceFolders![0];
    const definition = { type: 'tug', dockerfile: 'web/Dockerfile', tag: 'tasked:1', command: ['sh', '-c', 'exit 7'], interactive: false, autoRemove: true };
    await vscode.workspace.getConfiguration('tasks', folder.uri).update('version', '2.0.0', vscode.ConfigurationTarget.WorkspaceFolder);
    await vscode.workspace.getConfiguration('tasks', folder.uri).update('tasks', [{ label: 'web', ...definition }], vscode.ConfigurationTarget.WorkspaceFolder);
    try {
      assert.equal(api.builds.options(dockerfile).tag, 'tasked:1');
      const [task] = (await vscode.tasks.fetchTasks({ type: 'tug' })).filter((t) => t.name === 'web');
      assert.ok(task, 'the tug task is not offered');
      const ended = new Promise<number | undefined>((resolve) => {
        const sub = vscode.tasks.onDidEndTaskProcess((e) => {
          if (e.execution.task.name === 'web') (sub.dispose(), resolve(e.exitCode));
        });
      });
      await vscode.tasks.executeTask(task);
      assert.equal(await ended, 7);
    } finally {
      await vscode.workspace.getConfiguration('tasks', folder.uri).update('tasks', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
    }
  });
});
