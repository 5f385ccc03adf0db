// What the Images view offers on an image: run, inspect, tag, remove; and on the view: pull (a
// prompt) and prune.

import * as vscode from 'vscode';
import { size } from '../../runtime-agent/src/cli/format';
import type { BuildAndRun } from './build-and-run';
import { parseRunLine } from './build-and-run';
import { InspectDocuments } from './container-commands';
import { imageReference, type ImageElement } from './images-view';
import type { Log } from './log';
import type { EngineSession } from './session';

type Target = ImageElement | string | undefined;

export function registerImageCommands(session: () => EngineSession, runner: BuildAndRun, log: Log): vscode.Disposable[] {
  const refOf = (target: Target) => (typeof target === 'string' ? target : target?.kind === 'image' ? imageReference(target.image) : undefined);
  const failed = (verb: string, error: unknown) => {
    const message = (error as Error).message;
    log.error(`${verb}: ${message}`);
    void vscode.window.showErrorMessage(`Tug: could not ${verb}: ${message}`);
  };

  return [
    vscode.commands.registerCommand('tug.runImage', async (target?: Target, options?: Parameters<BuildAndRun['runImage']>[1]) => {
      let image = refOf(target);
      if (!image) {
        const items = session().images.list().map((i) => ({ label: imageReference(i), description: size(i.size) }));
        image = (await vscode.window.showQuickPick(items, { title: 'Run which image?', placeHolder: 'repository:tag' }))?.label;
        if (!image) return undefined;
      }
      if (!options) {
        const line = await vscode.window.showInputBox({
          title: `Run ${image}`,
          prompt: 'docker run options (-p HOST:CONTAINER, -e NAME=VALUE, -v SOURCE:TARGET, --rm), then the command; empty for the image\'s own',
          value: runner.rememberedRunLine(),
          validateInput: (text) => {
            try {
              parseRunLine(text);
              return undefined;
            } catch (error) {
              return (error as Error).message;
            }
          },
        });
        if (line === undefined) return undefined;
        options = parseRunLine(line);
      }
      return runner.runImage(image, options);
    }),
    vscode.commands.registerCommand('tug.image.inspect', async (target: Target) => {
      const ref = refOf(target);
      if (ref) await vscode.window.showTextDocument(InspectDocuments.uri('images', ref, ref.replace(/[/:]/g, '_')), { preview: true }).then(undefined, (e: unknown) => failed(`inspect ${ref}`, e));
    }),
    vscode.commands.registerCommand('tug.image.tag', async (target: Target, newTag?: string) => {
      const ref = refOf(target);
      if (!ref) return;
      newTag ??= await vscode.window.showInputBox({ title: `Tag ${ref}`, prompt: 'The new name, as repository:tag', value: ref.startsWith('sha256:') ? '' : ref });
      if (!newTag) return;
      const colon = newTag.lastIndexOf(':');
      const [repo, tag] = colon > newTag.lastIndexOf('/') ? [newTag.slice(0, colon), newTag.slice(colon + 1)] : [newTag, 'latest'];
      try {
        await session().client.call('POST', `/images/${encodeURIComponent(ref)}/tag?repo=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}`);
        log.info(`tag ${ref} as ${repo}:${tag}`);
      } catch (error) {
        failed(`tag ${ref}`, error);
      }
    }),
    vscode.commands.registerCommand('tug.image.remove', async (target: Target) => {
      const ref = refOf(target);
      if (!ref) return;
      try {
        await session().client.call('DELETE', `/images/${encodeURIComponent(ref)}`);
        log.info(`remove ${ref}`);
      } catch (error) {
        failed(`remove ${ref}`, error);
      }
    }),
    vscode.commands.registerCommand('tug.image.pull', async (name?: string) => {
      name ??= await vscode.window.showInputBox({ title: 'Pull an image', prompt: 'The image, as a registry reference', placeHolder: 'busybox:latest' });
      if (!name) return;
      const colon = name.lastIndexOf(':');
      const [image, tag] = colon > name.lastIndexOf('/') ? [name.slice(0, colon), name.slice(colon + 1)] : [name, 'latest'];
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Pulling ${name}`, cancellable: true }, async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        try {
          for await (const m of session().client.lines<{ status?: string; id?: string; error?: string }>('POST', `/images/create?fromImage=${encodeURIComponent(image)}&tag=${encodeURIComponent(tag)}`, {}, abort.signal)) {
            if (m.error) throw new Error(m.error);
            if (m.status) progress.report({ message: `${m.id ? `${m.id}: ` : ''}${m.status}` });
          }
          log.info(`pull ${name}`);
        } catch (error) {
          if (!abort.signal.aborted) failed(`pull ${name}`, error);
        }
      });
    }),
    vscode.commands.registerCommand('tug.image.prune', async (confirmed?: boolean) => {
      if (confirmed !== true) {
        const yes = await vscode.window.showWarningMessage('Remove every image that has no tag and no container?', { modal: true }, 'Prune');
        if (!yes) return;
      }
      try {
        const r = await session().client.call<{ ImagesDeleted: unknown[] | null; SpaceReclaimed: number }>('POST', `/images/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ['true'] }))}`);
        void vscode.window.showInformationMessage(`Tug: removed ${r.ImagesDeleted?.length ?? 0} image(s), ${size(r.SpaceReclaimed)} reclaimed.`);
      } catch (error) {
        failed('prune images', error);
      }
    }),
  ];
}
