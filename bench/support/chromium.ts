import { Browser, chromium } from 'playwright-core';

/** Debian's Chromium: the only browser the tests and benchmarks run (never a downloaded one). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags every launch uses: headless, no sandbox (root), fake camera and microphone, no background traffic. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/**
 * Debian's Chromium, headless, with fake camera and microphone.
 * `executablePath` (default /usr/bin/chromium) lets a caller put a wrapper in
 * front of it, e.g. one that runs it inside a network namespace (test/support/netns.ts).
 */
export async function launchChromium(extraArgs: string[] = [], options: { executablePath?: string } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: options.executablePath ?? CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}
