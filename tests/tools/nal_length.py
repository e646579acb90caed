#!/usr/bin/env python3
# tests/tools/nal_length.py: rewrites an ffmpeg-written H.264 MP4 so its NAL units carry 1- or 2-byte length
# fields (legal per ISO/IEC 14496-15, never written by ffmpeg), to test that hlsfs handles such files.
"""Usage: python3 nal_length.py IN.mp4 OUT.mp4 SIZE      (SIZE: 1 or 2)

IN.mp4 is a plain (not fragmented) MP4 with one mdat, moov before or after it, any number of tracks.
OUT.mp4 keeps the box layout of IN.mp4 byte for byte except: every sample of an avc1/avc3 track has its
NAL length fields shortened to SIZE bytes, avcC's lengthSizeMinusOne says so, the mdat is rebuilt chunk by
chunk in the original chunk order, and stsz (video) and stco/co64 (all tracks) follow. The moov keeps its
size, so the mdat stays where it was. Exits 1 with a message if the file cannot be rewritten, e.g. a NAL
unit is too long for SIZE bytes (use a low-bitrate input for SIZE=1).
"""
import struct
import sys

PROG = 'nal_length.py'


class Fail(Exception):
    pass


class Box:
    def __init__(self, typ, start, payload, end):
        self.type, self.start, self.payload, self.end = typ, start, payload, end


def boxes(buf, start, end):
    """The boxes laid end to end in buf[start:end]."""
    out = []
    pos = start
    while pos < end:
        if end - pos < 8:
            raise Fail(f'truncated box header at offset {pos}')
        size, typ = struct.unpack_from('>I4s', buf, pos)
        hdr = 8
        if size == 1:  # 64-bit largesize follows the type
            if end - pos < 16:
                raise Fail(f'truncated largesize header at offset {pos}')
            size, hdr = struct.unpack_from('>Q', buf, pos + 8)[0], 16
        elif size == 0:  # the box runs to the end of its parent (the file, at top level)
            size = end - pos
        if size < hdr or pos + size > end:
            raise Fail(f'box {typ!r} at offset {pos} has a bad size ({size})')
        out.append(Box(typ, pos, pos + hdr, pos + size))
        pos += size
    return out


def find(buf, parent, *path):
    """The first box along path under parent, or None."""
    for typ in path:
        parent = next((b for b in boxes(buf, parent.payload, parent.end) if b.type == typ), None)
        if parent is None:
            return None
    return parent


class Track:
    """The sample tables of one trak: where each chunk is and which samples it holds."""

    def __init__(self, buf, trak, number):
        self.name = f'track {number}'
        stbl = find(buf, trak, b'mdia', b'minf', b'stbl')
        if stbl is None:
            raise Fail(f'{self.name}: no stbl')
        if find(buf, stbl, b'stz2'):
            raise Fail(f'{self.name}: compact sample sizes (stz2) are not supported')
        stsz, stsc = find(buf, stbl, b'stsz'), find(buf, stbl, b'stsc')
        co = find(buf, stbl, b'stco') or find(buf, stbl, b'co64')
        if stsz is None or stsc is None or co is None:
            raise Fail(f'{self.name}: stsz, stsc or stco/co64 missing')

        # stsz: version/flags, sample_size, sample_count, then one size per sample if sample_size is 0.
        const, count = struct.unpack_from('>II', buf, stsz.payload + 4)
        self.stsz_entries = stsz.payload + 12
        self.sizes = [const] * count if const else \
            list(struct.unpack_from(f'>{count}I', buf, self.stsz_entries))
        self.const_size = const

        # stco/co64: version/flags, entry_count, offsets (32 or 64 bits).
        self.co_width = 4 if co.type == b'stco' else 8
        (n_chunks,) = struct.unpack_from('>I', buf, co.payload + 4)
        self.co_entries = co.payload + 8
        offsets = struct.unpack_from(f'>{n_chunks}{"I" if self.co_width == 4 else "Q"}', buf,
                                     self.co_entries)

        # stsc runs (first_chunk, samples_per_chunk, description) give each chunk its run of samples.
        (n_runs,) = struct.unpack_from('>I', buf, stsc.payload + 4)
        runs = [struct.unpack_from('>III', buf, stsc.payload + 8 + 12 * i) for i in range(n_runs)]
        self.chunks = []  # (original offset, first sample, sample count)
        sample, run = 0, 0
        for c in range(n_chunks):
            while run + 1 < n_runs and runs[run + 1][0] <= c + 1:
                run += 1
            per = runs[run][1] if n_runs else 0
            self.chunks.append((offsets[c], sample, per))
            sample += per
        if sample != count:
            raise Fail(f'{self.name}: stsc maps {sample} samples but stsz has {count}')

        # An avc1/avc3 sample entry holds avcC after the 78 bytes of VisualSampleEntry fields.
        self.avcc = None
        stsd = find(buf, stbl, b'stsd')
        entries = boxes(buf, stsd.payload + 8, stsd.end) if stsd else []
        if entries and entries[0].type in (b'avc1', b'avc3'):
            entry = entries[0]
            self.avcc = next((b for b in boxes(buf, entry.payload + 78, entry.end) if b.type == b'avcC'),
                             None)
            if self.avcc is None:
                raise Fail(f'{self.name}: {entry.type.decode()} sample entry without avcC')


def relength(data, old, new, where):
    """data (one sample) with each old-byte NAL length field replaced by a new-byte one."""
    out = bytearray()
    limit = (1 << (8 * new)) - 1
    pos = 0
    while pos < len(data):
        if pos + old > len(data):
            raise Fail(f'{where}: truncated NAL length field')
        n = int.from_bytes(data[pos:pos + old], 'big')
        pos += old
        if pos + n > len(data):
            raise Fail(f'{where}: NAL unit of {n} bytes runs past the end of the sample')
        if n > limit:
            raise Fail(f'{where}: a {n}-byte NAL unit does not fit a {new}-byte length field (max {limit});'
                       ' use a smaller or lower-bitrate input, or SIZE=2')
        out += n.to_bytes(new, 'big')
        out += data[pos:pos + n]
        pos += n
    return bytes(out)


def rewrite(buf, size):
    top = boxes(buf, 0, len(buf))
    types = [b.type for b in top]
    if b'moof' in types:
        raise Fail('fragmented MP4 (moof) is not supported')
    if types.count(b'moov') != 1 or types.count(b'mdat') != 1:
        raise Fail(f'need exactly one moov and one mdat, found {types.count(b"moov")} and '
                   f'{types.count(b"mdat")}')
    moov = top[types.index(b'moov')]
    mdat = top[types.index(b'mdat')]
    traks = [b for b in boxes(buf, moov.payload, moov.end) if b.type == b'trak']
    tracks = [Track(buf, t, i + 1) for i, t in enumerate(traks)]
    if not any(t.avcc for t in tracks):
        raise Fail('no H.264 (avc1/avc3 with avcC) track')

    # Rebuild the mdat payload chunk by chunk, in the original file order of all tracks' chunks, so
    # interleaving stays as ffmpeg wrote it. Chunk offsets are relative to the payload for now.
    order = sorted(((off, ti, ci) for ti, t in enumerate(tracks) for ci, (off, _, _) in enumerate(t.chunks)))
    payload = bytearray()
    new_rel = {}  # (track index, chunk index) -> offset in payload
    for off, ti, ci in order:
        t = tracks[ti]
        _, first, count = t.chunks[ci]
        new_rel[ti, ci] = len(payload)
        pos = off
        for s in range(first, first + count):
            data = buf[pos:pos + t.sizes[s]]
            if len(data) != t.sizes[s]:
                raise Fail(f'{t.name}: sample {s + 1} lies past the end of the file')
            pos += t.sizes[s]
            if t.avcc:
                old = (buf[t.avcc.payload + 4] & 3) + 1
                data = relength(data, old, size, f'{t.name} sample {s + 1}')
                t.sizes[s] = len(data)
            payload += data

    # Boxes before the mdat keep their sizes (the moov included), so the mdat starts where it did.
    hdr = 8 if len(payload) + 8 <= 0xFFFFFFFF else 16
    base = mdat.start + hdr
    mdat_hdr = struct.pack('>I4s', len(payload) + 8, b'mdat') if hdr == 8 else \
        struct.pack('>I4sQ', 1, b'mdat', len(payload) + 16)

    # Patch the moov in place: same entry counts, so same size.
    new_moov = bytearray(buf[moov.start:moov.end])
    rel = lambda pos: pos - moov.start  # noqa: E731
    for ti, t in enumerate(tracks):
        for ci in range(len(t.chunks)):
            off = base + new_rel[ti, ci]
            at = rel(t.co_entries) + t.co_width * ci
            if t.co_width == 4:
                if off > 0xFFFFFFFF:
                    raise Fail(f'{t.name}: chunk offset {off} overflows a 32-bit stco')
                struct.pack_into('>I', new_moov, at, off)
            else:
                struct.pack_into('>Q', new_moov, at, off)
        if t.avcc:
            if t.const_size:
                raise Fail(f'{t.name}: constant sample size in stsz cannot describe the rewritten samples')
            struct.pack_into(f'>{len(t.sizes)}I', new_moov, rel(t.stsz_entries), *t.sizes)
            new_moov[rel(t.avcc.payload + 4)] = (new_moov[rel(t.avcc.payload + 4)] & 0xFC) | (size - 1)

    out = bytearray()
    for b in top:
        if b is mdat:
            out += mdat_hdr + payload
        elif b is moov:
            out += new_moov
        else:
            out += buf[b.start:b.end]
    return out


def main(argv):
    if len(argv) != 4 or argv[3] not in ('1', '2'):
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(argv[1], 'rb') as f:
            buf = f.read()
        out = rewrite(buf, int(argv[3]))
        with open(argv[2], 'wb') as f:
            f.write(out)
    except OSError as e:  # names the file itself
        sys.stderr.write(f'{PROG}: {e}\n')
        return 1
    except (Fail, struct.error) as e:  # struct.error: a table claims more entries than the file holds
        sys.stderr.write(f'{PROG}: {argv[1]}: {e}\n')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
