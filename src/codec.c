/* avcC and AudioSpecificConfig parsing, and the byte rewrites MPEG-TS needs
 * (length prefixes to start codes, ADTS headers). Sizes here are what the planner counts on. */
#include "codec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Start of the next start code prefix (00 00 01) at or after i, or size. */
static size_t next_start_code(const uint8_t *p, size_t size, size_t i)
{
	for (; i + 3 <= size; i++)
		if (!p[i] && !p[i + 1] && p[i + 2] == 1)
			return i;
	return size;
}

int codec_avc_parse_annexb(const uint8_t *p, size_t size, struct avc_config *out)
{
	size_t total = 0, i;
	uint8_t *dst = NULL;

	memset(out, 0, sizeof(*out));
	out->nal_length_size = 4;
	/* Two passes: count the SPS and PPS bytes, then copy them, SPS first. */
	for (int pass = 0; pass < 3; pass++) {
		for (i = next_start_code(p, size, 0); i < size;) {
			size_t nal = i + 3, end = next_start_code(p, size, nal), len;
			unsigned type;
			i = end;
			while (end > nal && !p[end - 1])
				end--;  /* trailing zero bytes, or the first byte of a 4-byte start code */
			if (end == nal)
				continue;
			len = end - nal;
			type = p[nal] & 0x1f;
			if (pass == 0 && (type == 7 || type == 8)) {
				if (type == 7 && !out->profile && len >= 4) {
					out->profile = p[nal + 1];
					out->compat = p[nal + 2];
					out->level = p[nal + 3];
				}
				total += 4 + len;
			} else if (pass > 0 && type == (pass == 1 ? 7u : 8u)) {
				memcpy(dst, "\0\0\0\1", 4);
				memcpy(dst + 4, p + nal, len);
				dst += 4 + len;
			}
		}
		if (pass == 0) {
			if (!out->profile)
				return -EINVAL;  /* no SPS */
			if (!(out->ps = malloc(total)))
				return -ENOMEM;
			out->ps_size = total;
			dst = out->ps;
		}
	}
	return 0;
}

int codec_avc_parse(const uint8_t *p, size_t size, struct avc_config *out)
{
	if (size >= 4 && p[0] == 0)
		return codec_avc_parse_annexb(p, size, out);
	/* avcC: version, profile, compat, level, lengthSizeMinusOne, then a list of SPS
	 * (count in 5 bits) and a list of PPS (count in 8 bits), each a 16-bit length and bytes. */
	struct { size_t off; unsigned len; } sets[31 + 255];
	unsigned nsets = 0, group, i;
	size_t pos = 5, total = 0;
	uint8_t *dst;

	memset(out, 0, sizeof(*out));
	if (size < 7 || p[0] != 1)
		return -EINVAL;
	out->profile = p[1];
	out->compat = p[2];
	out->level = p[3];
	out->nal_length_size = (p[4] & 3) + 1;
	if (out->nal_length_size == 3)
		return -EINVAL;  /* lengthSizeMinusOne == 2 is not allowed by ISO/IEC 14496-15 */

	for (group = 0; group < 2; group++) {
		unsigned count;
		if (pos >= size)
			return -EINVAL;
		count = group == 0 ? (p[pos++] & 0x1fu) : p[pos++];
		for (i = 0; i < count; i++) {
			unsigned len;
			if (size - pos < 2)
				return -EINVAL;
			len = (unsigned)p[pos] << 8 | p[pos + 1];
			pos += 2;
			if (len == 0 || len > size - pos)
				return -EINVAL;
			if (group == 0 && nsets == 0 && len >= 4) {
				/* The SPS itself is the truth for CODECS; avcC's copy may be stale. */
				out->profile = p[pos + 1];
				out->compat = p[pos + 2];
				out->level = p[pos + 3];
			}
			sets[nsets].off = pos;
			sets[nsets].len = len;
			nsets++;
			total += 4 + (size_t)len;
			pos += len;
		}
	}
	if (total == 0)
		return 0;  /* avc3-style: parameter sets travel in band */
	out->ps = malloc(total);
	if (!out->ps)
		return -ENOMEM;
	out->ps_size = total;
	for (dst = out->ps, i = 0; i < nsets; i++) {
		memcpy(dst, "\0\0\0\1", 4);
		memcpy(dst + 4, p + sets[i].off, sets[i].len);
		dst += 4 + sets[i].len;
	}
	return 0;
}

void codec_avc_release(struct avc_config *c)
{
	free(c->ps);
	c->ps = NULL;
	c->ps_size = 0;
}

static uint32_t read_len(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int codec_avc_count_nals(const uint8_t *p, size_t size, unsigned lsize)
{
	size_t pos = 0;
	int count = 0;

	if (lsize != 1 && lsize != 2 && lsize != 4)
		return -EINVAL;
	while (pos < size) {
		uint32_t n;
		if (size - pos < lsize)
			return -EINVAL;
		n = read_len(p + pos, lsize);
		pos += lsize;
		if (n > size - pos)
			return -EINVAL;
		pos += n;
		if (count == INT32_MAX)
			return -EINVAL;
		count++;
	}
	return count;
}

void codec_avc_aud(uint8_t out[CODEC_AUD_SIZE])
{
	static const uint8_t aud[CODEC_AUD_SIZE] = { 0, 0, 0, 1, 0x09, 0xf0 };
	memcpy(out, aud, sizeof(aud));
}

int codec_avc_to_annexb(const uint8_t *in, size_t size, unsigned lsize, uint8_t *out, size_t out_size)
{
	size_t ip = 0, op = 0;

	if (lsize != 1 && lsize != 2 && lsize != 4)
		goto raw;
	while (ip < size) {
		uint32_t n;
		if (size - ip < lsize)
			goto raw;
		n = read_len(in + ip, lsize);
		if (n > size - ip - lsize || op + 4 + n > out_size)
			goto raw;
		memcpy(out + op, "\0\0\0\1", 4);
		op += 4;
		ip += lsize;
		if (n > 0 && (in[ip] & 0x1f) == 9) {
			/* An AUD inside the sample would be a second one: make it filler data (type 12),
			 * all 0xff bytes and the rbsp stop bit, keeping its size. */
			out[op] = (uint8_t)((in[ip] & 0x60) | 12);
			if (n > 1) {
				memset(out + op + 1, 0xff, n - 1);
				out[op + n - 1] = 0x80;
			}
		} else {
			memcpy(out + op, in + ip, n);
		}
		op += n;
		ip += n;
	}
	if (op == out_size)
		return 0;
raw:
	/* Not the sample the index described: keep the promised size, never a short write. */
	memset(out, 0, out_size);
	memcpy(out, in, size < out_size ? size : out_size);
	return -EINVAL;
}

/* MSB-first bit reader over a short config record. */
struct bits {
	const uint8_t *p;
	size_t size, pos;  /* pos in bits */
	int overrun;
};

static unsigned get_bits(struct bits *b, unsigned n)
{
	unsigned v = 0;
	while (n--) {
		if (b->pos >= b->size * 8) {
			b->overrun = 1;
			return 0;
		}
		v = v << 1 | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1);
		b->pos++;
	}
	return v;
}

static unsigned get_object_type(struct bits *b)
{
	unsigned t = get_bits(b, 5);
	return t == 31 ? 32 + get_bits(b, 6) : t;
}

int codec_aac_parse(const uint8_t *asc, size_t size, struct aac_config *out)
{
	struct bits b = { asc, size, 0, 0 };
	unsigned freq;

	memset(out, 0, sizeof(*out));
	out->object_type = get_object_type(&b);
	out->core_object_type = out->object_type;
	freq = get_bits(&b, 4);
	if (freq == 15)
		get_bits(&b, 24);
	out->freq_index = freq;
	out->channels = get_bits(&b, 4);
	if (out->object_type == 5 || out->object_type == 29) {
		/* Explicit SBR (and PS): ADTS carries the core at the core rate; decoders find SBR. */
		unsigned ext = get_bits(&b, 4);
		if (ext == 15)
			get_bits(&b, 24);
		out->core_object_type = get_object_type(&b);
	}
	if (b.overrun || out->object_type == 0)
		return -EINVAL;
	if (out->core_object_type < 1 || out->core_object_type > 4 || out->freq_index > 12 ||
	    out->channels < 1 || out->channels > 7)
		return -ENOTSUP;
	return 0;
}

void codec_adts_header(const struct aac_config *c, size_t frame_size, uint8_t out[CODEC_ADTS_SIZE])
{
	size_t len = frame_size + CODEC_ADTS_SIZE;

	out[0] = 0xff;
	out[1] = 0xf1;  /* MPEG-4, layer 0, no CRC */
	out[2] = (uint8_t)(((c->core_object_type - 1) << 6) | (c->freq_index << 2) | (c->channels >> 2));
	out[3] = (uint8_t)(((c->channels & 3) << 6) | ((len >> 11) & 3));
	out[4] = (uint8_t)((len >> 3) & 0xff);
	out[5] = (uint8_t)(((len & 7) << 5) | 0x1f);
	out[6] = 0xfc;  /* buffer fullness 0x7ff (VBR), one raw data block */
}

unsigned codec_mpeg4_vops(const uint8_t *p, size_t size, char *types, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i + 4 < size && n < max) {
		size_t next;
		if (!(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && p[i + 3] == 0xb6)) {
			i++;
			continue;
		}
		for (next = i + 4; next + 2 < size; next++)
			if (p[next] == 0 && p[next + 1] == 0 && p[next + 2] == 1)
				break;
		if (next + 2 >= size)
			next = size;
		if (next - i > CODEC_MPEG4_VOP_MAX_UNCODED)
			types[n++] = "IPBS"[p[i + 4] >> 6];
		i = next;
	}
	return n;
}

unsigned codec_mpa_layer(const uint8_t *p, size_t size)
{
	for (size_t i = 0; i + 1 < size; i++) {
		unsigned layer = 4 - ((p[i + 1] >> 1) & 3);
		if (p[i] == 0xff && (p[i + 1] & 0xe0) == 0xe0 && layer < 4)
			return layer;
	}
	return 0;
}

/* ue(v) (H.264 9.1); a value of more than 31 bits is an overrun. */
static uint32_t get_ue(struct bits *b)
{
	unsigned lead = 0;
	while (!get_bits(b, 1) && !b->overrun)
		if (++lead > 31) {
			b->overrun = 1;
			return 0;
		}
	return lead ? (uint32_t)(((uint64_t)1 << lead) - 1 + get_bits(b, lead)) : 0;
}

/* The RBSP of a NAL unit's payload p[0..n): emulation prevention bytes (00 00 03) dropped, at
 * most cap bytes into out. Returns how many. */
static size_t rbsp_of(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0, zeros = 0;
	for (size_t k = 0; k < n && o < cap; k++) {
		if (zeros >= 2 && p[k] == 3) {
			zeros = 0;
			continue;
		}
		zeros = p[k] ? 0 : zeros + 1;
		out[o++] = p[k];
	}
	return o;
}

/* Where the Annex B NAL unit starting at from ends: the next start code (00 00 00 or 00 00 01),
 * or size. */
static size_t annexb_end(const uint8_t *p, size_t from, size_t size)
{
	for (size_t e = from; e + 2 < size; e++)
		if (p[e] == 0 && p[e + 1] == 0 && p[e + 2] <= 1)
			return e;
	return size;
}

int codec_avc_picture(const uint8_t *ps, size_t size, struct avc_picture *out)
{
	/* Table E-1: the sample aspect ratios aspect_ratio_idc 1..16 stand for. */
	static const uint8_t sar[17][2] = { { 0, 0 }, { 1, 1 }, { 12, 11 }, { 10, 11 }, { 16, 11 }, { 40, 33 },
		{ 24, 11 }, { 20, 11 }, { 32, 11 }, { 80, 33 }, { 18, 11 }, { 15, 11 }, { 64, 33 }, { 160, 99 },
		{ 4, 3 }, { 3, 2 }, { 2, 1 } };
	uint8_t rbsp[1024];
	struct bits b = { rbsp, 0, 0, 0 };
	uint32_t profile, chroma = 1, w_mbs, h_units, crop[4] = { 0 };
	unsigned frame_mbs_only, sub_w, sub_h;
	size_t i, end;

	memset(out, 0, sizeof(*out));
	/* The first NAL unit of type 7 behind a start code. */
	for (i = 0; i + 4 < size; i++)
		if (ps[i] == 0 && ps[i + 1] == 0 && ps[i + 2] == 1 && (ps[i + 3] & 0x1f) == 7)
			break;
	if (i + 4 >= size)
		return -EINVAL;
	end = annexb_end(ps, i + 4, size);
	b.size = rbsp_of(ps + i + 4, end - (i + 4), rbsp, sizeof(rbsp));

	profile = get_bits(&b, 8);
	get_bits(&b, 16);  /* constraint flags, level_idc */
	if (get_ue(&b) > 31)  /* seq_parameter_set_id */
		return -EINVAL;
	if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 || profile == 83 ||
	    profile == 86 || profile == 118 || profile == 128 || profile == 138 || profile == 139 || profile == 134 ||
	    profile == 135) {
		if ((chroma = get_ue(&b)) > 3)
			return -EINVAL;
		if (chroma == 3)
			get_bits(&b, 1);  /* separate_colour_plane_flag */
		get_ue(&b);        /* bit_depth_luma_minus8 */
		get_ue(&b);        /* bit_depth_chroma_minus8 */
		get_bits(&b, 1);      /* qpprime_y_zero_transform_bypass_flag */
		if (get_bits(&b, 1)) {  /* seq_scaling_matrix_present_flag */
			for (unsigned l = 0; l < (chroma != 3 ? 8u : 12u) && !b.overrun; l++) {
				unsigned n = l < 6 ? 16 : 64, last = 8, next = 8;
				if (!get_bits(&b, 1))
					continue;
				for (unsigned j = 0; j < n && !b.overrun; j++) {
					if (next) {
						uint32_t u = get_ue(&b);  /* delta_scale, se(v) */
						int32_t d = u & 1 ? (int32_t)((u + 1) / 2) : -(int32_t)(u / 2);
						next = (unsigned)(((int)last + d + 256) % 256);
					}
					last = next ? next : last;
				}
			}
		}
	}
	get_ue(&b);  /* log2_max_frame_num_minus4 */
	switch (get_ue(&b)) {  /* pic_order_cnt_type */
	case 0:
		get_ue(&b);  /* log2_max_pic_order_cnt_lsb_minus4 */
		break;
	case 1: {
		uint32_t n;
		get_bits(&b, 1);  /* delta_pic_order_always_zero_flag */
		get_ue(&b);    /* offset_for_non_ref_pic */
		get_ue(&b);    /* offset_for_top_to_bottom_field */
		if ((n = get_ue(&b)) > 255)
			return -EINVAL;
		while (n-- && !b.overrun)
			get_ue(&b);  /* offset_for_ref_frame */
		break;
	}
	case 2:
		break;
	default:
		return -EINVAL;
	}
	get_ue(&b);    /* max_num_ref_frames */
	get_bits(&b, 1);  /* gaps_in_frame_num_value_allowed_flag */
	w_mbs = get_ue(&b) + 1;
	h_units = get_ue(&b) + 1;
	frame_mbs_only = get_bits(&b, 1);
	if (!frame_mbs_only)
		get_bits(&b, 1);  /* mb_adaptive_frame_field_flag */
	get_bits(&b, 1);      /* direct_8x8_inference_flag */
	if (get_bits(&b, 1))  /* frame_cropping_flag */
		for (unsigned k = 0; k < 4; k++)
			crop[k] = get_ue(&b);
	/* Beyond level 6.2's 139264 macroblocks a frame (or 16384 pixels a side), no decoder takes it. */
	if (b.overrun || w_mbs > 1024 || h_units > 1024 || (uint64_t)w_mbs * h_units * (2 - frame_mbs_only) > 139264)
		return -EINVAL;
	/* CropUnitX/Y (7-19, 7-20): 4:2:0 crops in 2x2, 4:2:2 in 2x1, 4:4:4 and monochrome in 1x1,
	 * heights doubled for field pictures. */
	sub_w = chroma == 1 || chroma == 2 ? 2 : 1;
	sub_h = (chroma == 1 ? 2 : 1) * (2 - frame_mbs_only);
	{
		uint64_t w = (uint64_t)w_mbs * 16, h = (uint64_t)h_units * 16 * (2 - frame_mbs_only);
		uint64_t cw = ((uint64_t)crop[0] + crop[1]) * sub_w, ch = ((uint64_t)crop[2] + crop[3]) * sub_h;
		if (cw >= w || ch >= h)
			return -EINVAL;
		out->width = (unsigned)(w - cw);
		out->height = (unsigned)(h - ch);
	}
	if (!get_bits(&b, 1))  /* vui_parameters_present_flag */
		return 0;
	if (get_bits(&b, 1)) {  /* aspect_ratio_info_present_flag */
		uint32_t idc = get_bits(&b, 8);
		if (idc == 255) {
			out->sar_num = get_bits(&b, 16);
			out->sar_den = get_bits(&b, 16);
		} else if (idc >= 1 && idc <= 16) {
			out->sar_num = sar[idc][0];
			out->sar_den = sar[idc][1];
		}
		if (b.overrun || !out->sar_num || !out->sar_den)
			out->sar_num = out->sar_den = 0;  /* unspecified (0, reserved, or cut short) */
	}
	return 0;
}

int codec_avc_key_slice(const uint8_t *p, size_t size, unsigned nal_length_size)
{
	size_t pos = 0;

	while (pos < size) {
		size_t len, start;
		if (nal_length_size) {
			if (size - pos < nal_length_size)
				return -EINVAL;
			len = read_len(p + pos, nal_length_size);
			start = pos + nal_length_size;
			if (len == 0 || len > size - start)
				return -EINVAL;
		} else {
			/* Annex B: from behind a start code to the next one. */
			while (pos + 3 <= size && !(p[pos] == 0 && p[pos + 1] == 0 && p[pos + 2] == 1))
				pos++;
			if (pos + 3 > size)
				return -EINVAL;
			start = pos + 3;
			len = annexb_end(p, start, size) - start;
			if (len == 0)
				return -EINVAL;
		}
		if ((p[start] & 0x1f) == 1 || (p[start] & 0x1f) == 5) {
			/* The slice header's first_mb_in_slice and slice_type, from its RBSP. */
			uint8_t rbsp[16];
			struct bits b = { rbsp, 0, 0, 0 };
			uint32_t type;
			b.size = rbsp_of(p + start + 1, len - 1, rbsp, sizeof(rbsp));
			get_ue(&b);
			type = get_ue(&b);
			return !b.overrun && (type % 5 == 2 || type % 5 == 4) ? 0 : -EINVAL;  /* I or SI */
		}
		pos = start + len;
	}
	return -EINVAL;
}
