// Command-line flags as the tug commands take them: docker's spelling, a value after the flag or
// after `=`, repeatable flags, and bundled short switches.

export class UsageError extends Error {}

/**
 * Splits flags from arguments; flags take a value unless listed as switches. `aliases` stores a
 * flag under another name (`-t` as `--tag`), so that repeated values keep their order.
 */
export function parse(
  args: string[],
  switches: string[],
  stopAtFirst = true,
  aliases: Record<string, string> = {},
): { flags: Map<string, string[]>; rest: string[] } {
  const flags = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('-') || arg === '-' || (stopAtFirst && rest.length)) {
      rest.push(...(stopAtFirst ? args.slice(i) : [arg]));
      if (stopAtFirst) break;
      continue;
    }
    if (arg === '--') {
      rest.push(...args.slice(i + 1));
      break;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    // Bundled short switches: -it, -fq.
    if (/^-[a-zA-Z]{2,}$/.test(arg) && [...arg.slice(1)].every((c) => switches.includes(`-${c}`))) {
      for (const c of arg.slice(1)) flags.set(aliases[`-${c}`] ?? `-${c}`, ['true']);
      continue;
    }
    let value: string;
    if (switches.includes(name)) value = eq === -1 ? 'true' : arg.slice(eq + 1);
    else if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i];
    else throw new UsageError(`flag needs an argument: ${name}`);
    const key = aliases[name] ?? name;
    flags.set(key, [...(flags.get(key) ?? []), value]);
  }
  return { flags, rest };
}

export const one = (flags: Map<string, string[]>, ...names: string[]) => {
  for (const n of names) {
    const v = flags.get(n);
    if (v) return v[v.length - 1];
  }
  return undefined;
};
export const all = (flags: Map<string, string[]>, ...names: string[]) => names.flatMap((n) => flags.get(n) ?? []);
export const on = (flags: Map<string, string[]>, ...names: string[]) => names.some((n) => flags.get(n)?.some((v) => v !== 'false'));
