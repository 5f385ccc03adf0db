// The validator's checks of instruction flags (`--name=value`), as BuildKit's BFlags and the
// flag parsers of each instruction refuse them: unknown or repeated flags, missing values, bad
// booleans, durations and counts, values outside a closed set, and the options of RUN --mount.
// The flags table in instructions.ts decides which flags exist; it follows today's BuildKit, so
// flags dockerfile-utils does not know (`COPY --parents`, `ADD --unpack`, `RUN --mount`, …) pass.

import { goQuote } from '../dockerfile/expand';
import { MOUNT_TYPES } from '../dockerfile/instructions';
import type { FlagSpec, InstructionSpec } from '../dockerfile/spec';
import type { Flag, Instruction, Logical } from '../dockerfile/syntax';
import type { Span } from '../dockerfile/text';
import type { Fix } from './rule';
import { checkDuration, isGoBool, nearest, parseInt32 } from './validator-values';

export interface Reporter {
  /** The document's text. */
  readonly text: string;
  /** Lower-cased names of the file's build stages (for COPY --from). */
  readonly stageNames: ReadonlySet<string>;
  report(code: string, message: string, span: Span, fixes?: Fix[]): void;
}

/** Sets this small are offered value by value as quick fixes. */
const MAX_VALUE_FIXES = 6;

export function checkFlags(ins: Instruction, spec: InstructionSpec, out: Reporter): void {
  const byName = new Map<string, Flag[]>();
  for (const flag of ins.flags) {
    const flagSpec = spec.flags.find((f) => f.name === flag.name);
    if (!flagSpec) {
      unknownFlag(flag, spec, out);
      continue;
    }
    const same = byName.get(flag.name);
    if (same) same.push(flag);
    else byName.set(flag.name, [flag]);
    checkValue(ins, flag, flagSpec, out);
  }
  for (const [name, flags] of byName) {
    const flagSpec = spec.flags.find((f) => f.name === name);
    if (flags.length < 2 || flagSpec?.repeatable) continue;
    for (const flag of flags) out.report('DuplicateFlag', `Duplicate flag specified: ${name}`, flag.nameSpan);
  }
}

function unknownFlag(flag: Flag, spec: InstructionSpec, out: Reporter): void {
  // The dashes and the name; all of `--=x` when there is no name.
  const span = flag.name === '' ? flag : { start: flag.start, end: flag.nameSpan.end };
  const candidates = flag.name === '' ? [] : nearest(flag.name, spec.flags.map((f) => f.name));
  const hint = candidates.length ? ` (did you mean ${candidates[0]}?)` : '';
  const fixes: Fix[] = candidates.map((name, i) => ({
    title: `Change to --${name}`,
    edits: [{ span: flag.nameSpan, text: name }],
    preferred: i === 0 || undefined,
  }));
  out.report('UnknownFlag', `Unknown flag: ${flag.name}${hint}`, span, fixes);
}

function checkValue(ins: Instruction, flag: Flag, spec: FlagSpec, out: Reporter): void {
  const value = flag.value;
  if (spec.value === 'boolean' || spec.value === 'none') {
    // BFlags: `--link` alone is true; `--link=` has no value; the value is case-insensitive.
    if (value === '') out.report('FlagMissingValue', `Missing a value on flag: ${flag.name}`, flag.nameSpan);
    else if (value !== null && !/^(true|false)$/i.test(value)) {
      out.report('ExpectedBoolean', `Expecting boolean value for flag ${flag.name}, not: ${value}`, flag.valueSpan!, valueFixes(flag.valueSpan!, ['true', 'false']));
    }
    return;
  }
  if (value === null) {
    out.report('FlagMissingValue', `Missing a value on flag: ${flag.name}`, flag.nameSpan);
    return;
  }
  const valueSpan = flag.valueSpan!;
  if (spec.value === 'duration') checkDurationFlag(flag, value, valueSpan, out);
  else if (spec.value === 'integer') checkRetries(flag, value, valueSpan, out);
  else if (spec.values && !value.includes('$')) checkClosedSet(flag, value, valueSpan, spec.values, out);
  else if (flag.name === 'mount' && ins.keyword === 'RUN') checkMount(ins.logical, value, valueSpan, out);
  else if (flag.name === 'from' && ins.keyword === 'COPY') checkCopyFrom(flag, value, out);
}

function checkDurationFlag(flag: Flag, value: string, span: Span, out: Reporter): void {
  // An empty value leaves the default, as BuildKit's parseOptInterval does.
  if (value === '') return;
  const problem = checkDuration(value);
  if (!problem) return;
  const quoted = goQuote(value);
  switch (problem.kind) {
    case 'invalid':
      out.report('InvalidDuration', `time: invalid duration ${quoted}`, span);
      break;
    case 'missingUnit':
      out.report('DurationMissingUnit', `time: missing unit in duration ${quoted}`, span);
      break;
    case 'unknownUnit':
      out.report('DurationUnknownUnit', `time: unknown unit ${goQuote(problem.unit)} in duration ${quoted}`, span);
      break;
    case 'tooShort':
      out.report('DurationTooShort', `Interval "${flag.name}" cannot be less than 1ms`, flag.nameSpan);
      break;
  }
}

function checkRetries(flag: Flag, value: string, span: Span, out: Reporter): void {
  if (value === '') return; // unset: the engine's default
  const n = parseInt32(value);
  if (typeof n === 'string') {
    out.report('InvalidSyntax', `strconv.ParseInt: parsing ${goQuote(value)}: ${n}`, span);
  } else if (n < 0) {
    // Today's BuildKit takes 0 (the default number of retries); only negative counts fail.
    out.report('FlagAtLeastOne', `--${flag.name} cannot be negative (${n})`, span);
  }
}

function checkClosedSet(flag: Flag, value: string, span: Span, values: readonly string[], out: Reporter): void {
  if (values.includes(value)) return;
  const message =
    flag.name === 'network' ? `invalid network mode ${goQuote(value)}` :
    flag.name === 'security' ? `security ${goQuote(value)} is not valid` :
    `invalid value ${goQuote(value)} for --${flag.name}`;
  out.report('InvalidFlagValue', message, span, valueFixes(span, values));
}

function valueFixes(span: Span, values: readonly string[]): Fix[] {
  if (values.length > MAX_VALUE_FIXES) return [];
  return values.map((v) => ({ title: `Change to ${v}`, edits: [{ span, text: v }] }));
}

/**
 * COPY --from: a stage name, a stage index, an image reference or a named context. BuildKit
 * expands variables in it, so a value with `$` is left to the build.
 */
function checkCopyFrom(flag: Flag, value: string, out: Reporter): void {
  if (value.includes('$')) return;
  if (out.stageNames.has(value.toLowerCase())) return;
  if (/^[a-zA-Z0-9][a-zA-Z0-9._\-/:@+]*$/.test(value)) return;
  const span = value === '' ? flag : flag.valueSpan!;
  out.report('InvalidFromFlag', `invalid from flag value ${value}: invalid reference format`, span);
}

// ---------------------------------------------------------------------------------------------
// RUN --mount

const MOUNT_TYPE_NAMES = MOUNT_TYPES.map((m) => m.type);
/** BuildKit's mount parser accepts these on every type. */
const READ_WRITE_KEYS = ['readonly', 'ro', 'readwrite', 'rw'];
const ALL_MOUNT_KEYS = new Set(['type', ...READ_WRITE_KEYS, ...MOUNT_TYPES.flatMap((m) => m.options.flatMap((o) => o.names))]);

interface Field {
  key: string;
  value: string | null;
  /** Offsets in the flag value (decoded text). */
  start: number;
  end: number;
  valueStart: number;
}

/**
 * The comma-separated `key=value` fields of --mount, as BuildKit's parseMount reads them (keys
 * without case, `type=bind` by default), checked against the options the type accepts.
 */
function checkMount(logical: Logical, value: string, valueSpan: Span, out: Reporter): void {
  const fields = splitFields(value);
  // Sub-ranges can be shown only where the value is written as it reads (no quotes, escapes or
  // continuation lines); otherwise the whole value is the range.
  const raw = out.text.slice(valueSpan.start, valueSpan.end);
  const at = raw === value ? logicalIndexOf(logical, valueSpan.start) : -1;
  const span = (start: number, end: number): Span => (at === -1 ? valueSpan : logical.span(at + start, at + end));

  // The type decides which options are known; one written with a variable leaves them unchecked.
  let type = 'bind';
  for (const f of fields) if (f.key === 'type' && f.value !== null) type = f.value.toLowerCase();
  const typeSpec = MOUNT_TYPES.find((m) => m.type === type);

  for (const f of fields) {
    const text = value.slice(f.start, f.end);
    if (f.key === 'type') {
      if (f.value === null || f.value.includes('$') || typeSpec) continue;
      const fixes = MOUNT_TYPE_NAMES.map((t) => ({ title: `Change to type=${t}`, edits: [{ span: span(f.valueStart, f.end), text: t }] }));
      out.report('InvalidFlagValue', `unsupported mount type ${goQuote(f.value)}`, span(f.valueStart, f.end), fixes);
      continue;
    }
    if (f.value === null && !READ_WRITE_KEYS.includes(f.key) && f.key !== 'required') {
      out.report('InvalidFlagValue', `invalid field '${text}' must be a key=value pair`, span(f.start, f.end));
      continue;
    }
    if (!typeSpec) continue; // the type itself is reported
    const option = typeSpec.options.find((o) => o.names.includes(f.key));
    if (!option && !READ_WRITE_KEYS.includes(f.key)) {
      const keySpan = span(f.start, f.start + f.key.length);
      if (ALL_MOUNT_KEYS.has(f.key)) {
        out.report('InvalidFlagValue', `unexpected key '${f.key}' for mount type '${type}'`, keySpan);
      } else {
        const keys = typeSpec.options.flatMap((o) => o.names);
        const fixes = nearest(f.key, keys).map((k, i) => ({ title: `Change to ${k}`, edits: [{ span: keySpan, text: k }], preferred: i === 0 || undefined }));
        out.report('InvalidFlagValue', `unexpected key '${f.key}' in '${text}'`, keySpan, fixes);
      }
      continue;
    }
    if (f.value === null || f.value.includes('$')) continue;
    const valueAt = span(f.valueStart, f.end);
    const isBool = READ_WRITE_KEYS.includes(f.key) || f.key === 'required';
    if (isBool && !isGoBool(f.value)) {
      out.report('InvalidFlagValue', `invalid value for ${f.key}: ${f.value}`, valueAt, valueFixes(valueAt, ['true', 'false']));
    } else if (f.key === 'sharing' && !option!.values!.includes(f.value.toLowerCase())) {
      out.report('InvalidFlagValue', `unsupported sharing value ${goQuote(f.value)}`, valueAt, valueFixes(valueAt, option!.values!));
    } else if (f.key === 'mode' && !/^[0-7]+$/.test(f.value)) {
      out.report('InvalidFlagValue', `invalid value ${f.value} for mode`, valueAt);
    } else if ((f.key === 'uid' || f.key === 'gid') && !/^[0-9]+$/.test(f.value)) {
      out.report('InvalidFlagValue', `invalid value ${f.value} for ${f.key}`, valueAt);
    }
  }
}

/** CSV fields split at commas (a quoted field keeps its commas), each split at its first `=`. */
function splitFields(value: string): Field[] {
  const fields: Field[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    if (i < value.length && (c !== ',' || quoted)) continue;
    const text = value.slice(start, i);
    const eq = text.indexOf('=');
    fields.push({
      key: (eq === -1 ? text : text.slice(0, eq)).toLowerCase(),
      value: eq === -1 ? null : text.slice(eq + 1),
      start,
      end: i,
      valueStart: eq === -1 ? i : start + eq + 1,
    });
    start = i + 1;
  }
  return fields;
}

/** The logical index written at a document offset (the document map is increasing). */
export function logicalIndexOf(logical: Logical, offset: number): number {
  let lo = 0;
  let hi = logical.text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (logical.toDoc(mid) < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
