import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DocumentLink, Range } from 'vscode-languageserver-protocol';
import { imagePage } from '../../server/src/features/documentLinks';
import { LspClient } from '../lsp-client';

// Links from base images to their pages, over the real server.

let client: LspClient;
before(async () => {
  client = await LspClient.start('node', ['dist/server.js', '--stdio']);
});
after(async () => {
  await client?.stop();
});

let count = 0;
async function links(lines: string[]): Promise<{ range: Range; target?: string }[]> {
  const uri = `file:///tmp/tug-test/links/${++count}.Dockerfile`;
  await client.open(uri, lines.join('\n'));
  const found = await client.request<DocumentLink[]>('textDocument/documentLink', { textDocument: { uri } });
  return found.map(({ range, target }) => ({ range, target }));
}

/** The link expected over the first `needle` on a line. */
function over(lines: string[], line: number, needle: string, target: string): { range: Range; target: string } {
  const at = lines[line].indexOf(needle);
  assert.ok(at >= 0, `no ${needle} on line ${line}`);
  return { range: { start: { line, character: at }, end: { line, character: at + needle.length } }, target };
}

test('the server announces document links', () => {
  assert.deepEqual(client.serverCapabilities.documentLinkProvider, { resolveProvider: false });
});

test('FROM images link to Docker Hub, GitHub, Quay and MCR pages, over the repository only', async () => {
  const lines = [
    'FROM node:20-alpine AS deps',
    'FROM library/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    'FROM docker.io/bitnami/nginx:1.25',
    'FROM ghcr.io/owner/tool:v1',
    'FROM ghcr.io/owner/repo/sub',
    'FROM quay.io/prometheus/node-exporter:v1.8.0',
    'FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build',
    'FROM --platform=$BUILDPLATFORM golang:1.22',
  ];
  assert.deepEqual(await links(lines), [
    over(lines, 0, 'node', 'https://hub.docker.com/_/node'),
    over(lines, 1, 'library/redis', 'https://hub.docker.com/_/redis'),
    over(lines, 2, 'docker.io/bitnami/nginx', 'https://hub.docker.com/r/bitnami/nginx'),
    over(lines, 3, 'ghcr.io/owner/tool', 'https://github.com/owner/tool/pkgs/container/tool'),
    over(lines, 4, 'ghcr.io/owner/repo/sub', 'https://github.com/owner/repo/pkgs/container/repo%2Fsub'),
    over(lines, 5, 'quay.io/prometheus/node-exporter', 'https://quay.io/repository/prometheus/node-exporter'),
    over(lines, 6, 'mcr.microsoft.com/dotnet/sdk', 'https://mcr.microsoft.com/artifact/mar/dotnet/sdk'),
    over(lines, 7, 'golang', 'https://hub.docker.com/_/golang'),
  ]);
});

test('variables resolve with the global ARGs; unknown ones, stages, scratch and other registries get no link', async () => {
  const lines = [
    'ARG REGISTRY=quay.io',
    'ARG IMAGE=python:3.12',
    'ARG TAG=1.2',
    'ARG UNSET',
    'FROM ${REGISTRY}/org/app:${TAG} AS base',
    'FROM $IMAGE',
    'FROM base',
    'FROM BASE AS again',
    'FROM scratch',
    'FROM $UNSET/app',
    'FROM ${NOPE}',
    'FROM localhost:5000/app:1',
    'FROM registry.example.com/team/app',
    'FROM alpine:${TAG}',
  ];
  assert.deepEqual(await links(lines), [
    over(lines, 4, '${REGISTRY}/org/app', 'https://quay.io/repository/org/app'),
    over(lines, 5, '$IMAGE', 'https://hub.docker.com/_/python'),
    over(lines, 13, 'alpine', 'https://hub.docker.com/_/alpine'),
  ]);
});

test('COPY --from and RUN --mount from= link when they name an image, not a stage', async () => {
  const lines = [
    'FROM alpine AS Tools',
    'ARG V=1.36',
    'COPY --from=busybox:${V} /bin/busybox /bin/',
    'COPY --from=tools /a /b',
    'COPY --from=0 /a /b',
    'COPY --from="ghcr.io/owner/img:2" /c /d',
    'RUN --mount=type=bind,from=quay.io/x/y:2,target=/m true',
    'RUN --mount=type=cache,target=/c,from=TOOLS true',
    'FROM tools',
  ];
  assert.deepEqual(await links(lines), [
    over(lines, 0, 'alpine', 'https://hub.docker.com/_/alpine'),
    over(lines, 2, 'busybox', 'https://hub.docker.com/_/busybox'),
    over(lines, 5, 'ghcr.io/owner/img', 'https://github.com/owner/img/pkgs/container/img'),
    over(lines, 6, 'quay.io/x/y', 'https://quay.io/repository/x/y'),
  ]);
});

test('links carry a tooltip naming the registry', async () => {
  const uri = 'file:///tmp/tug-test/links/tooltip.Dockerfile';
  await client.open(uri, 'FROM debian:12\n');
  assert.deepEqual(await client.request('textDocument/documentLink', { textDocument: { uri } }), [
    {
      range: { start: { line: 0, character: 5 }, end: { line: 0, character: 11 } },
      target: 'https://hub.docker.com/_/debian',
      tooltip: 'Docker Hub: debian (official image)',
    },
  ]);
});

test('half-typed and hostile FROM lines give no link and no failure', async () => {
  const lines = ['FROM', 'FROM ${', 'FROM :tag', 'FROM @sha256:x', 'FROM \u0000', `FROM ${'a'.repeat(100_000)}/b`, 'FROM a//b', 'FROM Upper/Case'];
  const found = await links(lines);
  assert.deepEqual(
    found.map((l) => l.target),
    [`https://hub.docker.com/r/${'a'.repeat(100_000)}/b`],
  );
  assert.doesNotMatch(client.stderr, /failed/);
});

test('imagePage maps references to pages', () => {
  assert.equal(imagePage('ubuntu')?.url, 'https://hub.docker.com/_/ubuntu');
  assert.equal(imagePage('index.docker.io/library/ubuntu:24.04')?.url, 'https://hub.docker.com/_/ubuntu');
  assert.equal(imagePage('grafana/grafana@sha256:abc')?.url, 'https://hub.docker.com/r/grafana/grafana');
  assert.equal(imagePage('a/b/c'), null);
  assert.equal(imagePage('ghcr.io/solo'), null);
  assert.equal(imagePage('gcr.io/distroless/static'), null);
  assert.equal(imagePage('mcr.microsoft.com/windows/servercore:ltsc2022')?.url, 'https://mcr.microsoft.com/artifact/mar/windows/servercore');
});
