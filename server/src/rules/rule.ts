// What a lint rule is: the codes it reports (with their source, default severity and
// documentation) and a check over one document's model. Rules that must wait on the disk, a
// process or the network are asynchronous and never hold up the synchronous ones.

import type { FeatureContext } from '../context';
import type { Document } from '../document';
import type { Model } from '../dockerfile/model';
import type { Span } from '../dockerfile/text';
import type { Severity } from '../settings';

/** Where a code comes from; BuildKit's and hadolint's codes keep their own names. */
export type Source = 'dockerfile' | 'buildkit' | 'hadolint' | 'shellcheck';

export interface CodeSpec {
  readonly code: string;
  readonly source: Source;
  readonly severity: Severity;
  /** One line for settings and documentation. */
  readonly summary: string;
  readonly url?: string;
  /** Shown faded (unnecessary) or struck through (deprecated). */
  readonly tag?: 'unnecessary' | 'deprecated';
}

/** An edit of the document by offsets. */
export interface Edit {
  readonly span: Span;
  readonly text: string;
}

/** An obvious fix, offered as a quick fix. */
export interface Fix {
  readonly title: string;
  readonly edits: readonly Edit[];
  /** The one fix to apply without asking (VS Code's "preferred" quick fix). */
  readonly preferred?: boolean;
}

export interface Finding {
  readonly code: string;
  readonly message: string;
  readonly span: Span;
  readonly fixes?: readonly Fix[];
  /** For codes outside the rules' tables (shellcheck's): their own source and severity. */
  readonly source?: Source;
  readonly severity?: Severity;
  readonly url?: string;
}

export interface RuleContext {
  readonly doc: Document;
  readonly model: Model;
  readonly ctx: FeatureContext;
  report(finding: Finding): void;
}

export interface Rule {
  readonly codes: readonly CodeSpec[];
  check(context: RuleContext): void;
}

export interface AsyncRule {
  readonly codes: readonly CodeSpec[];
  check(context: RuleContext, signal: AbortSignal): Promise<void>;
}
