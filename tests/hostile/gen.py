#!/usr/bin/env python3
# tests/hostile/gen.py: writes a corpus of damaged MP4 files, one per case, made from a small valid base
# (320x240 H.264 High with B-frames + AAC, 4 s; moov at the end and moov at the start). Deterministic: the
# same ffmpeg gives the same bytes (fixed seeds, bitexact muxing). Standard library only, plus ffmpeg for
# the base. See README.md next to this file for what each case is.
"""Usage: gen.py [options] OUTDIR

  --list            print the case names and descriptions (tab-separated) and exit
  --only NAME,...   write only these cases (fnmatch patterns allowed, e.g. 'trunc-*')
  --skip-big        leave out the ~100 MB moov case
  --big-only        write only the ~100 MB moov case
  --base DIR        where the two base files are made or found (default OUTDIR/.base)

Each case is written as OUTDIR/<name>.mp4. The base files are not written into OUTDIR.
"""
import fnmatch
import os
import random
import struct
import subprocess
import sys

PROG = 'gen.py'

CONTAINERS = {b'moov', b'trak', b'mdia', b'minf', b'stbl', b'dinf', b'edts', b'udta', b'mvex', b'moof',
              b'traf'}
# Boxes with a fixed-size prefix before their child boxes.
PREFIXED = {b'stsd': 8, b'avc1': 78, b'avc3': 78, b'mp4a': 28, b'dref': 8}


class Box:
    """A box as a tree: `pre` is the payload before the children (all of it for a leaf), `kids` the
    children (None for a leaf). `size_override` / `large` change only how the header is written."""

    def __init__(self, typ, pre=b'', kids=None):
        self.type = typ
        self.pre = bytearray(pre)
        self.kids = kids
        self.size_override = None   # value written in the 32-bit size field
        self.large = None           # write a 64-bit header (size 1) with this largesize
        self.off = None             # offset in the last serialized output

    def find(self, path):
        """First descendant along a '/'-separated path of types ('trak' may be 'trak:vide' / 'trak:soun')."""
        node = self
        for part in path.split('/'):
            typ, _, handler = part.partition(':')
            hits = [k for k in (node.kids or []) if k.type == typ.encode('latin1')]
            if handler:
                hits = [k for k in hits if handler_of(k) == handler.encode()]
            if not hits:
                raise KeyError(path)
            node = hits[0]
        return node


def handler_of(trak):
    try:
        hdlr = trak.find('mdia/hdlr')
    except KeyError:
        return None
    return bytes(hdlr.pre[8:12])


def parse(buf, start, end):
    out = []
    o = start
    while o + 8 <= end:
        size, typ = struct.unpack('>I4s', buf[o:o + 8])
        hl = 8
        if size == 1:
            size = struct.unpack('>Q', buf[o + 8:o + 16])[0]
            hl = 16
        elif size == 0:
            size = end - o
        if size < hl or o + size > end:
            raise ValueError('bad box %r at %d' % (typ, o))
        body_start, body_end = o + hl, o + size
        if typ in CONTAINERS:
            b = Box(typ, b'', parse(buf, body_start, body_end))
        elif typ in PREFIXED:
            p = PREFIXED[typ]
            b = Box(typ, buf[body_start:body_start + p], parse(buf, body_start + p, body_end))
        else:
            b = Box(typ, buf[body_start:body_end])
        out.append(b)
        o += size
    if o != end:
        raise ValueError('trailing bytes at %d' % o)
    return out


def serialize(boxes, base=0):
    out = bytearray()
    for b in boxes:
        b.off = base + len(out)
        hl = 16 if b.large is not None else 8
        body = bytes(b.pre) + (serialize(b.kids, b.off + hl + len(b.pre)) if b.kids is not None else b'')
        if b.large is not None:
            out += struct.pack('>I4sQ', 1, b.type, b.large)
        else:
            size = hl + len(body) if b.size_override is None else b.size_override
            out += struct.pack('>I4s', size & 0xffffffff, b.type)
        out += body
    return bytes(out)


class Mp4:
    """A parsed file; build() serializes it, shifting chunk offsets when the mdat moved."""

    def __init__(self, data):
        self.top = parse(data, 0, len(data))
        serialize(self.top)
        self.mdat_off = self.box('mdat').off

    def box(self, path):
        first, _, rest = path.partition('/')
        for b in self.top:
            if b.type == first.encode():
                return b.find(rest) if rest else b
        raise KeyError(path)

    def moov(self):
        return self.box('moov')

    def build(self):
        data = serialize(self.top)
        delta = self.box('mdat').off - self.mdat_off
        if delta:
            for trak in self.moov().kids:
                if trak.type != b'trak':
                    continue
                for name, fmt, w in (('stco', '>I', 4), ('co64', '>Q', 8)):
                    try:
                        t = trak.find('mdia/minf/stbl/' + name)
                    except KeyError:
                        continue
                    n = struct.unpack('>I', t.pre[4:8])[0]
                    for i in range(min(n, (len(t.pre) - 8) // w)):
                        o = 8 + i * w
                        v = struct.unpack(fmt, t.pre[o:o + w])[0]
                        t.pre[o:o + w] = struct.pack(fmt, (v + delta) % (1 << (8 * w)))
            data = serialize(self.top)
        return data


# --- small field helpers -------------------------------------------------------------------------------

def u32(b, o):
    return struct.unpack('>I', b.pre[o:o + 4])[0]


def put32(b, o, v):
    b.pre[o:o + 4] = struct.pack('>I', v & 0xffffffff)


def put16(b, o, v):
    b.pre[o:o + 2] = struct.pack('>H', v & 0xffff)


def table(b, header):
    """(entry count, offset of the first entry) of a full box table: `header` bytes after version/flags
    before the count."""
    return u32(b, 4 + header), 8 + header


def stbl(m, kind='vide'):
    return m.moov().find('trak:%s/mdia/minf/stbl' % kind)


def avcc(m):
    return stbl(m).find('stsd/avc1/avcC')


# --- the base files ------------------------------------------------------------------------------------

def make_base(d):
    os.makedirs(d, exist_ok=True)
    end, start = os.path.join(d, 'base-end.mp4'), os.path.join(d, 'base-start.mp4')
    if os.path.exists(end) and os.path.exists(start):
        return end, start
    ff = ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error', '-y']
    tmp = end + '.tmp.mp4'
    subprocess.run(ff + ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=4',
                         '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
                         '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-crf', '32',
                         '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-bf', '2', '-threads', '1',
                         '-c:a', 'aac', '-b:a', '48k', '-map_metadata', '-1', '-fflags', '+bitexact',
                         '-flags:v', '+bitexact', '-flags:a', '+bitexact', tmp], check=True)
    os.replace(tmp, end)
    tmp = start + '.tmp.mp4'
    subprocess.run(ff + ['-i', end, '-c', 'copy', '-map_metadata', '-1', '-movflags', '+faststart',
                         '-fflags', '+bitexact', tmp], check=True)
    os.replace(tmp, start)
    # The bases are what the cases assume.
    for path, order in ((end, [b'ftyp', b'free', b'mdat', b'moov']), (start, [b'ftyp', b'moov', b'free', b'mdat'])):
        m = Mp4(open(path, 'rb').read())
        got = [b.type for b in m.top]
        if got != order:
            sys.exit('%s: %s has top-level boxes %r, want %r' % (PROG, path, got, order))
        for need in ('trak:vide/mdia/minf/stbl/ctts', 'trak:vide/edts/elst', 'trak:vide/mdia/minf/stbl/stss',
                     'trak:vide/mdia/minf/stbl/stsd/avc1/avcC', 'trak:soun/mdia/minf/stbl/stco'):
            m.moov().find(need)
    return end, start


# --- the cases -----------------------------------------------------------------------------------------

CASES = []   # (name, description, function(bases) -> bytes or callable(path))


def case(name, desc):
    def reg(fn):
        CASES.append((name, desc, fn))
        return fn
    return reg


def mod(base, desc, name):
    """Register a case that edits the parsed base ('end' or 'start') in place."""
    def reg(fn):
        def make(bases):
            m = Mp4(bases[base])
            r = fn(m)
            return r if isinstance(r, (bytes, bytearray)) else m.build()
        CASES.append((name, desc, make))
        return fn
    return reg


case('base-end', 'control: the valid base, moov after mdat')(lambda b: b['end'])
case('base-start', 'control: the valid base, moov before mdat (faststart)')(lambda b: b['start'])


def add_truncations(count_moov, count_other):
    """Truncation offsets: count_moov spread over the moov box, count_other spread over the rest of the
    file (the ftyp, free and mdat boxes)."""
    def offsets(data):
        mv = Mp4(data).moov()
        a, b = mv.off, mv.off + 8 + len(serialize(mv.kids))
        offs = {a + 1 + (b - a - 2) * i // (count_moov - 1) for i in range(count_moov)}
        outside = (a - 1) + (len(data) - 1 - b)   # positions in [1, a) and [b, len - 1)
        for i in range(count_other):
            k = outside * i // (count_other - 1)
            offs.add(1 + k if k < a - 1 else b + (k - (a - 1)))
        return sorted(o for o in offs if 0 < o < len(data))
    return offsets


TRUNC = {'end': add_truncations(10, 10), 'start': add_truncations(10, 10)}


def register_truncations(bases):
    for base in ('end', 'start'):
        for off in TRUNC[base](bases[base]):
            name = 'trunc-%s-%06d' % (base, off)
            where = 'inside the moov' if in_moov(bases[base], off) else 'outside the moov'
            CASES.append((name, 'moov-at-%s base cut to its first %d bytes (%s)' % (base, off, where),
                          (lambda o, bb: lambda b: b[bb][:o])(off, base)))


def in_moov(data, off):
    m = Mp4(data)
    mv = m.moov()
    return mv.off <= off < mv.off + 8 + len(serialize(mv.kids))


# Box sizes -----------------------------------------------------------------------------------------------

@mod('end', 'moov size 1 MB larger than the file (moov at the end)', 'size-moov-past-eof')
def _(m):
    mv = m.moov()
    mv.size_override = 8 + len(serialize(mv.kids)) + (1 << 20)


@mod('start', 'moov size larger than the whole file (moov at the start, mdat inside it)', 'size-moov-past-eof-start')
def _(m):
    m.moov().size_override = 0x7fffffff


@mod('start', 'mdat size 0xfffffff0, far past the end of the file', 'size-mdat-past-eof')
def _(m):
    m.box('mdat').size_override = 0xfffffff0


@mod('end', 'video trak size 100000 bytes past the end of its moov', 'size-trak-past-moov')
def _(m):
    t = m.moov().find('trak:vide')
    t.size_override = 8 + len(serialize(t.kids)) + 100000


@mod('end', 'video stbl size larger than its trak', 'size-stbl-past-trak')
def _(m):
    s = stbl(m)
    s.size_override = 8 + len(serialize(s.kids)) + 5000


@mod('end', 'video stsz box size 0xffffffff', 'size-stsz-max')
def _(m):
    stbl(m).find('stsz').size_override = 0xffffffff


@mod('end', 'moov with size 1 and a 64-bit largesize of 0xfffffffffffffff0', 'size64-moov-huge')
def _(m):
    m.moov().large = 0xfffffffffffffff0


@mod('start', 'mdat with size 1 and a 64-bit largesize of 0x7fffffffffffffff (the free box before it removed, so offsets hold)', 'size64-mdat-huge')
def _(m):
    m.top = [b for b in m.top if b.type != b'free']
    m.box('mdat').large = 0x7fffffffffffffff
    data = serialize(m.top)
    if m.box('mdat').off != m.mdat_off - 8:
        raise SystemExit('%s: size64-mdat-huge: unexpected layout' % PROG)
    return data


@mod('end', 'video stbl with size 1 and a 64-bit largesize of 2^63', 'size64-stbl-huge')
def _(m):
    stbl(m).large = 1 << 63


@mod('end', 'video trak with size 1 and a 64-bit largesize of 8 (smaller than its 16-byte header)', 'size64-trak-small')
def _(m):
    m.moov().find('trak:vide').large = 8


@mod('end', 'audio trak with size 1 and a 64-bit largesize of 0 (smaller than its header)', 'size64-trak-zero')
def _(m):
    m.moov().find('trak:soun').large = 0


for _name, _path in (('size0-trak', 'trak:vide'), ('size0-stbl', 'trak:vide/mdia/minf/stbl'),
                     ('size0-stsd', 'trak:vide/mdia/minf/stbl/stsd'), ('size0-mvhd', 'mvhd'),
                     ('size0-avcC', 'trak:vide/mdia/minf/stbl/stsd/avc1/avcC'),
                     ('size0-stsz-audio', 'trak:soun/mdia/minf/stbl/stsz')):
    mod('end', 'size 0 ("to the end") on %s inside the moov' % _path.split('/')[-1], _name)(
        (lambda p: lambda m: setattr(m.moov().find(p), 'size_override', 0))(_path))

mod('start', 'size 0 on the top-level moov at the start of the file (it swallows the mdat)', 'size0-moov-start')(
    lambda m: setattr(m.moov(), 'size_override', 0))

for _name, _path, _size in (('size4-trak', 'trak:vide', 4), ('size7-stbl', 'trak:vide/mdia/minf/stbl', 7),
                            ('size2-mdia', 'trak:vide/mdia', 2), ('size3-stts', 'trak:vide/mdia/minf/stbl/stts', 3),
                            ('size6-avc1', 'trak:vide/mdia/minf/stbl/stsd/avc1', 6)):
    mod('end', 'size %d (smaller than a box header) on %s' % (_size, _path.split('/')[-1]), _name)(
        (lambda p, s: lambda m: setattr(m.moov().find(p), 'size_override', s))(_path, _size))

mod('end', 'size 5 on the top-level moov', 'size5-moov')(lambda m: setattr(m.moov(), 'size_override', 5))


# Chunk offsets -------------------------------------------------------------------------------------------

def stco_all(kind, fn):
    def edit(m):
        t = stbl(m, kind).find('stco')
        n, o = table(t, 0)
        for i in range(n):
            put32(t, o + 4 * i, fn(i, u32(t, o + 4 * i), n))
    return edit


def file_len(m):
    return len(serialize(m.top))


@mod('end', 'every video chunk offset 1000 bytes past the end of the file', 'stco-past-eof-all')
def _(m):
    size = file_len(m)
    stco_all('vide', lambda i, v, n: size + 1000)(m)


@mod('start', 'the last video chunk starts 10 bytes before the end of the file (its samples run past it)', 'stco-past-eof-last')
def _(m):
    size = file_len(m)
    stco_all('vide', lambda i, v, n: size - 10 if i == n - 1 else v)(m)


@mod('end', 'every video chunk offset 0xffffffff', 'stco-max')
def _(m):
    stco_all('vide', lambda i, v, n: 0xffffffff)(m)


@mod('end', 'every video chunk offset 0 (the samples read the ftyp and mdat header: garbage but in the file)', 'stco-zero')
def _(m):
    stco_all('vide', lambda i, v, n: 0)(m)


@mod('end', 'audio chunk offsets past the end of the file', 'stco-audio-past-eof')
def _(m):
    size = file_len(m)
    stco_all('soun', lambda i, v, n: size + 7 * i)(m)


@mod('end', 'video stco entry count 0xffffffff (the box holds the real entries only)', 'stco-count-huge')
def _(m):
    put32(stbl(m).find('stco'), 4, 0xffffffff)


@mod('end', 'video stco replaced by a co64 whose offsets are near 2^63', 'co64-huge')
def _(m):
    t = stbl(m).find('stco')
    n, o = table(t, 0)
    t.type = b'co64'
    t.pre = bytearray(t.pre[:8] + b''.join(struct.pack('>Q', (1 << 63) - 4096 + i) for i in range(n)))


# Sample sizes --------------------------------------------------------------------------------------------

def stsz_all(kind, fn):
    def edit(m):
        t = stbl(m, kind).find('stsz')
        n, o = table(t, 4)
        for i in range(n):
            put32(t, o + 4 * i, fn(i, u32(t, o + 4 * i)))
    return edit


mod('end', 'every video sample size 0', 'stsz-all-zero')(stsz_all('vide', lambda i, v: 0))
mod('end', 'video sample 10 has size 0xffffffff', 'stsz-one-huge')(stsz_all('vide', lambda i, v: 0xffffffff if i == 10 else v))
mod('end', 'every video sample size 0xffffffff', 'stsz-all-huge')(stsz_all('vide', lambda i, v: 0xffffffff))
mod('end', 'every video sample size 0x7fffffff', 'stsz-all-2g')(stsz_all('vide', lambda i, v: 0x7fffffff))
mod('end', 'every audio sample size 0xffffffff', 'stsz-audio-huge')(stsz_all('soun', lambda i, v: 0xffffffff))
mod('end', 'every audio sample size 0', 'stsz-audio-zero')(stsz_all('soun', lambda i, v: 0))
mod('end', 'video stsz constant sample_size 0xffffffff', 'stsz-const-huge')(lambda m: put32(stbl(m).find('stsz'), 4, 0xffffffff))
mod('end', 'video stsz constant sample_size 1 (every sample one byte)', 'stsz-const-one')(lambda m: put32(stbl(m).find('stsz'), 4, 1))
mod('end', 'video stsz sample count 0xffffffff (the box holds the real entries only)', 'stsz-count-huge')(
    lambda m: put32(stbl(m).find('stsz'), 8, 0xffffffff))
mod('end', 'video stsz sample count 0', 'stsz-count-zero')(lambda m: put32(stbl(m).find('stsz'), 8, 0))


# Time to sample ------------------------------------------------------------------------------------------

def stts_edit(kind, fn):
    def edit(m):
        t = stbl(m, kind).find('stts')
        n, o = table(t, 0)
        for i in range(n):
            c, d = struct.unpack('>II', t.pre[o + 8 * i:o + 8 * i + 8])
            t.pre[o + 8 * i:o + 8 * i + 8] = struct.pack('>II', *fn(i, c, d))
    return edit


mod('end', 'every video stts delta 0 (all frames at the same time)', 'stts-delta-zero')(stts_edit('vide', lambda i, c, d: (c, 0)))
mod('end', 'video stts delta 0xffffffff', 'stts-delta-huge')(stts_edit('vide', lambda i, c, d: (c, 0xffffffff)))
mod('end', 'video stts delta 0x80000000 (negative when read as signed)', 'stts-delta-2e31')(stts_edit('vide', lambda i, c, d: (c, 0x80000000)))
mod('end', 'video stts sample count 0xffffffff in its one entry', 'stts-count-huge')(stts_edit('vide', lambda i, c, d: (0xffffffff, d)))
mod('end', 'video stts sample count 0 in its one entry', 'stts-count-zero')(stts_edit('vide', lambda i, c, d: (0, d)))
mod('end', 'video stts entry count 0x10000000 (the box holds one entry)', 'stts-entries-huge')(
    lambda m: put32(stbl(m).find('stts'), 4, 0x10000000))
mod('end', 'every audio stts delta 0', 'stts-audio-delta-zero')(stts_edit('soun', lambda i, c, d: (c, 0)))
mod('end', 'audio stts delta 0xffffffff', 'stts-audio-delta-huge')(stts_edit('soun', lambda i, c, d: (c, 0xffffffff)))


# Composition offsets and edit lists ----------------------------------------------------------------------

def ctts_edit(fn, version=None):
    def edit(m):
        t = stbl(m).find('ctts')
        if version is not None:
            t.pre[0] = version
        n, o = table(t, 0)
        for i in range(n):
            c, d = struct.unpack('>II', t.pre[o + 8 * i:o + 8 * i + 8])
            t.pre[o + 8 * i:o + 8 * i + 8] = struct.pack('>II', c, fn(i, d) & 0xffffffff)
    return edit


mod('end', 'ctts version 1 with every offset -1000000000', 'ctts-negative')(ctts_edit(lambda i, d: -1000000000, 1))
mod('end', 'ctts with alternating offsets +1000000 and -1000000 (timestamps jump back and forth)', 'ctts-zigzag')(
    ctts_edit(lambda i, d: 1000000 if i % 2 else -1000000, 1))
mod('end', 'ctts with every offset 0x7fffffff', 'ctts-huge')(ctts_edit(lambda i, d: 0x7fffffff))
mod('end', 'ctts version 0 with every offset 0x80000000', 'ctts-min')(ctts_edit(lambda i, d: 0x80000000, 0))
mod('end', 'ctts entry count 0xffffffff (the box holds the real entries only)', 'ctts-count-huge')(
    lambda m: put32(stbl(m).find('ctts'), 4, 0xffffffff))
mod('end', 'ctts sample counts 0xffffffff', 'ctts-samples-huge')(
    lambda m: ctts_edit(lambda i, d: d)(m) or [put32(stbl(m).find('ctts'), 8 + 8 * i, 0xffffffff)
                                            for i in range(u32(stbl(m).find('ctts'), 4))])


def elst_edit(kind, fn):
    def edit(m):
        t = m.moov().find('trak:%s/edts/elst' % kind)
        n, o = table(t, 0)
        if t.pre[0] != 0:
            raise SystemExit('%s: elst version %d not handled' % (PROG, t.pre[0]))
        for i in range(n):
            dur, mt, rate = struct.unpack('>IiI', t.pre[o + 12 * i:o + 12 * i + 12])
            dur, mt, rate = fn(i, dur, mt, rate)
            t.pre[o + 12 * i:o + 12 * i + 12] = struct.pack('>IiI', dur & 0xffffffff, mt, rate & 0xffffffff)
    return edit


mod('end', 'video edit list media_time 0x7fffffff (starts far past the media)', 'elst-media-time-huge')(
    elst_edit('vide', lambda i, d, t, r: (d, 0x7fffffff, r)))
mod('end', 'video edit list media_time -2 (negative but not the empty-edit -1)', 'elst-media-time-neg2')(
    elst_edit('vide', lambda i, d, t, r: (d, -2, r)))
mod('end', 'video edit list media_time -2^31', 'elst-media-time-min')(
    elst_edit('vide', lambda i, d, t, r: (d, -(1 << 31), r)))
mod('end', 'video edit list segment_duration 0xffffffff', 'elst-duration-huge')(
    elst_edit('vide', lambda i, d, t, r: (0xffffffff, t, r)))
mod('end', 'video edit list rate 0 (a dwell)', 'elst-rate-zero')(elst_edit('vide', lambda i, d, t, r: (d, t, 0)))
mod('end', 'audio edit list media_time 0x7fffffff', 'elst-audio-media-time-huge')(
    elst_edit('soun', lambda i, d, t, r: (d, 0x7fffffff, r)))
mod('end', 'video edit list entry count 0xffffffff (the box holds one entry)', 'elst-count-huge')(
    lambda m: put32(m.moov().find('trak:vide/edts/elst'), 4, 0xffffffff))


@mod('end', 'video edit list of 5000 entries alternating an empty edit and a 1-tick edit at absurd media times', 'elst-many')
def _(m):
    t = m.moov().find('trak:vide/edts/elst')
    ents = b''.join(struct.pack('>IiI', 1 if i % 2 else 100, -1 if i % 2 == 0 else (i * 7919) % 100000, 0x10000)
                    for i in range(5000))
    t.pre = bytearray(bytes(t.pre[:4]) + struct.pack('>I', 5000) + ents)


# Timescales ----------------------------------------------------------------------------------------------

for _kind, _k in (('vide', 'video'), ('soun', 'audio')):
    for _v, _vn in ((0, '0'), (1, '1'), (0xffffffff, 'max')):
        mod('end', '%s mdhd timescale %s' % (_k, _vn if _vn != 'max' else '0xffffffff'), 'mdhd-ts%s-%s' % (_vn, _k))(
            (lambda kind, v: lambda m: put32(m.moov().find('trak:%s/mdia/mdhd' % kind), 12, v))(_kind, _v))
mod('end', 'mvhd (movie) timescale 0', 'mvhd-ts0')(lambda m: put32(m.moov().find('mvhd'), 12, 0))
mod('end', 'mvhd (movie) timescale 0xffffffff', 'mvhd-tsmax')(lambda m: put32(m.moov().find('mvhd'), 12, 0xffffffff))


# Picture size --------------------------------------------------------------------------------------------

def tkhd_size(w, h):
    def edit(m):
        t = m.moov().find('trak:vide/tkhd')
        put32(t, 76, w << 16)
        put32(t, 80, h << 16)
    return edit


def avc1_size(w, h):
    def edit(m):
        a = stbl(m).find('stsd/avc1')
        put16(a, 24, w)
        put16(a, 26, h)
    return edit


mod('end', 'tkhd width/height 0x0', 'tkhd-0x0')(tkhd_size(0, 0))
mod('end', 'tkhd width/height 16384x16384', 'tkhd-16384')(tkhd_size(16384, 16384))
mod('end', 'avc1 sample entry width/height 0x0', 'avc1-0x0')(avc1_size(0, 0))
mod('end', 'avc1 sample entry width/height 16384x16384 (the SPS still says 320x240)', 'avc1-16384')(avc1_size(16384, 16384))
mod('end', 'avc1 sample entry width/height 65535x65535', 'avc1-65535')(avc1_size(65535, 65535))
mod('end', 'avc1 sample entry 1x1', 'avc1-1x1')(avc1_size(1, 1))
mod('end', 'avc1 sample entry 16384x2 (extreme aspect ratio)', 'avc1-16384x2')(avc1_size(16384, 2))
mod('end', 'tkhd and avc1 both 16384x16384', 'dims-16384-both')(lambda m: tkhd_size(16384, 16384)(m) or avc1_size(16384, 16384)(m))
mod('end', 'tkhd and avc1 both 0x0', 'dims-0x0-both')(lambda m: tkhd_size(0, 0)(m) or avc1_size(0, 0)(m))


@mod('end', 'pasp (pixel aspect) 65535:1', 'pasp-absurd')
def _(m):
    p = stbl(m).find('stsd/avc1/pasp')
    put32(p, 0, 65535)
    put32(p, 4, 1)


@mod('end', 'pasp (pixel aspect) 1:65535', 'pasp-thin')
def _(m):
    p = stbl(m).find('stsd/avc1/pasp')
    put32(p, 0, 1)
    put32(p, 4, 65535)


# avcC ----------------------------------------------------------------------------------------------------

def avcc_parts(m):
    a = avcc(m).pre
    sps_len = struct.unpack('>H', a[6:8])[0]
    sps = bytes(a[8:8 + sps_len])
    p = 8 + sps_len
    pps_len = struct.unpack('>H', a[p + 1:p + 3])[0]
    pps = bytes(a[p + 3:p + 3 + pps_len])
    tail = bytes(a[p + 3 + pps_len:])
    return bytes(a[:5]), sps, pps, tail


def avcc_set(m, data):
    avcc(m).pre = bytearray(data)


mod('end', 'avcC configurationVersion 0', 'avcc-version0')(lambda m: avcc(m).pre.__setitem__(0, 0))
mod('end', 'avcC lengthSizeMinusOne 2: 3-byte NAL lengths declared, the samples use 4', 'avcc-nal3')(
    lambda m: avcc(m).pre.__setitem__(4, 0xfc | 2))
mod('end', 'avcC lengthSizeMinusOne 1: 2-byte NAL lengths declared, the samples use 4', 'avcc-nal2')(
    lambda m: avcc(m).pre.__setitem__(4, 0xfc | 1))
mod('end', 'avcC lengthSizeMinusOne 0: 1-byte NAL lengths declared, the samples use 4', 'avcc-nal1')(
    lambda m: avcc(m).pre.__setitem__(4, 0xfc | 0))
mod('end', 'avcC numOfSequenceParameterSets 0, the SPS bytes left in place', 'avcc-sps-count0')(
    lambda m: avcc(m).pre.__setitem__(5, 0xe0))
mod('end', 'avcC numOfSequenceParameterSets 31 (only one there)', 'avcc-sps-count31')(
    lambda m: avcc(m).pre.__setitem__(5, 0xff))
mod('end', 'avcC SPS length 0xffff (past the box)', 'avcc-sps-len-huge')(lambda m: put16(avcc(m), 6, 0xffff))
mod('end', 'avcC SPS length 0', 'avcc-sps-len0')(lambda m: put16(avcc(m), 6, 0))


@mod('end', 'avcC PPS length 0xffff (past the box)', 'avcc-pps-len-huge')
def _(m):
    head, sps, pps, tail = avcc_parts(m)
    put16(avcc(m), 8 + len(sps) + 1, 0xffff)


@mod('end', 'avcC without any SPS or PPS (counts 0, box rebuilt)', 'avcc-no-sps')
def _(m):
    head, sps, pps, tail = avcc_parts(m)
    avcc_set(m, head + b'\xe0' + b'\x00')


@mod('end', 'avcC SPS bytes all zero (right length)', 'avcc-sps-zeroed')
def _(m):
    head, sps, pps, tail = avcc_parts(m)
    avcc_set(m, head + b'\xe1' + struct.pack('>H', len(sps)) + bytes(len(sps)) + b'\x01' +
             struct.pack('>H', len(pps)) + pps + tail)


@mod('end', 'avcC SPS all 0xff bytes except its NAL header', 'avcc-sps-ones')
def _(m):
    head, sps, pps, tail = avcc_parts(m)
    avcc_set(m, head + b'\xe1' + struct.pack('>H', len(sps)) + sps[:1] + b'\xff' * (len(sps) - 1) + b'\x01' +
             struct.pack('>H', len(pps)) + pps + tail)


@mod('end', 'avcC SPS says 16384x16384 (pic_width/height_in_mbs 1024), the samples are 320x240', 'avcc-sps-bigpic')
def _(m):
    # Rewrites the SPS through an Exp-Golomb bit reader/writer: only the two size fields change.
    head, sps, pps, tail = avcc_parts(m)
    new = sps_resize(sps, 1024, 1024)
    avcc_set(m, head + b'\xe1' + struct.pack('>H', len(new)) + new + b'\x01' + struct.pack('>H', len(pps)) + pps + tail)


@mod('end', 'avcC cut to its first 5 bytes', 'avcc-truncated')
def _(m):
    avcc_set(m, bytes(avcc(m).pre[:5]))


@mod('end', 'avcC with an empty payload', 'avcc-empty')
def _(m):
    avcc_set(m, b'')


@mod('end', 'avcC removed from the avc1 sample entry', 'avcc-missing')
def _(m):
    a = stbl(m).find('stsd/avc1')
    a.kids = [k for k in a.kids if k.type != b'avcC']


@mod('end', 'avc1 sample entry holding two avcC boxes, the second all 0xff', 'avcc-twice')
def _(m):
    a = stbl(m).find('stsd/avc1')
    a.kids.insert(1, Box(b'avcC', b'\xff' * 40))


# SPS rewrite helpers (Exp-Golomb)

def _unescape(b):
    out, z = bytearray(), 0
    for x in b:
        if z >= 2 and x == 3:
            z = 0
            continue
        out.append(x)
        z = z + 1 if x == 0 else 0
    return bytes(out)


def _escape(b):
    out, z = bytearray(), 0
    for x in b:
        if z >= 2 and x <= 3:
            out.append(3)
            z = 0
        out.append(x)
        z = z + 1 if x == 0 else 0
    return bytes(out)


class _Bits:
    def __init__(self, data):
        self.d, self.p = data, 0

    def u(self, n):
        v = 0
        for _ in range(n):
            v = v << 1 | (self.d[self.p >> 3] >> (7 - (self.p & 7))) & 1
            self.p += 1
        return v

    def ue(self):
        z = 0
        while self.u(1) == 0:
            z += 1
        return (1 << z) - 1 + self.u(z)

    def se(self):
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def sps_resize(sps, mbs_w, mbs_h):
    """The SPS with pic_width_in_mbs_minus1 / pic_height_in_map_units_minus1 replaced (no cropping)."""
    raw = _unescape(sps[1:])
    r = _Bits(raw)
    out = []   # (value, nbits) or ('ue', v)

    def cu(n):
        out.append(('u', r.u(n), n))

    def cue():
        out.append(('ue', r.ue(), 0))

    def cse():
        out.append(('se', r.se(), 0))
    profile = raw[0]
    cu(8), cu(8), cu(8), cue()
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        cue()
        if out[-1][1] == 3:
            cu(1)
        cue(), cue(), cu(1)
        cu(1)
        if out[-1][1]:
            raise SystemExit('%s: SPS with scaling matrices not handled' % PROG)
    cue()
    cue()
    poc = out[-1][1]
    if poc == 0:
        cue()
    elif poc == 1:
        cu(1), cse(), cse(), cue()
        for _ in range(out[-1][1]):
            cse()
    cue(), cu(1)
    r.ue(), r.ue()
    out.append(('ue', mbs_w - 1, 0))
    out.append(('ue', mbs_h - 1, 0))
    cu(1)
    if out[-1][1] == 0:
        cu(1)
    cu(1)
    crop = r.u(1)
    if crop:
        for _ in range(4):
            r.ue()
    out.append(('u', 0, 1))
    rest = []
    while r.p < len(raw) * 8:
        rest.append(r.u(1))
    # strip the old rbsp trailing bits; they are re-added below
    while rest and rest[-1] == 0:
        rest.pop()
    if rest:
        rest.pop()
    bits = []
    for kind, v, n in out:
        if kind == 'u':
            bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]
        else:
            if kind == 'se':
                v = 2 * v - 1 if v > 0 else -2 * v
            code = v + 1
            ln = code.bit_length()
            bits += [0] * (ln - 1) + [(code >> (ln - 1 - i)) & 1 for i in range(ln)]
    bits += rest + [1]
    while len(bits) % 8:
        bits.append(0)
    data = bytes(int(''.join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))
    return sps[:1] + _escape(data)


# Sync samples and sample-to-chunk ------------------------------------------------------------------------

mod('end', 'stss with no entries: no frame is a keyframe', 'stss-none')(lambda m: stss_set(m, []))
mod('end', 'stss listing sample number 0 (numbers start at 1)', 'stss-zero-index')(lambda m: stss_set(m, [0]))
mod('end', 'stss listing sample 0xffffffff only', 'stss-past-end')(lambda m: stss_set(m, [0xffffffff]))
mod('end', 'stss listing every sample in reverse order', 'stss-reverse')(lambda m: stss_set(m, list(range(100, 0, -1))))
mod('end', 'stss entry count 0xffffffff (the box holds the real entries only)', 'stss-count-huge')(
    lambda m: put32(stbl(m).find('stss'), 4, 0xffffffff))


def stss_set(m, entries):
    t = stbl(m).find('stss')
    t.pre = bytearray(bytes(t.pre[:4]) + struct.pack('>I', len(entries)) + b''.join(struct.pack('>I', e) for e in entries))


def stsc_edit(kind, fn):
    def edit(m):
        t = stbl(m, kind).find('stsc')
        n, o = table(t, 0)
        for i in range(n):
            f, s, d = struct.unpack('>III', t.pre[o + 12 * i:o + 12 * i + 12])
            t.pre[o + 12 * i:o + 12 * i + 12] = struct.pack('>III', *[x & 0xffffffff for x in fn(i, f, s, d)])
    return edit


mod('end', 'video stsc first_chunk 0', 'stsc-first-chunk-zero')(stsc_edit('vide', lambda i, f, s, d: (0 if i == 0 else f, s, d)))
mod('end', 'video stsc samples_per_chunk 0xffffffff', 'stsc-spc-huge')(stsc_edit('vide', lambda i, f, s, d: (f, 0xffffffff, d)))
mod('end', 'video stsc samples_per_chunk 0', 'stsc-spc-zero')(stsc_edit('vide', lambda i, f, s, d: (f, 0, d)))
mod('end', 'video stsc first_chunk values descending', 'stsc-descending')(
    stsc_edit('vide', lambda i, f, s, d: (1000000 - i, s, d)))
mod('end', 'video stsc sample_description_index 7 (there is one sample entry)', 'stsc-bad-stsd-index')(
    stsc_edit('vide', lambda i, f, s, d: (f, s, 7)))
mod('end', 'audio stsc samples_per_chunk 0x40000000', 'stsc-audio-spc-huge')(stsc_edit('soun', lambda i, f, s, d: (f, 0x40000000, d)))


# Many tracks ---------------------------------------------------------------------------------------------

def dup_tracks(kind, count):
    def edit(m):
        mv = m.moov()
        src = serialize([mv.find('trak:%s' % kind)])
        nxt = 3
        extra = []
        for i in range(count):
            t = parse(src, 0, len(src))[0]
            put32(t.find('tkhd'), 12, nxt + i)
            extra.append(t)
        last = max(i for i, k in enumerate(mv.kids) if k.type == b'trak')
        mv.kids[last + 1:last + 1] = extra
        put32(mv.find('mvhd'), 96, nxt + count)
    return edit


mod('end', 'the video trak duplicated 3000 times (track IDs 3..3002)', 'tracks-3000-video')(dup_tracks('vide', 3000))
mod('end', 'the audio trak duplicated 3000 times (track IDs 3..3002)', 'tracks-3000-audio')(dup_tracks('soun', 3000))
mod('end', 'the video trak duplicated 990 times (under libavformat\'s 1000-stream limit)', 'tracks-990-video')(dup_tracks('vide', 990))
mod('end', 'the audio trak duplicated 990 times (under libavformat\'s 1000-stream limit)', 'tracks-990-audio')(dup_tracks('soun', 990))


def repeat_track(trak, times):
    """The track's samples `times` over: its sample tables repeated (the chunks point at the same data),
    its edit list dropped so nothing is cut."""
    st = trak.find('mdia/minf/stbl')
    stts, stsz, stsc, stco = (st.find(n) for n in ('stts', 'stsz', 'stsc', 'stco'))
    nt, _ = table(stts, 0)
    stts.pre = bytearray(bytes(stts.pre[:4]) + struct.pack('>I', nt * times) + bytes(stts.pre[8:]) * times)
    ns, _ = table(stsz, 4)
    stsz.pre = bytearray(bytes(stsz.pre[:8]) + struct.pack('>I', ns * times) + bytes(stsz.pre[12:]) * times)
    nc, _ = table(stco, 0)
    stco.pre = bytearray(bytes(stco.pre[:4]) + struct.pack('>I', nc * times) + bytes(stco.pre[8:]) * times)
    ne, _ = table(stsc, 0)
    ents = b''.join(struct.pack('>I', struct.unpack('>I', stsc.pre[8 + 12 * i:12 + 12 * i])[0] + k * nc) +
                    bytes(stsc.pre[12 + 12 * i:20 + 12 * i]) for k in range(times) for i in range(ne))
    stsc.pre = bytearray(bytes(stsc.pre[:4]) + struct.pack('>I', ne * times) + ents)
    st.kids = [k for k in st.kids if k.type not in (b'sgpd', b'sbgp')]
    trak.kids = [k for k in trak.kids if k.type != b'edts']


@mod('end', 'the audio trak made 5 times longer (its sample tables repeated) and then duplicated 990 times',
     'tracks-990-audio-x5')
def _(m):
    repeat_track(m.moov().find('trak:soun'), 5)
    dup_tracks('soun', 990)(m)


@mod('end', '3000 copies of the video trak all with track ID 1', 'tracks-3000-same-id')
def _(m):
    mv = m.moov()
    src = serialize([mv.find('trak:vide')])
    extra = [parse(src, 0, len(src))[0] for _ in range(3000)]
    mv.kids[1:1] = extra


# Metadata ------------------------------------------------------------------------------------------------

def udta_title(text):
    data = text.encode('utf-8')[:65000]
    return Box(b'udta', b'', [Box(b'\xa9nam', struct.pack('>HH', len(data), 0x55c4) + data)])


@mod('end', 'a 65000-byte title full of quotes, backslashes, newlines, control bytes and cut UTF-8', 'udta-title-huge')
def _(m):
    rng = random.Random(7)
    alphabet = '"\\\n\r\t</>&\'%{}$`\x01\x7f #EXTM3U,ÿ€'
    m.moov().kids.append(udta_title(''.join(rng.choice(alphabet) for _ in range(40000))))


@mod('end', '200000 udta boxes in the moov, each with a title', 'moov-udta-many')
def _(m):
    m.moov().kids += [udta_title('title %d' % i) for i in range(200000)]


# Random byte flips in the moov ---------------------------------------------------------------------------

def flip_case(i):
    base = 'end' if i % 2 == 0 else 'start'

    def make(bases):
        data = bytearray(bases[base])
        m = Mp4(bytes(data))
        mv = m.moov()
        start, end = mv.off + 8, mv.off + 8 + len(serialize(mv.kids))
        rng = random.Random(20240 + i)
        for _ in range(rng.randint(1, 24)):
            data[rng.randrange(start, end)] ^= rng.randint(1, 255)
        return bytes(data)
    return base, make


for _i in range(30):
    _base, _make = flip_case(_i)
    CASES.append(('flip-%02d' % _i, 'moov-at-%s base with 1 to 24 random bytes of its moov changed (seed %d)'
                  % (_base, 20240 + _i), _make))


# Degenerate files ----------------------------------------------------------------------------------------

case('empty', 'a zero-length file')(lambda b: b'')
case('ftyp-only', 'only the 32-byte ftyp box of the base')(lambda b: b['end'][:32])
case('ftyp-free-mdat', 'ftyp, free and mdat of the base: no moov at all')(lambda b: b['end'][:Mp4(b['end']).moov().off])
case('moov-only', 'ftyp and moov of the moov-at-start base, no mdat')(lambda b: b['start'][:Mp4(b['start']).box('free').off])
case('garbage', '64 KiB of random bytes')(lambda b: random.Random(99).randbytes(65536))
case('zeros', '64 KiB of zero bytes')(lambda b: bytes(65536))


@case('moov-twice', 'moov-at-end base with a second moov appended whose video stsz says every sample is 0xffffffff bytes')
def _(bases):
    m = Mp4(bases['end'])
    stsz_all('vide', lambda i, v: 0xffffffff)(m)
    return bases['end'] + serialize([m.moov()])


# The big one, last: written sparse, so it takes little disk.

BIG = 'moov-100mb-free'


def write_big(bases, path):
    m = Mp4(bases['end'])
    mv = m.moov()
    pad = 100 * 1000 * 1000
    head = bases['end'][:mv.off]
    kids = serialize(mv.kids)
    size = 8 + len(kids) + 8 + pad
    with open(path, 'wb') as f:
        f.write(head)
        f.write(struct.pack('>I4s', size, b'moov'))
        f.write(kids)
        f.write(struct.pack('>I4s', 8 + pad, b'free'))
        f.truncate(f.tell() + pad)   # a hole: reads as zeros


CASES.append((BIG, 'a ~100 MB moov: the moov-at-end base with a 100 MB free box inside its moov (written sparse)', 'big'))


def main(argv):
    args = list(argv)
    opts = {'list': False, 'only': None, 'skip_big': False, 'big_only': False, 'base': None}
    out = None
    while args:
        a = args.pop(0)
        if a == '--list':
            opts['list'] = True
        elif a == '--only':
            opts['only'] = args.pop(0).split(',')
        elif a == '--skip-big':
            opts['skip_big'] = True
        elif a == '--big-only':
            opts['big_only'] = True
        elif a == '--base':
            opts['base'] = args.pop(0)
        elif a.startswith('-'):
            sys.exit('%s: unknown option %s\n%s' % (PROG, a, __doc__))
        elif out is None:
            out = a
        else:
            sys.exit(__doc__)
    if out is None and not opts['list']:
        sys.exit(__doc__)
    base_dir = opts['base'] or os.path.join(out or '.', '.base')
    end, start = make_base(base_dir)
    bases = {'end': open(end, 'rb').read(), 'start': open(start, 'rb').read()}
    register_truncations(bases)
    # the big case stays last
    CASES.sort(key=lambda c: c[0] == BIG)
    if opts['list']:
        for name, desc, _ in CASES:
            print('%s\t%s' % (name, desc))
        return 0
    os.makedirs(out, exist_ok=True)
    names = set()
    for name, desc, fn in CASES:
        if name in names:
            sys.exit('%s: duplicate case %s' % (PROG, name))
        names.add(name)
        if opts['only'] and not any(fnmatch.fnmatch(name, p) for p in opts['only']):
            continue
        if (name == BIG and opts['skip_big']) or (name != BIG and opts['big_only']):
            continue
        path = os.path.join(out, name + '.mp4')
        if fn == 'big':
            write_big(bases, path)
            continue
        data = fn(bases)
        with open(path + '.tmp', 'wb') as f:
            f.write(data)
        os.replace(path + '.tmp', path)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
