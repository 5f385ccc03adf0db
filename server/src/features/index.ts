// Every language feature, wired in one place.

import { codeActionsFeature } from './codeActions';
import { completionFeature } from './completion';
import { definitionFeature } from './definition';
import { documentHighlightFeature } from './documentHighlight';
import { documentLinksFeature } from './documentLinks';
import { documentSymbolsFeature } from './documentSymbols';
import type { Feature } from './feature';
import { foldingRangesFeature } from './foldingRanges';
import { formattingFeature } from './formatting';
import { hoverFeature } from './hover';
import { inlayHintsFeature } from './inlayHints';
import { referencesFeature } from './references';
import { renameFeature } from './rename';
import { semanticTokensFeature } from './semanticTokens';
import { signatureHelpFeature } from './signatureHelp';

export const FEATURES: readonly Feature[] = [
  completionFeature,
  hoverFeature,
  signatureHelpFeature,
  codeActionsFeature,
  formattingFeature,
  definitionFeature,
  referencesFeature,
  documentHighlightFeature,
  renameFeature,
  documentSymbolsFeature,
  foldingRangesFeature,
  semanticTokensFeature,
  documentLinksFeature,
  inlayHintsFeature,
];
