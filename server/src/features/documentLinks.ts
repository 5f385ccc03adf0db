// Document links: the base image of each FROM (and an image named by `COPY --from=` or a RUN
// mount's `from=`) links to its page on Docker Hub, GitHub (ghcr.io), Quay or the Microsoft
// Artifact Registry. The link covers the repository, not the tag or digest. Variables are
// resolved as the build would resolve them without --build-arg; stages, `scratch`, unresolvable
// variables and other registries get no link.

import type { DocumentLink } from 'vscode-languageserver/node';
import type { Document } from '../document';
import { findVariableRefs, processWord } from '../dockerfile/expand';
import type { Model } from '../dockerfile/model';
import type { Instruction } from '../dockerfile/syntax';
import type { Span } from '../dockerfile/text';
import type { Feature } from './feature';
import { fromValues, stagesByName } from './symbols';

/** The page of an image reference (already expanded), or null when it has none we know. */
export function imagePage(reference: string): { url: string; tooltip: string } | null {
  let name = reference;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) name = name.slice(0, colon);
  const parts = name.split('/');
  // Docker's rule: the first component is a registry when it has a dot or a port, or is localhost.
  const domain = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]) ? parts.shift()! : 'docker.io';
  if (!parts.every((p) => PATH_COMPONENT.test(p))) return null;
  const path = parts.join('/');
  switch (domain) {
    case 'docker.io':
    case 'index.docker.io':
      if (parts.length === 1 || (parts.length === 2 && parts[0] === 'library')) {
        const image = parts[parts.length - 1];
        return { url: `https://hub.docker.com/_/${image}`, tooltip: `Docker Hub: ${image} (official image)` };
      }
      return parts.length === 2 ? { url: `https://hub.docker.com/r/${path}`, tooltip: `Docker Hub: ${path}` } : null;
    case 'ghcr.io': {
      if (parts.length < 2) return null;
      const pkg = parts.slice(1).join('/');
      return {
        url: `https://github.com/${parts[0]}/${parts[1]}/pkgs/container/${encodeURIComponent(pkg)}`,
        tooltip: `GitHub Container Registry: ${path}`,
      };
    }
    case 'quay.io':
      return parts.length >= 2 ? { url: `https://quay.io/repository/${path}`, tooltip: `Quay: ${path}` } : null;
    case 'mcr.microsoft.com':
      return { url: `https://mcr.microsoft.com/artifact/mar/${path}`, tooltip: `Microsoft Artifact Registry: ${path}` };
    default:
      return null;
  }
}

/** A repository path component, as the distribution reference grammar allows it. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Where the repository ends in an image as written: before the digest (`@`) or the tag (`:`
 * after the last `/`), variables taken as opaque. An image written as one variable ends at its end.
 */
function repositoryEnd(raw: string, escape: '\\' | '`'): number {
  const refs = findVariableRefs(raw, escape);
  let r = 0;
  const outside = (i: number) => {
    while (r < refs.length && refs[r].end <= i) r++;
    return r >= refs.length || i < refs[r].start;
  };
  let limit = raw.length;
  let slash = -1;
  for (let i = 0; i < raw.length; i++) {
    if (!outside(i)) continue;
    if (raw[i] === '@') {
      limit = i;
      break;
    }
    if (raw[i] === '/') slash = i;
  }
  r = 0;
  for (let i = slash + 1; i < limit; i++) if (raw[i] === ':' && outside(i)) return i;
  return limit;
}

/** Expands an image as the build would in an instruction's scope; null if a variable is unknown. */
function expandImage(model: Model, instruction: Instruction, raw: string): string | null {
  const scope = model.scopeOf(instruction);
  let missing = false;
  try {
    const value = processWord(raw, {
      escape: model.syntax.escape,
      env: (name) => model.lookup(scope, name)?.value,
      onMissing: () => (missing = true),
    });
    return missing ? null : value;
  } catch {
    return null;
  }
}

function link(doc: Document, instruction: Instruction, raw: Span, stageNames: (name: string) => boolean): DocumentLink | null {
  const model = doc.model;
  const text = doc.text.slice(raw.start, raw.end);
  const image = expandImage(model, instruction, text);
  if (image === null || image === '' || image.toLowerCase() === 'scratch' || stageNames(image.toLowerCase())) return null;
  const page = imagePage(image);
  if (!page) return null;
  const end = raw.start + repositoryEnd(text, model.syntax.escape);
  return { range: doc.range({ start: raw.start, end }), target: page.url, tooltip: page.tooltip };
}

const cache = new WeakMap<Document, DocumentLink[]>();

export function documentLinks(doc: Document): DocumentLink[] {
  let links = cache.get(doc);
  if (!links) cache.set(doc, (links = findLinks(doc)));
  return links;
}

function findLinks(doc: Document): DocumentLink[] {
  const model = doc.model;
  const links: DocumentLink[] = [];
  const add = (l: DocumentLink | null) => l && links.push(l);

  // FROM sees the stages before it only (BuildKit resolves the base name as it goes).
  const earlier = new Set<string>();
  for (const stage of model.stages) {
    if (stage.image && !stage.parent) add(link(doc, stage.from, stage.image, (name) => earlier.has(name)));
    if (stage.name) earlier.add(stage.name.text.toLowerCase());
  }

  const byName = stagesByName(model);
  for (const instruction of model.syntax.instructions) {
    for (const from of fromValues(doc.text, instruction)) {
      if (/^\d+$/.test(from.value)) continue; // a stage by index
      add(link(doc, instruction, from.span, (name) => byName.has(name)));
    }
  }
  return links;
}

export const documentLinksFeature: Feature = {
  capabilities: { documentLinkProvider: { resolveProvider: false } },
  register(server) {
    server.connection.onDocumentLinks((params) => server.run('documentLinks', params.textDocument.uri, [], (doc) => documentLinks(doc)));
  },
};
