#!/usr/bin/env node
// tests/tools/tscheck.js: checks the MPEG-TS packet structure of HLS segments (H.222.0 and RFC 8216 §3.2 as
// listed in shared/HLS-CHECKLIST.md). No dependencies. Usage: node tscheck.js SEGMENT.ts...
// Prints one line per problem ("PATH: problem") and exits 1 if there was any, 0 if none.
//
// Per segment: size a positive multiple of 188; every packet starts with 0x47; packet 0 is the PAT (PID 0,
// one program) and packet 1 the PMT on the PID the PAT names; the PMT has an H.264 stream (type 0x1B);
// continuity counters advance by one per PID within the segment; a PCR precedes the first PES payload and
// PCRs are at most 100 ms apart; every video PES starts with an access unit delimiter (NAL type 9); every
// AAC (type 0x0F) PES starts with an ADTS sync word.
'use strict';

const fs = require('fs');

const problems = [];
const MAX_PER_FILE = 5;

function check(file) {
  let count = 0;
  const problem = (msg) => {
    if (count++ < MAX_PER_FILE) problems.push(`${file}: ${msg}`);
  };
  let b;
  try {
    b = fs.readFileSync(file);
  } catch (e) {
    problem(`cannot read: ${e.message}`);
    return;
  }
  if (b.length === 0 || b.length % 188 !== 0) {
    problem(`size ${b.length} is not a positive multiple of 188`);
    return;
  }
  const n = b.length / 188;
  const pkt = (i) => b.subarray(i * 188, i * 188 + 188);
  const pid = (p) => ((p[1] & 0x1f) << 8) | p[2];
  const pusi = (p) => (p[1] & 0x40) !== 0;
  const afc = (p) => (p[3] >> 4) & 3;
  // offset of the payload in the packet, or -1 when it has none
  const payloadStart = (p) => {
    const c = afc(p);
    if ((c & 1) === 0) return -1;
    const start = c === 3 ? 5 + p[4] : 4;
    return start < 188 ? start : -1;
  };

  for (let i = 0; i < n; i++) {
    if (b[i * 188] !== 0x47) {
      problem(`packet ${i} (offset ${i * 188}) has no 0x47 sync byte`);
      return;
    }
  }

  // PAT
  const p0 = pkt(0);
  if (pid(p0) !== 0) {
    problem(`packet 0 is PID ${pid(p0)}, not the PAT (PID 0)`);
    return;
  }
  if (!pusi(p0)) problem('PAT packet has no payload_unit_start_indicator');
  let o = payloadStart(p0);
  if (o < 0) {
    problem('PAT packet has no payload');
    return;
  }
  o += 1 + p0[o]; // pointer_field
  if (p0[o] !== 0x00) problem(`PAT table_id is ${p0[o]}, not 0`);
  const patLen = ((p0[o + 1] & 0x0f) << 8) | p0[o + 2];
  const programs = [];
  for (let q = o + 8; q + 4 <= o + 3 + patLen - 4; q += 4) {
    const prog = (p0[q] << 8) | p0[q + 1];
    const ppid = ((p0[q + 2] & 0x1f) << 8) | p0[q + 3];
    if (prog !== 0) programs.push(ppid);
  }
  if (programs.length !== 1) {
    problem(`PAT lists ${programs.length} programs, want exactly 1`);
    if (programs.length === 0) return;
  }
  const pmtPid = programs[0];

  // PMT
  const p1 = n > 1 ? pkt(1) : null;
  if (!p1 || pid(p1) !== pmtPid) {
    problem(`packet 1 is ${p1 ? 'PID ' + pid(p1) : 'missing'}, not the PMT (PID ${pmtPid})`);
    return;
  }
  o = payloadStart(p1);
  if (o < 0 || !pusi(p1)) {
    problem('PMT packet has no section start');
    return;
  }
  o += 1 + p1[o];
  if (p1[o] !== 0x02) problem(`PMT table_id is ${p1[o]}, not 2`);
  const pmtLen = ((p1[o + 1] & 0x0f) << 8) | p1[o + 2];
  const pcrPid = ((p1[o + 8] & 0x1f) << 8) | p1[o + 9];
  const infoLen = ((p1[o + 10] & 0x0f) << 8) | p1[o + 11];
  const streams = new Map(); // pid -> stream_type
  for (let q = o + 12 + infoLen; q + 5 <= o + 3 + pmtLen - 4; ) {
    const type = p1[q];
    const epid = ((p1[q + 1] & 0x1f) << 8) | p1[q + 2];
    const esLen = ((p1[q + 3] & 0x0f) << 8) | p1[q + 4];
    streams.set(epid, type);
    q += 5 + esLen;
  }
  const videoPids = [...streams].filter(([, t]) => t === 0x1b).map(([p]) => p);
  if (videoPids.length !== 1) problem(`PMT has ${videoPids.length} H.264 (0x1B) streams, want 1`);
  if (!streams.has(pcrPid)) problem(`PCR PID ${pcrPid} is not one of the PMT's streams`);

  // Walk every packet.
  const lastCc = new Map();
  let lastPcr = null;
  let seenPayload = false;
  for (let i = 0; i < n; i++) {
    const p = pkt(i);
    const id = pid(p);
    if (id === 0x1fff) continue;
    if (p[1] & 0x80) problem(`packet ${i} has transport_error_indicator set`);
    const c = afc(p);
    if (c === 0) problem(`packet ${i} has reserved adaptation_field_control 0`);
    const discontinuity = c >= 2 && p[4] > 0 && (p[5] & 0x80) !== 0;
    if (c & 1) {
      const cc = p[3] & 0x0f;
      if (lastCc.has(id) && !discontinuity) {
        const want = (lastCc.get(id) + 1) & 0x0f;
        if (cc !== want) problem(`PID ${id}: continuity counter ${cc} at packet ${i}, want ${want}`);
      }
      lastCc.set(id, cc);
    }
    if (c >= 2 && p[4] >= 7 && (p[5] & 0x10)) {
      if (id !== pcrPid) problem(`packet ${i}: PCR on PID ${id}, PMT says PCR PID ${pcrPid}`);
      const base = p[6] * 33554432 + p[7] * 131072 + p[8] * 512 + p[9] * 2 + (p[10] >> 7);
      const ext = ((p[10] & 1) << 8) | p[11];
      const pcr = base * 300 + ext;
      if (lastPcr !== null && pcr - lastPcr > 27000000 / 10) {
        problem(`PCR gap of ${((pcr - lastPcr) / 27000).toFixed(1)} ms before packet ${i} (max 100 ms)`);
      }
      if (lastPcr !== null && pcr < lastPcr) problem(`PCR goes backwards at packet ${i}`);
      lastPcr = pcr;
    }
    if (!streams.has(id) || !pusi(p)) continue;
    const s = payloadStart(p);
    if (s < 0) continue;
    if (!seenPayload) {
      seenPayload = true;
      if (lastPcr === null) problem(`no PCR before the first PES (packet ${i})`);
    }
    if (p[s] !== 0 || p[s + 1] !== 0 || p[s + 2] !== 1) {
      problem(`packet ${i}: PES on PID ${id} does not start with 00 00 01`);
      continue;
    }
    const es = s + 9 + p[s + 8];
    const type = streams.get(id);
    if (type === 0x1b) {
      const aud4 = p[es] === 0 && p[es + 1] === 0 && p[es + 2] === 0 && p[es + 3] === 1 && (p[es + 4] & 0x1f) === 9;
      const aud3 = p[es] === 0 && p[es + 1] === 0 && p[es + 2] === 1 && (p[es + 3] & 0x1f) === 9;
      if (!aud4 && !aud3) problem(`packet ${i}: video PES does not start with an access unit delimiter`);
    } else if (type === 0x0f) {
      if (p[es] !== 0xff || (p[es + 1] & 0xf0) !== 0xf0) problem(`packet ${i}: AAC PES does not start with an ADTS sync word`);
    }
  }
  if (count > MAX_PER_FILE) problems.push(`${file}: ... and ${count - MAX_PER_FILE} more problems`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node tscheck.js SEGMENT.ts...\n');
  process.exit(2);
}
files.forEach(check);
for (const p of problems) process.stdout.write(p + '\n');
process.exit(problems.length ? 1 : 0);
