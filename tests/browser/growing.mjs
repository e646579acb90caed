// tests/browser/growing.mjs: a recording still being written, played in headless Chromium through
// contrib/player (hls.js) as a viewer would, in two pages at once: one as hls.js starts a growing (EVENT)
// playlist by default (near its end, as live), one from its beginning (?start=0). Each page must start
// playing without a fatal error while hls.js holds the playlist as live (EVENT), reload it and fetch the
// segments it gains, play past the end the playlist had when playback started, and once the writer has
// finished see ENDLIST (live no longer) and play to (near) the end. The variant playlist is also polled
// from the server past any cache (every 250 ms): a playlist the browser receives that lacks a segment or the
// ENDLIST the server listed 1.5 s before or earlier (an HTTP cache lifetime too long for a growing playlist:
// hls.js adds nothing to the URL) fails.
//
// Usage: node growing.mjs --url PLAYER_URL --variant URL --profile EMPTY_DIR --t0 EPOCH_SECONDS
//                         [--late SEGMENTS] [--chromium PATH] [--screenshot FILE] [--max SECONDS]
//   --url      the player page with ?v=... (the second page adds &start=0)
//   --variant  the URL of the variant playlist hls.js plays (polled past any cache)
//   --t0       when the writer started (date +%s.%N): the figures are seconds from it
//   --late     open a third page at hls.js's default start once the playlist has this many segments: a
//              viewer joining a recording under way (it must start 3 target durations behind the end, play
//              on past that end, and once the playlist has ended seek near the end and end)
//   --max      give up after this many seconds (default 100)
// Prints one "growing: ..." line per page with the figures and "RESULT {json}". With GROW_DEBUG=1 in the
// environment both pages run hls.js with debug on and its console warnings and errors are printed too.
// Exit status: 0 when every check passed, 1 with "FAIL: reason" on stderr otherwise, 2 on bad usage.

import { CheckFailed, check, launch } from './common.mjs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    profile: { type: 'string' },
    t0: { type: 'string' },
    variant: { type: 'string' },
    screenshot: { type: 'string' },
    max: { type: 'string', default: '100' },
    late: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
});
if (!opt.url || !opt.variant || !opt.profile || !opt.t0) {
  console.error('usage: node growing.mjs --url PLAYER_URL --variant URL --profile EMPTY_DIR --t0 EPOCH_SECONDS');
  process.exit(2);
}
const T0 = Number(opt.t0);
const since = () => Date.now() / 1000 - T0;
const fx = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(2));

const log = (message) => console.log('growing: ' + message);

const context = await launch(opt.chromium, opt.profile, {
  viewport: { width: 800, height: 600 },
  args: [
    '--autoplay-policy=no-user-gesture-required',
    // Two pages play at once: neither may be throttled as a background tab.
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ],
});

// Installed before the page's own script: hooks the hls.js instance the page makes (window.hls = new Hls)
// and the <video>, and records what they do, times in seconds since the writer started.
const instrument = (t0) => {
  // playing: the latest 'playing' event (hls.js may play from 0 a moment and then seek to its start);
  // firstPlaying: the first.
  const g = window.grow = { loads: [], frags: [], video: [], playing: null, firstPlaying: null };
  const now = () => Date.now() / 1000 - t0;
  let real;
  Object.defineProperty(window, 'hls', {
    configurable: true,
    get() { return real; },
    set(h) {
      real = h;
      const E = window.Hls.Events;
      h.on(E.LEVEL_LOADED, (ev, d) => {
        const x = d.details;
        g.loads.push({
          t: now(), level: d.level, live: x.live, type: x.type, n: x.fragments.length, endSN: x.endSN,
          start: x.fragments.length ? x.fragments[0].start : 0, total: x.totalduration,
          target: x.targetduration, updated: x.updated, hlsStart: h.startPosition,
        });
      });
      h.on(E.FRAG_LOADED, (ev, d) => {
        if (d.frag.type === 'main') g.frags.push({ t: now(), sn: d.frag.sn, start: d.frag.start, dur: d.frag.duration });
      });
    },
  });
  document.addEventListener('DOMContentLoaded', () => {
    const v = document.querySelector('video');
    v.muted = true;
    for (const e of ['playing', 'waiting', 'stalled', 'ended', 'seeking', 'seeked']) {
      v.addEventListener(e, () => {
        g.video.push({ t: now(), e, ct: v.currentTime });
        if (e === 'playing') g.playing = { t: now(), ct: v.currentTime };
        if (e === 'playing' && !g.firstPlaying) g.firstPlaying = g.playing;
      });
    }
  });
};

// What one page shows now.
const sample = (page) => page.evaluate(() => {
  const v = document.querySelector('video');
  const h = window.hls;
  const lv = h && h.levels && h.levels[Math.max(0, h.currentLevel)];
  const d = lv && lv.details;
  return {
    ct: v.currentTime, paused: v.paused, ended: v.ended, rs: v.readyState, duration: v.duration,
    frames: v.getVideoPlaybackQuality().totalVideoFrames,
    mediaError: v.error ? `${v.error.code} ${v.error.message}` : null,
    fatal: window.playerState.fatalError, errors: window.playerState.errors,
    live: d ? d.live : null, type: d ? d.type : null, total: d ? d.totalduration : null,
    n: d ? d.fragments.length : null,
    loads: window.grow.loads.length, frags: window.grow.frags.length, playing: window.grow.playing,
    firstPlaying: window.grow.firstPlaying,
  };
});

// Each page: its own record of the variant playlists the browser received, each compared with the server's
// at that moment (fetched from node, past every cache).
const countSegs = (text) => (text.match(/^#EXTINF:/gm) || []).length;
const hasEnd = (text) => /^#EXT-X-ENDLIST/m.test(text);

// The server's variant playlist, polled past every cache: [{t, n, end}] whenever it changed.
const server = [];
let polling = true;
const poller = (async () => {
  while (polling) {
    try {
      const r = await fetch(opt.variant, { cache: 'no-store', headers: { 'Cache-Control': 'no-cache' } });
      if (r.ok) {
        const body = await r.text();
        const x = { t: since(), n: countSegs(body), end: hasEnd(body) };
        const last = server[server.length - 1];
        if (!last || last.n !== x.n || last.end !== x.end) server.push(x);
      }
    } catch { /* the server may be gone at the very end */ }
    await new Promise((r) => setTimeout(r, 250));
  }
})();
// A playlist the browser received at t is stale when the server listed more (or ENDLIST) 1.5 s before.
const staleAgainst = (rec) => {
  const newer = server.find((x) => x.n > rec.n || (x.end && !rec.end));
  return newer && newer.t <= rec.t - 1.5 ? newer : null;
};
function openPage(name, url) {
  return (async () => {
    const page = await context.newPage();
    const p = { name, url, page, console: [], bad: [], playlists: [], stale: [], samples: [] };
    page.on('console', (m) => p.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) p.bad.push(`${r.status()} ${r.url()}`);
    });
    // Through the DevTools protocol: which variant playlist answers came from the browser's cache.
    const cdp = await context.newCDPSession(page);
    const reqs = new Map();
    cdp.on('Network.requestServedFromCache', (e) => { reqs.set(e.requestId, { ...reqs.get(e.requestId), cached: true }); });
    cdp.on('Network.responseReceived', (e) => {
      if (!/\/index\.m3u8(\?|$)/.test(e.response.url) || e.response.status !== 200) return;
      const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      reqs.set(e.requestId, { ...reqs.get(e.requestId), url: e.response.url, t: since(),
        cached: !!(reqs.get(e.requestId) || {}).cached || e.response.fromDiskCache, cc: h['cache-control'] || '' });
    });
    cdp.on('Network.loadingFinished', async (e) => {
      const q = reqs.get(e.requestId);
      reqs.delete(e.requestId);
      if (!q || !q.url) return;
      let body;
      try {
        const b = await cdp.send('Network.getResponseBody', { requestId: e.requestId });
        body = b.base64Encoded ? Buffer.from(b.body, 'base64').toString() : b.body;
      } catch { return; }
      p.playlists.push({ t: q.t, url: q.url, cached: q.cached, cc: q.cc, n: countSegs(body), end: hasEnd(body) });
    });
    await cdp.send('Network.enable');
    await page.addInitScript(instrument, T0);
    await page.goto(url, { waitUntil: 'load' });
    // Muted playback may start without a user gesture; play() is asked for at once, as a viewer's click.
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.muted = true;
      v.play().catch((e) => { window.grow.playError = `${e.name}: ${e.message}`; });
    });
    p.opened = since();
    return p;
  })();
}

const dbg = process.env.GROW_DEBUG ? '&debug' : '';
const pages = await Promise.all([
  openPage('live edge', opt.url + dbg),
  openPage('from 0', opt.url + '&start=0' + dbg),
]);
pages[1].fromZero = true;

async function run() {
  const deadline = Date.now() + Number(opt.max) * 1000;
  const st = new Map();
  const fresh = () => ({ first: null, initialEnd: null, maxCt: 0, sawLive: false, done: false });
  for (const p of pages) st.set(p, fresh());
  while (Date.now() < deadline) {
    // A viewer joining later, at hls.js's default start (3 target durations behind the end); once the
    // playlist has ended it seeks near the end, where the others play on to it.
    const last = server[server.length - 1];
    if (opt.late && !pages.some((p) => p.late) && last && last.n >= Number(opt.late) && !last.end) {
      const p = await openPage(`joined at ${last.n} segments`, opt.url + dbg);
      p.late = true;
      pages.push(p);
      st.set(p, fresh());
    }
    for (const p of pages) {
      const s = st.get(p);
      if (s.done) continue;
      const x = await sample(p.page);
      x.t = since();
      p.samples.push(x);
      check(!x.fatal, `${p.name}: fatal hls.js error at ${fx(x.t)} s: ${x.fatal && x.fatal.message}`);
      check(!x.mediaError, `${p.name}: video element error at ${fx(x.t)} s: ${x.mediaError}`);
      if (x.live === true) {
        s.sawLive = true;
        check(x.type === 'EVENT', `${p.name}: hls.js holds the growing playlist as type ${x.type}, want EVENT`);
      }
      // Playing: the first sample where the picture moves (currentTime past where it last started playing,
      // frames out); the first frame played at the first 'playing' event.
      if (!s.first && x.playing && x.ct > x.playing.ct + 0.2 && x.frames > 0) {
        s.first = { t: x.firstPlaying.t, ct: x.playing.ct };
        // The end of the playlist hls.js had when playback started: the last load before it.
        const loads = await p.page.evaluate(() => window.grow.loads);
        const before = loads.filter((l) => l.t <= x.playing.t);
        const l = before.length ? before[before.length - 1] : loads[0];
        check(l, `${p.name}: playing with no playlist loaded`);
        check(l.live, `${p.name}: playback started on a playlist hls.js took for finished (live ${l.live}, ` +
          `type ${l.type}): the recording was not served as growing when the page opened`);
        s.initialEnd = l.start + l.total;
        s.initialN = l.n;
      }
      s.maxCt = Math.max(s.maxCt, x.ct);
      if (p.late && !s.seeked && x.live === false && s.first && s.maxCt > s.initialEnd + 7 && x.total > x.ct + 4) {
        s.seeked = x.total - 3;
        s.played = s.maxCt;
        s.seekT = since();
        await p.page.evaluate((t) => { document.querySelector('video').currentTime = t; }, s.seeked);
      }
      if (x.ended || (x.live === false && x.ct >= x.total - 0.5 && x.paused)) s.done = true;
    }
    if ([...st.values()].every((s) => s.done)) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  polling = false;
  await poller;
  const results = [];
  for (const p of pages) {
    // (Only the variant polled: another level's playlist, with a ladder, is not compared.)
    p.compared = p.playlists.filter((rec) => new URL(rec.url).href === new URL(opt.variant).href);
    for (const rec of p.compared) {
      const newer = staleAgainst(rec);
      if (newer) p.stale.push({ ...rec, freshN: newer.n, freshEnd: newer.end, freshT: newer.t });
    }
    const s = st.get(p);
    const last = p.samples[p.samples.length - 1];
    const g = await p.page.evaluate(() => window.grow);
    const growingLoads = g.loads.filter((l) => l.live);
    const endLoad = g.loads.find((l) => !l.live);
    const stalls = g.video.filter((v) => v.e === 'waiting' && s.first && v.t > s.first.t + 0.5 &&
      !(s.seekT && v.t >= s.seekT));
    // Where playback started: hls.js appends the first segment and only then seeks to its start position,
    // so on a loaded machine the picture may move from 0 a moment before that seek. The start is where the
    // seek hls.js made within 5 s of the first frame landed (the test's own seek comes much later).
    const startSeek = s.first ? g.video.filter((v) => v.e === 'seeked' && v.t <= s.first.t + 5 &&
      !(s.seekT && v.t >= s.seekT)).at(-1) : null;
    const r = {
      page: p.name,
      firstFrame: s.first ? s.first.t : null,
      startPos: s.first ? (startSeek ? startSeek.ct : s.first.ct) : null,
      playedFrom: s.first ? s.first.ct : null,
      initialEnd: s.initialEnd, initialSegments: s.initialN,
      // (how far it played on before a seek)
      maxCurrentTime: s.played || s.maxCt,
      pastInitialEnd: s.initialEnd === null ? null : (s.played || s.maxCt) - s.initialEnd,
      growingReloads: growingLoads.length, segmentsWhileGrowing: growingLoads.length
        ? growingLoads[growingLoads.length - 1].n : 0,
      fragsLoaded: g.frags.length, fragsAfterStart: s.first ? g.frags.filter((f) => f.t > s.first.t).length : 0,
      endlistSeenAt: endLoad ? endLoad.t : null, finalDuration: last.total, ended: last.ended, endTime: last.ct,
      waitingAfterStart: stalls.length, nonFatalErrors: last.errors.map((e) => `${e.details}@${fx(e.at)}`),
      playlistsReceived: p.playlists.length, fromCache: p.playlists.filter((x) => x.cached).length,
      stalePlaylists: p.stale.length,
      targetDuration: g.loads.length ? g.loads[0].target : null, seekedTo: s.seeked || null,
      hlsStart: g.loads.length ? g.loads[0].hlsStart : null,
      firstEvents: g.video.slice(0, 6).map((v) => `${fx(v.t)}:${v.e}@${fx(v.ct)}`).join(' '),
    };
    results.push(r);
    log(`[${p.name}] first frame playing ${fx(r.firstFrame)} s after the writer started (pages loaded at ` +
      `${fx(p.opened)} s), from ${fx(r.startPos)} s of the recording` +
      `${startSeek && Math.abs(r.playedFrom - r.startPos) > 0.5 ? ` (the picture moved from ${fx(r.playedFrom)} s before hls.js seeked there)` : ''}` +
      ` (hls.js's start position ${fx(r.hlsStart)} s); the playlist then ended at ` +
      `${fx(r.initialEnd)} s (${r.initialSegments} segment(s)); played to ${fx(r.maxCurrentTime)} s, ` +
      `${fx(r.pastInitialEnd)} s past it${r.seekedTo ? `, then seeked to ${fx(r.seekedTo)} s` : ''}; ${r.growingReloads} live reloads, ${r.fragsAfterStart} segments ` +
      `fetched after playback started; ENDLIST seen at ${fx(r.endlistSeenAt)} s; ended ${r.ended} at ` +
      `${fx(r.endTime)} of ${fx(r.finalDuration)} s; ${r.waitingAfterStart} waiting event(s) after the start` +
      `${r.seekedTo ? ' (before the seek)' : ''}; ` +
      `${r.playlistsReceived} variant playlists received (${r.fromCache} from the browser cache); ` +
      `${r.nonFatalErrors.length} non-fatal error(s)${r.nonFatalErrors.length ? ' ' + r.nonFatalErrors.join(' ') : ''}`);
    log(`[${p.name}] playlists hls.js loaded (seconds since the writer started: segments, ` +
      `L live / E ended): ${g.loads.map((l) => `${fx(l.t)}:${l.n}${l.live ? 'L' : 'E'}`).join(' ')}`);
    log(`[${p.name}] video events (seconds since the writer started: event@currentTime): ` +
      g.video.map((v) => `${fx(v.t)}:${v.e}@${fx(v.ct)}`).join(' '));
    if (g.playError) log(`[${p.name}] play() was refused: ${g.playError}`);
    for (const x of p.stale) {
      log(`[${p.name}] STALE playlist at ${fx(x.t)} s: the browser got${x.cached ? ' from its cache' : ''} ` +
        `${x.n} segments${x.end ? ' + ENDLIST' : ''}, the server had ${x.freshN}${x.freshEnd ? ' + ENDLIST' : ''} ` +
        `since ${fx(x.freshT)} s (Cache-Control: ${x.cc})`);
    }
  }
  log(`server's playlist (seconds since the writer started: segments): ` +
    server.map((x) => `${fx(x.t)}:${x.n}${x.end ? '+ENDLIST' : ''}`).join(' '));
  console.log('RESULT ' + JSON.stringify(results));
  if (process.env.GROW_DEBUG) {
    for (const p of pages) {
      const bad = p.console.filter((l) => /^(warn|error)/.test(l));
      log(`[${p.name}] hls.js debug: ${p.console.length} console lines, ${bad.length} warnings or errors`);
      for (const l of bad) log(`[${p.name}] ${l.slice(0, 300)}`);
    }
  }

  check(server.length >= 2 && server[server.length - 1].end, `the server's playlist, polled, did not grow ` +
    `and end: ${server.map((x) => `${fx(x.t)}:${x.n}${x.end ? '+ENDLIST' : ''}`).join(' ') || 'never answered'}`);
  for (const [i, p] of pages.entries()) {
    const s = st.get(p);
    const r = results[i];
    const n = p.name;
    check(s.first, `${n}: playback never started (currentTime ${fx(p.samples.at(-1).ct)}, readyState ` +
      `${p.samples.at(-1).rs}, ${p.samples.at(-1).loads} playlist loads)`);
    check(s.sawLive, `${n}: hls.js never held the playlist as live while the recording grew`);
    // hls.js's live start: 3 target durations behind the end of the playlist it first loaded, or 0.
    const want = p.fromZero ? 0 : Math.max(0, r.initialEnd - 3 * r.targetDuration);
    // Where hls.js aimed is what the playlist decides; where its first picture lands can still lose a race
    // inside hls.js on a loaded machine ("could not seek to the start position, already seeking"): that
    // is logged, not failed.
    if (Math.abs(r.startPos - want) > 1 && r.hlsStart !== null && Math.abs(r.hlsStart - want) <= 1) {
      log(`[${n}] hls.js aimed at ${fx(r.hlsStart)} s (want about ${fx(want)} s) but its first picture was at ` +
        `${fx(r.startPos)} s: hls.js's own start seek lost a race; first video events ${r.firstEvents}`);
      r.startPos = r.hlsStart;
    }
    check(Math.abs(r.startPos - want) <= 1, `${n}: started at ${fx(r.startPos)} s, want about ${fx(want)} s ` +
      (p.fromZero ? '(start=0)' : `(3 x TARGETDURATION ${r.targetDuration} before the end ${fx(r.initialEnd)} s)`) +
      `; hls.js's start position after its first playlist load: ${fx(r.hlsStart)} s; first video events ${r.firstEvents}`);
    check(r.growingReloads >= 2, `${n}: the growing playlist was loaded ${r.growingReloads} time(s) while live, ` +
      `want it reloaded`);
    check(r.fragsAfterStart >= 2, `${n}: ${r.fragsAfterStart} segments fetched after playback started, want the new ones`);
    check(p.compared.length >= 3, `${n}: only ${p.compared.length} of the ${p.playlists.length} variant ` +
      `playlists the browser received were ${opt.variant}, want it reloaded`);
    check(p.stale.length === 0, `${n}: ${p.stale.length} variant playlist(s) the browser received were over ` +
      `1.5 s older than the server's (first at ${fx(p.stale[0] && p.stale[0].t)} s: ${p.stale[0] && p.stale[0].n} ` +
      `segments, the server had ${p.stale[0] && p.stale[0].freshN} since ${fx(p.stale[0] && p.stale[0].freshT)} s; Cache-Control: ${p.stale[0] && p.stale[0].cc})`);
    check(r.pastInitialEnd !== null && r.pastInitialEnd > 6, `${n}: played to ${fx(r.maxCurrentTime)} s, ` +
      `only ${fx(r.pastInitialEnd)} s past the ${fx(r.initialEnd)} s the playlist had at the start (want > 6 s)`);
    check(r.endlistSeenAt !== null, `${n}: hls.js never saw ENDLIST (live ${p.samples.at(-1).live}) after the writer ended`);
    check(r.ended || r.endTime >= r.finalDuration - 1, `${n}: stopped at ${fx(r.endTime)} s of ` +
      `${fx(r.finalDuration)} s (ended ${r.ended}), want the end`);
    check(p.bad.filter((b) => /\.(m3u8|ts|js)(\?|$)/.test(b)).length === 0, `${n}: HTTP errors: ${p.bad.join(', ')}`);
  }
}

let status = 0;
try {
  await run();
  log('all checks passed');
} catch (e) {
  status = 1;
  if (opt.screenshot) await pages[0].page.screenshot({ path: opt.screenshot }).catch(() => {});
  const reason = e instanceof CheckFailed ? e.message : `${e.name}: ${e.message.split('\n')[0]}`;
  console.error(`FAIL: ${reason}`);
  for (const p of pages) {
    if (p.bad.length) console.error(`  [${p.name}] HTTP errors: ${p.bad.slice(0, 5).join(', ')}`);
    for (const line of p.console.slice(-8)) console.error(`  [${p.name}] console ${line}`);
  }
}
await context.close().catch(() => {});
process.exit(status);
