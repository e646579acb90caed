// tests/browser/play.mjs: plays one video of an hlsfs mount in headless Chromium through contrib/player and
// checks what a viewer would see: playback advances, frames are decoded, quality switches, the end is reached.
//
// Usage: node play.mjs --url URL --profile EMPTY_DIR [--screenshot FILE] [--duration SECONDS]
//                      [--chromium PATH] [--play SECONDS]
//   --url         the player page with ?v=..., served over HTTP next to the mount
//   --profile     a fresh folder for Chromium's --user-data-dir
//   --screenshot  where to write a PNG of the page (taken while playing, and again on failure)
//   --duration    the source's duration: video.duration must be within 0.5 s of it
//   --chromium    the browser (default $CHROMIUM or /usr/bin/chromium; never downloaded)
//   --play        seconds of playback required before the other checks (default 2.5)
// Exit status: 0 when every check passed, 1 with "FAIL: reason" on stderr otherwise, 2 on bad usage.

import { CheckFailed, check, launch } from './common.mjs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    profile: { type: 'string' },
    screenshot: { type: 'string' },
    duration: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    play: { type: 'string', default: '2.5' },
  },
});
if (!opt.url || !opt.profile) {
  console.error('usage: node play.mjs --url URL --profile EMPTY_DIR [--screenshot FILE] [--duration S]');
  process.exit(2);
}
const playFor = Number(opt.play);

const log = (message) => console.log('play: ' + message);

// What the page did, for the failure message.
const consoleLines = [];
const badResponses = [];

const context = await launch(opt.chromium, opt.profile, { viewport: { width: 1000, height: 720 } });
const page = context.pages()[0] || await context.newPage();
page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
page.on('response', (r) => {
  if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) badResponses.push(`${r.status()} ${r.url()}`);
});

const state = () => page.evaluate(() => {
  const v = document.querySelector('video');
  const q = v.getVideoPlaybackQuality();
  return {
    ...window.playerState,
    currentTime: v.currentTime, duration: v.duration, paused: v.paused, ended: v.ended,
    readyState: v.readyState, videoWidth: v.videoWidth, videoHeight: v.videoHeight,
    frames: q.totalVideoFrames, dropped: q.droppedVideoFrames,
    mediaError: v.error ? `${v.error.code} ${v.error.message}` : null,
    errorText: document.getElementById('error').textContent,
  };
});

// Waits until fn(arg) is true in the page or a fatal error shows; a timeout becomes a failed check.
async function waitFor(what, seconds, fn, arg) {
  try {
    await page.waitForFunction(
      ([src, a]) => window.playerState.fatalError || document.querySelector('video').error ||
        (0, eval)(src)(a),
      [fn.toString(), arg], { timeout: seconds * 1000, polling: 100 });
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
    const s = await state();
    throw new CheckFailed(`${what} within ${seconds} s: currentTime ${s.currentTime.toFixed(2)}, ` +
      `readyState ${s.readyState}, paused ${s.paused}, frames ${s.frames}`);
  }
  const s = await state();
  check(!s.fatalError, `fatal hls.js error while waiting for ${what}: ${s.fatalError && s.fatalError.message}`);
  check(!s.mediaError, `video element error while waiting for ${what}: ${s.mediaError}`);
  return s;
}

async function screenshot() {
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot }).catch(() => {});
}

async function run() {
  await page.goto(opt.url, { waitUntil: 'load' });
  let s = await waitFor('the master playlist to be parsed', 15,
    () => window.playerState.levels.length > 0 || window.playerState.mode !== 'hls.js');
  check(s.mode === 'hls.js', `player mode is ${s.mode}, want hls.js (Media Source Extensions) in Chromium`);
  const levels = s.levels;
  log(`${levels.length} level(s): ${levels.map((l) => `${l.label} [${l.width}x${l.height} ${l.codecs}]`).join(', ')}`);
  const options = await page.$$eval('#quality option', (os) => os.map((o) => o.value));
  check(options.length === levels.length + 1 && options[0] === '-1',
    `quality menu has options [${options}], want Auto plus one per level (${levels.length})`);

  // Muted playback may start without a user gesture.
  const played = await page.evaluate(() => {
    const v = document.querySelector('video');
    v.muted = true;
    return v.play().then(() => null, (e) => `${e.name}: ${e.message}`);
  });
  check(played === null, `video.play() was refused: ${played}`);
  s = await waitFor(`playback to pass ${playFor} s`, 20, (t) => document.querySelector('video').currentTime > t, playFor);
  check(s.frames > 0, `currentTime is ${s.currentTime.toFixed(2)} s but no video frame was decoded`);
  check(s.videoWidth > 0 && s.videoHeight > 0, `no picture size (${s.videoWidth}x${s.videoHeight})`);
  // (Automatic switching may be under way, so the picture may be any level's.)
  check(!levels.some((l) => l.width) ||
    levels.some((l) => l.width === s.videoWidth && l.height === s.videoHeight),
    `picture is ${s.videoWidth}x${s.videoHeight}, the size of no level`);
  if (opt.duration) {
    const want = Number(opt.duration);
    check(Math.abs(s.duration - want) < 0.5, `video.duration is ${s.duration}, source lasts ${want} s`);
  }
  log(`playing: ${s.currentTime.toFixed(2)} s, ${s.frames} frames decoded (${s.dropped} dropped), ` +
    `${s.videoWidth}x${s.videoHeight}, duration ${s.duration.toFixed(3)} s`);
  await screenshot();

  // Quality switch through the menu, as a viewer would.
  if (levels.length >= 2) {
    const target = levels.findIndex((l, i) => i !== s.currentLevel);
    const before = s.switches.length;
    await page.selectOption('#quality', String(target));
    s = await waitFor(`LEVEL_SWITCHED to level ${target}`, 20,
      ([t, n]) => window.playerState.switches.slice(n).includes(t), [target, before]);
    const t0 = s.currentTime;
    const frames0 = s.frames;
    // The new level's picture shows from its next keyframe after the playhead: at the latest from the
    // next segment, which starts with one.
    const want = levels[target];
    s = await waitFor(`the ${want.width}x${want.height} picture of level ${target} after switching at ` +
      `${t0.toFixed(2)} s`, 20, ([w, h]) => {
      const v = document.querySelector('video');
      return !w || (v.videoWidth === w && v.videoHeight === h);
    }, [want.width, want.height]);
    const lag = s.currentTime - t0;
    s = await waitFor(`playback to go on after switching to level ${target}`, 20,
      ([t, f]) => {
        const v = document.querySelector('video');
        return v.currentTime > t + 1.5 && v.getVideoPlaybackQuality().totalVideoFrames > f + 30;
      }, [s.currentTime, s.frames]);
    check(s.currentLevel === target, `after switching to level ${target} hls.js plays level ${s.currentLevel}`);
    log(`switched to level ${target} (${want.label}) at ${t0.toFixed(2)} s; its picture showed after ` +
      `${lag.toFixed(2)} s; playing on at ${s.currentTime.toFixed(2)} s, ${s.frames - frames0} more frames`);
    if (lag > 2.5) {
      console.log(`NOTE: the picture stood still for ${lag.toFixed(2)} s after the switch (audio went on): ` +
        `level ${target} has no keyframe in that span (Apple's HLS authoring spec asks for one every 2 s)`);
    }
  } else {
    console.log(`SKIP quality switch: only one level`);
  }

  // The last segment plays and the video ends.
  const from = Math.max(0, s.duration - 3);
  await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, from);
  s = await waitFor(`the end after seeking to ${from.toFixed(2)} s`, 20,
    () => document.querySelector('video').ended);
  check(s.currentTime > s.duration - 0.5, `ended at ${s.currentTime} s of ${s.duration}`);
  log(`ended at ${s.currentTime.toFixed(3)} s; ${s.frames} frames decoded, ${s.errors.length} non-fatal hls.js errors` +
    (s.errors.length ? `: ${s.errors.map((e) => `${e.details} at ${e.at.toFixed(3)} s` +
      (e.reason ? ` (${e.reason})` : '')).join('; ')}` : ''));

  check(!s.errorText, `the page shows an error: ${s.errorText}`);
  const bad = badResponses.filter((r) => /\.(m3u8|ts|js)(\?|$)/.test(r));
  check(bad.length === 0, `HTTP errors: ${bad.join(', ')}`);
}

let status = 0;
try {
  await run();
  log('all checks passed');
} catch (e) {
  status = 1;
  await screenshot();
  const reason = e instanceof CheckFailed ? e.message : `${e.name}: ${e.message.split('\n')[0]}`;
  console.error(`FAIL: ${reason}`);
  if (badResponses.length) console.error(`  HTTP errors: ${badResponses.slice(0, 5).join(', ')}`);
  for (const line of consoleLines.slice(-15)) console.error(`  console ${line}`);
}
await context.close().catch(() => {});
process.exit(status);
