// Which engine the extension talks to, and what it names images by default.

import { engineHost } from '../../runtime-agent/src/cli/client';

/** The `tug.engine.host` setting, else the engine the `tug` CLI would use (TUG_HOST, DOCKER_HOST, the local tugd). */
export function chooseEngine(setting: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return engineHost(setting, env);
}

/** A repository name from a folder's name, as Docker allows them: lowercase, other characters as `-`. */
export function defaultRepository(folderName: string): string {
  const name = folderName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return name || 'app';
}
