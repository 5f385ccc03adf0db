// The one test that uses the workbench as a person does, in the browser: right-click the
// Dockerfile in the explorer, choose Build and Run, and see the container in the Tug sidebar.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openWorkbench, root, startCodeServer } from './workbench';

export interface UiOutcome {
  /** The Containers view's row of the new container, as the page shows it. */
  row: string;
  /** What the Build and Run terminal shows. */
  terminal: string;
  screenshot: string;
}

export async function buildAndRunByClicks(options: { env: NodeJS.ProcessEnv; image: string; screenshot: string }): Promise<UiOutcome> {
  // xterm's DOM renderer, so that the page holds the terminal's text.
  const server = await startCodeServer({ env: options.env, settings: { 'terminal.integrated.gpuAcceleration': 'off' } });
  const workbench = await (async () => {
    writeFileSync(join(server.workspace, 'Dockerfile'), `FROM ${options.image}\nCMD ["sh", "-c", "trap 'exit 0' TERM; echo clicked into being; sleep 300 & wait"]\n`);
    return openWorkbench(server, server.workspace, [['extensionDevelopmentPath', root]]);
  })();
  const { page } = workbench;
  try {
    const file = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'Dockerfile' });
    await file.waitFor({ timeout: 60_000 });
    // Opened first, as a person writing it would have it: the extension is then active and its
    // menu items are in place when the right-click comes.
    await file.click();
    await page.locator('.statusbar-item', { hasText: 'Tug:' }).waitFor({ timeout: 60_000 });
    // The item's when clause (the file's language, workspace trust) can settle a moment after
    // activation on a loaded machine: a menu opened before then is closed and opened again.
    const item = page.locator('.context-view .monaco-menu .action-item', { hasText: 'Build and Run' });
    for (let attempt = 1; ; attempt++) {
      await file.click({ button: 'right' });
      const shown = await item.waitFor({ timeout: 5_000 }).then(() => true, () => false);
      if (shown) break;
      if (attempt === 6) throw new Error('the explorer\'s menu never offered Build and Run');
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1_000);
    }
    // The menu takes a click's mouseup only from a press that began in it: choose by pointer and Enter.
    await item.hover();
    await page.keyboard.press('Enter');
    // The build's terminal shows the container's output.
    const terminal = page.locator('.terminal-wrapper.active .xterm-rows');
    await page.locator('.terminal-wrapper.active .xterm-rows', { hasText: 'clicked into being' }).waitFor({ timeout: 60_000 });
    await page.locator('.activitybar .action-item a[aria-label^="Tug"]').click();
    const row = page.locator('.pane:has(.pane-header[aria-label^="Containers"]) .monaco-list-row', { hasText: 'workspace:latest' });
    await row.waitFor({ timeout: 30_000 });
    mkdirSync(join(options.screenshot, '..'), { recursive: true });
    await page.screenshot({ path: options.screenshot });
    return { row: (await row.innerText()).replace(/\s+/g, ' '), terminal: await terminal.innerText(), screenshot: options.screenshot };
  } catch (error) {
    await page.screenshot({ path: options.screenshot }).catch(() => {});
    throw new Error(`${(error as Error).message}\nthe page as it was: ${options.screenshot}\n${workbench.output()}`);
  } finally {
    await workbench.close();
    await server.stop();
  }
}
