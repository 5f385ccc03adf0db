import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, readSettings } from '../server/src/settings';

// The settings VS Code shows (package.json) and the ones the server and the extension read must
// be the same.

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const all: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;
/** The extension's own settings (the engine, Build and Run); the rest are the server's. */
const CLIENT_SETTINGS = ['tug.engine.host', 'tug.engines', 'tug.engine.dataRoot', 'tug.buildAndRun'];
const properties = Object.fromEntries(Object.entries(all).filter(([k]) => !CLIENT_SETTINGS.includes(k)));

function leaves(value: unknown, prefix: string[] = []): [string, unknown][] {
  if (value && typeof value === 'object' && !Array.isArray(value) && prefix.join('.') !== 'diagnostics.severity') {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...prefix, k]));
  }
  return [[prefix.join('.'), value]];
}

test('every server setting is declared in the manifest with the same default', () => {
  const server = leaves(DEFAULT_SETTINGS).map(([k, v]) => [`tug.${k}`, v]);
  const declared = Object.entries(properties).map(([k, v]) => [k, v.default]);
  assert.deepEqual(declared.sort(), server.sort());
});

test('the server reads every declared setting', () => {
  for (const [key, spec] of Object.entries(properties)) {
    const changed = typeof spec.default === 'boolean' ? !spec.default : typeof spec.default === 'string' ? '/opt/x' : { X: 'off' };
    const raw: Record<string, unknown> = {};
    const path = key.split('.').slice(1);
    let at = raw;
    path.slice(0, -1).forEach((k) => (at = (at[k] ??= {}) as Record<string, unknown>));
    at[path[path.length - 1]] = changed;
    assert.notDeepEqual(readSettings(raw), DEFAULT_SETTINGS, key);
  }
});

test('the extension reads each of its own settings', () => {
  const source = readdirSync('client/src').map((f) => readFileSync(join('client/src', f), 'utf8')).join('\n');
  for (const key of CLIENT_SETTINGS) {
    assert.ok(key in all, `${key} is not declared`);
    const [section, ...rest] = key.split('.');
    assert.ok(source.includes(`getConfiguration('${section}'`) && source.includes(`'${rest.join('.')}'`), `client/src never reads ${key}`);
  }
});

test('the manifest contributes the Dockerfile language, its grammar, and starts on it', () => {
  assert.deepEqual(manifest.activationEvents, ['onLanguage:dockerfile']);
  assert.equal(manifest.contributes.languages[0].id, 'dockerfile');
  assert.ok(manifest.contributes.languages[0].filenames.includes('Dockerfile'));
  assert.equal(manifest.contributes.grammars[0].path, './syntaxes/dockerfile.tmLanguage.json');
  assert.equal(manifest.main, './dist/extension.js');
});
