// BuildKit's InvalidBaseImagePlatform, without a daemon: ask the base image's registry which
// platforms it offers, and warn when the one the stage builds for is not among them. Answers are
// cached (a failure briefly), so typing never waits on the network and never repeats a lookup.

import { parseReference } from '../../../runtime-agent/src/registry/reference';
import { Repository } from '../../../runtime-agent/src/registry/client';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches, type Platform } from '../dockerfile/platform';
import type { AsyncRule } from './rule';

const OK_TTL = 10 * 60_000;
const FAILED_TTL = 60_000;
const cache = new Map<string, { at: number; ttl: number; platforms: Promise<Platform[] | null> }>();

/** The platforms of an image, or null when the registry cannot tell (offline, unknown image). */
export function platformsOf(image: string, insecure: readonly string[] = []): Promise<Platform[] | null> {
  const cached = cache.get(image);
  if (cached && Date.now() - cached.at < cached.ttl) return cached.platforms;
  const entry = { at: Date.now(), ttl: OK_TTL, platforms: Promise.resolve<Platform[] | null>(null) };
  entry.platforms = new Repository(parseReference(image), { insecure, signal: AbortSignal.timeout(15_000) })
    .platforms()
    .catch(() => {
      entry.ttl = FAILED_TTL;
      return null;
    });
  cache.set(image, entry);
  return entry.platforms;
}

export const platformRule: AsyncRule = {
  codes: [
    {
      code: 'InvalidBaseImagePlatform',
      source: 'buildkit',
      severity: 'warning',
      summary: 'The base image does not offer the platform the stage builds for.',
      url: 'https://docs.docker.com/reference/build-checks/invalid-base-image-platform/',
    },
  ],
  async check({ model, ctx, report }, signal) {
    if (!ctx.settings.diagnostics.registry) return;
    const stageNames = new Set(model.stages.flatMap((s) => (s.name ? [s.name.text.toLowerCase()] : [])));
    await Promise.all(
      model.stages.map(async (stage) => {
        if (!stage.image) return;
        const scope = model.scopeOf(stage.from);
        const image = model.expand(stage.image.text, scope);
        if (!image || image.missing.length || image.value === '' || image.value === 'scratch' || stageNames.has(image.value.toLowerCase())) return;
        const flag = stage.from.flags.find((f) => f.name === 'platform');
        let wanted = hostPlatform();
        if (flag?.value) {
          const expanded = model.expand(flag.value, scope);
          const parsed = expanded && !expanded.missing.length ? parsePlatform(expanded.value) : null;
          if (!parsed) return;
          wanted = parsed;
        }
        let platforms: Platform[] | null;
        try {
          platforms = await platformsOf(image.value);
        } catch {
          return; // Not a valid reference: the validator says so.
        }
        if (signal.aborted || !platforms || platforms.length === 0) return;
        if (platforms.some((p) => platformMatches(p, wanted))) return;
        const offered = platforms.map(formatPlatform).join(', ');
        report({
          code: 'InvalidBaseImagePlatform',
          message:
            platforms.length === 1
              ? `Base image ${image.value} was pulled with platform "${offered}", expected "${formatPlatform(wanted)}" for current build`
              : `Base image ${image.value} offers no "${formatPlatform(wanted)}" image (it has ${offered})`,
          span: stage.image,
        });
      }),
    );
  },
};
