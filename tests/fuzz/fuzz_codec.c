/* Fuzzes the codec byte work the muxer's sizes rest on: avcC and AudioSpecificConfig parsing,
 * NAL counting and the Annex B rewrite (which must fill exactly the size it promised, and
 * never write past it), ADTS headers whose 13-bit frame length must read back, and the MPEG-4
 * VOP types the AVI timing rests on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_common.h"

/* avcC per ISO/IEC 14496-15, written independently of codec.c: the parameter sets the
 * record lists, each behind a start code. Returns the ps size, or -1 when malformed. */
static long ref_avcc_ps(const uint8_t *p, size_t size, uint8_t *ps)
{
	size_t pos = 6, total = 0;
	unsigned nsps, npps;

	if (size < 7 || p[0] != 1 || (p[4] & 3) == 2)
		return -1;
	nsps = p[5] & 31;
	for (unsigned group = 0; group < 2; group++) {
		unsigned count = group ? npps : nsps;
		for (unsigned i = 0; i < count; i++) {
			size_t len;
			if (pos + 2 > size)
				return -1;
			len = (size_t)p[pos] << 8 | p[pos + 1];
			pos += 2;
			if (len == 0 || pos + len > size)
				return -1;
			if (ps) {
				memcpy(ps + total, "\0\0\0\1", 4);
				memcpy(ps + total + 4, p + pos, len);
			}
			total += 4 + len;
			pos += len;
		}
		if (group == 0) {
			if (pos >= size)
				return -1;
			npps = p[pos++];
		}
	}
	return (long)total;
}

/* Annex B parameter sets, read independently: NAL units between 00 00 01 prefixes, zeros at
 * their ends dropped; every SPS (type 7) then every PPS (type 8) behind a 4-byte start code.
 * Returns the ps size, -1 without an SPS that names a profile (*profile: the first that does). */
static long ref_annexb_ps(const uint8_t *p, size_t size, uint8_t *ps, uint8_t *profile)
{
	size_t total = 0;
	*profile = 0;
	for (unsigned want = 7; want <= 8; want++) {
		size_t i = 0;
		while (i + 3 <= size && !(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1))
			i++;
		while (i + 3 <= size) {
			size_t s = i + 3, e = s;
			while (e + 3 <= size && !(p[e] == 0 && p[e + 1] == 0 && p[e + 2] == 1))
				e++;
			if (e + 3 > size)
				e = size;
			i = e;
			while (e > s && p[e - 1] == 0)
				e--;
			if (e > s && (p[s] & 0x1f) == want) {
				if (want == 7 && !*profile && e - s >= 4)
					*profile = p[s + 1];
				if (ps) {
					memcpy(ps + total, "\0\0\0\1", 4);
					memcpy(ps + total + 4, p + s, e - s);
				}
				total += 4 + (e - s);
			}
		}
	}
	return *profile ? (long)total : -1;
}

static void check_annexb(const uint8_t *data, size_t size)
{
	struct avc_config c;
	uint8_t profile;
	long want = ref_annexb_ps(data, size, NULL, &profile);
	int ret = codec_avc_parse(data, size, &c);

	if (want < 0) {
		FUZZ_CHECK(ret == -EINVAL);
		codec_avc_release(&c);
		return;
	}
	FUZZ_CHECK(ret == 0);
	FUZZ_CHECK(c.nal_length_size == 4 && c.profile == profile);
	FUZZ_CHECK(c.ps_size == (size_t)want && c.ps);
	{
		uint8_t *ps = malloc((size_t)want);
		FUZZ_CHECK(ps);
		ref_annexb_ps(data, size, ps, &profile);
		FUZZ_CHECK(!memcmp(ps, c.ps, (size_t)want));
		free(ps);
	}
	codec_avc_release(&c);
}

static void check_avcc(const uint8_t *data, size_t size)
{
	struct avc_config c;
	long want;
	int ret;

	if (size >= 4 && data[0] == 0) {
		check_annexb(data, size);
		return;
	}
	want = ref_avcc_ps(data, size, NULL);
	ret = codec_avc_parse(data, size, &c);

	if (ret < 0) {
		FUZZ_CHECK(ret == -EINVAL);
		FUZZ_CHECK(want < 0);
		FUZZ_CHECK(c.ps == NULL && c.ps_size == 0);
		return;
	}
	FUZZ_CHECK(ret == 0 && want >= 0);
	FUZZ_CHECK(c.nal_length_size == 1 || c.nal_length_size == 2 || c.nal_length_size == 4);
	FUZZ_CHECK(c.ps_size == (size_t)want);
	FUZZ_CHECK((c.ps == NULL) == (c.ps_size == 0));
	if (want > 0) {
		uint8_t *ps = malloc((size_t)want);
		FUZZ_CHECK(ps);
		ref_avcc_ps(data, size, ps);
		FUZZ_CHECK(!memcmp(ps, c.ps, (size_t)want));
		free(ps);
	}
	codec_avc_release(&c);
	FUZZ_CHECK(c.ps == NULL && c.ps_size == 0);
}

/* Any bytes: a picture within the sizes an SPS can describe, or -EINVAL. */
static void check_avc_picture(const uint8_t *data, size_t size)
{
	struct avc_picture pic;
	int ret = codec_avc_picture(data, size, &pic);

	if (ret < 0) {
		FUZZ_CHECK(ret == -EINVAL);
		return;
	}
	FUZZ_CHECK(ret == 0);
	FUZZ_CHECK(pic.width >= 1 && pic.width <= 1024 * 16 && pic.height >= 1 && pic.height <= 1024 * 32);
	FUZZ_CHECK((pic.sar_num == 0) == (pic.sar_den == 0));
	for (unsigned l = 0; l <= 4; l++) {  /* Annex B and every NAL length size: no read past the end */
		int k = codec_avc_key_slice(data, size, l == 3 ? 0 : l);
		FUZZ_CHECK(k == 0 || k == -EINVAL);
	}
}

static void check_adts(const struct aac_config *c, size_t frame_size)
{
	uint8_t h[CODEC_ADTS_SIZE];
	unsigned len;

	codec_adts_header(c, frame_size, h);
	FUZZ_CHECK(h[0] == 0xff && (h[1] & 0xf0) == 0xf0);     /* syncword */
	FUZZ_CHECK((h[1] & 0x0f) == 0x01);                     /* MPEG-4, layer 0, no CRC */
	FUZZ_CHECK((unsigned)(h[2] >> 6) + 1 == c->core_object_type);
	FUZZ_CHECK((unsigned)((h[2] >> 2) & 15) == c->freq_index);
	FUZZ_CHECK((unsigned)((h[2] & 1) << 2 | h[3] >> 6) == c->channels);
	len = (unsigned)(h[3] & 3) << 11 | (unsigned)h[4] << 3 | (unsigned)(h[5] >> 5);
	FUZZ_CHECK(len == frame_size + CODEC_ADTS_SIZE);
	FUZZ_CHECK((h[5] & 0x1f) == 0x1f && (h[6] & 0xfc) == 0xfc);  /* fullness 0x7ff */
	FUZZ_CHECK((h[6] & 3) == 0);                                  /* one raw data block */
}

static void check_asc(const uint8_t *data, size_t size)
{
	struct aac_config c;
	int ret = codec_aac_parse(data, size, &c);

	if (ret < 0) {
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOTSUP);
		return;
	}
	FUZZ_CHECK(c.object_type >= 1);
	FUZZ_CHECK(c.core_object_type >= 1 && c.core_object_type <= 4);
	FUZZ_CHECK(c.freq_index <= 12);
	FUZZ_CHECK(c.channels >= 1 && c.channels <= 7);
	/* The indexer drops AAC frames ADTS cannot describe, so every size up to that fits. */
	check_adts(&c, 0);
	check_adts(&c, 1);
	check_adts(&c, 8191 - CODEC_ADTS_SIZE);
	for (size_t i = 0; i + 1 < size && i < 8; i += 2)
		check_adts(&c, ((size_t)data[i] << 8 | data[i + 1]) % (8191 - CODEC_ADTS_SIZE + 1));
}

static uint32_t read_len(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int ref_count(const uint8_t *p, size_t size, unsigned lsize)
{
	size_t pos = 0;
	int n = 0;

	if (lsize != 1 && lsize != 2 && lsize != 4)
		return -EINVAL;
	while (pos < size) {
		uint64_t len;
		if (pos + lsize > size)
			return -EINVAL;
		len = read_len(p + pos, lsize);
		if (pos + lsize + len > size)
			return -EINVAL;
		pos += lsize + len;
		n++;
	}
	return n;
}

/* The Annex B form of a sample whose lengths tile it: each NAL behind 00 00 00 01, an AUD
 * turned into filler of the same size. */
static void check_annexb_content(const uint8_t *in, size_t size, unsigned lsize, const uint8_t *out, size_t out_size)
{
	size_t ip = 0, op = 0;

	while (ip < size) {
		uint32_t n = read_len(in + ip, lsize);
		ip += lsize;
		FUZZ_CHECK(op + 4 + n <= out_size);
		FUZZ_CHECK(!memcmp(out + op, "\0\0\0\1", 4));
		op += 4;
		if (n > 0 && (in[ip] & 0x1f) == 9) {
			FUZZ_CHECK((out[op] & 0x1f) == 12 && (out[op] & 0x60) == (in[ip] & 0x60));
			for (uint32_t k = 1; k + 1 < n; k++)
				FUZZ_CHECK(out[op + k] == 0xff);
			if (n > 1)
				FUZZ_CHECK(out[op + n - 1] == 0x80);
		} else {
			FUZZ_CHECK(!memcmp(out + op, in + ip, n));
		}
		ip += n;
		op += n;
	}
	FUZZ_CHECK(op == out_size);
}

/* A rewrite that fails copies the sample into exactly out_size bytes, zero-padded. */
static void check_raw(const uint8_t *in, size_t size, unsigned lsize, size_t out_size)
{
	uint8_t *out = malloc(out_size);  /* exact: ASan reports any byte past it */
	size_t keep = size < out_size ? size : out_size;

	FUZZ_CHECK(out || out_size == 0);
	FUZZ_CHECK(codec_avc_to_annexb(in, size, lsize, out, out_size) == -EINVAL);
	FUZZ_CHECK(!memcmp(out, in, keep));
	for (size_t i = keep; i < out_size; i++)
		FUZZ_CHECK(out[i] == 0);
	free(out);
}

static void check_nals(const uint8_t *data, size_t size, unsigned lsize, uint16_t wobble)
{
	int n = codec_avc_count_nals(data, size, lsize);

	FUZZ_CHECK(n == ref_count(data, size, lsize));
	if (n >= 0) {
		uint64_t want = codec_avc_annexb_size((uint32_t)size, (uint32_t)n, lsize);
		uint8_t *out = malloc(want);
		FUZZ_CHECK(out || want == 0);
		FUZZ_CHECK(codec_avc_to_annexb(data, size, lsize, out, want) == 0);
		check_annexb_content(data, size, lsize, out, want);
		free(out);
		/* A size other than the promised one is refused, and still filled exactly. */
		if (want > 0)
			check_raw(data, size, lsize, want - 1 - wobble % want);
		check_raw(data, size, lsize, want + 1 + wobble % 64);
	} else {
		FUZZ_CHECK(n == -EINVAL);
		check_raw(data, size, lsize, 0);
		check_raw(data, size, lsize, size);
		check_raw(data, size, lsize, wobble % (2 * size + 64));
		check_raw(data, size, lsize, codec_avc_annexb_size((uint32_t)size, wobble % (size + 1), lsize));
	}
}

/* MPEG-4 VOPs: never more than asked for, never more than the start codes the bytes hold (each
 * VOP is one start code 00 00 01 b6), each type one of IPBS, and a prefix gives a prefix. */
static void check_vops(const uint8_t *p, size_t size)
{
	char all[64], some[2];
	size_t codes = 0;
	unsigned n = codec_mpeg4_vops(p, size, all, sizeof(all)), m;

	for (size_t i = 0; i + 4 < size; i++)
		codes += p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && p[i + 3] == 0xb6;
	FUZZ_CHECK(n <= sizeof(all) && n <= codes);
	for (unsigned i = 0; i < n; i++)
		FUZZ_CHECK(memchr("IPBS", all[i], 4) != NULL);
	m = codec_mpeg4_vops(p, size, some, sizeof(some));
	FUZZ_CHECK(m == (n < sizeof(some) ? n : sizeof(some)) && !memcmp(some, all, m));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned lsizes[] = { 1, 2, 4 };
	uint16_t wobble = size >= 2 ? (uint16_t)(data[size - 2] << 8 | data[size - 1]) : 0;
	uint8_t aud[CODEC_AUD_SIZE];

	if (size > 1 << 20)
		return 0;
	check_avcc(data, size);
	check_avc_picture(data, size);
	check_asc(data, size);
	check_vops(data, size);
	for (int i = 0; i < 3; i++)
		check_nals(data, size, lsizes[i], wobble);
	/* lengthSizeMinusOne 2 and nonsense: never tiles, still filled exactly */
	FUZZ_CHECK(codec_avc_count_nals(data, size, 3) == -EINVAL);
	check_raw(data, size, 3, size);
	codec_avc_aud(aud);
	FUZZ_CHECK(!memcmp(aud, "\0\0\0\1\x09\xf0", CODEC_AUD_SIZE));
	return 0;
}
