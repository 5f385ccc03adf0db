// The extension in a real VS Code: it activates on a Dockerfile, its language client starts
// dist/server.js, and the server's diagnostics and completions reach the editor.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { suite, suiteSetup, test } from 'mocha';
import * as vscode from 'vscode';
import type { TugApi } from '../../../client/src/extension';

// A folder of the workspace when the runner opened one, else a temp folder (diagnostics do not
// need a workspace).
function folder(): vscode.Uri {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
  return ws ?? vscode.Uri.file(mkdtempSync(`${tmpdir()}/tug-ext-`));
}

function diagnosticsFor(uri: vscode.Uri, timeoutMs: number): Promise<readonly vscode.Diagnostic[]> {
  return new Promise((resolve, reject) => {
    const now = vscode.languages.getDiagnostics(uri);
    if (now.length) return resolve(now);
    const timer = setTimeout(() => { sub.dispose(); reject(new Error(`no diagnostics for ${uri.fsPath} within ${timeoutMs} ms`)); }, timeoutMs);
    const sub = vscode.languages.onDidChangeDiagnostics((e) => {
      if (!e.uris.some((u) => u.toString() === uri.toString())) return;
      const all = vscode.languages.getDiagnostics(uri);
      if (all.length) { clearTimeout(timer); sub.dispose(); resolve(all); }
    });
  });
}

suite('Tug extension', () => {
  let doc: vscode.TextDocument;

  suiteSetup(async () => {
    const uri = vscode.Uri.joinPath(folder(), 'Dockerfile');
    // line 2 (index 1) holds an instruction that does not exist; line 3 is empty
    await vscode.workspace.fs.writeFile(uri, Buffer.from('FROM busybox\nFORM busybox\n\nRUN echo hi\n'));
    doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
  });

  test('activates on a Dockerfile and starts its language client', async () => {
    assert.equal(doc.languageId, 'dockerfile');
    const ext = vscode.extensions.getExtension<TugApi>('tug.tug');
    assert.ok(ext, 'extension tug.tug is not loaded');
    const api = await ext.activate();
    assert.ok(ext.isActive);
    await api.languageReady();
  });

  test('the server reports the unknown instruction on line 2', async () => {
    const diags = await diagnosticsFor(doc.uri, 20_000);
    const unknown = diags.find((d) => /unknown instruction: FORM/.test(d.message));
    assert.ok(unknown, `no unknown-instruction diagnostic in ${JSON.stringify(diags.map((d) => d.message))}`);
    assert.equal(unknown.range.start.line, 1);
    assert.equal(unknown.severity, vscode.DiagnosticSeverity.Error);
  });

  test('completion at the start of an empty line offers instructions', async () => {
    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(2, 0));
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    for (const keyword of ['FROM', 'RUN', 'COPY', 'ENTRYPOINT']) {
      assert.ok(labels.includes(keyword), `${keyword} missing from ${JSON.stringify(labels.slice(0, 40))}`);
    }
  });
});
