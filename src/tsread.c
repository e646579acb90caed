/* Walks the transport packets of one PID and strips their headers and the PES headers, giving
 * back the elementary-stream bytes of a frame. Every packet it uses is checked (sync byte,
 * transport_error_indicator, scrambling, continuity counter, adaptation field length, PES
 * header), so a damaged packet is named, never read as frame bytes. */
#include "tsread.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TS_SIZE 188
#define PES_FIXED 9   /* start code, stream_id, PES_packet_length, two flag bytes, header length */

/* The 188 bytes of the packet at `at`, from the cache or read into it. */
static int packet_at(struct tsread_src *s, uint64_t at, const uint8_t **p)
{
	size_t n;
	int ret;

	if (s->buf && at >= s->at && at - s->at + TS_SIZE <= s->len) {
		*p = s->buf + (at - s->at);
		return 0;
	}
	n = s->size - at < TSREAD_CHUNK ? (size_t)(s->size - at) : TSREAD_CHUNK;
	if (n > s->cap) {
		uint8_t *b = realloc(s->buf, TSREAD_CHUNK);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = TSREAD_CHUNK;
	}
	s->len = 0;
	if ((ret = s->read(s->opaque, s->buf, n, at)) < 0)
		return ret;
	s->at = at;
	s->len = n;
	*p = s->buf;
	return 0;
}

int tsread_es(struct tsread_src *s, uint16_t pid, uint64_t pos, uint32_t skip, uint8_t *out, uint32_t size,
	      uint64_t *bad)
{
	enum { PES_HEADER, PES_BODY, PES_DONE } st = PES_HEADER;
	uint8_t hdr[PES_FIXED + 255];
	size_t have = 0, need = PES_FIXED;
	uint64_t left = 0, at = pos, to_skip = skip;  /* left: ES bytes the bounded PES still holds */
	uint32_t got = 0;
	bool first = true, bounded = false;
	unsigned last_cc = 0;
	int ret;

	*bad = pos;
	if (s->stride != 188 && s->stride != 192 && s->stride != 204)
		return -EINVAL;
	for (;; at += s->stride) {
		const uint8_t *p;
		unsigned ppid, afc, cc, off = 4;
		bool pusi, disc = false;

		*bad = at;
		if (at > s->size || s->size - at < TS_SIZE)
			return -EILSEQ;  /* the file ends before the frame does */
		if ((ret = packet_at(s, at, &p)) < 0)
			return ret;
		if (p[0] != 0x47)
			return -EILSEQ;
		ppid = (unsigned)(p[1] & 0x1f) << 8 | p[2];
		if (ppid != pid) {
			if (first)
				return -EILSEQ;
			continue;
		}
		if (p[1] & 0x80)
			return -EILSEQ;  /* transport_error_indicator */
		if (p[3] & 0xc0)
			return -EILSEQ;  /* scrambled */
		pusi = (p[1] & 0x40) != 0;
		afc = (p[3] >> 4) & 3;
		cc = p[3] & 15;
		if (afc & 2) {
			unsigned alen = p[4];
			if (alen > (afc == 2 ? 183u : 182u))
				return -EILSEQ;
			if (alen > 0)
				disc = (p[5] & 0x80) != 0;
			off = 5 + alen;
		}
		if (!(afc & 1)) {
			if (first)
				return -EILSEQ;
			continue;  /* no payload: the counter stays */
		}
		if (first) {
			if (!pusi)
				return -EILSEQ;
		} else if (!disc && cc != ((last_cc + 1) & 15)) {
			return -EILSEQ;
		}
		last_cc = cc;
		if (pusi) {
			/* A new PES: the one before must have been whole. */
			if (!first && (st == PES_HEADER || (st == PES_BODY && bounded)))
				return -EILSEQ;
			st = PES_HEADER;
			have = 0;
			need = PES_FIXED;
		} else if (first) {
			return -EILSEQ;
		}
		first = false;
		while (off < TS_SIZE && st != PES_DONE) {
			size_t n = TS_SIZE - off;
			if (st == PES_HEADER) {
				if (n > need - have)
					n = need - have;
				memcpy(hdr + have, p + off, n);
				have += n;
				off += (unsigned)n;
				if (have < need)
					break;
				if (need == PES_FIXED) {
					unsigned len = (unsigned)hdr[4] << 8 | hdr[5];
					if (hdr[0] || hdr[1] || hdr[2] != 1 || (hdr[6] & 0xc0) != 0x80)
						return -EILSEQ;
					if (len && len < 3u + hdr[8])
						return -EILSEQ;
					bounded = len != 0;
					left = bounded ? len - 3u - hdr[8] : 0;
					need = PES_FIXED + hdr[8];
					if (have < need)
						continue;
				}
				st = bounded && left == 0 ? PES_DONE : PES_BODY;
				continue;
			}
			if (bounded && n > left)
				n = (size_t)left;
			if (to_skip) {
				size_t k = n < to_skip ? n : (size_t)to_skip;
				to_skip -= k;
				off += (unsigned)k;
				n -= k;
				if (bounded)
					left -= k;
			}
			if (n > size - got)
				n = size - got;
			memcpy(out + got, p + off, n);
			got += (uint32_t)n;
			off += (unsigned)n;
			if (bounded && (left -= n) == 0)
				st = PES_DONE;
			if (got == size && to_skip == 0)
				return 0;
		}
		if (got == size && to_skip == 0)
			return 0;
	}
}

unsigned tsread_stride(const uint8_t *head, size_t n, uint64_t *first)
{
	static const unsigned strides[] = { 188, 192, 204 };

	for (size_t k = 0; k < sizeof(strides) / sizeof(strides[0]); k++) {
		unsigned st = strides[k];
		for (size_t f = 0; f < st && f + 7 * (size_t)st < n; f++) {
			unsigned i = 0;
			while (i < 8 && head[f + i * (size_t)st] == 0x47)
				i++;
			if (i == 8) {
				*first = f;
				return st;
			}
		}
	}
	return 0;
}
