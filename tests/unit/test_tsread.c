/* tsread_es puts a PID's elementary stream back together from transport packets written by our
 * own muxer (tsmux), interleaved with another PID's, for 188-, 192- and 204-byte packets: every
 * frame, from any offset in its PES, across PES boundaries, bounded (audio) and unbounded (video)
 * PES; and every kind of damage is refused with the offset of the damaged packet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tsmux.h"
#include "tsread.h"

#define NPES 12

struct mem {
	const uint8_t *p;
	size_t n;
};

static int mem_read(void *opaque, uint8_t *buf, size_t n, uint64_t off)
{
	const struct mem *m = opaque;
	if (off > m->n || n > m->n - off)
		return -EIO;
	memcpy(buf, m->p + off, n);
	return 0;
}

struct stream {
	uint8_t *es;            /* every payload of the PID, concatenated */
	size_t es_size;
	uint64_t pes_pos[NPES]; /* offset of the packet that starts each PES (its sync byte) */
	size_t pes_off[NPES];   /* where each PES's payload starts in es */
	size_t pes_size[NPES];
};

/* Packetizes NPES PES of stream_id sid on pid into packets (appended to pk, *np packets). */
static void make_pes(uint16_t pid, uint8_t sid, unsigned seed, struct stream *st, uint8_t **pk, size_t *np,
		     uint16_t **pids)
{
	unsigned cc = 3;
	st->es = NULL;
	st->es_size = 0;
	for (int i = 0; i < NPES; i++) {
		size_t size = 50 + (size_t)((i * 997 + seed * 131) % 3000);
		uint8_t *pes = malloc(19 + size);
		size_t h = tsmux_pes_header(sid, 900000 + (uint64_t)i * 3000, false, 0, size, pes);
		uint64_t packets = tsmux_packets(h + size, false) + (i % 3 == 0);
		struct ts_pes_out o = { .pid = pid, .cc = cc };
		st->es = realloc(st->es, st->es_size + size);
		for (size_t k = 0; k < size; k++)
			pes[h + k] = st->es[st->es_size + k] = (uint8_t)(k * 13 + i * 7 + seed);
		st->pes_off[i] = st->es_size;
		st->pes_size[i] = size;
		st->es_size += size;
		*pk = realloc(*pk, (*np + packets) * TS_PACKET_SIZE);
		*pids = realloc(*pids, (*np + packets) * sizeof(**pids));
		tsmux_packetize(&o, pes, h + size, packets, *pk + *np * TS_PACKET_SIZE);
		for (uint64_t k = 0; k < packets; k++)
			(*pids)[*np + k] = (uint16_t)i;  /* which PES the packet belongs to */
		*np += packets;
		cc = (unsigned)((cc + packets) & 15);
		free(pes);
	}
}

/* Lays the packets of two PIDs out interleaved (two of a, one of b) at the given stride. */
static uint8_t *interleave(unsigned stride, uint8_t *a, size_t na, uint16_t *ia, struct stream *sa, uint8_t *b,
			   size_t nb, uint16_t *ib, struct stream *sb, size_t *size)
{
	size_t total = na + nb, ka = 0, kb = 0, at = 0;
	uint8_t *f = calloc(total, stride);
	unsigned lead = stride == 192 ? 4 : 0;
	int last_a = -1, last_b = -1;

	while (ka < na || kb < nb) {
		int take_a = ka < na && (kb >= nb || (ka + kb) % 3 != 2);
		uint8_t *dst = f + at * stride;
		memset(dst, 0x5a, stride);  /* the m2ts timestamp, the FEC bytes: anything */
		if (take_a) {
			memcpy(dst + lead, a + ka * TS_PACKET_SIZE, TS_PACKET_SIZE);
			if (ia[ka] != last_a)
				sa->pes_pos[last_a = ia[ka]] = at * stride + lead;
			ka++;
		} else {
			memcpy(dst + lead, b + kb * TS_PACKET_SIZE, TS_PACKET_SIZE);
			if (ib[kb] != last_b)
				sb->pes_pos[last_b = ib[kb]] = at * stride + lead;
			kb++;
		}
		at++;
	}
	*size = total * stride;
	return f;
}

static void check_stream(struct tsread_src *s, uint16_t pid, const struct stream *st)
{
	uint8_t *out = malloc(st->es_size + 1);
	uint64_t bad;

	for (int i = 0; i < NPES; i++) {
		size_t rest = st->es_size - st->pes_off[i];
		/* the whole PES, a frame inside it, and a run into the PES after it */
		CHECK_EQ(tsread_es(s, pid, st->pes_pos[i], 0, out, (uint32_t)st->pes_size[i], &bad), 0);
		CHECK(!memcmp(out, st->es + st->pes_off[i], st->pes_size[i]));
		CHECK_EQ(tsread_es(s, pid, st->pes_pos[i], 17, out, (uint32_t)(st->pes_size[i] - 20), &bad), 0);
		CHECK(!memcmp(out, st->es + st->pes_off[i] + 17, st->pes_size[i] - 20));
		if (i + 1 < NPES) {
			size_t n = st->pes_size[i] + st->pes_size[i + 1] / 2 - 9;
			CHECK_EQ(tsread_es(s, pid, st->pes_pos[i], 9, out, (uint32_t)n, &bad), 0);
			CHECK(!memcmp(out, st->es + st->pes_off[i] + 9, n));
		}
		/* past the end of the stream: the file ends first */
		CHECK_EQ(tsread_es(s, pid, st->pes_pos[i], 0, out, (uint32_t)rest + 1, &bad), -EILSEQ);
		/* not where a PES starts, or another PID's packet */
		CHECK_EQ(tsread_es(s, pid, st->pes_pos[i] + s->stride, 0, out, 1, &bad), -EILSEQ);
		CHECK_EQ(tsread_es(s, (uint16_t)(pid ^ 1), st->pes_pos[i], 0, out, 1, &bad), -EILSEQ);
		CHECK_EQ(bad, st->pes_pos[i]);
	}
	free(out);
}

/* Damages one packet in the middle of PES 5 of stream a and checks that reading PES 4 still
 * works, PES 5 is refused at that packet, and PES 6 reads again. */
static void check_damage(unsigned stride, uint8_t *file, size_t size, const struct stream *a, uint16_t pid,
			 void (*damage)(uint8_t *p), const char *what)
{
	struct mem m = { file, size };
	struct tsread_src s = { .read = mem_read, .opaque = &m, .size = size, .stride = stride };
	uint8_t *out = malloc(a->es_size);
	uint64_t victim = 0, at, bad = 0;
	int seen = 0;

	/* the third packet of PES 5 on this PID */
	for (at = a->pes_pos[5]; at < a->pes_pos[6]; at += stride)
		if (((file[at + 1] & 0x1f) << 8 | file[at + 2]) == pid && ++seen == 3) {
			victim = at;
			break;
		}
	CHECK(victim);
	uint8_t save[TS_PACKET_SIZE];
	memcpy(save, file + victim, TS_PACKET_SIZE);
	damage(file + victim);
	CHECK_EQ(tsread_es(&s, pid, a->pes_pos[4], 0, out, (uint32_t)a->pes_size[4], &bad), 0);
	CHECK(!memcmp(out, a->es + a->pes_off[4], a->pes_size[4]));
	CHECK_EQ(tsread_es(&s, pid, a->pes_pos[5], 0, out, (uint32_t)a->pes_size[5], &bad), -EILSEQ);
	if (bad != victim)
		fprintf(stderr, "damage '%s': bad %llu, victim %llu\n", what, (unsigned long long)bad,
			(unsigned long long)victim);
	CHECK_EQ(bad, victim);
	CHECK_EQ(tsread_es(&s, pid, a->pes_pos[6], 0, out, (uint32_t)a->pes_size[6], &bad), 0);
	CHECK(!memcmp(out, a->es + a->pes_off[6], a->pes_size[6]));
	memcpy(file + victim, save, TS_PACKET_SIZE);
	free(out);
	free(s.buf);
}

static void no_sync(uint8_t *p) { p[0] = 0x46; }
static void tei(uint8_t *p) { p[1] |= 0x80; }
static void cc_jump(uint8_t *p) { p[3] = (uint8_t)((p[3] & 0xf0) | ((p[3] + 5) & 15)); }
static void scrambled(uint8_t *p) { p[3] |= 0x80; }
static void new_start(uint8_t *p) { p[1] |= 0x40; }  /* a PES start in the middle: the PES before is cut */

int main(void)
{
	static const unsigned strides[] = { 188, 192, 204 };
	uint8_t *pa = NULL, *pb = NULL;
	uint16_t *ia = NULL, *ib = NULL;
	size_t na = 0, nb = 0;
	struct stream a, b;

	make_pes(0x100, 0xe0, 1, &a, &pa, &na, &ia);  /* video: unbounded PES */
	make_pes(0x101, 0xc0, 2, &b, &pb, &nb, &ib);  /* audio: bounded PES */
	for (size_t k = 0; k < sizeof(strides) / sizeof(strides[0]); k++) {
		unsigned stride = strides[k];
		size_t size;
		uint8_t *file = interleave(stride, pa, na, ia, &a, pb, nb, ib, &b, &size);
		struct mem m = { file, size };
		struct tsread_src s = { .read = mem_read, .opaque = &m, .size = size, .stride = stride };
		uint64_t first = 99;

		CHECK_EQ(tsread_stride(file, size, &first), stride);
		CHECK_EQ(first, stride == 192 ? 4 : 0);
		check_stream(&s, 0x100, &a);
		check_stream(&s, 0x101, &b);
		free(s.buf);
		check_damage(stride, file, size, &a, 0x100, no_sync, "sync");
		check_damage(stride, file, size, &a, 0x100, tei, "tei");
		check_damage(stride, file, size, &a, 0x100, cc_jump, "cc");
		check_damage(stride, file, size, &a, 0x100, scrambled, "scrambled");
		check_damage(stride, file, size, &b, 0x101, new_start, "pusi");
		/* A file cut short in the middle of the last PES. */
		{
			struct tsread_src c = s;
			uint8_t *out = malloc(b.pes_size[NPES - 1]);
			uint64_t bad;
			c.buf = NULL;
			c.cap = c.len = 0;
			c.size = size - 3 * stride;
			CHECK_EQ(tsread_es(&c, 0x101, b.pes_pos[NPES - 1], 0, out, (uint32_t)b.pes_size[NPES - 1], &bad),
				 -EILSEQ);
			CHECK(bad >= c.size - stride);
			free(out);
			free(c.buf);
		}
		free(file);
	}
	{
		uint8_t junk[4096];
		uint64_t first;
		memset(junk, 0x47, 100);
		for (size_t i = 100; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 31 + 7) == 0x47 ? 0 : (uint8_t)(i * 31 + 7);
		CHECK_EQ(tsread_stride(junk, sizeof(junk), &first), 0);
	}
	free(pa);
	free(pb);
	free(ia);
	free(ib);
	free(a.es);
	free(b.es);
	return check_report("tsread");
}
