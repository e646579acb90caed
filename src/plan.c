/* Segment planning and the exact byte layout of every segment.
 *
 * Boundaries. On an absolute grid from time 0, boundary k is the first video keyframe whose PTS
 * is at or after k x target. Grid points that would give an empty segment are skipped, so a GOP
 * longer than the target makes a longer segment, never an empty one. Every variant cuts here.
 * Without a passthrough variant (plan_config.split_gops), a GOP whose next keyframe lies a whole
 * target past the grid point is also cut between frames: at the first sample in decode order
 * from which every sample is shown at or after the grid point and every earlier one before it
 * (a cut no B-frame crosses); the boundary is the earliest PTS from there on. Such a source also
 * starts with short segments: the first ends at PLAN_FIRST, so the segment a player waits for
 * first costs a sixth of a target to transcode; then, up to two targets, the grid is PLAN_RAMP.
 * On these, as on the target grid, a keyframe at or after the point cuts, and a GOP is cut
 * between frames where no keyframe comes before the next point. A short segment costs more per
 * second of video than a long one (an encoder starts for each), so the player's buffer grows
 * slowly over them; two targets of them leave it enough to wait for the first long one even where
 * transcoding is barely faster than real time (4K HEVC on 2 cores). A segment that starts between
 * frames decodes on from the one before it where the codec allows (transcode.c); elsewhere it
 * decodes again from the keyframe, skipping what nothing refers to.
 *
 * Membership. Video samples belong to segments by decode order (a segment runs from its
 * keyframe to the sample before the next boundary's keyframe). Audio samples belong by PTS:
 * segment k holds audio with B_k <= pts < B_k+1; the first segment also takes audio before B_1
 * (AAC priming sits just before 0) and the last takes the tail.
 *
 * Layout. A segment is PAT, PMT, then PES units: one per video access unit (PCR on its first
 * packet) and one per run of up to PLAN_AUDIO_FRAMES_PER_PES audio frames, merged by DTS, the
 * first video unit always first so the segment opens with a PCR and a keyframe. Each PES takes
 * tsmux_packets() packets; continuity counters continue across segments, so segment k's first
 * counter is the packet count of segments 0..k-1 modulo 16 -- which is why the planner counts
 * packets of every segment up front, in one pass over the samples.
 *
 * Rungs. A transcoded rung encodes the frames presented in each segment's span (so segment N
 * of every variant covers the same time) with PTS = DTS (no B-frames, so DTS never steps back
 * between independently encoded segments). Its size is a bound: the VBV limit over the span
 * (maxrate x duration plus the initial buffer), the worst-case packetization of that many bytes
 * in that many frames, audio and PCR packets exactly as above. */
#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "rotate.h"

/* VBV of a rung: maxrate = the average rate, a one-second buffer that starts 90% full. */
#define RUNG_VBV_SECONDS 1
#define RUNG_VBV_INIT_PERCENT 90
/* Bytes per segment beyond the VBV bound: x264's SEI and parameter sets at the IDR. */
#define RUNG_HEADER_ALLOWANCE 4096
/* Bytes per frame beyond it: the access unit delimiter and NAL start codes. */
#define RUNG_FRAME_ALLOWANCE 64
/* A rung is offered only when its average rate is under this share of the variant above. */
#define RUNG_STEP_PERCENT 85
/* The grid of the first segments of a transcode-only source, when the target is at least twice it,
 * and where the first of them ends. */
#define PLAN_RAMP (2 * PLAN_TIMEBASE)
#define PLAN_FIRST (1 * PLAN_TIMEBASE)

uint64_t plan_video_payload(const struct plan *p, const struct index_sample *s)
{
	if (p->annexb)  /* already start codes; parameter sets only where the sample has none */
		return CODEC_AUD_SIZE + ((s->flags & INDEX_SAMPLE_KEY) && !(s->flags & INDEX_SAMPLE_PS) ? p->ps_size : 0) +
		       s->size;
	return CODEC_AUD_SIZE + ((s->flags & INDEX_SAMPLE_KEY) ? p->ps_size : 0) +
	       codec_avc_annexb_size(s->size, s->nals, p->nal_length_size);
}

/* End (exclusive) of the audio PES that starts at sample i, not past end; *payload gets its
 * elementary-stream bytes. A PES never spans a gap in the audio timeline. */
static uint32_t audio_run(unsigned adts_size, const struct index_track *a, uint32_t i, uint32_t end,
			  uint64_t *payload)
{
	uint64_t bytes = a->samples[i].size + adts_size;
	uint32_t j = i + 1;

	while (j < end && j - i < PLAN_AUDIO_FRAMES_PER_PES) {
		const struct index_sample *prev = &a->samples[j - 1], *s = &a->samples[j];
		uint64_t add = s->size + adts_size;
		if (s->pts != prev->pts + prev->duration || prev->duration == 0)
			break;
		if (bytes + add > TS_PES_MAX_BOUNDED)
			break;
		bytes += add;
		j++;
	}
	*payload = bytes;
	return j;
}

static int64_t round_ms(int64_t t)
{
	/* floor((t * 1000 + 45000) / 90000) for negative t too */
	int64_t n = t * 1000 + PLAN_TIMEBASE / 2;
	return n >= 0 ? n / PLAN_TIMEBASE : -((-n + PLAN_TIMEBASE - 1) / PLAN_TIMEBASE);
}

uint64_t plan_segment_ms(const struct plan *p, uint32_t seg)
{
	const struct plan_segment *s = &p->segments[seg];
	return (uint64_t)(round_ms(s->end) - round_ms(s->start));
}

struct walk_counts {
	uint64_t v_packets, a_packets, pcr_packets;
};

/* The one definition of a segment's unit order, used to count (units NULL) and to lay out:
 * PAT, PMT, then video frames and audio runs merged by DTS (the first video frame first), with
 * PCR-only packets wherever video leaves a gap longer than PLAN_PCR_INTERVAL. Unit order
 * depends on timestamps only, never on sizes. Returns the number of units. */
static uint32_t layout_walk(const struct plan *p, const struct media_index *ix, const struct plan_segment *seg,
			    const struct plan_frame *v, uint32_t nv, unsigned vcc, struct plan_unit *units,
			    struct walk_counts *counts)
{
	const struct index_track *a = &ix->audio;
	uint32_t vi = 0, ai = seg->a_first, a_end = seg->a_first + seg->a_count, n = 2;
	uint64_t off = 2 * TS_PACKET_SIZE;
	unsigned acc = seg->a_cc;
	int64_t last_pcr = nv ? v[0].dts : 0;

	memset(counts, 0, sizeof(*counts));
	if (units) {
		units[0] = (struct plan_unit){ .offset = 0, .packets = 1, .kind = PLAN_UNIT_PAT };
		units[1] = (struct plan_unit){ .offset = TS_PACKET_SIZE, .packets = 1, .kind = PLAN_UNIT_PMT };
	}
	while (vi < nv || ai < a_end) {
		struct plan_unit u = { .offset = off };
		bool take_video = vi < nv && (ai >= a_end || vi == 0 || v[vi].dts <= a->samples[ai].dts);
		int64_t dts = take_video ? v[vi].dts : a->samples[ai].dts;

		if (nv && dts - last_pcr > PLAN_PCR_INTERVAL) {
			last_pcr += PLAN_PCR_INTERVAL;
			u.kind = PLAN_UNIT_PCR;
			u.packets = 1;
			u.pcr = last_pcr;
			u.cc = (uint8_t)vcc;  /* adaptation-only packets do not advance the counter */
			counts->pcr_packets++;
		} else if (take_video) {
			u.kind = PLAN_UNIT_VIDEO;
			u.first = v[vi].ref;
			u.count = 1;
			u.payload = v[vi].payload;
			u.packets = tsmux_packets(plan_video_header(v[vi].pts, v[vi].dts) + u.payload, true);
			u.cc = (uint8_t)vcc;
			vcc = (unsigned)((vcc + u.packets) & 15);
			counts->v_packets += u.packets;
			last_pcr = dts;
			vi++;
		} else {
			uint32_t j = audio_run(p->adts_size, a, ai, a_end, &u.payload);
			u.kind = PLAN_UNIT_AUDIO;
			u.first = ai;
			u.count = j - ai;
			u.packets = tsmux_packets(tsmux_pes_header_size(false) + u.payload, false);
			u.cc = (uint8_t)acc;
			acc = (unsigned)((acc + u.packets) & 15);
			counts->a_packets += u.packets;
			ai = j;
		}
		if (units)
			units[n] = u;
		n++;
		off += u.packets * TS_PACKET_SIZE;
	}
	return n;
}

/* The passthrough frames of a segment: its samples in decode order. */
static struct plan_frame *passthrough_frames(const struct plan *p, const struct media_index *ix,
					     const struct plan_segment *seg)
{
	struct plan_frame *f = malloc(sizeof(*f) * (seg->v_count ? seg->v_count : 1));
	if (!f)
		return NULL;
	for (uint32_t i = 0; i < seg->v_count; i++) {
		const struct index_sample *s = &ix->video.samples[seg->v_first + i];
		f[i] = (struct plan_frame){ s->pts, s->dts, p->passthrough ? plan_video_payload(p, s) : 0,
					    seg->v_first + i, (s->flags & INDEX_SAMPLE_KEY) != 0 };
	}
	return f;
}

static int frame_pts_cmp(const void *a, const void *b)
{
	const struct plan_frame *x = a, *y = b;
	return x->pts < y->pts ? -1 : x->pts > y->pts;
}

int plan_presented(const struct plan *p, const struct media_index *ix, uint32_t seg,
		   struct plan_frame **frames, uint32_t *n)
{
	const struct plan_segment *s = &p->segments[seg];
	const struct index_track *v = &ix->video;
	/* Frames shown in this span are decoded in this segment's range or, with open GOPs, at the
	 * head of the next one (before its keyframe in presentation order). */
	uint32_t from = s->v_first, to = s->v_first + s->v_count, k = 0;
	bool last = seg + 1 == p->nb_segments;
	struct plan_frame *f;

	if (!last)
		to += p->segments[seg + 1].v_count;
	if (!(f = malloc(sizeof(*f) * (to - from + 1))))
		return -ENOMEM;
	for (uint32_t i = from; i < to; i++) {
		const struct index_sample *smp = &v->samples[i];
		if (smp->pts < s->start && seg > 0)
			continue;
		if (!last && smp->pts >= s->end)
			continue;
		if (smp->flags & INDEX_SAMPLE_HIDDEN)
			continue;
		f[k++] = (struct plan_frame){ smp->pts, smp->pts, 0, i, (smp->flags & INDEX_SAMPLE_KEY) != 0 };
	}
	qsort(f, k, sizeof(*f), frame_pts_cmp);
	*frames = f;
	*n = k;
	return 0;
}

/* Where a keyframe may cut next after a boundary at `at`: next_grid (the target grid), or before
 * two targets the next point of the ramp grid (ramp 0: none). */
static int64_t key_grid(int64_t at, int64_t next_grid, uint32_t target, uint32_t ramp)
{
	int64_t g;

	if (!ramp)
		return next_grid;
	g = at < 0 ? (int64_t)ramp : (at / ramp + 1) * (int64_t)ramp;
	return g < 2 * (int64_t)target && g < next_grid ? g : next_grid;
}

static int plan_boundaries(struct plan *p, const struct media_index *ix, uint32_t first_key, uint32_t target,
			   bool split)
{
	const struct index_track *v = &ix->video;
	uint32_t cap = 0, i, next_key, ramp = split && target >= 2 * PLAN_RAMP ? PLAN_RAMP : 0;
	int64_t next_grid, next_key_grid, first_cut, last_pts, shown_before, lead, seg_shown, *min_after = NULL;

	/* Count first: one boundary per keyframe at most, or per target of time when GOPs are cut. */
	for (i = first_key; i < v->nb_samples; i++)
		if (v->samples[i].flags & INDEX_SAMPLE_KEY)
			cap++;
	if (split) {
		/* min_after[i]: the earliest PTS of samples i.. in decode order. */
		if (!(min_after = malloc(sizeof(*min_after) * v->nb_samples)))
			return -ENOMEM;
		for (i = v->nb_samples; i-- > 0;)
			min_after[i] = i + 1 < v->nb_samples && min_after[i + 1] < v->samples[i].pts ? min_after[i + 1] :
				       v->samples[i].pts;
		int64_t max_pts = min_after[first_key];
		for (i = first_key; i < v->nb_samples; i++)
			if (v->samples[i].pts > max_pts)
				max_pts = v->samples[i].pts;
		/* Each boundary lies at least a target past the one before, but on the ramp: at
		 * most 2 x target / ramp of them, and the first cut. */
		cap += (uint32_t)((max_pts - min_after[first_key]) / target + 3) + (ramp ? 2 * target / ramp + 1 : 0);
	}
	p->segments = calloc(cap, sizeof(*p->segments));
	if (!p->segments) {
		free(min_after);
		return -ENOMEM;
	}

	p->segments[0].v_first = first_key;
	/* Time 0 when the video starts within a target of it (EXTINF then sums to the duration);
	 * a source whose first frame is far along starts where its frames do. Where an edit list
	 * hides the keyframe (a trimmed copy), the video starts at the first frame it shows. */
	lead = v->samples[first_key].flags & INDEX_SAMPLE_HIDDEN ? p->shown_from : v->samples[first_key].pts;
	p->segments[0].start = lead < 0 || lead > (int64_t)target ? lead : 0;
	p->nb_segments = 1;
	last_pts = lead;
	shown_before = last_pts;
	/* the earliest frame the segment being cut shows so far (its start or later) */
	seg_shown = v->samples[first_key].flags & INDEX_SAMPLE_HIDDEN ? INT64_MAX : lead;
	next_grid = last_pts < 0 ? target : (last_pts / target + 1) * (int64_t)target;
	next_key_grid = key_grid(last_pts, next_grid, target, ramp);
	/* The first segment of a ramp ends at PLAN_FIRST (where the video starts before it). */
	first_cut = ramp && p->segments[0].start < PLAN_FIRST && last_pts < PLAN_FIRST ? PLAN_FIRST : 0;
	if (first_cut)
		next_key_grid = first_cut;
	next_key = first_key;
	for (i = first_key + 1; i < v->nb_samples; i++) {
		const struct index_sample *s = &v->samples[i];
		/* next_key_grid is also where a cut between frames may come next (the first cut, a ramp
		 * point, or a target point); then: the grid point after it. */
		int64_t at = s->pts, then = first_cut ? (int64_t)ramp :
			next_key_grid + (ramp && next_key_grid < 2 * (int64_t)target ? (int64_t)ramp : (int64_t)target);
		bool hidden = s->flags & INDEX_SAMPLE_HIDDEN;  /* a segment starts with a frame it shows */
		bool cut = (s->flags & INDEX_SAMPLE_KEY) && !hidden && s->pts >= next_key_grid && s->pts > last_pts;
		if (!cut && !hidden && split && !(s->flags & INDEX_SAMPLE_KEY) && min_after[i] >= next_key_grid &&
		    shown_before < min_after[i] && min_after[i] > last_pts && p->nb_segments < cap) {
			if (next_key < i)
				for (next_key = i; next_key < v->nb_samples && !(v->samples[next_key].flags & INDEX_SAMPLE_KEY);)
					next_key++;
			/* Only where no keyframe comes before the grid point after this one: short GOPs
			 * keep their cuts. */
			cut = next_key == v->nb_samples || v->samples[next_key].pts >= then;
			at = min_after[i];
		}
		if (s->pts > shown_before)
			shown_before = s->pts;
		/* Nor where the segment before would show nothing (an edit list hides all it holds). */
		cut = cut && seg_shown < at;
		if (!cut) {
			if (!hidden && s->pts < seg_shown && (p->nb_segments == 1 || s->pts >= last_pts))
				seg_shown = s->pts;
			continue;
		}
		seg_shown = s->pts;  /* not hidden: a cut's frame never is */
		p->segments[p->nb_segments - 1].v_count = i - p->segments[p->nb_segments - 1].v_first;
		p->segments[p->nb_segments - 1].end = at;
		p->segments[p->nb_segments].v_first = i;
		p->segments[p->nb_segments].start = at;
		p->nb_segments++;
		last_pts = at;
		first_cut = 0;
		next_grid = (at / target + 1) * (int64_t)target;
		next_key_grid = key_grid(at, next_grid, target, ramp);
	}
	p->segments[p->nb_segments - 1].v_count = v->nb_samples - p->segments[p->nb_segments - 1].v_first;
	free(min_after);
	return 0;
}

/* Smallest H.264 level (Table A-1) whose frame size, macroblock rate and bit rate fit. */
static uint8_t h264_level(unsigned w, unsigned h, unsigned fps_num, unsigned fps_den, uint64_t maxrate)
{
	static const struct {
		uint8_t idc;
		uint32_t mbps, fs, br_kbps;
	} levels[] = {
		{ 10, 1485, 99, 64 },	      { 11, 3000, 396, 192 },      { 12, 6000, 396, 384 },
		{ 13, 11880, 396, 768 },      { 20, 11880, 396, 2000 },    { 21, 19800, 792, 4000 },
		{ 22, 20250, 1620, 4000 },    { 30, 40500, 1620, 10000 },  { 31, 108000, 3600, 14000 },
		{ 32, 216000, 5120, 20000 },  { 40, 245760, 8192, 20000 }, { 41, 245760, 8192, 50000 },
		{ 42, 522240, 8704, 50000 },  { 50, 589824, 22080, 135000 }, { 51, 983040, 36864, 240000 },
		{ 52, 2073600, 36864, 240000 },
	};
	uint64_t fs = (uint64_t)((w + 15) / 16) * ((h + 15) / 16);
	uint64_t mbps = fps_den ? (fs * fps_num + fps_den - 1) / fps_den : fs * 60;

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (fs <= levels[i].fs && mbps <= levels[i].mbps && maxrate <= (uint64_t)levels[i].br_kbps * 1000)
			return levels[i].idc;
	return 52;
}

/* Average bit rate of a video track from its sample sizes and span, kbit/s (0 if unknown). */
static uint64_t video_kbps(const struct index_track *v)
{
	uint64_t bytes = 0;
	int64_t span;
	for (uint32_t i = 0; i < v->nb_samples; i++)
		bytes += v->samples[i].size;
	span = v->nb_samples ? v->samples[v->nb_samples - 1].dts - v->samples[0].dts + v->samples[v->nb_samples - 1].duration : 0;
	return span > 0 ? bytes * 8 * PLAN_TIMEBASE / (uint64_t)span / 1000 : 0;
}

/* Chooses the rungs: configured heights below the source (up to it when there is no
 * passthrough), at least one, widths from the display aspect ratio, even. */
static void choose_rungs(struct plan *p, const struct media_index *ix, const struct plan_config *cfg)
{
	const struct index_track *v = &ix->video;
	bool turned = rotate_swaps(v->rotation);  /* shown as tall as the picture is wide */
	unsigned src_h = (turned ? v->width : v->height) & ~1u;
	uint64_t src_kbps = video_kbps(v);
	uint64_t dar_num = (uint64_t)v->width * (v->sar_num ? v->sar_num : 1);
	uint64_t dar_den = (uint64_t)v->height * (v->sar_den ? v->sar_den : 1);

	if (turned) {
		uint64_t t = dar_num;
		dar_num = dar_den;
		dar_den = t;
	}

	for (unsigned i = 0; i < cfg->nb_rungs && p->nb_rungs < PLAN_MAX_RUNGS; i++) {
		unsigned h = cfg->rungs[i].height & ~1u;
		if (h == 0 || h > src_h || (p->passthrough && h >= src_h))
			continue;
		p->rungs[p->nb_rungs].height = h;
		p->rungs[p->nb_rungs].kbps = cfg->rungs[i].kbps;
		p->nb_rungs++;
	}
	if (!p->passthrough && p->nb_rungs == 0 && cfg->nb_rungs > 0 && src_h >= 2) {
		/* Smaller than every rung: one rung at its own size, the smallest rate scaled by area. */
		const struct plan_rung_config *low = &cfg->rungs[cfg->nb_rungs - 1];
		uint64_t kbps = (uint64_t)low->kbps * src_h * src_h / ((uint64_t)low->height * low->height);
		p->rungs[0].height = src_h;
		p->rungs[0].kbps = (uint32_t)(kbps < 200 ? 200 : kbps);
		p->nb_rungs = 1;
	}
	for (unsigned i = 0; i < p->nb_rungs; i++) {
		struct plan_rung *r = &p->rungs[i];
		/* the nearest even width to the display aspect */
		uint64_t w = 2 * ((r->height * dar_num + dar_den) / (2 * dar_den));
		/* Configured rates are for 16:9 pictures (Apple's ladder): a narrower picture of the
		 * same height (4:3, portrait) has fewer pixels and gets their share of the rate, down
		 * to the lowest rate a ladder may name. */
		if (w * 9 < 16ull * r->height) {
			uint64_t kbps = (uint64_t)r->kbps * w * 9 / (16ull * r->height);
			r->kbps = (uint32_t)(kbps < 50 ? 50 : kbps);
		}
		if (v->codec == INDEX_CODEC_H264 && src_kbps) {
			/* A lower rung never asks for more than an H.264 source spends on as many pixels:
			 * a small, light source would otherwise get rungs heavier than itself. */
			uint64_t cap = src_kbps * r->height * r->height / ((uint64_t)src_h * src_h);
			if (cap < 100)
				cap = 100;
			if (r->kbps > cap)
				r->kbps = (uint32_t)cap;
		}
		r->width = (unsigned)w;
		if (r->width < 2)
			r->width = 2;
		r->maxrate = (uint64_t)r->kbps * 1000;
		r->bufsize = r->maxrate * RUNG_VBV_SECONDS;
		r->level = h264_level(r->width, r->height, v->fps_num, v->fps_den, r->maxrate);
		r->profile_idc = cfg->profile_idc ? cfg->profile_idc : 77;
	}
}

/* What a transcoded segment holds whatever its rung: frames, and audio and PCR-only packets. */
struct rung_shape {
	uint32_t frames;
	uint64_t a_packets, pcr_packets;
};

static int rung_shape(const struct plan *p, const struct media_index *ix, uint32_t seg, struct rung_shape *out)
{
	struct plan_frame *f;
	struct walk_counts c;
	uint32_t n;
	int ret;

	if ((ret = plan_presented(p, ix, seg, &f, &n)) < 0)
		return ret;
	layout_walk(p, ix, &p->segments[seg], f, n, 0, NULL, &c);  /* sizes do not matter for unit order */
	free(f);
	*out = (struct rung_shape){ n, c.a_packets, c.pcr_packets };
	return 0;
}

/* The size bound of segment seg of rung r, of that shape. */
static uint64_t rung_bound(const struct plan_segment *s, const struct rung_shape *sh, const struct plan_rung *r)
{
	uint64_t span = (uint64_t)(s->end - s->start), n = sh->frames, es, vpk;

	es = (r->maxrate * span / PLAN_TIMEBASE + r->bufsize * RUNG_VBV_INIT_PERCENT / 100 + 7) / 8 +
	     RUNG_HEADER_ALLOWANCE + n * RUNG_FRAME_ALLOWANCE;
	/* Each PES: its header, the PCR's adaptation field, and at most one partial packet. */
	vpk = (es + n * (tsmux_pes_header_size(false) + 8) + 183) / 184 + n;
	vpk = (vpk + 15) & ~15ull;
	return (2 + vpk + sh->a_packets + sh->pcr_packets) * TS_PACKET_SIZE;
}

/* Units of a rendition segment: PAT, PMT, then runs of audio frames, each PES with a PCR.
 * Copied renditions group source samples as the muxed audio does; transcoded ones group grid
 * frames by PLAN_AUDIO_FRAMES_PER_PES, their sizes from fsizes (NULL: sizes unknown yet, only
 * the unit count matters). Returns the number of units; *packets the audio packets. */
static uint32_t rendition_walk(const struct plan_rendition *r, const struct index_track *t, uint32_t seg,
			       const uint64_t *fsizes, unsigned cc, struct plan_unit *units, uint64_t *packets)
{
	uint32_t first = r->first[seg], count = r->count[seg], n = 2, i = 0;
	uint64_t off = 2 * TS_PACKET_SIZE;

	*packets = 0;
	if (units) {
		units[0] = (struct plan_unit){ .offset = 0, .packets = 1, .kind = PLAN_UNIT_PAT };
		units[1] = (struct plan_unit){ .offset = TS_PACKET_SIZE, .packets = 1, .kind = PLAN_UNIT_PMT };
	}
	while (i < count) {
		struct plan_unit u = { .offset = off, .kind = PLAN_UNIT_AUDIO, .cc = (uint8_t)cc };
		uint32_t j;
		if (!r->transcode) {
			j = audio_run(CODEC_ADTS_SIZE, t, first + i, first + count, &u.payload) - first;
			u.first = first + i;
			u.pcr = t->samples[first + i].pts;
		} else {
			j = i + PLAN_AUDIO_FRAMES_PER_PES < count ? i + PLAN_AUDIO_FRAMES_PER_PES : count;
			u.payload = 0;
			for (uint32_t k = i; fsizes && k < j; k++)
				u.payload += fsizes[k];
			u.first = i;
			u.pcr = r->grid_start + (int64_t)(first + i) * PLAN_AAC_FRAME_TICKS;
		}
		u.count = j - i;
		u.packets = tsmux_packets(tsmux_pes_header_size(false) + u.payload, true);
		cc = (unsigned)((cc + u.packets) & 15);
		*packets += u.packets;
		if (units)
			units[n] = u;
		n++;
		off += u.packets * TS_PACKET_SIZE;
		i = j;
	}
	return n;
}

/* Plans rendition rn: which samples or grid frames each segment holds, and its sizes. */
static int plan_rendition(struct plan *p, const struct media_index *ix, unsigned rn)
{
	const struct index_track *t = &ix->renditions[rn];
	struct plan_rendition *r = &p->renditions[rn];
	uint64_t cum = 0, nframes = 0;
	uint32_t i = 0;

	r->track = rn;
	r->transcode = t->codec != INDEX_CODEC_AAC;
	if (!(r->first = calloc(p->nb_segments, sizeof(*r->first))) ||
	    !(r->count = calloc(p->nb_segments, sizeof(*r->count))) ||
	    !(r->cc = calloc(p->nb_segments, sizeof(*r->cc))) ||
	    !(r->sizes = calloc(p->nb_segments, sizeof(*r->sizes))))
		return -ENOMEM;
	if (r->transcode) {
		const struct index_sample *last = &t->samples[t->nb_samples - 1];
		r->grid_start = t->samples[0].pts;
		nframes = (uint64_t)(last->pts + last->duration - r->grid_start + PLAN_AAC_FRAME_TICKS - 1) /
			  PLAN_AAC_FRAME_TICKS;
		if (nframes > UINT32_MAX / 2)
			return -EINVAL;
	}
	for (uint32_t k = 0; k < p->nb_segments; k++) {
		const struct plan_segment *s = &p->segments[k];
		bool last = k + 1 == p->nb_segments;
		uint32_t end = i;
		uint64_t packets;
		uint32_t units;

		if (!r->transcode) {
			end = last ? t->nb_samples : end;
			while (!last && end < t->nb_samples && t->samples[end].pts < s->end)
				end++;
		} else {
			end = last ? (uint32_t)nframes : end;
			while (!last && end < nframes && r->grid_start + (int64_t)end * PLAN_AAC_FRAME_TICKS < s->end)
				end++;
		}
		r->first[k] = i;
		r->count[k] = end - i;
		r->cc[k] = (uint8_t)(cum & 15);
		units = rendition_walk(r, t, k, NULL, 0, NULL, &packets) - 2;
		if (!r->transcode) {
			cum += packets;
			r->sizes[k] = (2 + packets) * TS_PACKET_SIZE;
		} else {
			/* FFmpeg's AAC encoder holds its rate within a frame or two over any span. */
			uint64_t es = (uint64_t)r->count[k] * ((PLAN_AAC_KBPS * 1000 / 8 * 1024 / PLAN_AAC_RATE) + 16 +
							       CODEC_ADTS_SIZE) + 4096;
			uint64_t pk = (es + (uint64_t)units * (tsmux_pes_header_size(false) + 8) + 183) / 184 + units;
			r->sizes[k] = (2 + ((pk + 15) & ~15ull)) * TS_PACKET_SIZE;
		}
		i = end;
	}
	return 0;
}

/* BANDWIDTH is the peak segment bit rate as RFC 8216 (section 4.1) defines it: the largest bit rate of
 * any run of consecutive segments lasting 0.5 to 1.5 target durations, so a short segment (the last
 * one, the 2 s ones a transcode-only video starts with) is weighed with its neighbours, as a
 * player's download of it is. A segment longer than that counts alone; the peak is never below
 * the average (a video too short for any run counts whole). Runs longer than PEAK_RUN_MAX segments
 * are not looked at. */
#define PEAK_RUN_MAX 1024
static void bandwidth(const struct plan *p, const uint64_t *sizes, uint64_t *peak, uint64_t *avg, uint64_t *total)
{
	int64_t span = p->segments[p->nb_segments - 1].end - p->segments[0].start;
	int64_t lo = (int64_t)p->target_duration * PLAN_TIMEBASE / 2, hi = (int64_t)p->target_duration * PLAN_TIMEBASE * 3 / 2;

	*peak = *total = 0;
	for (uint32_t i = 0; i < p->nb_segments; i++) {
		uint64_t bytes = 0;
		int64_t d = 0;
		*total += sizes[i];
		for (uint32_t j = i; j < p->nb_segments && j - i < PEAK_RUN_MAX; j++) {
			const struct plan_segment *s = &p->segments[j];
			bytes += sizes[j];
			d += s->end > s->start ? s->end - s->start : 0;
			if (d > hi && j > i)
				break;
			if (d >= lo && d > 0) {
				uint64_t bps = bytes * 8 * PLAN_TIMEBASE / (uint64_t)d;
				if (bps > *peak)
					*peak = bps;
			}
			if (d > hi)
				break;
		}
	}
	*avg = span > 0 ? *total * 8 * PLAN_TIMEBASE / (uint64_t)span : *peak;
	if (*peak < *avg)
		*peak = *avg;
}

int plan_build(const struct media_index *ix, const struct plan_config *cfg, struct plan **out)
{
	return plan_build_ladder(ix, cfg, NULL, out);
}

int plan_build_ladder(const struct media_index *ix, const struct plan_config *cfg, const struct plan *ladder,
		      struct plan **out)
{
	const struct index_track *v = &ix->video, *a = &ix->audio;
	struct avc_config avc;
	struct plan *p;
	uint32_t first_key, i, ai = 0;
	int64_t end = INT64_MIN, min_dts = 0;
	uint64_t cum_v = 0, cum_a = 0, max_ms = 0, *sizes = NULL;
	int ret;

	*out = NULL;
	if (cfg->target == 0 || v->nb_samples == 0)
		return -EINVAL;
	for (first_key = 0; first_key < v->nb_samples; first_key++)
		if (v->samples[first_key].flags & INDEX_SAMPLE_KEY)
			break;
	if (first_key == v->nb_samples)
		return -EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	/* Passed through only when players can show it as it is: a picture the container asks to
	 * turn is transcoded (MPEG-TS cannot say so to a player), and so is H.264 beyond the
	 * 8-bit 4:2:0 profiles browsers and Apple devices decode (High 10, 4:2:2, 4:4:4, ...). */
	if (v->codec == INDEX_CODEC_H264 && v->rotation == 0 &&
	    codec_avc_parse(v->extradata, v->extradata_size, &avc) == 0) {
		p->passthrough = avc.profile == 66 || avc.profile == 77 || avc.profile == 88 || avc.profile == 100;
		p->nal_length_size = avc.nal_length_size;
		p->ps_size = (uint32_t)avc.ps_size;
		p->annexb = v->annexb != 0;
		codec_avc_release(&avc);
	}
	if (ladder) {
		p->nb_rungs = ladder->nb_rungs;
		for (unsigned r = 0; r < ladder->nb_rungs; r++) {
			p->rungs[r] = ladder->rungs[r];
			p->rungs[r].sizes = NULL;
		}
	} else {
		choose_rungs(p, ix, cfg);
	}
	if (!p->passthrough && p->nb_rungs == 0) {
		free(p);
		return -ENOTSUP;
	}

	p->has_audio = a->codec != INDEX_CODEC_NONE && a->nb_samples > 0;
	p->adts_size = a->codec == INDEX_CODEC_AAC ? CODEC_ADTS_SIZE : 0;
	/* The indexer drops frames one PES cannot hold; an index from elsewhere is checked too. */
	for (i = 0; p->has_audio && i < a->nb_samples; i++)
		if (a->samples[i].size > TS_PES_MAX_BOUNDED - p->adts_size)
			p->has_audio = false;
	p->program.pcr_pid = TS_PID_VIDEO;
	p->program.es[0].pid = TS_PID_VIDEO;
	p->program.es[0].stream_type = TS_TYPE_H264;
	p->program.nb_es = 1;
	if (p->has_audio) {
		p->program.es[1].pid = TS_PID_AUDIO;
		p->program.es[1].stream_type = a->codec == INDEX_CODEC_AAC ? TS_TYPE_AAC_ADTS :
					       (a->sample_rate && a->sample_rate < 32000) ? TS_TYPE_MPEG2_AUDIO :
					       TS_TYPE_MPEG1_AUDIO;
		p->program.nb_es = 2;
	}

	p->shown_from = INT64_MAX;
	for (i = first_key; i < v->nb_samples; i++)
		if (!(v->samples[i].flags & INDEX_SAMPLE_HIDDEN) && v->samples[i].pts < p->shown_from)
			p->shown_from = v->samples[i].pts;
	if (p->shown_from == INT64_MAX) {  /* none after the first keyframe: nothing to show */
		ret = -EINVAL;
		goto fail;
	}
	if ((ret = plan_boundaries(p, ix, first_key, cfg->target, cfg->split_gops && !p->passthrough)) < 0)
		goto fail;

	/* Presentation end: the latest end of a frame shown or an audio sample. */
	for (i = first_key; i < v->nb_samples; i++) {
		const struct index_sample *s = &v->samples[i];
		if (s->pts + (int64_t)s->duration > end && !(s->flags & INDEX_SAMPLE_HIDDEN))
			end = s->pts + s->duration;
		if (s->dts < min_dts)
			min_dts = s->dts;
	}
	if (p->has_audio) {
		const struct index_sample *s = &a->samples[a->nb_samples - 1];
		if (s->pts + (int64_t)s->duration > end)
			end = s->pts + s->duration;
		if (a->samples[0].dts < min_dts)
			min_dts = a->samples[0].dts;
	}
	p->ts_offset = PLAN_TS_OFFSET;
	if (min_dts - PLAN_PCR_LEAD + p->ts_offset < 0)
		p->ts_offset = PLAN_PCR_LEAD - min_dts;

	for (uint32_t k = 0; k < p->nb_segments; k++) {
		struct plan_segment *seg = &p->segments[k];
		struct plan_frame *f;
		struct walk_counts c;
		uint32_t a_end = ai;
		uint64_t ms;

		if (k + 1 == p->nb_segments)
			seg->end = end > seg->start ? end : seg->start;
		if (p->has_audio) {
			if (k + 1 == p->nb_segments)
				a_end = a->nb_samples;
			else
				while (a_end < a->nb_samples && a->samples[a_end].pts < seg->end)
					a_end++;
			seg->a_first = ai;
			seg->a_count = a_end - ai;
		}
		seg->v_cc = (uint8_t)(cum_v & 15);
		seg->a_cc = (uint8_t)(cum_a & 15);
		if (!(f = passthrough_frames(p, ix, seg))) {
			ret = -ENOMEM;
			goto fail;
		}
		layout_walk(p, ix, seg, f, seg->v_count, seg->v_cc, NULL, &c);
		free(f);
		ai = a_end;
		seg->a_packets = c.a_packets;
		cum_a += c.a_packets;
		if (p->passthrough) {
			seg->v_packets = c.v_packets;
			seg->pcr_packets = c.pcr_packets;
			cum_v += c.v_packets;
			seg->size = (2 + c.v_packets + c.a_packets + c.pcr_packets) * TS_PACKET_SIZE;
		}
		ms = plan_segment_ms(p, k);
		if (ms > max_ms)
			max_ms = ms;
	}
	p->target_duration = (uint32_t)((max_ms + 999) / 1000);
	if (p->target_duration == 0)
		p->target_duration = 1;
	/* A rung starts every segment with an IDR picture. A passthrough segment starts at the
	 * source's keyframe, which in an open GOP (x264's open-gop, Blu-ray and broadcast encoders;
	 * MP4 and Matroska mark such an I picture as a sync sample) has leading pictures: after it in
	 * decode order, shown before it, referring to the GOP before, which is in the previous
	 * segment. A player starting or switching there cannot decode them, so the segments are not
	 * independent (RFC 8216 4.3.5.1). The first segment's are left out of the count: nothing
	 * comes before it. */
	p->independent = true;
	for (uint32_t k = 1; p->passthrough && p->independent && k < p->nb_segments; k++) {
		const struct plan_segment *seg = &p->segments[k];
		int64_t key = v->samples[seg->v_first].pts;
		for (uint32_t j = seg->v_first + 1; j < seg->v_first + seg->v_count; j++) {
			if (v->samples[j].flags & INDEX_SAMPLE_KEY)
				break;
			if (v->samples[j].pts < key) {
				p->independent = false;
				break;
			}
		}
	}

	if (p->passthrough) {
		if (!(sizes = malloc(sizeof(*sizes) * p->nb_segments))) {
			ret = -ENOMEM;
			goto fail;
		}
		for (uint32_t k = 0; k < p->nb_segments; k++)
			sizes[k] = p->segments[k].size;
		bandwidth(p, sizes, &p->peak_bps, &p->average_bps, &p->total_bytes);
		free(sizes);
	}
	for (unsigned r = 0; r < p->nb_rungs; r++)
		if (!(p->rungs[r].sizes = malloc(sizeof(*p->rungs[r].sizes) * p->nb_segments))) {
			ret = -ENOMEM;
			goto fail;
		}
	for (uint32_t k = 0; k < p->nb_segments && p->nb_rungs; k++) {  /* each segment's shape once, for every rung */
		struct rung_shape sh;
		if ((ret = rung_shape(p, ix, k, &sh)) < 0)
			goto fail;
		for (unsigned r = 0; r < p->nb_rungs; r++)
			p->rungs[r].sizes[k] = rung_bound(&p->segments[k], &sh, &p->rungs[r]);
	}
	for (unsigned r = 0; r < p->nb_rungs; r++)
		bandwidth(p, p->rungs[r].sizes, &p->rungs[r].peak_bps, &p->rungs[r].average_bps, &p->rungs[r].total_bytes);
	{
		/* Each variant must be clearly lighter than the one above it, or a player gains
		 * nothing by stepping down: a rung whose average is not under RUNG_STEP_PERCENT of
		 * the next taller variant kept (the passthrough, or a rung) is left out. That happens
		 * on near-static or very light sources (slides), where rates are capped by what the
		 * source spends and the fixed costs (audio, packetization, the VBV allowance) make
		 * rungs of every height cost about the same. Rungs are tallest first. */
		uint64_t above = p->passthrough ? p->average_bps : UINT64_MAX;
		unsigned kept = 0;
		for (unsigned r = 0; r < p->nb_rungs; r++) {
			if (!ladder && above != UINT64_MAX && p->rungs[r].average_bps * 100 >= above * RUNG_STEP_PERCENT) {
				free(p->rungs[r].sizes);
				continue;
			}
			above = p->rungs[r].average_bps;
			p->rungs[kept++] = p->rungs[r];
		}
		p->nb_rungs = kept;
	}
	p->audio_program.es[0].pid = TS_PID_AUDIO;
	p->audio_program.es[0].stream_type = TS_TYPE_AAC_ADTS;
	p->audio_program.nb_es = 1;
	p->audio_program.pcr_pid = TS_PID_AUDIO;
	for (unsigned rn = 0; rn < ix->nb_renditions; rn++) {
		struct plan_rendition *r = &p->renditions[rn];
		p->nb_renditions = rn + 1;
		if ((ret = plan_rendition(p, ix, rn)) < 0)
			goto fail;
		bandwidth(p, r->sizes, &r->peak_bps, &r->average_bps, &r->total_bytes);
	}
	*out = p;
	return 0;
fail:
	plan_free(p);
	return ret;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (unsigned r = 0; r < p->nb_rungs; r++)
		free(p->rungs[r].sizes);
	for (unsigned r = 0; r < p->nb_renditions; r++) {
		free(p->renditions[r].first);
		free(p->renditions[r].count);
		free(p->renditions[r].cc);
		free(p->renditions[r].sizes);
	}
	free(p->segments);
	free(p);
}

unsigned plan_variants(const struct plan *p)
{
	return (p->passthrough ? 1 : 0) + p->nb_rungs;
}

int plan_variant_rung(const struct plan *p, unsigned v)
{
	if (v >= plan_variants(p))
		return -1;
	return p->passthrough ? (int)v - 1 : (int)v;
}

int plan_variant_rendition(const struct plan *p, unsigned v)
{
	return v >= plan_variants(p) && v < plan_variants(p) + p->nb_renditions ? (int)(v - plan_variants(p)) : -1;
}

int plan_iframes(const struct plan *p, const struct media_index *ix, struct plan_iframe **out, uint32_t *n)
{
	const struct index_track *v = &ix->video;
	struct plan_iframe *f;
	int64_t *pts;
	uint32_t count = 0, k = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!p->passthrough || p->nb_segments == 0)
		return -EINVAL;
	for (uint32_t s = 0; s < p->nb_segments; s++)
		for (uint32_t i = 0; i < p->segments[s].v_count; i++)
			count += (v->samples[p->segments[s].v_first + i].flags & INDEX_SAMPLE_KEY) != 0;
	f = calloc(count ? count : 1, sizeof(*f));
	pts = calloc(count ? count : 1, sizeof(*pts));
	if (!f || !pts) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t s = 0; s < p->nb_segments && ret == 0; s++) {
		struct plan_layout *l;
		if ((ret = plan_layout(p, ix, s, &l)) < 0)
			break;
		for (uint32_t u = 0; u < l->nb_units && k < count; u++) {
			const struct plan_unit *un = &l->units[u];
			if (un->kind != PLAN_UNIT_VIDEO || !(v->samples[un->first].flags & INDEX_SAMPLE_KEY))
				continue;
			f[k] = (struct plan_iframe){ s, un->offset, un->packets * TS_PACKET_SIZE, 0 };
			pts[k++] = v->samples[un->first].pts;
		}
		free(l);
	}
	if (ret < 0)
		goto out;
	/* An I-frame stands until the next one is shown; the last until the end of the video. The
	 * first stands from the start of the video's timeline (a keyframe an edit list hides, one
	 * shown a little after the audio starts), as players place I-frames by adding up EXTINFs
	 * from there: the I-frame playlist lasts as long as the media playlist. */
	for (uint32_t i = 0; i < k; i++) {
		int64_t end = i + 1 < k ? pts[i + 1] : p->segments[p->nb_segments - 1].end;
		int64_t a = round_ms(i == 0 ? p->segments[0].start : pts[i]), b = round_ms(end);
		f[i].ms = b > a ? (uint64_t)(b - a) : 1;
	}
	*out = f;
	*n = k;
	f = NULL;
out:
	free(f);
	free(pts);
	return ret;
}

unsigned plan_variant_height(const struct plan *p, const struct media_index *ix, unsigned v)
{
	int r = plan_variant_rung(p, v);
	return r < 0 ? ix->video.height : p->rungs[r].height;
}

uint64_t plan_variant_size(const struct plan *p, unsigned v, uint32_t seg)
{
	int r = plan_variant_rung(p, v), a = plan_variant_rendition(p, v);
	return a >= 0 ? p->renditions[a].sizes[seg] : r < 0 ? p->segments[seg].size : p->rungs[r].sizes[seg];
}

static struct plan_layout *layout_alloc(uint32_t n, uint32_t segno)
{
	struct plan_layout *l = malloc(sizeof(*l) + sizeof(l->units[0]) * n);
	if (l) {
		l->segment = segno;
		l->nb_units = n;
	}
	return l;
}

int plan_layout(const struct plan *p, const struct media_index *ix, uint32_t segno, struct plan_layout **out)
{
	const struct plan_segment *seg;
	struct plan_frame *f;
	struct plan_layout *l;
	struct walk_counts c;
	uint32_t n;

	*out = NULL;
	if (segno >= p->nb_segments || !p->passthrough)
		return -EINVAL;
	seg = &p->segments[segno];
	if (!(f = passthrough_frames(p, ix, seg)))
		return -ENOMEM;
	n = layout_walk(p, ix, seg, f, seg->v_count, seg->v_cc, NULL, &c);
	if (!(l = layout_alloc(n, segno))) {
		free(f);
		return -ENOMEM;
	}
	layout_walk(p, ix, seg, f, seg->v_count, seg->v_cc, l->units, &c);
	free(f);
	l->units[0].cc = l->units[1].cc = (uint8_t)(segno & 15);
	{
		const struct plan_unit *last = &l->units[l->nb_units - 1];
		if (last->offset + last->packets * TS_PACKET_SIZE != seg->size) {
			free(l);  /* the planner and the layout disagree: a bug, never served */
			return -EIO;
		}
	}
	*out = l;
	return 0;
}

int plan_layout_frames(const struct plan *p, const struct media_index *ix, uint32_t segno,
		       const struct plan_frame *frames, uint32_t nf, struct plan_layout **out, uint64_t *size)
{
	const struct plan_segment *seg = &p->segments[segno];
	struct plan_layout *l;
	struct walk_counts c;
	uint64_t extra, off = 0;
	uint32_t n;

	*out = NULL;
	n = layout_walk(p, ix, seg, frames, nf, 0, NULL, &c);
	if (!(l = layout_alloc(n, segno)))
		return -ENOMEM;
	layout_walk(p, ix, seg, frames, nf, 0, l->units, &c);
	l->units[0].cc = l->units[1].cc = (uint8_t)(segno & 15);
	/* Spread the last video PES units over extra packets until the segment's video packet
	 * count is a multiple of 16: its first packet's counter is then 0 in every segment. */
	extra = (16 - (c.v_packets & 15)) & 15;
	for (uint32_t i = n; i-- > 2 && extra;) {
		struct plan_unit *u = &l->units[i];
		uint64_t room;
		if (u->kind != PLAN_UNIT_VIDEO)
			continue;
		room = tsmux_pes_header_size(false) + u->payload - u->packets;  /* one byte a packet at least */
		room = room < extra ? room : extra;
		u->packets += room;
		extra -= room;
	}
	/* Counters and offsets again, after the spreading. */
	{
		unsigned vcc = 0;
		for (uint32_t i = 0; i < n; i++) {
			struct plan_unit *u = &l->units[i];
			u->offset = off;
			off += u->packets * TS_PACKET_SIZE;
			if (u->kind == PLAN_UNIT_VIDEO) {
				u->cc = (uint8_t)vcc;
				vcc = (unsigned)((vcc + u->packets) & 15);
			} else if (u->kind == PLAN_UNIT_PCR) {
				u->cc = (uint8_t)vcc;
			}
		}
	}
	*size = off;
	*out = l;
	return 0;
}

int plan_layout_rendition(const struct plan *p, const struct media_index *ix, unsigned rn, uint32_t seg,
			  const uint64_t *frame_sizes, uint32_t nframes, struct plan_layout **out, uint64_t *size)
{
	const struct plan_rendition *r = &p->renditions[rn];
	const struct index_track *t = &ix->renditions[rn];
	struct plan_layout *l;
	uint64_t packets, off = 0, extra;
	uint32_t n;

	*out = NULL;
	if (rn >= p->nb_renditions || seg >= p->nb_segments || (r->transcode && nframes != r->count[seg]))
		return -EINVAL;
	n = rendition_walk(r, t, seg, frame_sizes, r->transcode ? 0 : r->cc[seg], NULL, &packets);
	if (!(l = layout_alloc(n, seg)))
		return -ENOMEM;
	rendition_walk(r, t, seg, frame_sizes, r->transcode ? 0 : r->cc[seg], l->units, &packets);
	l->units[0].cc = l->units[1].cc = (uint8_t)(seg & 15);
	extra = r->transcode ? (16 - (packets & 15)) & 15 : 0;
	for (uint32_t i = n; i-- > 2 && extra;) {  /* as in plan_layout_frames */
		struct plan_unit *u = &l->units[i];
		uint64_t room = tsmux_pes_header_size(false) + u->payload - u->packets;
		room = room < extra ? room : extra;
		u->packets += room;
		extra -= room;
	}
	{
		unsigned cc = r->transcode ? 0 : r->cc[seg];
		for (uint32_t i = 0; i < n; i++) {
			l->units[i].offset = off;
			off += l->units[i].packets * TS_PACKET_SIZE;
			if (i >= 2) {
				l->units[i].cc = (uint8_t)cc;
				cc = (unsigned)((cc + l->units[i].packets) & 15);
			}
		}
	}
	if (!r->transcode && off != r->sizes[seg]) {
		free(l);
		return -EIO;  /* the planner and the layout disagree: a bug, never served */
	}
	*size = off;
	*out = l;
	return 0;
}

uint32_t plan_layout_find(const struct plan_layout *l, uint64_t off)
{
	uint32_t lo = 0, hi = l->nb_units;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (l->units[mid].offset <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
