/* Fuzzes the planner end to end: a synthetic media_index and ladder drawn from the input,
 * plan_build, every segment's layout and the playlists, then the muxer simulated unit by unit
 * exactly as synth.c writes it, into buffers of exactly the planned sizes (so ASan reports any
 * byte past them). Passthrough segments are written from made-up sample bytes; each transcoded
 * rung's segments from made-up encoded frames whose total stays within the rung's VBV budget,
 * which the planned size bound must then hold, padded with null packets as transcode.c does.
 *
 * The index respects what index_build guarantees: video DTS strictly increasing and PTS >= DTS,
 * audio DTS strictly increasing and PTS >= DTS, AAC frames of at most 8184 bytes, nals counted
 * from the sample bytes when the NAL length field is shorter than 4 bytes (0 when they do not
 * parse). Everything else is drawn freely: keyframe placement, zero and 32-bit durations and
 * sizes, negative and 2^53-sized start times, gaps of up to 2^32 ticks. Each track's span stays
 * under 2^28 ticks (50 min), so one input cannot ask for more than about 33,000 PCR-only packets
 * (a fuzzer needs fast inputs), and start times under 2^53 ticks (3000 years) by default. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_common.h"
#include "index.h"
#include "naming.h"
#include "plan.h"
#include "playlist.h"
#include "tsmux.h"

#define MAX_VIDEO 50000
#define MAX_AUDIO 100000
#define SPAN_MAX (1ll << 28)
/* Start times: magnitudes up to 2^FUZZ_PLAN_BASE_BITS ticks, log-uniform. index.c does not bound
 * timestamps (a crafted file's tfdt or stts can put them anywhere in int64); 53 bits (3000 years)
 * keeps plan.c's millisecond arithmetic (t * 1000) inside int64. Build with
 * FUZZ_CFLAGS=-DFUZZ_PLAN_BASE_BITS=62 to go beyond; see README.md. */
#ifndef FUZZ_PLAN_BASE_BITS
#define FUZZ_PLAN_BASE_BITS 53
#endif
#define SIM_SEGMENT_MAX (2u << 20)  /* segments up to this size are written byte for byte */
#define SIM_TOTAL_MAX (6u << 20)    /* and this much per input */

/* The rung budget as src/plan.c plans it (keep in step): an encoder under VBV produces at most
 * maxrate x span + 90% of a one-second buffer, plus 4096 bytes a segment and 64 a frame. */
#define RUNG_VBV_SECONDS 1
#define RUNG_VBV_INIT_PERCENT 90
#define RUNG_HEADER_ALLOWANCE 4096
#define RUNG_FRAME_ALLOWANCE 64

static const uint8_t avcc_ps[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee };
static const uint8_t avcc_no_ps[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0 };  /* avc3-style: sets in band */
static const uint8_t asc_aac[] = { 0x11, 0x90 };                         /* AAC LC, 48 kHz, stereo */

/* How to make a video sample's bytes when the muxer is simulated: k NAL units that tile it
 * (the indexer would count k), or bytes whose lengths do not parse (the indexer counts 0). */
struct vbytes {
	uint32_t k;
	uint8_t tiled, aud_first;
};

struct input {
	struct media_index ix;
	struct vbytes *vb;
	uint8_t avcc[sizeof(avcc_ps)];
	unsigned lsize;
	bool passthrough;  /* H.264 with an avcC the muxer can use */
	struct plan_config cfg;
};

static int64_t draw_base(struct fz *f, unsigned mode)
{
	switch (mode & 3) {
	case 0:
		return 0;
	case 1:
		return -(int64_t)fz_u16(f);  /* B-frame delay before the first PTS */
	case 2: {
		unsigned bits = fz_u8(f) % (FUZZ_PLAN_BASE_BITS + 1);
		uint64_t v = fz_u64(f), mag = bits ? v & ((1ull << bits) - 1) : 0;
		return (v >> 63) ? -(int64_t)mag : (int64_t)mag;
	}
	default:
		return (int64_t)(int32_t)fz_u32(f);
	}
}

/* k NAL units of lsize-byte lengths tiling size bytes need k*lsize <= size <= k*(lsize + max). */
static void draw_vbytes(struct fz *f, uint32_t size, unsigned lsize, struct vbytes *vb)
{
	uint64_t max = lsize == 4 ? 0xffffffffull : (1ull << (8 * lsize)) - 1;
	uint64_t kmin = size == 0 ? 0 : (size + lsize + max - 1) / (lsize + max), kmax = size / lsize;
	uint8_t c = fz_u8(f);

	vb->aud_first = (c & 0x80) != 0;
	vb->tiled = (c & 3) != 0 && kmin <= kmax;
	vb->k = 0;
	if (vb->tiled) {
		uint64_t span = kmax - kmin < 200 ? kmax - kmin : 200;
		vb->k = (uint32_t)(kmin + fz_u8(f) % (span + 1));
	}
}

static void draw_input(const uint8_t *data, size_t size, struct input *in)
{
	struct fz f;
	struct index_track *v = &in->ix.video, *a = &in->ix.audio;
	uint8_t flags, c;
	int64_t base, dts, abase;
	uint32_t nv, na;

	memset(in, 0, sizeof(*in));
	fz_init(&f, data, size);
	flags = fz_u8(&f);
	in->lsize = (unsigned[]){ 4, 2, 1, 4 }[(flags >> 2) & 3];
	in->cfg.target = (uint32_t)fz_range(&f, 90000, 60 * 90000);
	base = draw_base(&f, flags >> 5);

	c = fz_u8(&f);
	nv = c < 128 ? 1 + c % 64 : c < 240 ? 1 + fz_u16(&f) % 2000 : 1 + fz_u16(&f) % MAX_VIDEO;

	if (flags & 0x10) {
		memcpy(in->avcc, avcc_no_ps, sizeof(avcc_no_ps));
		v->extradata_size = sizeof(avcc_no_ps);
	} else {
		memcpy(in->avcc, avcc_ps, sizeof(avcc_ps));
		v->extradata_size = sizeof(avcc_ps);
	}
	in->avcc[4] = (uint8_t)(0xfc | (in->lsize - 1));
	v->extradata = in->avcc;
	v->codec = INDEX_CODEC_H264;
	in->passthrough = true;
	c = fz_u8(&f);
	if ((c & 7) == 0) {
		v->codec = INDEX_CODEC_OTHER;  /* HEVC and the like: rungs only */
		in->passthrough = false;
	} else if ((c & 7) == 1) {
		v->extradata_size = 0;         /* no avcC: rungs only */
		in->passthrough = false;
	}
	if (c & 8) {
		v->width = (unsigned)fz_range(&f, 1, 16384);
		v->height = (unsigned)fz_range(&f, 1, 8640);
	} else {
		v->width = 1280;
		v->height = 720;
	}
	if (c & 0x10) {
		v->sar_num = fz_u16(&f);
		v->sar_den = fz_u16(&f);
	}
	v->fps_num = fz_u8(&f);
	v->fps_den = fz_u8(&f);

	/* A ladder as config_ladder gives it: distinct even heights in [64, 4320], tallest first,
	 * rates in [50, 200000] kbit/s. */
	c = fz_u8(&f);
	/* most inputs: passthrough only, as each rung costs a layout walk per segment */
	in->cfg.nb_rungs = (c & 7) < 5 ? 0 : (c & 7) < 7 ? 1 + ((c >> 3) & 1) : (c >> 3) % (PLAN_MAX_RUNGS + 1);
	for (unsigned r = 0, h = 4322; r < in->cfg.nb_rungs; r++) {
		unsigned room = (h - 2 - 64) / 2;
		if (h <= 64 + 1) {
			in->cfg.nb_rungs = r;
			break;
		}
		h -= 2 + 2 * (unsigned)(fz_u16(&f) % (room + 1));
		in->cfg.rungs[r].height = h;
		in->cfg.rungs[r].kbps = (uint32_t)fz_range(&f, 50, 200000);
	}
	c = fz_u8(&f);
	in->cfg.profile_idc = (uint8_t[]){ 0, 66, 77, 100 }[c & 3];
	in->cfg.split_gops = (c & 4) != 0;
	v->nb_samples = nv;
	v->samples = calloc(nv, sizeof(*v->samples));
	in->vb = calloc(nv, sizeof(*in->vb));
	FUZZ_CHECK(v->samples && in->vb);

	dts = base;
	for (uint32_t i = 0; i < nv; i++) {
		struct index_sample *s = &v->samples[i];
		uint8_t op = fz_u8(&f);
		int64_t delta;

		switch ((op >> 1) & 3) {
		case 0: delta = 3003; break;
		case 1: delta = 3600; break;
		case 2: delta = 1 + fz_u8(&f); break;
		default: delta = fz_u8(&f) < 16 ? 1 + (int64_t)fz_u32(&f) : 1 + fz_u16(&f); break;  /* rarely a long gap */
		}
		if (i > 0) {
			if (dts + delta - base > SPAN_MAX)
				delta = 1;
			dts += delta;
		}
		s->dts = dts;
		switch ((op >> 3) & 3) {
		case 0: s->pts = dts; break;
		case 1: s->pts = dts + 3003 * (1 + fz_u8(&f) % 4); break;
		case 2: s->pts = dts + fz_u8(&f); break;
		default: s->pts = dts + fz_u32(&f); break;
		}
		switch ((op >> 5) & 3) {
		case 0: s->size = fz_u8(&f); break;
		case 1: s->size = fz_u16(&f); break;
		case 2: s->size = fz_u32(&f) % (4u << 20); break;
		default: s->size = fz_u32(&f); break;
		}
		s->duration = (op & 0x80) ? fz_u32(&f) : (uint32_t)delta;
		s->flags = (op & 1) ? INDEX_SAMPLE_KEY : 0;
		s->pos = (uint64_t)i << 20;
		draw_vbytes(&f, s->size, in->lsize, &in->vb[i]);
		if (in->lsize != 4)
			s->nals = in->vb[i].k;
	}

	if (!(flags & 1))
		goto edit;
	c = fz_u8(&f);
	na = c < 128 ? 1 + c % 64 : c < 240 ? 1 + fz_u16(&f) % 4000 : 1 + (uint32_t)fz_range(&f, 0, MAX_AUDIO - 1);
	if (flags & 2) {
		a->codec = INDEX_CODEC_MP3;
		a->sample_rate = fz_u8(&f) & 1 ? 22050 : 44100;
	} else {
		a->codec = INDEX_CODEC_AAC;
		a->extradata = (uint8_t *)asc_aac;
		a->extradata_size = sizeof(asc_aac);
		a->sample_rate = 48000;
	}
	a->channels = 2;
	a->nb_samples = na;
	a->samples = calloc(na, sizeof(*a->samples));
	FUZZ_CHECK(a->samples);
	abase = base + (int16_t)fz_u16(&f) * 8;  /* priming before the video, or a late start */
	dts = abase;
	for (uint32_t i = 0; i < na; i++) {
		struct index_sample *s = &a->samples[i];
		uint8_t op = fz_u8(&f);
		int64_t delta;

		switch (op & 3) {
		case 0: delta = 1920; break;
		case 1: delta = 2090; break;
		case 2: delta = 1 + fz_u8(&f); break;
		default: delta = fz_u8(&f) < 16 ? 1 + (int64_t)fz_u32(&f) : 1 + fz_u16(&f); break;
		}
		if (i > 0) {
			if (dts + delta - abase > SPAN_MAX)
				delta = 1;
			dts += delta;
		}
		s->dts = dts;
		s->pts = (op & 4) ? dts + fz_u16(&f) : dts;
		s->duration = (op & 8) ? fz_u32(&f) % 4 == 0 ? 0 : fz_u32(&f) : (uint32_t)delta;
		if (a->codec == INDEX_CODEC_AAC)
			s->size = (op & 0x10) ? fz_u16(&f) % (8191 - CODEC_ADTS_SIZE + 1) : 1 + fz_u8(&f) * 3;
		else
			s->size = (op & 0x30) == 0x30 ? fz_u32(&f) % (1u << 24) : (op & 0x10) ? fz_u16(&f) : 104 + fz_u8(&f) * 5;
		s->flags = INDEX_SAMPLE_KEY;
		s->pos = ((uint64_t)i << 16) | 1;
	}
edit:
	/* An edit list (drawn last, so older inputs mean what they meant): the frames shown before
	 * the pts of sample h, and with the top bit from that of sample nv - 1 - h on, are hidden. */
	c = fz_u8(&f);
	if (c & 0x7f) {
		uint32_t h = (c & 0x7f) % nv;
		int64_t from = v->samples[h].pts, to = v->samples[nv - 1 - h].pts;
		for (uint32_t i = 0; i < nv; i++)
			if (v->samples[i].pts < from || ((c & 0x80) && v->samples[i].pts >= to))
				v->samples[i].flags |= INDEX_SAMPLE_HIDDEN;
	}
}

static void free_input(struct input *in)
{
	free(in->ix.video.samples);
	free(in->ix.audio.samples);
	free(in->vb);
}

/* The bytes the source would hold for video sample i. */
static void make_sample(const struct input *in, uint32_t i, uint8_t *out)
{
	const struct index_sample *s = &in->ix.video.samples[i];
	const struct vbytes *vb = &in->vb[i];
	unsigned L = in->lsize;
	uint64_t payload, pos = 0;

	if (!vb->tiled) {
		/* the first length field claims more than the sample holds */
		memset(out, 0xff, s->size);
		return;
	}
	payload = s->size - (uint64_t)vb->k * L;
	for (uint32_t n = 0; n < vb->k; n++) {
		uint64_t len = payload / vb->k + (n < payload % vb->k);
		for (unsigned b = 0; b < L; b++)
			out[pos + b] = (uint8_t)(len >> (8 * (L - 1 - b)));
		pos += L;
		if (len) {
			memset(out + pos, (int)(n & 0x7f), len);
			out[pos] = (n == 0 && vb->aud_first) ? 0x09 : (s->flags & INDEX_SAMPLE_KEY) ? 0x65 : 0x41;
		}
		pos += len;
	}
	FUZZ_CHECK(pos == s->size);
}

/* One PES split into the unit's packets, into a buffer of exactly that many; checks the headers.
 * spread: the unit may take more packets than the fewest (transcoded video), up to one a byte. */
static void packetize(const struct ts_pes_out *o, const uint8_t *pes, size_t n, const struct plan_unit *u,
		      bool spread, uint8_t *dst)
{
	uint64_t min = tsmux_packets(n, o->pcr);
	uint8_t *pk;

	/* synth refuses the unit otherwise */
	if (spread)
		FUZZ_CHECK(u->packets >= min && u->packets <= n);
	else
		FUZZ_CHECK(u->packets == min);
	pk = malloc(u->packets * TS_PACKET_SIZE);
	FUZZ_CHECK(pk);
	tsmux_packetize(o, pes, n, u->packets, pk);
	for (uint64_t i = 0, got = 0; i < u->packets; i++) {
		const uint8_t *h = pk + i * TS_PACKET_SIZE;
		size_t body = 4;
		FUZZ_CHECK(h[0] == 0x47);
		FUZZ_CHECK(((h[1] & 0x1f) << 8 | h[2]) == o->pid);
		FUZZ_CHECK(!!(h[1] & 0x40) == (i == 0));                 /* payload_unit_start */
		FUZZ_CHECK((h[3] & 15) == ((o->cc + i) & 15));
		FUZZ_CHECK(h[3] & 0x10);                                  /* every packet carries payload */
		if (h[3] & 0x20)
			body += 1 + h[4];
		FUZZ_CHECK(body < TS_PACKET_SIZE);
		/* the payloads, in order, are the PES */
		FUZZ_CHECK(!memcmp(h + body, pes + got, TS_PACKET_SIZE - body));
		got += TS_PACKET_SIZE - body;
		if (i + 1 == u->packets)
			FUZZ_CHECK(got == n);
	}
	memcpy(dst, pk, u->packets * TS_PACKET_SIZE);
	free(pk);
}

struct sim {
	const struct input *in;
	const struct plan *p;
	struct avc_config avc;
	struct aac_config aac;
	const uint32_t *frame_sizes;  /* transcoded: bytes of each encoded frame, NULL for passthrough */
	const struct plan_frame *frames;
};

static void sim_unit_audio(const struct sim *sm, const struct plan_unit *u, uint8_t *dst)
{
	const struct plan *p = sm->p;
	const struct index_sample *s = &sm->in->ix.audio.samples[u->first];
	uint8_t *pes = malloc(tsmux_pes_header_size(false) + u->payload);
	struct ts_pes_out o = { .pid = TS_PID_AUDIO, .cc = u->cc };
	size_t pos;

	FUZZ_CHECK(pes && u->count >= 1 && u->count <= PLAN_AUDIO_FRAMES_PER_PES);
	FUZZ_CHECK(s->pts + p->ts_offset >= 0);
	pos = tsmux_pes_header(TS_STREAM_ID_AUDIO, (uint64_t)(s->pts + p->ts_offset), false, 0, u->payload, pes);
	if (pos == 0)
		fprintf(stderr, "unit of %u audio frame(s), %llu bytes: over the %d a PES can hold\n", u->count,
			(unsigned long long)u->payload, TS_PES_MAX_BOUNDED);
	/* synth.c answers EIO for such a unit, in a file whose size stat promised */
	FUZZ_CHECK(pos != 0 && "the plan sized an audio PES that tsmux_pes_header refuses");
	for (uint32_t k = 0; k < u->count; k++, s++) {
		if (p->adts_size) {
			codec_adts_header(&sm->aac, s->size, pes + pos);
			pos += p->adts_size;
		}
		memset(pes + pos, 0xa5, s->size);
		pos += s->size;
	}
	FUZZ_CHECK(pos == tsmux_pes_header_size(false) + u->payload);
	packetize(&o, pes, pos, u, false, dst);
	free(pes);
}

/* A passthrough access unit, as build_video makes it. */
static void sim_unit_video(const struct sim *sm, const struct plan_unit *u, uint8_t *dst)
{
	const struct plan *p = sm->p;
	const struct input *in = sm->in;
	const struct index_sample *s = &in->ix.video.samples[u->first];
	bool with_dts = s->pts != s->dts;
	size_t hsize = tsmux_pes_header_size(with_dts), pos;
	uint64_t annexb = codec_avc_annexb_size(s->size, s->nals, p->nal_length_size);
	uint8_t *pes = malloc(hsize + u->payload), *raw = malloc(s->size);
	struct ts_pes_out o = { .pid = TS_PID_VIDEO, .cc = u->cc, .pcr = true };
	int ret;

	FUZZ_CHECK(pes && raw && u->count == 1);
	FUZZ_CHECK(s->dts + p->ts_offset - PLAN_PCR_LEAD >= 0);  /* PCR, DTS and PTS >= 0 */
	pos = tsmux_pes_header(TS_STREAM_ID_VIDEO, (uint64_t)(s->pts + p->ts_offset), with_dts,
			       (uint64_t)(s->dts + p->ts_offset), u->payload, pes);
	FUZZ_CHECK(pos == hsize);
	codec_avc_aud(pes + pos);
	pos += CODEC_AUD_SIZE;
	if ((s->flags & INDEX_SAMPLE_KEY) && sm->avc.ps_size) {
		/* synth.c copies even 0 bytes from a NULL ps (avc3-style avcC); harmless, but
		 * UBSan's nonnull check would stop here rather than in the code under test */
		memcpy(pes + pos, sm->avc.ps, sm->avc.ps_size);
		pos += sm->avc.ps_size;
	}
	make_sample(in, u->first, raw);
	ret = codec_avc_to_annexb(raw, s->size, p->nal_length_size, pes + pos, annexb);
	if (in->vb[u->first].tiled)
		FUZZ_CHECK(ret == 0);
	pos += annexb;
	FUZZ_CHECK(pos == hsize + u->payload);
	o.pcr_value = (uint64_t)(s->dts + p->ts_offset - PLAN_PCR_LEAD) * 300;
	o.random_access = (s->flags & INDEX_SAMPLE_KEY) != 0;
	packetize(&o, pes, pos, u, false, dst);
	free(pes);
	free(raw);
}

/* An encoded frame of a transcoded rung, as build_encoded makes it (PTS = DTS). */
static void sim_unit_encoded(const struct sim *sm, const struct plan_unit *u, uint8_t *dst)
{
	const struct plan *p = sm->p;
	const struct plan_frame *f = &sm->frames[u->first];
	uint64_t size = sm->frame_sizes[u->first];
	uint8_t *pes = malloc(tsmux_pes_header_size(false) + size);
	struct ts_pes_out o = { .pid = TS_PID_VIDEO, .cc = u->cc, .pcr = true };
	size_t pos;

	FUZZ_CHECK(pes && u->count == 1 && u->payload == size);
	FUZZ_CHECK(f->pts + p->ts_offset - PLAN_PCR_LEAD >= 0);
	pos = tsmux_pes_header(TS_STREAM_ID_VIDEO, (uint64_t)(f->pts + p->ts_offset), false, 0, size, pes);
	FUZZ_CHECK(pos == tsmux_pes_header_size(false));
	memset(pes + pos, 0x3c, size);
	if (size >= CODEC_AUD_SIZE)
		codec_avc_aud(pes + pos);
	o.pcr_value = (uint64_t)(f->pts + p->ts_offset - PLAN_PCR_LEAD) * 300;
	o.random_access = f->key;
	packetize(&o, pes, pos + size, u, true, dst);
	free(pes);
}

/* Writes a segment from its layout as synth.c does, into exactly size bytes: the layout's
 * bytes, then (transcoded) null packets up to the bound. */
static void simulate(const struct sim *sm, const struct plan_layout *l, uint64_t used, uint64_t size)
{
	const struct plan *p = sm->p;
	uint8_t *buf = malloc(size);
	uint64_t off = 0;

	FUZZ_CHECK(buf && used <= size && size % TS_PACKET_SIZE == 0);
	for (uint32_t i = 0; i < l->nb_units; i++) {
		const struct plan_unit *u = &l->units[i];
		uint8_t *dst = buf + u->offset;

		FUZZ_CHECK(u->offset == off && u->packets >= 1);
		FUZZ_CHECK(u->offset + u->packets * TS_PACKET_SIZE <= used);
		switch (u->kind) {
		case PLAN_UNIT_PAT:
			FUZZ_CHECK(u->packets == 1);
			tsmux_pat(u->cc, dst);
			break;
		case PLAN_UNIT_PMT:
			FUZZ_CHECK(u->packets == 1);
			tsmux_pmt(&p->program, u->cc, dst);
			break;
		case PLAN_UNIT_PCR:
			FUZZ_CHECK(u->packets == 1);
			FUZZ_CHECK(u->pcr + p->ts_offset - PLAN_PCR_LEAD >= 0);
			tsmux_pcr_packet(TS_PID_VIDEO, (u->cc + 15) & 15,
					 (uint64_t)(u->pcr + p->ts_offset - PLAN_PCR_LEAD) * 300, dst);
			break;
		case PLAN_UNIT_VIDEO:
			if (sm->frame_sizes)
				sim_unit_encoded(sm, u, dst);
			else
				sim_unit_video(sm, u, dst);
			break;
		case PLAN_UNIT_AUDIO:
			sim_unit_audio(sm, u, dst);
			break;
		default:
			FUZZ_CHECK(!"unknown unit kind");
		}
		off += u->packets * TS_PACKET_SIZE;
	}
	FUZZ_CHECK(off == used);
	for (; off < size; off += TS_PACKET_SIZE) {
		/* null packets, as transcode_segment pads */
		memset(buf + off, 0xff, TS_PACKET_SIZE);
		buf[off] = 0x47;
		buf[off + 1] = TS_PID_NULL >> 8;
		buf[off + 2] = TS_PID_NULL & 0xff;
		buf[off + 3] = 0x10;
	}
	FUZZ_CHECK(off == size);
	for (uint64_t at = 0; at < size; at += TS_PACKET_SIZE)
		FUZZ_CHECK(buf[at] == 0x47);
	free(buf);
}

/* What a layout promises, without writing it: offsets, unit order, counters, PCR spacing.
 * frames: the video frames it was laid out from (ref, pts, dts, payload). */
static void check_units(const struct input *in, const struct plan_segment *seg, uint32_t k,
			const struct plan_layout *l, const struct plan_frame *frames, uint32_t nf, unsigned vcc0,
			uint64_t size)
{
	const struct media_index *ix = &in->ix;
	uint32_t vnext = 0, anext = seg->a_first;
	unsigned vcc = vcc0, acc = seg->a_cc;
	uint64_t off = 0;
	int64_t last_pcr = INT64_MIN;

	FUZZ_CHECK(l->segment == k && l->nb_units >= 3);
	FUZZ_CHECK(l->units[0].kind == PLAN_UNIT_PAT && l->units[1].kind == PLAN_UNIT_PMT);
	FUZZ_CHECK(l->units[2].kind == PLAN_UNIT_VIDEO && l->units[2].first == frames[0].ref);
	FUZZ_CHECK(l->units[0].cc == (k & 15) && l->units[1].cc == (k & 15));
	for (uint32_t i = 0; i < l->nb_units; i++) {
		const struct plan_unit *u = &l->units[i];
		int64_t dts;

		FUZZ_CHECK(u->offset == off && u->packets >= 1);
		if (i < 64 || l->nb_units - i <= 64 || i % 1021 == 0) {
			/* a sample: the search is O(log n), every unit would make long layouts slow */
			FUZZ_CHECK(plan_layout_find(l, off) == i);
			FUZZ_CHECK(plan_layout_find(l, off + u->packets * TS_PACKET_SIZE - 1) == i);
		}
		off += u->packets * TS_PACKET_SIZE;
		switch (u->kind) {
		case PLAN_UNIT_PAT:
		case PLAN_UNIT_PMT:
			FUZZ_CHECK(i < 2 && u->packets == 1);
			break;
		case PLAN_UNIT_PCR:
			FUZZ_CHECK(i > 2 && u->packets == 1 && u->cc == vcc);
			FUZZ_CHECK(u->pcr >= last_pcr);
			last_pcr = u->pcr;
			break;
		case PLAN_UNIT_VIDEO:
			FUZZ_CHECK(vnext < nf && u->first == frames[vnext].ref && u->count == 1 && u->cc == vcc);
			FUZZ_CHECK(u->payload == frames[vnext].payload);
			dts = frames[vnext].dts;
			FUZZ_CHECK(last_pcr == INT64_MIN || (dts >= last_pcr && dts - last_pcr <= PLAN_PCR_INTERVAL));
			last_pcr = dts;
			vnext++;
			vcc = (unsigned)((vcc + u->packets) & 15);
			break;
		case PLAN_UNIT_AUDIO:
			FUZZ_CHECK(u->first == anext && u->count >= 1 && u->cc == acc);
			dts = ix->audio.samples[u->first].dts;
			/* a PCR at most 100 ms before any PES that starts later than the last PCR */
			FUZZ_CHECK(dts - last_pcr <= PLAN_PCR_INTERVAL);
			anext += u->count;
			acc = (unsigned)((acc + u->packets) & 15);
			break;
		default:
			FUZZ_CHECK(!"unknown unit kind");
		}
	}
	FUZZ_CHECK(off == size);
	FUZZ_CHECK(vnext == nf);
	FUZZ_CHECK(anext == seg->a_first + seg->a_count);
}

static void check_passthrough(const struct input *in, const struct plan *p, uint64_t *simulated)
{
	struct sim sm = { .in = in, .p = p };
	uint64_t cum_v = 0, total = 0;

	FUZZ_CHECK(codec_avc_parse(in->ix.video.extradata, in->ix.video.extradata_size, &sm.avc) == 0);
	FUZZ_CHECK(sm.avc.ps_size == p->ps_size && sm.avc.nal_length_size == p->nal_length_size);
	FUZZ_CHECK(p->nal_length_size == in->lsize);
	if (in->ix.audio.codec == INDEX_CODEC_AAC)
		FUZZ_CHECK(codec_aac_parse(in->ix.audio.extradata, in->ix.audio.extradata_size, &sm.aac) == 0);
	for (uint32_t k = 0; k < p->nb_segments; k++) {
		const struct plan_segment *seg = &p->segments[k];
		struct plan_frame *frames = malloc(sizeof(*frames) * seg->v_count);
		struct plan_layout *l;
		int ret;

		FUZZ_CHECK(frames);
		FUZZ_CHECK(seg->size % TS_PACKET_SIZE == 0);
		FUZZ_CHECK(seg->size == (2 + seg->v_packets + seg->a_packets + seg->pcr_packets) * TS_PACKET_SIZE);
		FUZZ_CHECK(seg->v_cc == (cum_v & 15));
		cum_v += seg->v_packets;
		total += seg->size;
		for (uint32_t i = 0; i < seg->v_count; i++) {
			const struct index_sample *s = &in->ix.video.samples[seg->v_first + i];
			frames[i] = (struct plan_frame){ s->pts, s->dts, plan_video_payload(p, s), seg->v_first + i,
							 (s->flags & INDEX_SAMPLE_KEY) != 0 };
			FUZZ_CHECK(frames[i].payload == CODEC_AUD_SIZE + (frames[i].key ? p->ps_size : 0) +
				   codec_avc_annexb_size(s->size, s->nals, in->lsize));
		}
		ret = plan_layout(p, &in->ix, k, &l);
		if (ret == -ENOMEM) {
			free(frames);
			continue;
		}
		if (ret != 0)
			fprintf(stderr, "plan_layout(segment %u of %u) = %d\n", k, p->nb_segments, ret);
		FUZZ_CHECK(ret == 0 && l);
		check_units(in, seg, k, l, frames, seg->v_count, seg->v_cc, seg->size);
		if (seg->size <= SIM_SEGMENT_MAX && *simulated + seg->size <= SIM_TOTAL_MAX) {
			simulate(&sm, l, seg->size, seg->size);
			*simulated += seg->size;
		}
		free(l);
		free(frames);
	}
	FUZZ_CHECK(total == p->total_bytes);
	codec_avc_release(&sm.avc);
}

/* Encoded frame sizes for n frames, at least one byte each, adding up to at most budget. */
static void draw_frame_sizes(struct fz *f, uint32_t n, uint64_t budget, uint32_t *sizes)
{
	uint8_t mode = fz_u8(f);
	uint64_t left = budget;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t most = left - (n - 1 - i);  /* a byte for each frame still to come */
		uint64_t want;
		switch (mode & 3) {
		case 0: /* the whole budget, spread evenly: the bound's worst case */
			want = budget / n + (i < budget % n);
			break;
		case 1: /* small frames: many partial packets */
			want = 1 + fz_u8(f);
			break;
		case 2: /* a huge keyframe first */
			want = i == 0 ? most : 1 + fz_u16(f);
			break;
		default:
			want = 1 + fz_u32(f) % (2 * (budget / n) + 1);
			break;
		}
		if (want > most)
			want = most;
		if (want > UINT32_MAX)
			want = UINT32_MAX;
		sizes[i] = (uint32_t)(want ? want : 1);
		left -= sizes[i];
	}
}

static void check_rungs(struct fz *f, const struct input *in, const struct plan *p, uint64_t *simulated)
{
	struct sim sm = { .in = in, .p = p };
	uint32_t nv = in->ix.video.nb_samples;
	uint8_t *seen = calloc(nv, 1);

	FUZZ_CHECK(seen);
	if (in->ix.audio.codec == INDEX_CODEC_AAC)
		FUZZ_CHECK(codec_aac_parse(in->ix.audio.extradata, in->ix.audio.extradata_size, &sm.aac) == 0);
	for (unsigned r = 0; r < p->nb_rungs; r++) {
		const struct plan_rung *rung = &p->rungs[r];
		uint64_t total = 0;

		FUZZ_CHECK(rung->height >= 2 && rung->height % 2 == 0 && rung->height <= in->ix.video.height);
		FUZZ_CHECK(!p->passthrough || rung->height < (in->ix.video.height & ~1u));
		FUZZ_CHECK(r == 0 || rung->height < p->rungs[r - 1].height);
		FUZZ_CHECK(rung->width >= 2 && rung->width % 2 == 0);
		FUZZ_CHECK(rung->maxrate == (uint64_t)rung->kbps * 1000 && rung->bufsize == rung->maxrate * RUNG_VBV_SECONDS);
		FUZZ_CHECK(rung->level >= 10 && rung->level <= 52);
		FUZZ_CHECK(rung->profile_idc == (in->cfg.profile_idc ? in->cfg.profile_idc : 77));
		/* Every bound is checked; segments are encoded for the top rung and one other (the
		 * layouts differ only in sizes, and each costs a walk over the segment). */
		bool encode = r == 0 || r == (unsigned)(f->rng % p->nb_rungs);
		for (uint32_t k = 0; k < p->nb_segments; k++) {
			const struct plan_segment *seg = &p->segments[k];
			uint64_t bound = rung->sizes[k], used = 0, es, vpk = 0, room = 0;
			struct plan_frame *frames;
			struct plan_layout *l;
			uint32_t n, *sizes;

			FUZZ_CHECK(bound % TS_PACKET_SIZE == 0 && bound >= 3 * TS_PACKET_SIZE);
			total += bound;
			if (!encode || plan_presented(p, &in->ix, k, &frames, &n) < 0)
				continue;
			FUZZ_CHECK(n >= 1);
			for (uint32_t i = 0; i < n; i++) {
				FUZZ_CHECK(frames[i].ref >= seg->v_first && frames[i].ref < nv);
				FUZZ_CHECK(!(in->ix.video.samples[frames[i].ref].flags & INDEX_SAMPLE_HIDDEN));
				FUZZ_CHECK(frames[i].pts == in->ix.video.samples[frames[i].ref].pts);
				FUZZ_CHECK(frames[i].dts == frames[i].pts);
				FUZZ_CHECK(i == 0 || frames[i].pts >= frames[i - 1].pts);
				if (r == 0) {
					FUZZ_CHECK(!seen[frames[i].ref]);  /* no frame in two segments */
					seen[frames[i].ref] = 1;
				}
			}
			/* The encoder's output: one frame per presented frame, within the VBV budget. */
			es = (rung->maxrate * (uint64_t)(seg->end - seg->start) / PLAN_TIMEBASE +
			      rung->bufsize * RUNG_VBV_INIT_PERCENT / 100 + 7) / 8 +
			     RUNG_HEADER_ALLOWANCE + (uint64_t)n * RUNG_FRAME_ALLOWANCE;
			sizes = malloc(sizeof(*sizes) * n);
			FUZZ_CHECK(sizes);
			draw_frame_sizes(f, n, es, sizes);
			for (uint32_t i = 0; i < n; i++) {
				frames[i].payload = sizes[i];
				frames[i].key = i == 0;
				frames[i].ref = i;  /* transcode.c: the encoded frame's index */
			}
			if (plan_layout_frames(p, &in->ix, k, frames, n, &l, &used) < 0) {
				free(sizes);
				free(frames);
				continue;
			}
			check_units(in, seg, k, l, frames, n, 0, used);
			for (uint32_t i = 0; i < l->nb_units; i++) {
				const struct plan_unit *u = &l->units[i];
				if (u->kind != PLAN_UNIT_VIDEO)
					continue;
				vpk += u->packets;
				room += tsmux_pes_header_size(false) + u->payload - u->packets;
			}
			/* counters start at 0 in every segment: a multiple of 16 video packets, unless
			 * the frames are too small to spread over that many */
			FUZZ_CHECK(vpk % 16 == 0 || room == 0);
			if (used > bound) {
				uint64_t sum = 0;
				for (uint32_t i = 0; i < n; i++)
					sum += sizes[i];
				fprintf(stderr, "rung %u (%up, %u kbit/s) segment %u: %u frames of %llu bytes in all (VBV "
					"budget %llu) take %llu bytes, over the planned bound of %llu\n", r, rung->height,
					rung->kbps, k, n, (unsigned long long)sum, (unsigned long long)es,
					(unsigned long long)used, (unsigned long long)bound);
			}
			FUZZ_CHECK(used <= bound);
			if (bound <= SIM_SEGMENT_MAX && *simulated + bound <= SIM_TOTAL_MAX) {
				sm.frame_sizes = sizes;
				sm.frames = frames;
				simulate(&sm, l, used, bound);
				*simulated += bound;
			}
			free(l);
			free(sizes);
			free(frames);
		}
		FUZZ_CHECK(total == rung->total_bytes);
		FUZZ_CHECK(rung->peak_bps >= rung->average_bps || rung->peak_bps == 0);
	}
	free(seen);
}

static void check_playlists(const struct input *in, const struct plan *p)
{
	char names[PLAN_MAX_RUNGS + 1][NAMING_MAX], *text, codecs[64], line[3 * NAMING_MAX];
	unsigned nvar = plan_variants(p), inf = 0;
	size_t len;
	uint32_t extinf = 0;

	FUZZ_CHECK(playlist_media(p, "0123abcd", &text, &len) == 0);
	FUZZ_CHECK(text && strlen(text) == len);
	for (const char *q = text; (q = strstr(q, "#EXTINF:")); q++)
		extinf++;
	FUZZ_CHECK(extinf == p->nb_segments);
	free(text);

	FUZZ_CHECK(nvar == (p->passthrough ? 1u : 0u) + p->nb_rungs && nvar >= 1 && nvar <= PLAN_MAX_RUNGS + 1);
	for (unsigned v = 0; v < nvar; v++) {
		naming_variant(plan_variant_height(p, &in->ix, v), names[v]);
		for (unsigned w = 0; w < v; w++)
			FUZZ_CHECK(strcmp(names[v], names[w]));  /* one folder per variant */
	}
	{
		/* I-frames: one per keyframe of the passthrough, each a whole number of packets
		 * inside its segment, in order, standing for at least a millisecond */
		struct plan_iframe *fr = NULL;
		uint32_t nfr = 0, keys = 0;
		if (p->passthrough) {
			FUZZ_CHECK(plan_iframes(p, &in->ix, &fr, &nfr) == 0);
			for (uint32_t s = 0; s < p->nb_segments; s++)
				for (uint32_t i = 0; i < p->segments[s].v_count; i++)
					keys += (in->ix.video.samples[p->segments[s].v_first + i].flags & INDEX_SAMPLE_KEY) != 0;
			FUZZ_CHECK(nfr == keys && nfr >= p->nb_segments);
			for (uint32_t i = 0; i < nfr; i++) {
				FUZZ_CHECK(fr[i].segment < p->nb_segments && fr[i].ms >= 1);
				FUZZ_CHECK(fr[i].offset % TS_PACKET_SIZE == 0 && fr[i].size % TS_PACKET_SIZE == 0 && fr[i].size);
				FUZZ_CHECK(fr[i].offset >= 2 * TS_PACKET_SIZE);  /* after PAT and PMT */
				FUZZ_CHECK(fr[i].offset + fr[i].size <= p->segments[fr[i].segment].size);
				FUZZ_CHECK(i == 0 || fr[i].segment > fr[i - 1].segment ||
					   (fr[i].segment == fr[i - 1].segment && fr[i].offset >= fr[i - 1].offset + fr[i - 1].size));
			}
			FUZZ_CHECK(playlist_iframes(fr, nfr, "0123abcd", &text, &len) == 0);
			FUZZ_CHECK(text && strlen(text) == len);
			free(text);
		} else {
			FUZZ_CHECK(plan_iframes(p, &in->ix, &fr, &nfr) == -EINVAL && !fr && !nfr);
		}
		FUZZ_CHECK(playlist_master(&in->ix, p, names, fr, nfr, &text, &len) == 0);
		FUZZ_CHECK(!strstr(text, "#EXT-X-I-FRAME-STREAM-INF:") == !p->passthrough);
		free(fr);
	}
	FUZZ_CHECK(text && strlen(text) == len);
	for (const char *q = text; (q = strstr(q, "#EXT-X-STREAM-INF:")); q++)
		inf++;
	FUZZ_CHECK(inf == nvar);
	for (unsigned v = 0; v < nvar; v++) {
		snprintf(line, sizeof(line), "\n%s/%s\n", names[v], NAMING_PLAYLIST);
		FUZZ_CHECK(strstr(text, line));
	}
	free(text);
	if (p->passthrough) {
		FUZZ_CHECK(playlist_codecs(&in->ix, codecs, sizeof(codecs)) == 0);
		FUZZ_CHECK(!strcmp(codecs, in->ix.audio.codec == INDEX_CODEC_AAC ? "avc1.64001f,mp4a.40.2" :
					   in->ix.audio.codec == INDEX_CODEC_MP3 ? "avc1.64001f,mp4a.40.34" : "avc1.64001f"));
	}
}

/* FUZZ_PLAN_VERBOSE=1 ./fuzz_plan INPUT: what the input describes and what was planned. */
static void dump(const struct input *in, const struct plan *p)
{
	const struct index_track *v = &in->ix.video, *a = &in->ix.audio;

	fprintf(stderr, "index: %u video frames (%s, %ux%u, NAL length %u), dts %lld..%lld; %u audio frames (codec %d)",
		v->nb_samples, in->passthrough ? "passthrough" : "no passthrough", v->width, v->height, in->lsize,
		(long long)v->samples[0].dts, (long long)v->samples[v->nb_samples - 1].dts, a->nb_samples, (int)a->codec);
	if (a->nb_samples)
		fprintf(stderr, ", dts %lld..%lld", (long long)a->samples[0].dts, (long long)a->samples[a->nb_samples - 1].dts);
	fprintf(stderr, "\nconfig: target %u ticks, %u rungs\n", in->cfg.target, in->cfg.nb_rungs);
	if (!p)
		return;
	fprintf(stderr, "plan: %u segments, ts_offset %lld, target duration %u s, %u rungs\n", p->nb_segments,
		(long long)p->ts_offset, p->target_duration, p->nb_rungs);
	for (uint32_t k = 0; k < p->nb_segments && k < 20; k++)
		fprintf(stderr, "  segment %u: start %lld end %lld (%llu ms) video %u+%u audio %u+%u size %llu\n", k,
			(long long)p->segments[k].start, (long long)p->segments[k].end,
			(unsigned long long)plan_segment_ms(p, k), p->segments[k].v_first, p->segments[k].v_count,
			p->segments[k].a_first, p->segments[k].a_count, (unsigned long long)p->segments[k].size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	struct plan *p, *p2;
	struct fz f;
	uint32_t first_key, vnext, anext = 0;
	uint64_t cum_a = 0, simulated = 0;
	int64_t shown_from;
	int ret;

	if (size > 1 << 20)
		return 0;
	draw_input(data, size, &in);
	for (first_key = 0; first_key < in.ix.video.nb_samples; first_key++)
		if (in.ix.video.samples[first_key].flags & INDEX_SAMPLE_KEY)
			break;

	ret = plan_build(&in.ix, &in.cfg, &p);
	if (getenv("FUZZ_PLAN_VERBOSE"))
		dump(&in, p);
	shown_from = INT64_MAX;
	for (uint32_t i = first_key; i < in.ix.video.nb_samples; i++)
		if (!(in.ix.video.samples[i].flags & INDEX_SAMPLE_HIDDEN) && in.ix.video.samples[i].pts < shown_from)
			shown_from = in.ix.video.samples[i].pts;
	if (first_key == in.ix.video.nb_samples || shown_from == INT64_MAX) {  /* no keyframe, or nothing shown */
		FUZZ_CHECK((ret == -EINVAL || (ret == -ENOTSUP && shown_from == INT64_MAX && !in.passthrough)) && !p);
		free_input(&in);
		return 0;
	}
	if (ret == -ENOMEM || (ret == -ENOTSUP && !in.passthrough)) {
		FUZZ_CHECK(!p);
		free_input(&in);
		return 0;
	}
	if (ret != 0)
		fprintf(stderr, "plan_build = %d\n", ret);
	FUZZ_CHECK(ret == 0 && p);
	FUZZ_CHECK(p->passthrough == in.passthrough);
	FUZZ_CHECK(p->passthrough || p->nb_rungs >= 1);

	/* Same index, same plan (invariant 2); on one input in eight, as planning twice is slow. */
	if (size && data[size - 1] % 8 == 0) {
		FUZZ_CHECK(plan_build(&in.ix, &in.cfg, &p2) == 0);
		FUZZ_CHECK(p2->nb_segments == p->nb_segments && p2->total_bytes == p->total_bytes);
		FUZZ_CHECK(!memcmp(p2->segments, p->segments, sizeof(p->segments[0]) * p->nb_segments));
		FUZZ_CHECK(p2->nb_rungs == p->nb_rungs);
		for (unsigned r = 0; r < p->nb_rungs; r++)
			FUZZ_CHECK(!memcmp(p2->rungs[r].sizes, p->rungs[r].sizes, sizeof(uint64_t) * p->nb_segments));
		plan_free(p2);
	}

	/* Boundaries and membership, shared by every variant. */
	FUZZ_CHECK(p->nb_segments >= 1 && p->segments[0].v_first == first_key);
	/* Where an edit list hides the first keyframe, the timeline starts where the first frame
	 * shown is, or at 0 before it. */
	FUZZ_CHECK(p->shown_from == shown_from);
	FUZZ_CHECK(!(in.ix.video.samples[first_key].flags & INDEX_SAMPLE_HIDDEN) || p->segments[0].start <= shown_from);
	FUZZ_CHECK(p->target_duration >= 1);
	vnext = first_key;
	for (uint32_t k = 0; k < p->nb_segments; k++) {
		const struct plan_segment *seg = &p->segments[k];

		FUZZ_CHECK(seg->v_first == vnext && seg->v_count >= 1);
		/* a segment after the first starts with a frame it shows */
		FUZZ_CHECK(k == 0 || !(in.ix.video.samples[seg->v_first].flags & INDEX_SAMPLE_HIDDEN));
		if (!(in.ix.video.samples[seg->v_first].flags & INDEX_SAMPLE_KEY)) {
			/* A cut between frames: only where GOPs are cut, no B-frame crosses it, and the
			 * segment starts at the earliest frame shown from there on. Samples before the
			 * first keyframe are in no segment. */
			int64_t before = INT64_MIN, after = INT64_MAX;
			FUZZ_CHECK(k > 0 && in.cfg.split_gops && !p->passthrough);
			for (uint32_t i = first_key; i < seg->v_first; i++)
				before = in.ix.video.samples[i].pts > before ? in.ix.video.samples[i].pts : before;
			for (uint32_t i = seg->v_first; i < in.ix.video.nb_samples; i++)
				after = in.ix.video.samples[i].pts < after ? in.ix.video.samples[i].pts : after;
			FUZZ_CHECK(before < seg->start && after == seg->start);
		}
		FUZZ_CHECK(seg->a_first == anext);
		FUZZ_CHECK(seg->start <= seg->end);
		FUZZ_CHECK(k == 0 || seg->start == p->segments[k - 1].end);
		FUZZ_CHECK(seg->a_cc == (cum_a & 15));
		FUZZ_CHECK(plan_segment_ms(p, k) <= (uint64_t)p->target_duration * 1000);
		vnext += seg->v_count;
		anext += seg->a_count;
		cum_a += seg->a_packets;
	}
	FUZZ_CHECK(vnext == in.ix.video.nb_samples);
	FUZZ_CHECK(anext == (p->has_audio ? in.ix.audio.nb_samples : 0)); /* audio a PES cannot hold is left out */
	FUZZ_CHECK(plan_layout(p, &in.ix, p->nb_segments, &(struct plan_layout *){ NULL }) == -EINVAL);

	if (p->passthrough)
		check_passthrough(&in, p, &simulated);
	else
		FUZZ_CHECK(plan_layout(p, &in.ix, 0, &(struct plan_layout *){ NULL }) == -EINVAL);
	/* encoded frame sizes come from the generator behind the input */
	fz_init(&f, data, size);
	f.left = 0;
	check_rungs(&f, &in, p, &simulated);
	check_playlists(&in, p);
	plan_free(p);
	free_input(&in);
	return 0;
}
