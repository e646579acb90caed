// tests/browser/common.mjs: what every browser check shares: its failure type, and headless Chromium
// started from Debian's package (never downloaded) with a fresh profile.

import { chromium } from 'playwright-core';

// A failed check: the script prints "FAIL: message" and exits 1.
export class CheckFailed extends Error {}
export const check = (ok, message) => { if (!ok) throw new CheckFailed(message); };

// The flags every check runs Chromium with: no sandbox (root in CI), no GPU, nothing fetched from the net.
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Starts Chromium at executable with a persistent context in profile (an empty folder) and the extra
// options (viewport) and args given. On failure prints "FAIL: cannot start ..." and exits 1.
export async function launch(executable, profile, { viewport, args = [] } = {}) {
  try {
    return await chromium.launchPersistentContext(profile, {
      executablePath: executable,
      headless: true,
      ...(viewport ? { viewport } : {}),
      args: [...BASE_ARGS, ...args],
    });
  } catch (e) {
    console.error(`FAIL: cannot start ${executable}: ${e.message.split('\n')[0]}`);
    process.exit(1);
  }
}
