// The server's settings: the `tug` section of the client's configuration (package.json
// declares the same keys for VS Code), with defaults for whatever is missing or malformed.

export type Severity = 'error' | 'warning' | 'information' | 'hint';
export type SeveritySetting = Severity | 'off';

export interface Settings {
  diagnostics: {
    /** Per code: a new severity, or "off". */
    severity: Record<string, SeveritySetting>;
    /** Run shellcheck on shell-form RUN when it is installed. */
    shellcheck: boolean;
    /** The shellcheck executable. */
    shellcheckPath: string;
    /** Check COPY/ADD sources against the build context on disk. */
    buildContext: boolean;
    /** Ask registries for base images' platforms (InvalidBaseImagePlatform). */
    registry: boolean;
  };
  formatter: {
    /** Leave instructions that span several lines as they are. */
    ignoreMultilineInstructions: boolean;
  };
  inlayHints: {
    /** Show what a variable in FROM resolves to. */
    variables: boolean;
  };
}

export const DEFAULT_SETTINGS: Settings = {
  diagnostics: { severity: {}, shellcheck: true, shellcheckPath: 'shellcheck', buildContext: true, registry: true },
  formatter: { ignoreMultilineInstructions: false },
  inlayHints: { variables: true },
};

const SEVERITIES = new Set<string>(['error', 'warning', 'information', 'hint', 'off']);

/** Reads settings from whatever the client sent, keeping defaults for bad or missing values. */
export function readSettings(raw: unknown): Settings {
  const tug = record(raw);
  const diagnostics = record(tug.diagnostics);
  const formatter = record(tug.formatter);
  const hints = record(tug.inlayHints);
  const severity: Record<string, SeveritySetting> = {};
  for (const [code, value] of Object.entries(record(diagnostics.severity))) {
    if (typeof value === 'string' && SEVERITIES.has(value.toLowerCase())) {
      severity[code] = value.toLowerCase() as SeveritySetting;
    }
  }
  const d = DEFAULT_SETTINGS;
  return {
    diagnostics: {
      severity,
      shellcheck: bool(diagnostics.shellcheck, d.diagnostics.shellcheck),
      shellcheckPath: typeof diagnostics.shellcheckPath === 'string' && diagnostics.shellcheckPath ? diagnostics.shellcheckPath : d.diagnostics.shellcheckPath,
      buildContext: bool(diagnostics.buildContext, d.diagnostics.buildContext),
      registry: bool(diagnostics.registry, d.diagnostics.registry),
    },
    formatter: { ignoreMultilineInstructions: bool(formatter.ignoreMultilineInstructions, d.formatter.ignoreMultilineInstructions) },
    inlayHints: { variables: bool(hints.variables, d.inlayHints.variables) },
  };
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}
