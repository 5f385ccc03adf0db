// Offsets and positions in a document's text. The parser works in offsets (numbers are cheap);
// positions (line, UTF-16 character) are made only where a result leaves the server.

/** A half-open range of offsets in the document: [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export class LineIndex {
  /** Offset at which each line starts. */
  readonly starts: number[];
  /** Offset at which each line's content ends, before its line break. */
  private readonly ends: number[];

  constructor(readonly text: string) {
    // Line breaks as LSP counts them: "\n", "\r\n" and a lone "\r".
    const starts = [0];
    const ends: number[] = [];
    const breaks = /\r\n?|\n/g;
    for (let m = breaks.exec(text); m; m = breaks.exec(text)) {
      ends.push(m.index);
      starts.push(m.index + m[0].length);
    }
    ends.push(text.length);
    this.starts = starts;
    this.ends = ends;
  }

  get lineCount(): number {
    return this.starts.length;
  }

  /** The line that holds an offset. */
  lineAt(offset: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line, this.starts.length - 1))];
  }

  /** Where a line's content ends: before its line break. */
  lineEnd(line: number): number {
    return this.ends[Math.max(0, Math.min(line, this.ends.length - 1))];
  }

  lineText(line: number): string {
    return this.text.slice(this.lineStart(line), this.lineEnd(line));
  }

  positionAt(offset: number): Position {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    const line = this.lineAt(clamped);
    return { line, character: clamped - this.starts[line] };
  }

  offsetAt(position: Position): number {
    if (position.line < 0) return 0;
    if (position.line >= this.starts.length) return this.text.length;
    const start = this.starts[position.line];
    return Math.min(start + Math.max(0, position.character), this.lineEnd(position.line));
  }

  range(span: Span): Range {
    return { start: this.positionAt(span.start), end: this.positionAt(span.end) };
  }
}

export function contains(span: Span, offset: number): boolean {
  return offset >= span.start && offset <= span.end;
}

/** Whitespace as Go's unicode.IsSpace sees it, which is what BuildKit splits on. */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0x85 || c === 0xa0;
}
