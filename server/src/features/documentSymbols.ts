// Document symbols: the outline of a Dockerfile. With a client that nests symbols, each build
// stage is a symbol (named by its `AS` name, else by its image) holding its instructions, and
// what comes before the first FROM (the global ARGs) stays at the top level. ARG, ENV and LABEL
// hold the names they declare. Other clients get the same symbols as a flat list, each with the
// name of what contains it.
//
// Kinds, chosen so that the outline's icons say what an instruction does:
//   stage with an `AS` name   Class        stage without one   Module
//   RUN, CMD, ENTRYPOINT      Function     HEALTHCHECK, ONBUILD  Event (they run later)
//   ARG and its names         Variable     (a parameter of the build, set by --build-arg)
//   ENV and its names         Constant     (fixed in the image's configuration)
//   LABEL and its keys        Field        MAINTAINER            Field, tagged deprecated
//   COPY, ADD                 File         WORKDIR, VOLUME       Namespace (a place in the filesystem)
//   EXPOSE                    Interface    USER, SHELL, STOPSIGNAL  Property (image settings)
//   anything else             Key

import { SymbolKind, SymbolTag, type DocumentSymbol, type SymbolInformation } from 'vscode-languageserver';
import type { FeatureContext } from '../context';
import type { Document } from '../document';
import type { Stage } from '../dockerfile/model';
import type { Instruction } from '../dockerfile/syntax';
import { isSpace } from '../dockerfile/text';
import type { Feature } from './feature';

const KINDS: Record<string, SymbolKind> = {
  RUN: SymbolKind.Function,
  CMD: SymbolKind.Function,
  ENTRYPOINT: SymbolKind.Function,
  HEALTHCHECK: SymbolKind.Event,
  ONBUILD: SymbolKind.Event,
  ARG: SymbolKind.Variable,
  ENV: SymbolKind.Constant,
  LABEL: SymbolKind.Field,
  MAINTAINER: SymbolKind.Field,
  COPY: SymbolKind.File,
  ADD: SymbolKind.File,
  WORKDIR: SymbolKind.Namespace,
  VOLUME: SymbolKind.Namespace,
  EXPOSE: SymbolKind.Interface,
  USER: SymbolKind.Property,
  SHELL: SymbolKind.Property,
  STOPSIGNAL: SymbolKind.Property,
};

const SUMMARY_LENGTH = 60;

export function instructionKind(keyword: string): SymbolKind {
  return KINDS[keyword] ?? SymbolKind.Key;
}

/**
 * The instruction's arguments (flags included) on one line: continuations joined, runs of
 * whitespace made one space, cut to a short length.
 */
export function summary(ins: Instruction): string {
  const t = ins.logical.text;
  let i = 0;
  while (i < t.length && isSpace(t.charCodeAt(i))) i++;
  while (i < t.length && !isSpace(t.charCodeAt(i))) i++;
  // Look at a bounded prefix only: a RUN of thousands of characters is summarised as quickly.
  const raw = t.slice(i, i + SUMMARY_LENGTH * 4).replace(/\s+/g, ' ').trim();
  return raw.length > SUMMARY_LENGTH ? `${raw.slice(0, SUMMARY_LENGTH - 1).trimEnd()}…` : raw;
}

function stageName(stage: Stage): string {
  return stage.name?.text || stage.image?.text || 'FROM';
}

function stageKind(stage: Stage): SymbolKind {
  return stage.name ? SymbolKind.Class : SymbolKind.Module;
}

function stageDetail(stage: Stage): string {
  return stage.name ? (stage.image?.text ?? '') : `stage ${stage.index}`;
}

export function documentSymbols(doc: Document): DocumentSymbol[] {
  const { syntax, stages } = doc.model;
  const result: DocumentSymbol[] = [];
  const first = stages[0]?.from;
  for (const ins of syntax.instructions) {
    if (first && ins === first) break;
    result.push(instructionSymbol(doc, ins));
  }
  for (const stage of stages) {
    const selection = stage.name ?? stage.image ?? stage.from.keywordSpan;
    result.push({
      name: stageName(stage),
      detail: stageDetail(stage),
      kind: stageKind(stage),
      range: doc.range(stage),
      selectionRange: doc.range(selection),
      children: stage.instructions.slice(1).map((ins) => instructionSymbol(doc, ins)),
    });
  }
  return result;
}

function instructionSymbol(doc: Document, ins: Instruction): DocumentSymbol {
  const kind = instructionKind(ins.keyword);
  const symbol: DocumentSymbol = {
    name: ins.keyword || '?',
    detail: summary(ins),
    kind,
    range: doc.range(ins),
    selectionRange: doc.range(ins.keywordSpan),
  };
  if (ins.keyword === 'MAINTAINER') symbol.tags = [SymbolTag.Deprecated];
  if (ins.pairs.length) {
    symbol.children = ins.pairs
      .filter((pair) => pair.key !== '')
      .map((pair) => ({
        name: pair.key,
        detail: pair.value ?? '',
        kind,
        // The key=value word; for ENV's legacy `key value` form, the value after it too.
        range: doc.range({ start: pair.word.start, end: Math.max(pair.word.end, pair.valueSpan?.end ?? 0) }),
        selectionRange: doc.range(pair.keySpan),
      }));
  }
  return symbol;
}

/** The same symbols, flat, for clients without hierarchical symbols. */
export function symbolInformation(doc: Document): SymbolInformation[] {
  const result: SymbolInformation[] = [];
  const flatten = (symbols: readonly DocumentSymbol[], container: string | undefined) => {
    for (const symbol of symbols) {
      const info: SymbolInformation = {
        name: symbol.name,
        kind: symbol.kind,
        location: { uri: doc.uri, range: symbol.range },
      };
      if (container !== undefined) info.containerName = container;
      if (symbol.tags) info.tags = symbol.tags;
      result.push(info);
      if (symbol.children) flatten(symbol.children, symbol.name);
    }
  };
  flatten(documentSymbols(doc), undefined);
  return result;
}

export function symbols(doc: Document, ctx: FeatureContext): DocumentSymbol[] | SymbolInformation[] {
  return ctx.client.hierarchicalSymbols ? documentSymbols(doc) : symbolInformation(doc);
}

export const documentSymbolsFeature: Feature = {
  capabilities: { documentSymbolProvider: { label: 'Dockerfile' } },
  register(server) {
    server.connection.onDocumentSymbol((params) =>
      server.run<DocumentSymbol[] | SymbolInformation[]>('documentSymbols', params.textDocument.uri, [], (doc, ctx) => symbols(doc, ctx)),
    );
  },
};
