// Every lint rule, wired in one place.

import { buildkitRule } from './buildkit';
import { hadolintRule } from './hadolint';
import { parseRule } from './parse';
import type { AsyncRule, CodeSpec, Rule } from './rule';
import { contextRule } from './context';
import { platformRule } from './platform';
import { shellcheckRule } from './shellcheck';
import { validatorRule } from './validator';

export const RULES: readonly Rule[] = [parseRule, buildkitRule, hadolintRule, validatorRule];

export const ASYNC_RULES: readonly AsyncRule[] = [contextRule, shellcheckRule, platformRule];

/** Every code any rule reports, by name. */
export const CODES: ReadonlyMap<string, CodeSpec> = new Map(
  [...RULES, ...ASYNC_RULES].flatMap((rule) => rule.codes.map((spec) => [spec.code, spec] as const)),
);
