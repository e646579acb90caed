/* Frame bytes of MPEG-TS sources (ITU-T H.222.0). A PES is spread over the transport packets
 * of its PID, each behind a 4-byte header and an optional adaptation field, with the PES header
 * in front of the first. The index records per frame only where its PES starts (the offset of
 * the packet that starts it), how many bytes of that PES's payload come before the frame, and
 * the frame's size; tsread_es walks the PID's packets from there and strips the headers, so a
 * frame costs one index record however many packets it spans. Packets are 188 bytes, or 192
 * (.m2ts: a 4-byte timestamp before each) or 204 (16 bytes of FEC after each) apart; offsets
 * are those of the 0x47 sync byte. Pure: reads go through a callback. */
#ifndef HLSFS_TSREAD_H
#define HLSFS_TSREAD_H

#include <stddef.h>
#include <stdint.h>

/* Reads exactly n bytes at off into buf: 0, or a negative errno. */
typedef int (*tsread_fn)(void *opaque, uint8_t *buf, size_t n, uint64_t off);

struct tsread_src {
	tsread_fn read;
	void *opaque;
	uint64_t size;        /* bytes in the file */
	unsigned stride;      /* 188, 192 or 204 */
	/* The reader's cache of the bytes it read last (free() buf when done; zeroes to start):
	 * frames read in file order, as a segment reads them, read the file about once. */
	uint8_t *buf;
	size_t cap, len;
	uint64_t at;
};

/* Bytes read from the file at once, at most (a multiple of every stride's packet count). */
#define TSREAD_CHUNK (188u * 192u * 2u)

/* Copies size bytes of the elementary stream carried by pid into out: the PES that starts in
 * the packet at pos (its payload_unit_start_indicator set), from byte skip of that PES's
 * payload on, continuing into the PID's next PES when the frame runs past the end of this one.
 * A bounded PES ends at its PES_packet_length; bytes after it in its last packet are ignored.
 * Returns 0; -EILSEQ when the packets are damaged there (no sync byte, transport_error_indicator,
 * a continuity counter that jumps, a malformed PES header, no PES start at pos, or the file
 * ends first), with *bad the offset of the offending packet; or the read callback's error. */
int tsread_es(struct tsread_src *s, uint16_t pid, uint64_t pos, uint32_t skip, uint8_t *out, uint32_t size,
	      uint64_t *bad);

/* The stride of a file whose head is head[0..n): 188, 192 or 204 when the sync bytes of eight
 * packets in a row line up at that distance (the first where they do), with *first the first
 * sync byte's offset; 0 when none does. */
unsigned tsread_stride(const uint8_t *head, size_t n, uint64_t *first);

#endif
