// One open Dockerfile at one version, with its parse and analysis made once, on first use.

import { analyze, type Model } from './dockerfile/model';
import type { Instruction } from './dockerfile/syntax';
import type { LineIndex, Position, Range, Span } from './dockerfile/text';

export class Document {
  private analysis: Model | undefined;

  constructor(
    readonly uri: string,
    readonly version: number,
    readonly text: string,
  ) {}

  get model(): Model {
    return (this.analysis ??= analyze(this.text));
  }

  get lines(): LineIndex {
    return this.model.syntax.lines;
  }

  offsetAt(position: Position): number {
    return this.lines.offsetAt(position);
  }

  positionAt(offset: number): Position {
    return this.lines.positionAt(offset);
  }

  range(span: Span): Range {
    return this.lines.range(span);
  }

  /** The instruction on the line of an offset, heredoc bodies included. */
  instructionAt(offset: number): Instruction | null {
    return this.model.instructionAt(offset);
  }

  /** The folder the file is in, for a `file:` URI. */
  get folder(): string | null {
    if (!this.uri.startsWith('file:')) return null;
    const path = decodeURIComponent(this.uri.replace(/^file:\/\//, ''));
    return path.slice(0, path.lastIndexOf('/')) || '/';
  }
}
