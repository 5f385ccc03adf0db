// Inlay hints: in FROM lines (the image and --platform), what each variable resolves to, shown
// after the reference (`FROM node:${NODE_VERSION}` → `= 20.11`), as the build would see it
// without --build-arg. Off with the `tug.inlayHints.variables` setting.

import { InlayHintKind, type InlayHint, type Range } from 'vscode-languageserver/node';
import type { Document } from '../document';
import type { Reference } from '../dockerfile/model';
import { contains, type Span } from '../dockerfile/text';
import type { Feature } from './feature';

/** Longer values are cut, so that a hint never pushes the line far away. */
const MAX_LABEL = 48;

const cache = new WeakMap<Document, Reference[]>();

/** The references in FROM images and --platform values that resolve to a known value, in order. */
function fromReferences(doc: Document): Reference[] {
  let refs = cache.get(doc);
  if (refs) return refs;
  const model = doc.model;
  const places = new Map<object, Span[]>();
  for (const stage of model.stages) {
    const spans: Span[] = [];
    if (stage.image) spans.push(stage.image);
    for (const flag of stage.from.flags) if (flag.name === 'platform' && flag.valueSpan) spans.push(flag.valueSpan);
    places.set(stage.from, spans);
  }
  refs = model.references.filter(
    (ref) =>
      ref.declaration?.value !== undefined && places.get(ref.instruction)?.some((span) => contains(span, ref.start)) === true,
  );
  cache.set(doc, refs);
  return refs;
}

export function inlayHints(doc: Document, range: Range, enabled: boolean): InlayHint[] {
  if (!enabled) return [];
  const start = doc.offsetAt(range.start);
  const end = doc.offsetAt(range.end);
  const hints: InlayHint[] = [];
  for (const ref of fromReferences(doc)) {
    if (ref.end < start || ref.end > end) continue;
    const declaration = ref.declaration!;
    const value = declaration.value!;
    const shown = value === '' ? '""' : value.length > MAX_LABEL ? `${value.slice(0, MAX_LABEL - 1)}…` : value;
    const line = doc.positionAt(declaration.pair.keySpan.start).line + 1;
    hints.push({
      position: doc.positionAt(ref.end),
      label: `= ${shown}`,
      kind: InlayHintKind.Type,
      paddingLeft: true,
      tooltip: `${declaration.name} is ${value === '' ? 'empty' : `'${value}'`} (${declaration.kind} on line ${line})`,
    });
  }
  return hints;
}

export const inlayHintsFeature: Feature = {
  capabilities: { inlayHintProvider: true },
  register(server) {
    server.connection.languages.inlayHint.on((params) =>
      server.run('inlayHints', params.textDocument.uri, [], (doc, ctx) =>
        inlayHints(doc, params.range, ctx.settings.inlayHints.variables),
      ),
    );
  },
};
