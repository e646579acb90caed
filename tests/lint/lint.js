#!/usr/bin/env node
// tests/lint/lint.js: strict lint of HLS playlists served by hlsfs: hls-parser in strict mode plus the rules of
// shared/HLS-CHECKLIST.md that a parser does not enforce. Usage: node lint.js PLAYLIST...
// Prints one line per problem ("PATH: problem") and exits 1 if there was any, 0 if none, 2 on bad usage.
'use strict';

const fs = require('fs');
const path = require('path');
const HLS = require('hls-parser');

HLS.setOptions({strictMode: true});

const problems = [];
function problem(file, msg) {
  problems.push(`${file}: ${msg}`);
}

function rawLines(text) {
  return text.split('\n').map((l) => l.replace(/\r$/, ''));
}

// Attribute list of a tag line, keeping the raw text of each value (the parser turns numbers into floats,
// which hides "30" vs "30.000").
function rawAttrs(line) {
  const attrs = {};
  const body = line.slice(line.indexOf(':') + 1);
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m;
  while ((m = re.exec(body)) !== null) attrs[m[1]] = m[2];
  return attrs;
}

function lintMaster(file, text, pl) {
  const dir = path.dirname(file);
  const lines = rawLines(text);
  const streamInf = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  if (streamInf.length === 0) problem(file, 'master playlist has no #EXT-X-STREAM-INF');
  if (pl.variants.filter((v) => !v.isIFrameOnly).length !== streamInf.length) {
    problem(file, `parser saw ${pl.variants.length} variants for ${streamInf.length} #EXT-X-STREAM-INF lines`);
  }
  for (const l of lines) {
    if (/^#EXTINF|^#EXT-X-TARGETDURATION|^#EXT-X-ENDLIST|^#EXT-X-PLAYLIST-TYPE/.test(l)) {
      problem(file, `media playlist tag in a master playlist: ${l}`);
    }
  }
  for (const l of streamInf) {
    const a = rawAttrs(l);
    for (const need of ['BANDWIDTH', 'AVERAGE-BANDWIDTH', 'CODECS', 'RESOLUTION', 'FRAME-RATE']) {
      if (!(need in a)) problem(file, `#EXT-X-STREAM-INF lacks ${need}: ${l}`);
    }
    if ('BANDWIDTH' in a && !/^[1-9][0-9]*$/.test(a.BANDWIDTH)) problem(file, `BANDWIDTH not a positive integer: ${a.BANDWIDTH}`);
    if ('AVERAGE-BANDWIDTH' in a && !/^[1-9][0-9]*$/.test(a['AVERAGE-BANDWIDTH'])) {
      problem(file, `AVERAGE-BANDWIDTH not a positive integer: ${a['AVERAGE-BANDWIDTH']}`);
    }
    if ('BANDWIDTH' in a && 'AVERAGE-BANDWIDTH' in a && Number(a['AVERAGE-BANDWIDTH']) > Number(a.BANDWIDTH)) {
      problem(file, `AVERAGE-BANDWIDTH ${a['AVERAGE-BANDWIDTH']} exceeds peak BANDWIDTH ${a.BANDWIDTH}`);
    }
    if ('CODECS' in a) {
      if (!/^"[^"]+"$/.test(a.CODECS)) problem(file, `CODECS is not a quoted string: ${a.CODECS}`);
      for (const c of a.CODECS.replace(/"/g, '').split(',')) {
        if (!/^(avc1\.[0-9A-Fa-f]{6}|mp4a\.40\.[0-9]+|mp4a\.6[9B]|ac-3|ec-3)$/.test(c)) problem(file, `unknown or malformed codec "${c}"`);
      }
      if (!/avc1\./.test(a.CODECS)) problem(file, `CODECS lists no avc1 video: ${a.CODECS}`);
    }
    if ('RESOLUTION' in a && !/^[1-9][0-9]*x[1-9][0-9]*$/.test(a.RESOLUTION)) problem(file, `bad RESOLUTION ${a.RESOLUTION}`);
    if ('FRAME-RATE' in a && !/^[0-9]+\.[0-9]{3}$/.test(a['FRAME-RATE'])) {
      problem(file, `FRAME-RATE must have 3 decimals (Apple 9.15): ${a['FRAME-RATE']}`);
    }
  }
  for (const l of lines.filter((x) => x.startsWith('#EXT-X-I-FRAME-STREAM-INF:'))) {
    const a = rawAttrs(l);
    for (const need of ['BANDWIDTH', 'CODECS', 'RESOLUTION', 'URI']) {
      if (!(need in a)) problem(file, `#EXT-X-I-FRAME-STREAM-INF lacks ${need}: ${l}`);
    }
    if ('URI' in a && !fs.existsSync(path.join(dir, a.URI.replace(/"/g, '')))) problem(file, `I-frame URI ${a.URI} does not exist`);
  }
  for (const v of pl.variants) {
    if (v.isIFrameOnly) continue;  // checked above
    const target = path.join(dir, v.uri);
    if (!fs.existsSync(target)) {
      problem(file, `variant URI ${v.uri} does not exist`);
    } else if (!fs.statSync(target).isFile()) {
      problem(file, `variant URI ${v.uri} is not a file`);
    }
    if (/^[a-z]+:|^\//i.test(v.uri)) problem(file, `variant URI ${v.uri} is not relative`);
  }
}

function lintMedia(file, text, pl) {
  const dir = path.dirname(file);
  const lines = rawLines(text);
  const has = (re) => lines.some((l) => re.test(l));
  // An I-frame playlist (RFC 8216 4.3.3.6) needs version 4 for its byte ranges; a media playlist 3.
  const iframes = has(/^#EXT-X-I-FRAMES-ONLY$/);
  const version = iframes ? '#EXT-X-VERSION:4' : '#EXT-X-VERSION:3';
  const versions = lines.filter((l) => l.startsWith('#EXT-X-VERSION:'));
  if (versions.length !== 1 || versions[0] !== version) {
    problem(file, `want exactly one ${version}, found ${JSON.stringify(versions)}`);
  }
  const td = lines.filter((l) => l.startsWith('#EXT-X-TARGETDURATION:'));
  if (td.length !== 1 || !/^#EXT-X-TARGETDURATION:[0-9]+$/.test(td[0] || '')) {
    problem(file, `want one integer #EXT-X-TARGETDURATION, found ${JSON.stringify(td)}`);
  }
  if (!has(/^#EXT-X-PLAYLIST-TYPE:VOD$/)) problem(file, 'no #EXT-X-PLAYLIST-TYPE:VOD');
  // EXT-X-INDEPENDENT-SEGMENTS is said only when every segment starts with an IDR (t-opengop checks when
  // it must be left out; t-lint that the library's closed-GOP videos say it).
  if (iframes) {
    // every I-frame is a byte range of a segment: a whole number of 188-byte packets inside the file
    const ranges = lines.filter((l) => l.startsWith('#EXT-X-BYTERANGE:'));
    const nInf = lines.filter((l) => l.startsWith('#EXTINF:')).length;
    if (ranges.length !== nInf) problem(file, `${ranges.length} EXT-X-BYTERANGE lines for ${nInf} I-frames`);
    for (const s of pl.segments) {
      const r = s.byterange;
      if (!r || !Number.isInteger(r.offset)) {
        problem(file, `I-frame ${s.uri} has no byte range with an offset`);
        continue;
      }
      if (r.length % 188 || r.offset % 188 || r.length === 0) problem(file, `byte range ${r.length}@${r.offset} is not whole TS packets`);
      const p = path.join(dir, s.uri);
      if (fs.existsSync(p) && r.offset + r.length > fs.statSync(p).size) {
        problem(file, `byte range ${r.length}@${r.offset} runs past the end of ${s.uri}`);
      }
    }
  }
  const nonEmpty = lines.filter((l) => l.trim() !== '');
  if (nonEmpty[nonEmpty.length - 1] !== '#EXT-X-ENDLIST') problem(file, '#EXT-X-ENDLIST is not the last line');
  const seq = lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'));
  if (seq !== undefined && seq !== '#EXT-X-MEDIA-SEQUENCE:0') problem(file, `VOD media sequence should start at 0: ${seq}`);

  const extinf = lines.filter((l) => l.startsWith('#EXTINF:'));
  if (extinf.length === 0) problem(file, 'no segments');
  const durs = [];
  for (const l of extinf) {
    const m = /^#EXTINF:([0-9]+\.[0-9]{3}),/.exec(l);
    if (!m) {
      problem(file, `EXTINF without exactly 3 decimals: ${l}`);
      continue;
    }
    const d = Number(m[1]);
    if (!(d > 0)) problem(file, `zero-length segment: ${l}`);
    durs.push(d);
  }
  const target = td.length === 1 ? Number(td[0].split(':')[1]) : NaN;
  if (durs.length > 0 && Number.isFinite(target)) {
    for (const d of durs) {
      if (Math.round(d) > target) problem(file, `EXTINF ${d.toFixed(3)} rounds above TARGETDURATION ${target}`);
    }
    const want = Math.ceil(Math.max(...durs) - 1e-9);
    if (target !== want) problem(file, `TARGETDURATION ${target} is not ceil(max EXTINF) = ${want}`);
  }
  if (pl.segments.length !== extinf.length) {
    problem(file, `parser saw ${pl.segments.length} segments for ${extinf.length} EXTINF lines`);
  }
  for (const s of pl.segments) {
    if (/^[a-z]+:|^\//i.test(s.uri)) problem(file, `segment URI ${s.uri} is not relative`);
    const p = path.join(dir, s.uri);
    if (!fs.existsSync(p)) problem(file, `segment ${s.uri} does not exist`);
    else if (fs.statSync(p).size === 0) problem(file, `segment ${s.uri} is empty`);
  }
}

function lint(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    problem(file, `cannot read: ${e.message}`);
    return;
  }
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) problem(file, 'starts with a UTF-8 BOM');
  let text;
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(buf);
  } catch (e) {
    problem(file, 'is not valid UTF-8');
    return;
  }
  if (rawLines(text)[0] !== '#EXTM3U') problem(file, `first line is not #EXTM3U: ${JSON.stringify(rawLines(text)[0])}`);
  if (text.includes('\r')) problem(file, 'has CR characters (use LF line ends)');
  if (!text.endsWith('\n')) problem(file, 'does not end with a newline');
  let pl;
  try {
    pl = HLS.parse(text);
  } catch (e) {
    problem(file, `hls-parser (strict): ${e.message}`);
    return;
  }
  if (pl.isMasterPlaylist) lintMaster(file, text, pl);
  else lintMedia(file, text, pl);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node lint.js PLAYLIST...\n');
  process.exit(2);
}
files.forEach(lint);
for (const p of problems) process.stdout.write(p + '\n');
process.exit(problems.length ? 1 : 0);
