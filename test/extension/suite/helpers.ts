// What the extension tests share: the Tug API of the activated extension, a wait for a
// condition, and folders in the workspace.
import * as vscode from 'vscode';
import type { TugApi } from '../../../client/src/extension';

export async function tug(): Promise<TugApi> {
  const ext = vscode.extensions.getExtension<TugApi>('tug.tug');
  if (!ext) throw new Error('extension tug.tug is not loaded');
  return ext.activate();
}

/** Resolves with the first truthy value of `check`, asked every 100 ms. */
export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<Exclude<T, false | null | undefined | '' | 0>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, false | null | undefined | '' | 0>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A folder of the workspace with these files. */
export async function workspaceFolder(name: string, files: Record<string, string>): Promise<vscode.Uri> {
  const root = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (!root) throw new Error('the runner opened no workspace folder');
  const dir = vscode.Uri.joinPath(root, name);
  for (const [file, text] of Object.entries(files)) await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(dir, file), Buffer.from(text));
  return dir;
}

/** The busybox image the runner's engine holds. */
export function testImage(): string {
  const image = process.env.TUG_TEST_IMAGE;
  if (!image) throw new Error('TUG_TEST_IMAGE is not set: run the suite through test/extension/vscode.test.ts');
  return image;
}
