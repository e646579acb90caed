// tests/browser/subs.mjs: subtitles in headless Chromium through contrib/player (hls.js): the master's
// subtitle renditions become hls.js subtitle tracks and <video> text tracks, and after choosing one and
// seeking into a cue, the active cue's text and start are the source's (start measured from where the
// player shows the source's time 0, the start of what it buffered first).
//
// Usage: node subs.mjs --url URL --profile EMPTY_DIR --expect JSON [--chromium PATH] [--screenshot FILE]
//   --expect  {"tracks": [{"lang": "en", ...}], "lang": "fr", "seek": 3.0, "text": "...", "start": 2.0}
// Exit status: 0 when every check passed, 1 with "FAIL: reason" on stderr otherwise, 2 on bad usage.

import { CheckFailed, check, launch } from './common.mjs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    profile: { type: 'string' },
    expect: { type: 'string' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
});
if (!opt.url || !opt.profile || !opt.expect) {
  console.error('usage: node subs.mjs --url URL --profile EMPTY_DIR --expect JSON');
  process.exit(2);
}
const want = JSON.parse(opt.expect);

const log = (message) => console.log('subs: ' + message);
const consoleLines = [];

const context = await launch(opt.chromium, opt.profile);
const page = context.pages()[0] || await context.newPage();
page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

async function waitFor(what, seconds, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: seconds * 1000, polling: 100 });
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
    const s = await page.evaluate(() => {
      const v = document.querySelector('video');
      return {
        t: v.currentTime, fatal: window.playerState.fatalError,
        tracks: Array.from(v.textTracks).map((t) => `${t.kind}/${t.language}/${t.mode}/` +
          `${t.cues ? t.cues.length : '-'} cues/${t.activeCues ? Array.from(t.activeCues).map((c) => c.text).join('|') : '-'}`),
      };
    });
    throw new CheckFailed(`${what} within ${seconds} s: currentTime ${s.t.toFixed(2)}, text tracks ` +
      `[${s.tracks.join('; ')}]${s.fatal ? `, fatal ${s.fatal.message}` : ''}`);
  }
}

async function run() {
  await page.goto(opt.url, { waitUntil: 'load' });
  await waitFor('the master playlist to be parsed', 15, () => window.playerState.levels.length > 0 ||
    window.playerState.fatalError);
  const tracks = await page.evaluate(() => window.hls.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang,
    forced: !!t.forced })));
  log(`hls.js subtitle tracks: ${JSON.stringify(tracks)}`);
  check(tracks.length === want.tracks.length,
    `hls.js has ${tracks.length} subtitle tracks, want ${want.tracks.length}`);
  for (const w of want.tracks) {
    check(tracks.some((t) => t.lang === w.lang), `no hls.js subtitle track with language ${w.lang}`);
  }
  const idx = tracks.findIndex((t) => t.lang === want.lang);
  const played = await page.evaluate((i) => {
    const v = document.querySelector('video');
    window.hls.subtitleDisplay = true;
    window.hls.subtitleTrack = i;
    v.muted = true;
    return v.play().then(() => null, (e) => `${e.name}: ${e.message}`);
  }, idx);
  check(played === null, `video.play() was refused: ${played}`);
  await waitFor('playback to start', 20, () => document.querySelector('video').currentTime > 0.3);
  const n = await page.evaluate(() => Array.from(document.querySelector('video').textTracks)
    .filter((t) => t.kind === 'subtitles' || t.kind === 'captions').length);
  check(n >= want.tracks.length, `<video> has ${n} subtitle text tracks, want ${want.tracks.length}`);
  // Where the player shows source time 0: hls.js starts its timeline at the first segment's decode time
  // (before the first frame when there are B-frames), so the first frame, and with it the whole source
  // timeline, lands a little after 0. A cue is right when it keeps its place against the frames.
  const zero = await page.evaluate(() => {
    const b = document.querySelector('video').buffered;
    return b.length ? b.start(0) : 0;
  });
  log(`source time 0 plays at ${zero.toFixed(3)} s`);
  await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, want.seek);
  await waitFor(`the ${want.lang} cue "${want.text}" to be active after seeking to ${want.seek} s`, 20,
    ([lang, text]) => Array.from(document.querySelector('video').textTracks).some((t) =>
      t.language === lang && t.mode === 'showing' && t.activeCues &&
      Array.from(t.activeCues).some((c) => c.text === text)), [want.lang, want.text]);
  const cue = await page.evaluate(([lang, text]) => {
    for (const t of document.querySelector('video').textTracks) {
      if (t.language !== lang || !t.activeCues) continue;
      for (const c of t.activeCues) if (c.text === text) return { start: c.startTime, end: c.endTime };
    }
    return null;
  }, [want.lang, want.text]);
  log(`active ${want.lang} cue "${want.text}" ${cue.start.toFixed(3)}-${cue.end.toFixed(3)} s`);
  check(Math.abs(cue.start - zero - want.start) <= want.tolerance,
    `the cue starts at ${cue.start.toFixed(3)} s in the player, where source time ${(cue.start - zero).toFixed(3)} ` +
    `s plays; it is at ${want.start} s in the source`);
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot }).catch(() => {});
}

let status = 0;
try {
  await run();
  log('all checks passed');
} catch (e) {
  status = 1;
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot }).catch(() => {});
  const reason = e instanceof CheckFailed ? e.message : `${e.name}: ${e.message.split('\n')[0]}`;
  console.error(`FAIL: ${reason}`);
  for (const line of consoleLines.slice(-15)) console.error(`  console ${line}`);
}
await context.close().catch(() => {});
process.exit(status);
