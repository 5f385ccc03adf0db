// The value checks of the validator rules, as pure functions over strings: Go durations, port
// specs, stop signals, image references, quotes left open and the "did you mean" suggestions.
// Each follows the code that decides at build time (Go's time.ParseDuration, go-connections'
// nat.ParsePortSpec, moby's signal.ParseSignal, distribution's reference grammar, BuildKit's
// shell lexer), so that the editor refuses what the build would refuse.

import { SIGNALS } from '../dockerfile/instructions';

// ---------------------------------------------------------------------------------------------
// Go durations

export type DurationProblem =
  | { kind: 'invalid' } // time: invalid duration "x"
  | { kind: 'missingUnit' } // time: missing unit in duration "1"
  | { kind: 'unknownUnit'; unit: string } // time: unknown unit "x" in duration "1x"
  | { kind: 'tooShort' }; // below BuildKit's 1ms minimum (but not 0)

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const MAX_DURATION_NS = 9223372036854775807;

/**
 * Checks a HEALTHCHECK duration as BuildKit's parseOptInterval does: Go's time.ParseDuration,
 * then zero is allowed (it means "the default") and anything else must be at least 1ms.
 */
export function checkDuration(value: string): DurationProblem | null {
  let s = value;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return null;
  if (s === '') return { kind: 'invalid' };
  let total = 0;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) return { kind: 'invalid' };
    let i = 0;
    while (i < s.length && isDigit(s[i])) i++;
    const whole = s.slice(0, i);
    let fraction = '';
    if (s[i] === '.') {
      const f = ++i;
      while (i < s.length && isDigit(s[i])) i++;
      fraction = s.slice(f, i);
    }
    if (whole === '' && fraction === '') return { kind: 'invalid' };
    s = s.slice(i);
    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    if (u === 0) return { kind: 'missingUnit' };
    const unit = s.slice(0, u);
    s = s.slice(u);
    const scale = UNIT_NS[unit];
    if (scale === undefined) return { kind: 'unknownUnit', unit };
    total += Number(`${whole || '0'}.${fraction || '0'}`) * scale;
    if (total > MAX_DURATION_NS) return { kind: 'invalid' };
  }
  if (total === 0) return null;
  return negative || total < 1e6 ? { kind: 'tooShort' } : null;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

// ---------------------------------------------------------------------------------------------
// Integers (HEALTHCHECK --retries)

/** strconv.ParseInt(value, 10, 32): the number, or Go's error reason. */
export function parseInt32(value: string): number | 'invalid syntax' | 'value out of range' {
  if (!/^[+-]?[0-9]+$/.test(value)) return 'invalid syntax';
  const n = Number(value);
  if (n > 2147483647 || n < -2147483648) return 'value out of range';
  return n;
}

// ---------------------------------------------------------------------------------------------
// EXPOSE port specs

export type PortProblem =
  | { kind: 'port'; message: string }
  /** The protocol, and where it starts in the value (after the first `/` of the container port). */
  | { kind: 'protocol'; protocol: string; at: number };

/**
 * nat.ParsePortSpec, which BuildKit runs on each EXPOSE word once expanded:
 * `[[ip:]hostPort:]containerPort[/protocol]`, ports and port ranges up to 65535, protocols tcp,
 * udp and sctp. (Publishing to a host port or IP draws BuildKit's own ExposeInvalidFormat check,
 * which is not this one.)
 */
export function checkPortSpec(value: string): PortProblem | null {
  const parts = value.split(':');
  const last = parts[parts.length - 1];
  const hostPort = parts.length >= 2 ? parts[parts.length - 2] : '';
  const ip = parts.length >= 3 ? parts.slice(0, parts.length - 2).join(':') : '';
  if (ip !== '' && !isIp(ip)) return { kind: 'port', message: `invalid IP address: ${ip}` };
  // splitProtoPort: the protocol is what follows the first `/`, up to the next one.
  const slash = last.indexOf('/');
  const containerPort = slash === -1 ? last : last.slice(0, slash);
  const protoEnd = slash === -1 ? -1 : last.indexOf('/', slash + 1);
  const protocol = slash === -1 ? '' : last.slice(slash + 1, protoEnd === -1 ? undefined : protoEnd);
  if (containerPort === '') return { kind: 'port', message: `no port specified: ${value}<empty>` };
  const container = portRange(containerPort);
  if (!container) return { kind: 'port', message: `invalid containerPort: ${containerPort}` };
  if (hostPort !== '') {
    const host = portRange(hostPort);
    if (!host) return { kind: 'port', message: `invalid hostPort: ${hostPort}` };
    // A host range with a single container port is allowed: it is the range to allocate from.
    if (host[1] - host[0] !== container[1] - container[0] && container[1] !== container[0]) {
      return { kind: 'port', message: `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}` };
    }
  }
  if (protocol !== '' && !['tcp', 'udp', 'sctp'].includes(protocol.toLowerCase())) {
    return { kind: 'protocol', protocol, at: value.length - last.length + slash + 1 };
  }
  return null;
}

/** nat.ParsePortRange: `port` or `start-end`, each an unsigned 16-bit number. */
function portRange(text: string): [number, number] | null {
  const dash = text.indexOf('-');
  const first = dash === -1 ? text : text.slice(0, dash);
  const second = dash === -1 ? text : text.slice(dash + 1);
  const start = uint16(first);
  const end = uint16(second);
  if (start === null || end === null || end < start) return null;
  return [start, end];
}

function uint16(text: string): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function isIp(text: string): boolean {
  if (text.startsWith('[') && text.endsWith(']')) return text.includes(':');
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}

// ---------------------------------------------------------------------------------------------
// STOPSIGNAL

const SIGNAL_NAMES: ReadonlySet<string> = new Set([
  ...SIGNALS.map((s) => s.replace(/^SIG/, '')),
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/**
 * moby's signal.ParseSignal: a non-zero number, or a Linux signal name in any case, with or
 * without `SIG`.
 */
export function isSignal(value: string): boolean {
  if (/^[+-]?[0-9]+$/.test(value)) return Number(value) !== 0;
  return SIGNAL_NAMES.has(value.toUpperCase().replace(/^SIG/, ''));
}

// ---------------------------------------------------------------------------------------------
// Image references

/** The parts of `name[:tag][@digest]`, as offsets into the reference. */
export interface ReferenceParts {
  /** The tag after the last `:` of the name part (after its last `/`), or null. */
  tag: { start: number; end: number } | null;
  /** What follows the first `@`, or null. */
  digest: { start: number; end: number } | null;
}

export function referenceParts(ref: string): ReferenceParts {
  const at = ref.indexOf('@');
  const name = at === -1 ? ref : ref.slice(0, at);
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? { start: colon + 1, end: name.length } : null;
  return { tag, digest: at === -1 ? null : { start: at + 1, end: ref.length } };
}


// ---------------------------------------------------------------------------------------------
// Quotes

/**
 * The quote left open in a word, as BuildKit's shell lexer reads it: single quotes take
 * everything literally up to the next one; in double quotes the escape character protects the
 * next character; outside quotes it protects the next character too.
 */
export function unclosedQuote(text: string, escape: string): 'single' | 'double' | null {
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === escape) {
      i += 2;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close === -1) return 'single';
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === escape ? 2 : 1;
      if (i >= text.length) return 'double';
      i++;
    } else {
      i++;
    }
  }
  return null;
}

/** Go's strconv.ParseBool, which BuildKit uses for mount options. */
export function isGoBool(value: string): boolean {
  return ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value);
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/**
 * The candidates close to a misspelled word, closest first (ties in the candidates' order): an
 * optimal-string-alignment distance (a swap of two letters counts one) of at most a third of the
 * word, and never less than 2, compared without case.
 */
export function nearest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  const limit = Math.max(2, Math.ceil(w.length / 3));
  const scored: { candidate: string; distance: number }[] = [];
  for (const candidate of candidates) {
    const distance = editDistance(w, candidate.toLowerCase(), limit);
    if (distance <= limit && distance < candidate.length) scored.push({ candidate, distance });
  }
  return scored.sort((a, b) => a.distance - b.distance).map((s) => s.candidate);
}

/** Optimal string alignment distance, giving up (returning limit + 1) past `limit`. */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length];
}
