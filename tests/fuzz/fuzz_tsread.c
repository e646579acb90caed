/* Fuzzes the MPEG-TS frame reader: a file (raw bytes, or a stream written by tsmux for two PIDs
 * and then damaged at places drawn from the input), a stride, PID, start, skip and size. What
 * must hold: tsread_es never reads outside the file (the read callback checks, ASan watches the
 * buffers) nor writes past size bytes; it returns 0, -EILSEQ or -EINVAL (bad stride) only; a
 * refusal names a packet offset in the file on the packet grid of pos; and whatever it returns
 * with 0 is exactly what an independent reader finds: the PID's packets from pos on, checked,
 * joined per PES, PES headers parsed and bounded PES trimmed (written here from H.222.0, not
 * from tsread.c). Reading twice, warm cache or cold, gives the same answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tsmux.h"
#include "tsread.h"

struct mem {
	const uint8_t *p;
	size_t n;
};

static int mem_read(void *opaque, uint8_t *buf, size_t n, uint64_t off)
{
	const struct mem *m = opaque;
	FUZZ_CHECK(off <= m->n && n <= m->n - off);  /* never asks past the end of the file */
	memcpy(buf, m->p + off, n);
	return 0;
}

/* The reference: the ES bytes of pid from the PES starting at pos, as far as they are sound.
 * Returns how many bytes it found (into es, at most cap). */
static size_t ref_es(const uint8_t *f, size_t n, unsigned stride, uint16_t pid, uint64_t pos, uint8_t *es, size_t cap)
{
	/* 1: the payloads of the PID's packets, each with its start flag, until a damaged packet */
	uint8_t *pay = malloc(n + 1);
	size_t *starts = malloc(sizeof(size_t) * (n / 188 + 2)), npay = 0, nstart = 0, got = 0;
	int last_cc = -1;

	for (uint64_t at = pos; at + 188 <= n; at += stride) {
		const uint8_t *p = f + at;
		unsigned afc, cc, alen = 0, off = 4;
		int disc = 0;
		if (p[0] != 0x47)
			break;
		if ((unsigned)((p[1] & 0x1f) << 8 | p[2]) != pid) {
			if (at == pos)
				break;
			continue;
		}
		if ((p[1] & 0x80) || (p[3] & 0xc0))
			break;
		afc = p[3] >> 4 & 3;
		cc = p[3] & 15;
		if (afc == 2 || afc == 3) {
			alen = p[4];
			if ((afc == 2 && alen > 183) || (afc == 3 && alen > 182))
				break;
			disc = alen > 0 && (p[5] & 0x80);
			off = 5 + alen;
		}
		if (afc == 0 || afc == 2) {
			if (at == pos)
				break;
			continue;
		}
		if (last_cc < 0 ? !(p[1] & 0x40) : (!disc && cc != (unsigned)((last_cc + 1) & 15)))
			break;
		last_cc = (int)cc;
		if (p[1] & 0x40)
			starts[nstart++] = npay;
		memcpy(pay + npay, p + off, 188 - off);
		npay += 188 - off;
	}
	starts[nstart] = npay;
	/* 2: each PES: header, then its ES bytes (a bounded one up to its length) */
	for (size_t k = 0; k < nstart && got < cap; k++) {
		const uint8_t *b = pay + starts[k];
		size_t len = starts[k + 1] - starts[k], hl, es_len, plen;
		int complete = k + 1 < nstart;  /* another PES follows: this one ended */
		if (len < 9 || b[0] || b[1] || b[2] != 1 || (b[6] & 0xc0) != 0x80)
			break;
		hl = 9 + (size_t)b[8];
		plen = (size_t)b[4] << 8 | b[5];
		if (plen && plen < 3 + (size_t)b[8])
			break;
		if (len < hl)
			break;
		if (plen) {
			es_len = plen + 6 - hl;
			if (es_len > len - hl) {
				/* cut short: its bytes are sound only up to where it was cut, and nothing after */
				es_len = len - hl;
				complete = 0;
				memcpy(es + got, b + hl, es_len < cap - got ? es_len : cap - got);
				got += es_len < cap - got ? es_len : cap - got;
				break;
			}
		} else {
			es_len = len - hl;
		}
		memcpy(es + got, b + hl, es_len < cap - got ? es_len : cap - got);
		got += es_len < cap - got ? es_len : cap - got;
		(void)complete;
	}
	free(pay);
	free(starts);
	return got;
}

/* A valid stream of two PIDs written by tsmux, from sizes drawn from the input. */
static uint8_t *make_stream(struct fz *z, unsigned stride, size_t *size, uint64_t *starts, unsigned *nstarts)
{
	unsigned npes = (unsigned)fz_range(z, 1, 8), cc[2] = { 0, 0 };
	uint8_t *f = NULL;
	size_t nf = 0;

	*nstarts = 0;
	for (unsigned i = 0; i < npes; i++) {
		unsigned w = fz_u8(z) & 1;
		uint16_t pid = w ? 0x101 : 0x100;
		size_t es = (size_t)fz_range(z, 0, 1500);
		uint8_t *pes = malloc(19 + es + 1);
		size_t h = tsmux_pes_header(w ? 0xc0 : 0xe0, fz_u32(z), fz_u8(z) & 1, fz_u32(z), es, pes);
		uint64_t min = tsmux_packets(h + es, false), packets = min + fz_range(z, 0, 2);
		struct ts_pes_out o = { .pid = pid, .cc = cc[w] };
		uint8_t *pk;
		if (packets > h + es)
			packets = min;
		for (size_t k = 0; k < es; k++)
			pes[h + k] = fz_u8(z);
		pk = malloc(packets * 188);
		tsmux_packetize(&o, pes, h + es, packets, pk);
		f = realloc(f, (nf + packets) * stride);
		for (uint64_t k = 0; k < packets; k++) {
			uint8_t *d = f + (nf + k) * stride;
			unsigned lead = stride == 192 ? 4 : 0;
			memset(d, 0xab, stride);
			memcpy(d + lead, pk + k * 188, 188);
			if (k == 0 && *nstarts < 16)
				starts[(*nstarts)++] = (nf + k) * stride + lead;
		}
		nf += packets;
		cc[w] = (unsigned)((cc[w] + packets) & 15);
		free(pk);
		free(pes);
	}
	*size = nf * stride;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned strides[] = { 188, 192, 204, 100 };
	struct fz z;
	uint8_t *file, *out, *out2, *ref;
	size_t n;
	unsigned stride, mode;
	uint16_t pid;
	uint64_t pos, bad = 0, bad2 = 0, starts[16];
	uint32_t skip, want;
	int ret, ret2;

	fz_init(&z, data, size);
	mode = fz_u8(&z);
	stride = strides[mode >> 1 & 3];
	if (mode & 1) {
		unsigned ns, damage;
		file = make_stream(&z, stride == 100 ? 188 : stride, &n, starts, &ns);
		pid = fz_u8(&z) & 1 ? 0x101 : 0x100;
		pos = ns ? starts[fz_range(&z, 0, ns - 1)] : 0;
		damage = (unsigned)fz_range(&z, 0, 3);
		for (unsigned d = 0; d < damage && n; d++)
			file[fz_range(&z, 0, n - 1)] ^= (uint8_t)(1u << fz_range(&z, 0, 7));
	} else {
		n = (size_t)fz_range(&z, 0, 4096);
		file = malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			file[i] = fz_u8(&z);
		pid = (uint16_t)(fz_u16(&z) & 0x1fff);
		pos = fz_range(&z, 0, n + 200);
	}
	skip = (uint32_t)fz_range(&z, 0, 2000);
	want = (uint32_t)fz_range(&z, 0, 3000);
	out = malloc(want + 1);
	out2 = malloc(want + 1);
	ref = malloc((size_t)skip + want + 1);
	{
		struct mem m = { file, n };
		struct tsread_src s = { .read = mem_read, .opaque = &m, .size = n, .stride = stride };
		struct tsread_src c = { .read = mem_read, .opaque = &m, .size = n, .stride = stride };
		out[want] = 0x5c;
		ret = tsread_es(&s, pid, pos, skip, out, want, &bad);
		FUZZ_CHECK(out[want] == 0x5c);  /* never past size */
		FUZZ_CHECK(ret == 0 || ret == -EILSEQ || (ret == -EINVAL && stride == 100));
		if (ret == -EILSEQ) {
			FUZZ_CHECK(bad >= pos && (bad <= n + stride || bad == pos));
			FUZZ_CHECK((bad - pos) % stride == 0);
		}
		if (getenv("FUZZ_TSREAD_VERBOSE"))
			fprintf(stderr, "stride %u pid %u pos %llu skip %u size %u: %d\n", stride, pid,
				(unsigned long long)pos, skip, want, ret);
		if (ret == 0) {
			size_t got = ref_es(file, n, stride, pid, pos, ref, (size_t)skip + want);
			FUZZ_CHECK(got == (size_t)skip + want);
			FUZZ_CHECK(!memcmp(out, ref + skip, want));
		}
		/* warm cache, then a cold reader: the same answer */
		ret2 = tsread_es(&s, pid, pos, skip, out2, want, &bad2);
		FUZZ_CHECK(ret2 == ret && (ret || !memcmp(out, out2, want)) && (ret != -EILSEQ || bad2 == bad));
		ret2 = tsread_es(&c, pid, pos, skip, out2, want, &bad2);
		FUZZ_CHECK(ret2 == ret && (ret || !memcmp(out, out2, want)) && (ret != -EILSEQ || bad2 == bad));
		free(s.buf);
		free(c.buf);
	}
	free(out);
	free(out2);
	free(ref);
	free(file);
	return 0;
}
