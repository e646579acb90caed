/* Segment planning and the exact byte layout of every segment.
 *
 * Boundaries. On an absolute grid from time 0, boundary k is the first video keyframe whose PTS
 * is at or after k x target. Grid points that would give an empty segment are skipped, so a GOP
 * longer than the target makes a longer segment, never an empty one. Every variant cuts here.
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
 * packets of every segment up front, in one pass over the samples. */
#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

uint64_t plan_video_payload(const struct plan *p, const struct index_sample *s)
{
	return CODEC_AUD_SIZE + ((s->flags & INDEX_SAMPLE_KEY) ? p->ps_size : 0) +
	       codec_avc_annexb_size(s->size, s->nals, p->nal_length_size);
}

static uint64_t video_packets(const struct plan *p, const struct index_sample *s)
{
	return tsmux_packets(tsmux_pes_header_size(plan_video_has_dts(s)) + plan_video_payload(p, s), true);
}

/* End (exclusive) of the audio PES that starts at sample i, not past end; *payload gets its
 * elementary-stream bytes. A PES never spans a gap in the audio timeline. */
static uint32_t audio_run(const struct plan *p, const struct index_track *a, uint32_t i, uint32_t end,
			  uint64_t *payload)
{
	uint64_t bytes = a->samples[i].size + p->adts_size;
	uint32_t j = i + 1;

	while (j < end && j - i < PLAN_AUDIO_FRAMES_PER_PES) {
		const struct index_sample *prev = &a->samples[j - 1], *s = &a->samples[j];
		uint64_t add = s->size + p->adts_size;
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

static uint32_t layout_walk(const struct plan *p, const struct media_index *ix, struct plan_segment *seg,
			    struct plan_unit *units);

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

static int plan_boundaries(struct plan *p, const struct media_index *ix, uint32_t first_key, uint32_t target)
{
	const struct index_track *v = &ix->video;
	uint32_t cap = 0, i;
	int64_t next_grid, last_pts;

	/* Count first: one boundary per keyframe at most. */
	for (i = first_key; i < v->nb_samples; i++)
		if (v->samples[i].flags & INDEX_SAMPLE_KEY)
			cap++;
	p->segments = calloc(cap, sizeof(*p->segments));
	if (!p->segments)
		return -ENOMEM;

	p->segments[0].v_first = first_key;
	p->segments[0].start = v->samples[first_key].pts < 0 ? v->samples[first_key].pts : 0;
	p->nb_segments = 1;
	last_pts = v->samples[first_key].pts;
	next_grid = last_pts < 0 ? target : (last_pts / target + 1) * (int64_t)target;
	for (i = first_key + 1; i < v->nb_samples; i++) {
		const struct index_sample *s = &v->samples[i];
		if (!(s->flags & INDEX_SAMPLE_KEY) || s->pts < next_grid || s->pts <= last_pts)
			continue;
		p->segments[p->nb_segments - 1].v_count = i - p->segments[p->nb_segments - 1].v_first;
		p->segments[p->nb_segments - 1].end = s->pts;
		p->segments[p->nb_segments].v_first = i;
		p->segments[p->nb_segments].start = s->pts;
		p->nb_segments++;
		last_pts = s->pts;
		next_grid = (s->pts / target + 1) * (int64_t)target;
	}
	p->segments[p->nb_segments - 1].v_count = v->nb_samples - p->segments[p->nb_segments - 1].v_first;
	return 0;
}

int plan_build(const struct media_index *ix, const struct plan_config *cfg, struct plan **out)
{
	const struct index_track *v = &ix->video, *a = &ix->audio;
	struct avc_config avc;
	struct plan *p;
	uint32_t first_key, i, ai = 0;
	int64_t end = INT64_MIN, min_dts = 0;
	uint64_t cum_v = 0, cum_a = 0, max_ms = 0;
	int ret;

	*out = NULL;
	if (cfg->target == 0 || v->nb_samples == 0)
		return -EINVAL;
	for (first_key = 0; first_key < v->nb_samples; first_key++)
		if (v->samples[first_key].flags & INDEX_SAMPLE_KEY)
			break;
	if (first_key == v->nb_samples)
		return -EINVAL;
	if ((ret = codec_avc_parse(v->extradata, v->extradata_size, &avc)) < 0)
		return ret;

	p = calloc(1, sizeof(*p));
	if (!p) {
		codec_avc_release(&avc);
		return -ENOMEM;
	}
	p->nal_length_size = avc.nal_length_size;
	p->ps_size = (uint32_t)avc.ps_size;
	codec_avc_release(&avc);

	p->has_audio = a->codec != INDEX_CODEC_NONE && a->nb_samples > 0;
	p->adts_size = a->codec == INDEX_CODEC_AAC ? CODEC_ADTS_SIZE : 0;
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

	if ((ret = plan_boundaries(p, ix, first_key, cfg->target)) < 0)
		goto fail;

	/* Presentation end: the latest sample end of either track. */
	for (i = first_key; i < v->nb_samples; i++) {
		const struct index_sample *s = &v->samples[i];
		if (s->pts + (int64_t)s->duration > end)
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
		layout_walk(p, ix, seg, NULL);
		ai = a_end;
		cum_v += seg->v_packets;
		cum_a += seg->a_packets;
		seg->size = (2 + seg->v_packets + seg->a_packets + seg->pcr_packets) * TS_PACKET_SIZE;
		p->total_bytes += seg->size;

		ms = plan_segment_ms(p, k);
		if (ms > max_ms)
			max_ms = ms;
		if (seg->end > seg->start) {
			uint64_t bps = seg->size * 8 * PLAN_TIMEBASE / (uint64_t)(seg->end - seg->start);
			if (bps > p->peak_bps)
				p->peak_bps = bps;
		}
	}
	p->target_duration = (uint32_t)((max_ms + 999) / 1000);
	if (p->target_duration == 0)
		p->target_duration = 1;
	{
		int64_t span = p->segments[p->nb_segments - 1].end - p->segments[0].start;
		p->average_bps = span > 0 ? p->total_bytes * 8 * PLAN_TIMEBASE / (uint64_t)span : p->peak_bps;
		if (p->peak_bps == 0)
			p->peak_bps = p->average_bps;
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
	free(p->segments);
	free(p);
}

/* The one definition of a segment's unit order, used to count (units NULL: fills the
 * segment's packet counts) and to lay out. Returns the number of units. */
static uint32_t layout_walk(const struct plan *p, const struct media_index *ix, struct plan_segment *seg,
			    struct plan_unit *units)
{
	const struct index_track *v = &ix->video, *a = &ix->audio;
	uint32_t vi = seg->v_first, v_end = seg->v_first + seg->v_count;
	uint32_t ai = seg->a_first, a_end = seg->a_first + seg->a_count, n = 2;
	uint64_t off = 2 * TS_PACKET_SIZE, vpk = 0, apk = 0, pcrpk = 0;
	unsigned vcc = seg->v_cc, acc = seg->a_cc;
	int64_t last_pcr = v->samples[vi].dts;

	if (units) {
		units[0] = (struct plan_unit){ .offset = 0, .packets = 1, .kind = PLAN_UNIT_PAT };
		units[1] = (struct plan_unit){ .offset = TS_PACKET_SIZE, .packets = 1, .kind = PLAN_UNIT_PMT };
	}
	while (vi < v_end || ai < a_end) {
		struct plan_unit u = { .offset = off };
		bool take_video = vi < v_end &&
				  (ai >= a_end || vi == seg->v_first || v->samples[vi].dts <= a->samples[ai].dts);
		int64_t dts = take_video ? v->samples[vi].dts : a->samples[ai].dts;

		if (dts - last_pcr > PLAN_PCR_INTERVAL) {
			last_pcr += PLAN_PCR_INTERVAL;
			u.kind = PLAN_UNIT_PCR;
			u.packets = 1;
			u.pcr = last_pcr;
			u.cc = (uint8_t)vcc;  /* adaptation-only packets do not advance the counter */
			pcrpk++;
		} else if (take_video) {
			u.kind = PLAN_UNIT_VIDEO;
			u.first = vi;
			u.count = 1;
			u.payload = plan_video_payload(p, &v->samples[vi]);
			u.packets = video_packets(p, &v->samples[vi]);
			u.cc = (uint8_t)vcc;
			vcc = (unsigned)((vcc + u.packets) & 15);
			vpk += u.packets;
			last_pcr = dts;
			vi++;
		} else {
			uint32_t j = audio_run(p, a, ai, a_end, &u.payload);
			u.kind = PLAN_UNIT_AUDIO;
			u.first = ai;
			u.count = j - ai;
			u.packets = tsmux_packets(tsmux_pes_header_size(false) + u.payload, false);
			u.cc = (uint8_t)acc;
			acc = (unsigned)((acc + u.packets) & 15);
			apk += u.packets;
			ai = j;
		}
		if (units)
			units[n] = u;
		n++;
		off += u.packets * TS_PACKET_SIZE;
	}
	if (!units) {
		seg->v_packets = vpk;
		seg->a_packets = apk;
		seg->pcr_packets = pcrpk;
	}
	return n;
}

int plan_layout(const struct plan *p, const struct media_index *ix, uint32_t segno, struct plan_layout **out)
{
	struct plan_segment seg;
	struct plan_layout *l;
	uint32_t n;

	*out = NULL;
	if (segno >= p->nb_segments)
		return -EINVAL;
	seg = p->segments[segno];
	n = layout_walk(p, ix, &seg, NULL);
	l = malloc(sizeof(*l) + sizeof(l->units[0]) * n);
	if (!l)
		return -ENOMEM;
	l->segment = segno;
	l->nb_units = layout_walk(p, ix, &seg, l->units);
	l->units[0].cc = l->units[1].cc = (uint8_t)(segno & 15);
	{
		const struct plan_unit *last = &l->units[l->nb_units - 1];
		if (last->offset + last->packets * TS_PACKET_SIZE != p->segments[segno].size) {
			free(l);  /* the planner and the layout disagree: a bug, never served */
			return -EIO;
		}
	}
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
