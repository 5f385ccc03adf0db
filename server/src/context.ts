// What every language feature may read besides the document: the settings and what the
// client can show.

import type { Settings } from './settings';

export interface ClientFeatures {
  /** Completion items may be snippets. */
  snippets: boolean;
  /** Hover and documentation may be Markdown. */
  markdown: boolean;
  /** Document symbols may nest (stage → instructions). */
  hierarchicalSymbols: boolean;
}

export interface FeatureContext {
  readonly settings: Settings;
  readonly client: ClientFeatures;
}
