// Integrity of the Dockerfile reference tables: every instruction documented and reachable,
// signature-help parameters that can be found in their labels, flags as BuildKit defines them,
// snippets that VS Code can expand, mount options, directives, signals and predefined args.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  BUILD_CHECKS,
  DIRECTIVES,
  INSTRUCTION_BY_NAME,
  INSTRUCTIONS,
  MOUNT_TYPES,
  PREDEFINED_ARGS,
  SIGNALS,
} from '../../server/src/dockerfile/instructions';
import type { FlagSpec, FlagValueKind, InstructionSpec } from '../../server/src/dockerfile/spec';

const ALL = [
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT',
  'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
];

function instruction(name: string): InstructionSpec {
  const spec = INSTRUCTION_BY_NAME.get(name);
  assert.ok(spec, `${name} is in INSTRUCTION_BY_NAME`);
  return spec;
}

function flag(instructionName: string, name: string): FlagSpec {
  const f = instruction(instructionName).flags.find((x) => x.name === name);
  assert.ok(f, `${instructionName} has --${name}`);
  return f;
}

/**
 * Where VS Code's parameter hints find a string parameter label in a signature label: the first
 * occurrence delimited by non-word characters (or the ends), as in its parameterHintsWidget.
 */
function vscodeParamOffset(signature: string, param: string): number {
  const escaped = param.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  const regex = new RegExp(`(\\W|^)${escaped}(?=\\W|$)`, 'g');
  if (!regex.test(signature)) return -1;
  return regex.lastIndex - param.length;
}

/**
 * Validates LSP snippet syntax (the TextMate-style grammar of the LSP specification) and returns
 * the tab-stop numbers it uses. Throws on unbalanced braces, bad escapes or malformed tab stops.
 */
function snippetTabStops(snippet: string): number[] {
  const stops: number[] = [];
  let i = 0;

  const fail = (why: string): never => {
    throw new Error(`${why} at ${i} in ${JSON.stringify(snippet)}`);
  };
  const digits = (): number => {
    const m = /^\d+/.exec(snippet.slice(i));
    if (!m) fail('expected a tab-stop number');
    i += m![0].length;
    return Number(m![0]);
  };
  const name = (): string => {
    const m = /^[_a-zA-Z][_a-zA-Z0-9]*/.exec(snippet.slice(i));
    if (!m) fail('expected a variable name');
    i += m![0].length;
    return m![0];
  };
  // Text inside a placeholder or at top level: `$`, `}` and `\` must be escaped (`}` only inside).
  const any = (inside: boolean): void => {
    while (i < snippet.length) {
      const c = snippet[i];
      if (c === '\\') {
        const next = snippet[i + 1];
        if (next === undefined) fail('dangling backslash');
        i += 2;
      } else if (c === '$') {
        dollar();
      } else if (c === '}') {
        if (inside) return;
        fail('unbalanced }');
      } else {
        i++;
      }
    }
    if (inside) fail('unterminated ${');
  };
  const dollar = (): void => {
    i++; // $
    const c = snippet[i];
    if (c !== undefined && /\d/.test(c)) {
      stops.push(digits());
      return;
    }
    if (c !== undefined && /[_a-zA-Z]/.test(c)) {
      name();
      return;
    }
    if (c !== '{') fail('a lone $ must be escaped as \\$');
    i++; // {
    if (/\d/.test(snippet[i] ?? '')) {
      stops.push(digits());
      const d = snippet[i];
      if (d === '}') {
        i++;
      } else if (d === ':') {
        i++;
        any(true);
        i++; // }
      } else if (d === '|') {
        i++;
        const end = snippet.indexOf('|}', i);
        if (end === -1) fail('unterminated choice');
        if (end === i) fail('empty choice');
        i = end + 2;
      } else {
        fail('expected }, : or | after a tab-stop number');
      }
    } else {
      name();
      const d = snippet[i];
      if (d === '}') i++;
      else if (d === ':') {
        i++;
        any(true);
        i++;
      } else fail('expected } or : after a variable name');
    }
  };

  any(false);
  return stops;
}

describe('snippet validator (self-check)', () => {
  test('accepts valid snippets', () => {
    assert.deepEqual(snippetTabStops('${1:image}:${2:tag}'), [1, 2]);
    assert.deepEqual(snippetTabStops('["${1:executable}"]'), [1]);
    assert.deepEqual(snippetTabStops('${1:a ${2:b}} $0'), [1, 2, 0]);
    assert.deepEqual(snippetTabStops('${1|a,b|} \\$HOME'), [1]);
  });
  test('rejects invalid snippets', () => {
    assert.throws(() => snippetTabStops('${1:image'));
    assert.throws(() => snippetTabStops('image}'));
    assert.throws(() => snippetTabStops('$ {1}'));
    assert.throws(() => snippetTabStops('${x1:oops'));
  });
});

describe('instructions', () => {
  test('all 18 instructions, each once, upper case, keyed in INSTRUCTION_BY_NAME', () => {
    assert.deepEqual([...INSTRUCTIONS.map((i) => i.name)].sort(), [...ALL].sort());
    assert.equal(INSTRUCTION_BY_NAME.size, ALL.length);
    for (const i of INSTRUCTIONS) {
      assert.equal(i.name, i.name.toUpperCase());
      assert.equal(INSTRUCTION_BY_NAME.get(i.name), i);
    }
  });

  for (const i of INSTRUCTIONS) {
    test(`${i.name}: summary, doc, link and forms`, () => {
      assert.ok(i.summary.trim().length > 0, 'summary');
      assert.ok(i.doc.trim().length > 0, 'doc');
      assert.ok(i.doc.includes('```dockerfile'), 'doc shows the syntax in a code block');
      assert.ok(i.doc.includes(i.link), 'doc links the reference');
      assert.match(i.link, /^https:\/\/docs\.docker\.com\/reference\/dockerfile\/#[a-z-]+$/);
      assert.ok(i.forms.length >= 1, 'at least one form');
      assert.ok(i.forms.some((f) => f.params.length > 0), 'a form with parameters');
    });

    test(`${i.name}: every form starts with the keyword and its parameters are found in order`, () => {
      for (const f of i.forms) {
        assert.ok(f.label.startsWith(`${i.name} `), `${f.label} starts with ${i.name}`);
        assert.ok(f.doc.trim().length > 0, `${f.label} has a doc`);
        let previousEnd = 0;
        for (const param of f.params) {
          assert.ok(param.label.length > 0 && param.doc.trim().length > 0, `${f.label}: ${param.label}`);
          assert.ok(f.label.includes(param.label), `"${param.label}" occurs in "${f.label}"`);
          const at = vscodeParamOffset(f.label, param.label);
          assert.ok(at >= 0, `VS Code finds "${param.label}" in "${f.label}"`);
          assert.ok(at >= previousEnd, `"${param.label}" comes after the previous parameter in "${f.label}"`);
          previousEnd = at + param.label.length;
        }
      }
    });

    test(`${i.name}: flags are unique and documented`, () => {
      const names = i.flags.map((f) => f.name);
      assert.equal(new Set(names).size, names.length, `duplicate flag in ${names.join(', ')}`);
      for (const f of i.flags) {
        assert.match(f.name, /^[a-z][a-z-]*$/, 'written without dashes');
        assert.ok(f.summary.trim().length > 0 && f.doc.trim().length > 0, `--${f.name} documented`);
        assert.ok(f.doc.includes(`--${f.name}`), `--${f.name} doc shows its syntax`);
        if (f.values) {
          assert.ok(f.values.length > 0);
          assert.equal(new Set(f.values).size, f.values.length);
        }
        if (f.since) assert.match(f.since, /^1\.\d+(\.\d+)?(-labs)?$/);
      }
    });

    test(`${i.name}: snippet is valid LSP snippet syntax, numbered from 1`, () => {
      assert.ok(i.snippet.length > 0);
      const stops = snippetTabStops(i.snippet).filter((n) => n !== 0);
      assert.ok(stops.length > 0, 'has a tab stop');
      const distinct = [...new Set(stops)].sort((a, b) => a - b);
      assert.deepEqual(distinct, distinct.map((_, k) => k + 1), `tab stops ${distinct.join(',')} run 1..n`);
    });
  }

  test('expands: the instructions BuildKit expands variables in', () => {
    const expanding = INSTRUCTIONS.filter((i) => i.expands).map((i) => i.name).sort();
    assert.deepEqual(expanding, [
      'ADD', 'ARG', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
    ]);
  });

  test('onbuild: all but ONBUILD, FROM and MAINTAINER may follow ONBUILD', () => {
    const not = INSTRUCTIONS.filter((i) => !i.onbuild).map((i) => i.name).sort();
    assert.deepEqual(not, ['FROM', 'MAINTAINER', 'ONBUILD']);
  });

  test('heredoc: RUN, COPY and ADD', () => {
    assert.deepEqual(INSTRUCTIONS.filter((i) => i.heredoc).map((i) => i.name).sort(), ['ADD', 'COPY', 'RUN']);
  });

  test('deprecated: MAINTAINER only', () => {
    assert.deepEqual(INSTRUCTIONS.filter((i) => i.deprecated).map((i) => i.name), ['MAINTAINER']);
  });

  test('forms the brief names exactly', () => {
    const labels = (n: string) => instruction(n).forms.map((f) => f.label);
    assert.ok(labels('FROM').includes('FROM [--platform=<platform>] <image> [AS <name>]'));
    assert.ok(labels('FROM').includes('FROM [--platform=<platform>] <image>[:<tag>] [AS <name>]'));
    assert.ok(labels('FROM').includes('FROM [--platform=<platform>] <image>[@<digest>] [AS <name>]'));
    assert.ok(labels('HEALTHCHECK').includes('HEALTHCHECK [OPTIONS] CMD command'));
    assert.ok(labels('HEALTHCHECK').includes('HEALTHCHECK NONE'));
    assert.ok(labels('ONBUILD').includes('ONBUILD <INSTRUCTION>'));
    assert.equal(labels('RUN').length, 3, 'RUN: shell, exec and heredoc forms');
    assert.ok(labels('RUN').some((l) => l.includes('[')), 'RUN exec form');
    assert.ok(labels('RUN').some((l) => l.includes('<<EOF')), 'RUN heredoc form');
    assert.equal(labels('CMD').length, 3, 'CMD: exec, ENTRYPOINT parameters and shell forms');
    assert.ok(instruction('CMD').forms.some((f) => /ENTRYPOINT/.test(f.doc)), 'CMD default parameters to ENTRYPOINT');
  });

  test('snippets the brief names exactly', () => {
    assert.equal(instruction('FROM').snippet, '${1:image}:${2:tag}');
    assert.equal(instruction('COPY').snippet, '${1:source} ${2:dest}');
    assert.equal(instruction('HEALTHCHECK').snippet, '--interval=${1:30s} CMD ${2:command}');
    assert.equal(instruction('CMD').snippet, '["${1:executable}"]');
  });
});

describe('flags', () => {
  const expect = (
    instr: string,
    name: string,
    value: FlagValueKind,
    more: { values?: readonly string[]; repeatable?: boolean } = {},
  ) => {
    const f = flag(instr, name);
    assert.equal(f.value, value, `${instr} --${name} value kind`);
    assert.deepEqual(f.values, more.values, `${instr} --${name} values`);
    assert.equal(f.repeatable ?? false, more.repeatable ?? false, `${instr} --${name} repeatable`);
  };

  test('FROM', () => {
    assert.deepEqual(instruction('FROM').flags.map((f) => f.name), ['platform']);
    expect('FROM', 'platform', 'string');
  });

  test('RUN', () => {
    assert.deepEqual(instruction('RUN').flags.map((f) => f.name).sort(), ['device', 'mount', 'network', 'security']);
    expect('RUN', 'mount', 'keyValues', { repeatable: true });
    expect('RUN', 'network', 'string', { values: ['default', 'none', 'host'] });
    expect('RUN', 'security', 'string', { values: ['sandbox', 'insecure'] });
    expect('RUN', 'device', 'keyValues', { repeatable: true });
    assert.ok(flag('RUN', 'device').since, 'RUN --device needs a recent frontend');
  });

  test('COPY', () => {
    assert.deepEqual(instruction('COPY').flags.map((f) => f.name).sort(), ['chmod', 'chown', 'exclude', 'from', 'link', 'parents']);
    expect('COPY', 'from', 'string');
    expect('COPY', 'chown', 'string');
    expect('COPY', 'chmod', 'string');
    expect('COPY', 'link', 'boolean');
    expect('COPY', 'parents', 'boolean');
    expect('COPY', 'exclude', 'string', { repeatable: true });
  });

  test('ADD', () => {
    assert.deepEqual(instruction('ADD').flags.map((f) => f.name).sort(), [
      'checksum', 'chmod', 'chown', 'exclude', 'keep-git-dir', 'link', 'unpack',
    ]);
    expect('ADD', 'chown', 'string');
    expect('ADD', 'chmod', 'string');
    expect('ADD', 'link', 'boolean');
    expect('ADD', 'keep-git-dir', 'boolean');
    expect('ADD', 'checksum', 'string');
    expect('ADD', 'unpack', 'boolean');
    expect('ADD', 'exclude', 'string', { repeatable: true });
  });

  test('HEALTHCHECK', () => {
    assert.deepEqual(instruction('HEALTHCHECK').flags.map((f) => f.name).sort(), [
      'interval', 'retries', 'start-interval', 'start-period', 'timeout',
    ]);
    for (const d of ['interval', 'timeout', 'start-period', 'start-interval']) expect('HEALTHCHECK', d, 'duration');
    expect('HEALTHCHECK', 'retries', 'integer');
  });

  test('flags that need a recent frontend say since which', () => {
    const since = (i: string, f: string) => flag(i, f).since;
    assert.equal(since('RUN', 'mount'), '1.2');
    assert.equal(since('RUN', 'network'), '1.3');
    assert.equal(since('RUN', 'security'), '1.20');
    assert.equal(since('COPY', 'parents'), '1.20');
    assert.equal(since('COPY', 'exclude'), '1.19');
    assert.equal(since('ADD', 'exclude'), '1.19');
    assert.equal(since('ADD', 'unpack'), '1.17');
    assert.equal(since('ADD', 'checksum'), '1.6');
    assert.equal(since('COPY', 'link'), '1.4');
  });

  test('instructions without flags have none', () => {
    for (const n of ALL.filter((n) => !['FROM', 'RUN', 'COPY', 'ADD', 'HEALTHCHECK'].includes(n))) {
      assert.deepEqual(instruction(n).flags, [], n);
    }
  });
});

describe('mount types', () => {
  const names = (type: string) => {
    const t = MOUNT_TYPES.find((m) => m.type === type);
    assert.ok(t, type);
    return t.options.flatMap((o) => o.names);
  };

  test('bind, cache, tmpfs, secret and ssh, documented, with unique option names', () => {
    assert.deepEqual(MOUNT_TYPES.map((m) => m.type).sort(), ['bind', 'cache', 'secret', 'ssh', 'tmpfs']);
    for (const m of MOUNT_TYPES) {
      assert.ok(m.doc.trim().length > 0, m.type);
      const all = m.options.flatMap((o) => o.names);
      assert.equal(new Set(all).size, all.length, `${m.type}: duplicate option name`);
      for (const o of m.options) {
        assert.ok(o.names.length > 0 && o.doc.trim().length > 0, `${m.type}: ${o.names.join('/')}`);
        for (const n of o.names) assert.match(n, /^[a-z]+$/);
      }
    }
  });

  test('every type takes target with its aliases', () => {
    for (const m of MOUNT_TYPES) {
      const target = m.options.find((o) => o.names.includes('target'));
      assert.ok(target, m.type);
      assert.deepEqual([...target.names].sort(), ['destination', 'dst', 'target'], m.type);
    }
  });

  test('the documented options of each type', () => {
    const has = (type: string, expected: string[]) => {
      const got = names(type);
      for (const e of expected) assert.ok(got.includes(e), `${type} accepts ${e}`);
    };
    has('bind', ['target', 'dst', 'destination', 'source', 'src', 'from', 'rw', 'readwrite']);
    has('cache', ['id', 'target', 'ro', 'readonly', 'sharing', 'from', 'source', 'mode', 'uid', 'gid']);
    has('tmpfs', ['target', 'size']);
    has('secret', ['id', 'target', 'env', 'required', 'mode', 'uid', 'gid']);
    has('ssh', ['id', 'target', 'required', 'mode', 'uid', 'gid']);
    assert.ok(!names('tmpfs').includes('mode'), 'mode is refused on tmpfs');
    assert.ok(!names('bind').includes('uid'), 'uid is refused on bind');
    assert.ok(!names('secret').includes('from'), 'from is refused on secret');
    assert.ok(!names('bind').includes('sharing'), 'sharing is only for cache');
  });

  test('sharing values and bare switches', () => {
    const cache = MOUNT_TYPES.find((m) => m.type === 'cache');
    assert.ok(cache);
    assert.deepEqual(cache.options.find((o) => o.names.includes('sharing'))?.values, ['shared', 'private', 'locked']);
    for (const m of MOUNT_TYPES) {
      for (const o of m.options) {
        const isSwitch = o.names.some((n) => ['ro', 'readonly', 'rw', 'readwrite', 'required'].includes(n));
        assert.equal(o.bare ?? false, isSwitch, `${m.type} ${o.names[0]} bare`);
      }
    }
  });
});

describe('directives', () => {
  test('syntax, escape and check', () => {
    assert.deepEqual(DIRECTIVES.map((d) => d.name).sort(), ['check', 'escape', 'syntax']);
    for (const d of DIRECTIVES) {
      assert.equal(d.name, d.name.toLowerCase());
      assert.ok(d.summary.trim() && d.doc.trim(), d.name);
      assert.ok(d.values.length > 0, d.name);
      assert.equal(new Set(d.values).size, d.values.length, `${d.name}: duplicate value`);
      assert.match(d.link, /^https:\/\/docs\.docker\.com\/reference\/dockerfile\/#[a-z]+$/);
    }
  });

  test('values', () => {
    const values = (n: string) => DIRECTIVES.find((d) => d.name === n)?.values ?? [];
    assert.ok(values('syntax').includes('docker/dockerfile:1'));
    assert.ok(values('syntax').includes('docker/dockerfile:1-labs'));
    assert.deepEqual([...values('escape')].sort(), ['\\', '`'].sort());
    for (const v of ['skip=all', 'error=true', 'skip=JSONArgsRecommended;error=true']) assert.ok(values('check').includes(v), v);
    for (const c of BUILD_CHECKS) assert.ok(values('check').includes(`skip=${c}`), c);
  });

  test('check values are well formed', () => {
    const known = new Set([...BUILD_CHECKS, 'all']);
    for (const v of DIRECTIVES.find((d) => d.name === 'check')?.values ?? []) {
      for (const part of v.split(';')) {
        const [key, value] = part.split('=', 2);
        if (key === 'error') assert.ok(value === 'true' || value === 'false', v);
        else {
          assert.equal(key, 'skip', v);
          for (const c of (value ?? '').split(',')) assert.ok(known.has(c), `${v}: unknown check ${c}`);
        }
      }
    }
  });
});

describe('signals', () => {
  test('no duplicates, all SIG names, the common ones present', () => {
    assert.equal(new Set(SIGNALS).size, SIGNALS.length);
    for (const s of SIGNALS) assert.match(s, /^SIG[A-Z0-9]+$/);
    for (const s of ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGSTOP', 'SIGRTMIN', 'SIGRTMAX']) {
      assert.ok(SIGNALS.includes(s), s);
    }
  });
});

describe('predefined args', () => {
  test('unique, documented, with the documented ones present', () => {
    const names = PREDEFINED_ARGS.map((a) => a.name);
    assert.equal(new Set(names).size, names.length);
    for (const a of PREDEFINED_ARGS) assert.ok(a.doc.includes(a.name), a.name);
    for (const n of [
      'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT',
      'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT',
      'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
      'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
      'SOURCE_DATE_EPOCH', 'BUILDKIT_INLINE_CACHE', 'BUILDKIT_MULTI_PLATFORM', 'BUILDKIT_SANDBOX_HOSTNAME',
      'BUILDKIT_CONTEXT_KEEP_GIT_DIR', 'BUILDKIT_SYNTAX', 'BUILDKIT_CACHE_MOUNT_NS',
    ]) {
      assert.ok(names.includes(n), n);
    }
  });

  test('global exactly for the automatic platform args (and TARGETSTAGE)', () => {
    const global = PREDEFINED_ARGS.filter((a) => a.global).map((a) => a.name).sort();
    assert.deepEqual(global, [
      'BUILDARCH', 'BUILDOS', 'BUILDPLATFORM', 'BUILDVARIANT',
      'TARGETARCH', 'TARGETOS', 'TARGETPLATFORM', 'TARGETSTAGE', 'TARGETVARIANT',
    ]);
  });
});
