// bench/ttff.mjs: one cold start of a video in hls.js (headless Chromium, contrib/player), as bench/ttff.sh
// runs it: prints one JSON line {"first": s, "good": s, "height": h, "seek": s} where first is the time from
// loading the page to the first decoded frame while playing, good the time until a picture of at least
// --good lines is shown (null if not within --good-within seconds of play), height the picture height at
// the first frame, and seek (with --seek F) the time from setting currentTime to F x duration until
// playback runs on past it.
//
// Usage: node ttff.mjs --url URL --profile EMPTY_DIR [--chromium PATH] [--good LINES] [--good-within S] [--seek F]
// Exit status: 0 with the line printed, 1 with "FAIL: reason" on stderr.

import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

// playwright-core and hls.js are tests/browser's npm packages.
const require = createRequire(new URL('../tests/browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    profile: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    good: { type: 'string', default: '720' },
    'good-within': { type: 'string', default: '20' },
    seek: { type: 'string' },
  },
});
if (!opt.url || !opt.profile) {
  console.error('usage: node ttff.mjs --url URL --profile EMPTY_DIR [--good LINES] [--seek F]');
  process.exit(2);
}

const context = await chromium.launchPersistentContext(opt.profile, {
  executablePath: opt.chromium, headless: true, viewport: { width: 1280, height: 720 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const page = context.pages()[0] || await context.newPage();

// Times are taken in the page (performance.now()), from a mark set just before the player starts.
await page.addInitScript(() => {
  window.__t0 = performance.now();
  window.__marks = {};
  document.addEventListener('DOMContentLoaded', () => {
    const v = document.querySelector('video');
    v.muted = true;
    v.autoplay = true;
    const poll = () => {
      const q = v.getVideoPlaybackQuality();
      const now = (performance.now() - window.__t0) / 1000;
      if (window.__marks.first === undefined && !v.paused && q.totalVideoFrames > 0 && v.currentTime > 0) {
        window.__marks.first = now;
        window.__marks.height = v.videoHeight;
      }
      if (window.__marks.first !== undefined && window.__marks.good === undefined && v.videoHeight >= window.__goodLines) {
        window.__marks.good = now;
      }
      requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  });
});
await page.addInitScript((lines) => { window.__goodLines = lines; }, Number(opt.good));

const fail = async (why) => {
  console.error(`FAIL: ${why}`);
  await context.close().catch(() => {});
  process.exit(1);
};
const marks = () => page.evaluate(() => ({ ...window.__marks, error: (window.playerState || {}).fatalError || null }));

try {
  await page.goto(opt.url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__marks.first !== undefined ||
    (window.playerState && window.playerState.fatalError), null, { timeout: 60000, polling: 20 });
  let m = await marks();
  if (m.error) await fail(`hls.js: ${m.error.message}`);
  const within = Number(opt['good-within']);
  await page.waitForFunction((t) => window.__marks.good !== undefined ||
    (performance.now() - window.__t0) / 1000 > t, m.first + within,
  { timeout: (within + 5) * 1000, polling: 50 }).catch(() => {});
  m = await marks();
  const out = { first: +m.first.toFixed(3), good: m.good === undefined ? null : +m.good.toFixed(3), height: m.height, seek: null };
  if (opt.seek) {
    const f = Number(opt.seek);
    const seek = await page.evaluate(async (frac) => {
      const v = document.querySelector('video');
      const target = v.duration * frac;
      const t0 = performance.now();
      v.currentTime = target;
      return await new Promise((resolve) => {
        const frames0 = v.getVideoPlaybackQuality().totalVideoFrames;
        const check = () => {
          if (!v.paused && !v.seeking && v.currentTime > target + 0.1 &&
            v.getVideoPlaybackQuality().totalVideoFrames > frames0) resolve((performance.now() - t0) / 1000);
          else if (performance.now() - t0 > 60000) resolve(null);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      });
    }, f);
    if (seek === null) await fail(`the seek to ${f} of the video did not play on within 60 s`);
    out.seek = +seek.toFixed(3);
  }
  console.log(JSON.stringify(out));
} catch (e) {
  await fail(`${e.name}: ${e.message.split('\n')[0]}`);
}
await context.close().catch(() => {});
process.exit(0);
