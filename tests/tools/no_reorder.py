#!/usr/bin/env python3
# tests/tools/no_reorder.py: rewrites an x264 MP4 so its SPS no longer says how many frames its decoder must
# hold back for reordering (VUI bitstream_restriction_flag 0), as many hardware and broadcast encoders write
# H.264 with B-frames. x264 always writes the flag, and no encoder at hand leaves it out.
"""Usage: python3 no_reorder.py FILE.mp4      (rewritten in place)

The first SPS of the avcC box gets its bitstream_restriction_flag cleared; the bits of the fields it
announced stay where they were and are read as the SPS's trailing bits. The flag's position comes from
ffmpeg's trace_headers bitstream filter (bits of the NAL unit without its emulation prevention bytes). Exits 1 with a message when the file is not such an MP4.
"""
import re
import subprocess
import sys


def fail(msg):
    print(f'no_reorder.py: {msg}', file=sys.stderr)
    sys.exit(1)


def flag_bit(path):
    """The flag's bit position in the first SPS and its value, as trace_headers reads them."""
    out = subprocess.run(['ffmpeg', '-v', 'trace', '-nostdin', '-i', path, '-c', 'copy', '-bsf:v', 'trace_headers',
                          '-frames:v', '1', '-f', 'null', '-'], capture_output=True, text=True).stderr
    m = re.search(r'\] (\d+)\s+bitstream_restriction_flag\s+([01]) = ([01])', out)
    if not m:
        fail(f'{path}: trace_headers shows no bitstream_restriction_flag (no VUI?)')
    return int(m.group(1)), int(m.group(3))


def main():
    if len(sys.argv) != 2:
        fail('usage: no_reorder.py FILE.mp4')
    path = sys.argv[1]
    pos, value = flag_bit(path)
    if value != 1:
        fail(f'{path}: bitstream_restriction_flag is already {value}')
    with open(path, 'rb') as f:
        buf = bytearray(f.read())
    at = buf.find(b'avcC')
    if at < 4 or buf.find(b'avcC', at + 4) >= 0:
        fail(f'{path}: not one avcC box')
    p = at + 4 + 5  # version, profile, compatibility, level, length size
    if buf[p] & 0x1f < 1:
        fail(f'{path}: avcC has no SPS')
    sps_len = int.from_bytes(buf[p + 1:p + 3], 'big')
    sps = p + 3
    # the byte of the SPS as stored that holds RBSP byte pos // 8: emulation prevention bytes (0x03 after two
    # zero bytes) are not counted
    raw, rbsp, zeros = sps, 0, 0
    while True:
        if raw >= sps + sps_len:
            fail(f'{path}: the flag lies past the SPS ({pos} bits, {sps_len} bytes)')
        if zeros >= 2 and buf[raw] == 3:
            zeros = 0
            raw += 1
            continue
        if rbsp == pos // 8:
            break
        zeros = zeros + 1 if buf[raw] == 0 else 0
        rbsp += 1
        raw += 1
    mask = 0x80 >> (pos % 8)
    if not buf[raw] & mask:
        fail(f'{path}: bit {pos} of the SPS is not the flag trace_headers shows')
    buf[raw] &= ~mask & 0xff
    if buf[raw] <= 3 and raw >= 2 and buf[raw - 2:raw] == b'\x00\x00':
        fail(f'{path}: clearing the flag would make a start code or an emulation prevention byte')
    with open(path, 'wb') as f:
        f.write(buf)
    if flag_bit(path) != (pos, 0):
        fail(f'{path}: the flag still reads 1 after the rewrite')


main()
