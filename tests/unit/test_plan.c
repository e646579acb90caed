/* The planner on synthetic indexes: boundaries on the absolute grid, no empty segments,
 * layouts that add up to the planned sizes, continuity counters that continue across segments,
 * and EXTINF that sums to the presentation span. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plan.h"

static const uint8_t avcc[] = { 1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0x00, 0x1f, 1, 0, 2, 0x68, 0xee };
static const uint8_t asc[] = { 0x11, 0x90 };  /* AAC LC 48 kHz stereo */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* nv frames of frame_ticks at a keyframe every gop frames, 2 B-frames of reordering;
 * na AAC frames of 1920 ticks starting at -1920 (priming). */
static void make_index(struct media_index *ix, uint32_t nv, uint32_t frame_ticks, uint32_t gop, uint32_t na)
{
	memset(ix, 0, sizeof(*ix));
	ix->video.codec = INDEX_CODEC_H264;
	ix->video.extradata = (uint8_t *)avcc;
	ix->video.extradata_size = sizeof(avcc);
	ix->video.width = 640;
	ix->video.height = 360;
	ix->video.nb_samples = nv;
	ix->video.samples = calloc(nv, sizeof(struct index_sample));
	for (uint32_t i = 0; i < nv; i++) {
		struct index_sample *s = &ix->video.samples[i];
		s->dts = ((int64_t)i - 2) * frame_ticks;
		s->pts = (int64_t)i * frame_ticks;  /* simplified reordering: constant 2-frame delay */
		s->duration = frame_ticks;
		s->size = (i % gop == 0) ? 20000 + rnd() % 50000 : 1 + rnd() % 9000;
		s->pos = i * 100000ull;
		s->flags = (i % gop == 0) ? INDEX_SAMPLE_KEY : 0;
	}
	if (na) {
		ix->audio.codec = INDEX_CODEC_AAC;
		ix->audio.extradata = (uint8_t *)asc;
		ix->audio.extradata_size = sizeof(asc);
		ix->audio.nb_samples = na;
		ix->audio.samples = calloc(na, sizeof(struct index_sample));
		for (uint32_t i = 0; i < na; i++) {
			struct index_sample *s = &ix->audio.samples[i];
			s->pts = s->dts = ((int64_t)i - 1) * 1920;
			s->duration = 1920;
			s->size = 200 + rnd() % 600;
			s->flags = INDEX_SAMPLE_KEY;
		}
	}
}

static void free_index(struct media_index *ix)
{
	free(ix->video.samples);
	free(ix->audio.samples);
}

/* RFC 8216's peak segment bit rate of sizes, counted plainly: the most of any run of segments
 * lasting 0.5 to 1.5 target durations, a longer segment alone, and never below the average. */
static uint64_t rfc_peak(const struct plan *p, const uint64_t *sizes)
{
	double t = p->target_duration * 90000.0, best = 0, bytes_all = 0, ticks_all = 0;
	for (uint32_t i = 0; i < p->nb_segments; i++) {
		double bytes = 0, ticks = 0;
		bytes_all += sizes[i];
		ticks_all += p->segments[i].end - p->segments[i].start;
		for (uint32_t j = i; j < p->nb_segments; j++) {
			bytes += sizes[j];
			ticks += p->segments[j].end - p->segments[j].start;
			if ((ticks >= 0.5 * t && ticks <= 1.5 * t) || (j == i && ticks > 1.5 * t))
				if (bytes * 8 * 90000 / ticks > best)
					best = bytes * 8 * 90000 / ticks;
			if (ticks > 1.5 * t)
				break;
		}
	}
	if (bytes_all * 8 * 90000 / ticks_all > best)
		best = bytes_all * 8 * 90000 / ticks_all;
	return (uint64_t)best;
}

static void check_peak(const struct plan *p, const uint64_t *sizes, uint64_t peak)
{
	uint64_t want = rfc_peak(p, sizes);
	CHECK(peak + 1 >= want && peak <= want + 1);  /* integer against floating-point division */
}

/* Everything a plan promises about itself. */
static void check_plan(const struct plan *p, const struct media_index *ix)
{
	uint64_t vcc = 0, acc = 0, total_ms = 0;
	uint32_t v_seen = 0, a_seen = 0;

	for (uint32_t k = 0; k < p->nb_segments; k++) {
		const struct plan_segment *s = &p->segments[k];
		struct plan_layout *l;
		uint64_t off = 0;

		CHECK(s->v_count > 0);
		CHECK(s->end > s->start);
		CHECK(ix->video.samples[s->v_first].flags & INDEX_SAMPLE_KEY);
		CHECK_EQ(s->v_cc, vcc & 15);
		CHECK_EQ(s->a_cc, acc & 15);
		CHECK_EQ(plan_segment_ms(p, k) <= (uint64_t)p->target_duration * 1000, 1);
		vcc += s->v_packets;
		acc += s->a_packets;
		v_seen += s->v_count;
		a_seen += s->a_count;
		total_ms += plan_segment_ms(p, k);
		if (k > 0)
			CHECK_EQ(s->start, p->segments[k - 1].end);
		CHECK_EQ(plan_layout(p, ix, k, &l), 0);
		if (!l)
			continue;
		CHECK_EQ(l->units[0].kind, PLAN_UNIT_PAT);
		CHECK_EQ(l->units[1].kind, PLAN_UNIT_PMT);
		CHECK_EQ(l->units[2].kind, PLAN_UNIT_VIDEO);
		for (uint32_t i = 0; i < l->nb_units; i++) {
			CHECK_EQ(l->units[i].offset, off);
			CHECK_EQ(plan_layout_find(l, off), i);
			CHECK_EQ(plan_layout_find(l, off + l->units[i].packets * 188 - 1), i);
			off += l->units[i].packets * 188;
		}
		CHECK_EQ(off, s->size);
		free(l);
	}
	if (p->passthrough) {
		uint64_t *sizes = calloc(p->nb_segments, sizeof(*sizes));
		for (uint32_t k = 0; sizes && k < p->nb_segments; k++)
			sizes[k] = p->segments[k].size;
		if (sizes)
			check_peak(p, sizes, p->peak_bps);
		free(sizes);
	}
	for (unsigned r = 0; r < p->nb_rungs; r++)
		check_peak(p, p->rungs[r].sizes, p->rungs[r].peak_bps);
	CHECK_EQ(v_seen + p->segments[0].v_first, ix->video.nb_samples);
	CHECK_EQ(a_seen, ix->audio.nb_samples);
	{
		int64_t span = p->segments[p->nb_segments - 1].end - p->segments[0].start;
		long long diff = (long long)total_ms - span / 90;
		CHECK(diff >= -1 && diff <= 1);
	}
}

int main(void)
{
	struct plan_config cfg = { .target = 6 * 90000 };
	struct media_index ix;
	struct plan *p;

	/* 2 s GOP at 30 fps, 6 s target: 6 s segments, 20 s -> 6,6,6,2. The last 2 s is less than
	 * half a target: its rate counts only with the segment before (RFC 8216's peak), so a short
	 * tail heavy in keyframe bytes does not set BANDWIDTH. */
	make_index(&ix, 600, 3000, 60, 470);
	ix.video.samples[540].size = 400000;
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	CHECK_EQ(p->nb_segments, 4);
	CHECK_EQ(p->segments[1].start, 6 * 90000);
	CHECK_EQ(p->target_duration, 6);
	CHECK(p->peak_bps >= p->average_bps);
	CHECK(p->peak_bps < p->segments[3].size * 8 / 2);
	CHECK(p->has_audio);
	CHECK(p->independent);
	check_plan(p, &ix);
	plan_free(p);
	free_index(&ix);

	/* Open GOPs: the frame after the keyframe that starts segment 2 (at 12 s) is shown before
	 * it, so the segments are not independent; one after the very first keyframe alone does not
	 * count (nothing comes before it). */
	make_index(&ix, 600, 3000, 60, 0);
	ix.video.samples[1].pts = -3000;
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	CHECK(p && p->independent);
	plan_free(p);
	ix.video.samples[361].pts = 360 * 3000 - 1500;
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	CHECK(p && !p->independent);
	plan_free(p);
	free_index(&ix);

	/* 10 s GOP, 6 s target: boundaries at 10, 20 -- never an empty segment */
	make_index(&ix, 750, 3000, 300, 0);
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	CHECK_EQ(p->nb_segments, 3);
	CHECK_EQ(p->segments[1].start, 10 * 90000);
	CHECK_EQ(p->segments[2].start, 20 * 90000);
	CHECK_EQ(p->target_duration, 10);
	CHECK(!p->has_audio);
	check_plan(p, &ix);
	plan_free(p);
	free_index(&ix);

	/* A copy trimmed at 1.5 s into a 3 s GOP: its edit list hides the 45 frames before the cut.
	 * The timeline starts at the cut (0), keyframes cut at 7.5 and 13.5, it ends at 18.5; a rung
	 * shows the 225 frames of [0, 7.5) in segment 0, none hidden. */
	make_index(&ix, 600, 3000, 90, 0);
	for (uint32_t i = 0; i < 600; i++) {
		ix.video.samples[i].pts -= 45 * 3000;
		ix.video.samples[i].dts -= 45 * 3000;
		if (i < 45)
			ix.video.samples[i].flags |= INDEX_SAMPLE_HIDDEN;
	}
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	if (p) {
		struct plan_frame *fr = NULL;
		uint32_t n = 0;
		CHECK_EQ(p->nb_segments, 3);
		CHECK_EQ(p->shown_from, 0);
		CHECK_EQ(p->segments[0].start, 0);
		CHECK_EQ(p->segments[0].v_first, 0);
		CHECK_EQ(p->segments[1].start, 7 * 90000 + 45000);
		CHECK_EQ(p->segments[2].start, 13 * 90000 + 45000);
		CHECK_EQ(p->segments[2].end, 18 * 90000 + 45000);
		CHECK_EQ(plan_presented(p, &ix, 0, &fr, &n), 0);
		CHECK_EQ(n, 225);
		CHECK(fr && fr[0].pts == 0 && fr[0].ref == 45);
		free(fr);
		check_plan(p, &ix);
		plan_free(p);
	}
	free_index(&ix);

	/* one frame a second (slides): PCR-only packets keep PCRs within 100 ms */
	make_index(&ix, 20, 90000, 5, 0);
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	check_plan(p, &ix);
	{
		struct plan_layout *l;
		int64_t last = INT64_MIN;
		uint32_t pcr_units = 0;
		CHECK_EQ(plan_layout(p, &ix, 0, &l), 0);
		for (uint32_t i = 0; l && i < l->nb_units; i++) {
			int64_t t;
			if (l->units[i].kind == PLAN_UNIT_PCR)
				t = l->units[i].pcr, pcr_units++;
			else if (l->units[i].kind == PLAN_UNIT_VIDEO)
				t = ix.video.samples[l->units[i].first].dts;
			else
				continue;
			if (last != INT64_MIN)
				CHECK(t - last <= 9000 && t > last);
			last = t;
		}
		CHECK(pcr_units > 50);
		free(l);
	}
	plan_free(p);
	free_index(&ix);

	/* leading non-keyframes are left out; one-frame video; no keyframe at all */
	make_index(&ix, 100, 3000, 30, 10);
	ix.video.samples[0].flags = 0;
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	CHECK_EQ(p->segments[0].v_first, 30);
	check_plan(p, &ix);
	plan_free(p);
	free_index(&ix);

	make_index(&ix, 1, 3000, 1, 0);
	CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
	CHECK_EQ(p->nb_segments, 1);
	check_plan(p, &ix);
	plan_free(p);
	free_index(&ix);

	make_index(&ix, 50, 3000, 1000, 0);
	for (uint32_t i = 0; i < 50; i++)
		ix.video.samples[i].flags = 0;
	CHECK_EQ(plan_build(&ix, &cfg, &p), -EINVAL);
	free_index(&ix);

	/* A 640x360 picture shown turned a quarter: no passthrough; rungs by the displayed height
	 * (640), portrait widths; rates for 16:9 cut to the pixels of the narrower picture. Half a
	 * turn keeps the shape and still loses the passthrough. */
	{
		struct plan_config lc = { .target = 6 * 90000, .nb_rungs = 2, .rungs = { { 720, 2800 }, { 360, 800 } } };
		make_index(&ix, 300, 3000, 60, 0);
		ix.video.rotation = 90;
		CHECK_EQ(plan_build(&ix, &lc, &p), 0);
		if (p) {
			CHECK(!p->passthrough);
			CHECK_EQ(p->nb_rungs, 1);  /* 720 is above the displayed 640 lines */
			CHECK_EQ(p->rungs[0].height, 360);
			CHECK_EQ(p->rungs[0].width, 202);
			CHECK_EQ(p->rungs[0].kbps, 800 * 202 * 9 / (16 * 360));
			CHECK(p->rungs[0].sizes && p->rungs[0].sizes[0] > 0);
			plan_free(p);
		}
		ix.video.rotation = 180;
		CHECK_EQ(plan_build(&ix, &lc, &p), 0);
		if (p) {
			CHECK(!p->passthrough);
			CHECK_EQ(p->nb_rungs, 1);
			CHECK_EQ(p->rungs[0].width, 640);
			CHECK_EQ(p->rungs[0].height, 360);
			plan_free(p);
		}
		ix.video.rotation = 0;
		CHECK_EQ(plan_build(&ix, &lc, &p), 0);
		if (p) {
			CHECK(p->passthrough);
			plan_free(p);
		}
		/* High 10 (profile 110) is transcoded: browsers do not decode it */
		{
			uint8_t hi10[sizeof(avcc)];
			memcpy(hi10, avcc, sizeof(avcc));
			hi10[1] = hi10[9] = 110;
			ix.video.extradata = hi10;
			CHECK_EQ(plan_build(&ix, &lc, &p), 0);
			if (p) {
				CHECK(!p->passthrough);
				CHECK_EQ(p->nb_rungs, 1);
				CHECK_EQ(p->rungs[0].height, 360);
				plan_free(p);
			}
			ix.video.extradata = (uint8_t *)avcc;
		}
		free_index(&ix);
	}

	/* A light source (slides: about 30 kbit/s at 640x360): the rate caps bring every rung to
	 * the floor and the fixed costs make them cost alike, so only rungs clearly lighter than
	 * the variant above are offered; a heavy source keeps the whole ladder. */
	{
		struct plan_config lc = { .target = 6 * 90000, .nb_rungs = 3,
					  .rungs = { { 288, 1400 }, { 240, 800 }, { 144, 400 } } };
		for (int heavy = 0; heavy < 2; heavy++) {
			make_index(&ix, 300, 3000, 60, 235);
			for (uint32_t i = 0; i < ix.video.nb_samples; i++)
				ix.video.samples[i].size = heavy ? 20000 : 120;
			CHECK_EQ(plan_build(&ix, &lc, &p), 0);
			if (p) {
				uint64_t above = p->average_bps;
				CHECK(p->passthrough);
				if (heavy)
					CHECK_EQ(p->nb_rungs, 3);
				else
					CHECK(p->nb_rungs < 3);
				for (unsigned r = 0; r < p->nb_rungs; r++) {
					CHECK(p->rungs[r].average_bps * 100 < above * 85);
					above = p->rungs[r].average_bps;
				}
				plan_free(p);
			}
			free_index(&ix);
		}
	}

	/* Transcode-only (no avcC), a keyframe every 30 s, B-frames (decode order I P B B: pts
	 * 0 3 1 2 6 4 5 ...), 6 s target, cutting long GOPs: segments from 1 s, 2 s, 4 s ... 12 s, then
	 * every 6 s, each cut where no frame shown before it is decoded after it (so up to two frames
	 * late); with keyframe cuts only, 30 s segments. */
	for (int split = 0; split < 2; split++) {
		const uint32_t nv = 1800, ft = 3000;  /* 60 s at 30 fps */
		make_index(&ix, nv, ft, 900, nv * ft / 1920);
		ix.video.codec = INDEX_CODEC_OTHER;
		ix.video.extradata = NULL;
		ix.video.extradata_size = 0;
		for (uint32_t i = 0; i < nv; i++) {
			uint32_t g = i % 900, pos = g == 0 ? 0 : (g - 1) % 3 == 0 ? g + 2 : g - 1;
			ix.video.samples[i].pts = (int64_t)(i - g + (pos < 900 ? pos : 899)) * ft;
		}
		struct plan_config sc = cfg;
		sc.nb_rungs = 1;
		sc.rungs[0] = (struct plan_rung_config){ .height = 240, .kbps = 400 };
		sc.split_gops = split;
		CHECK_EQ(plan_build(&ix, &sc, &p), 0);
		if (p) {
			CHECK_EQ(p->passthrough, 0);
			static const int64_t grid[] = { 0, 1, 2, 4, 6, 8, 10, 12, 18, 24, 30, 36, 42, 48, 54 };
			CHECK_EQ(p->nb_segments, split ? 15u : 2u);
			for (uint32_t k = 1; k < p->nb_segments; k++) {
				const struct plan_segment *sg = &p->segments[k];
				int64_t before = INT64_MIN, after = INT64_MAX;
				for (uint32_t i = 0; i < sg->v_first; i++)
					before = ix.video.samples[i].pts > before ? ix.video.samples[i].pts : before;
				for (uint32_t i = sg->v_first; i < nv; i++)
					after = ix.video.samples[i].pts < after ? ix.video.samples[i].pts : after;
				CHECK(before < sg->start);
				CHECK_EQ(after, sg->start);
				if (split && k < 15)
					CHECK(sg->start >= grid[k] * 90000 && sg->start <= grid[k] * 90000 + 2 * 3000);
				else
					CHECK_EQ(sg->start, (int64_t)k * 30 * 90000);
			}
			CHECK_EQ(p->segments[p->nb_segments - 1].end, (int64_t)nv * ft);
			plan_free(p);
		}
		/* The same with an avcC (a passthrough variant): keyframe cuts only. */
		ix.video.codec = INDEX_CODEC_H264;
		ix.video.extradata = (uint8_t *)avcc;
		ix.video.extradata_size = sizeof(avcc);
		CHECK_EQ(plan_build(&ix, &sc, &p), 0);
		if (p) {
			CHECK_EQ(p->passthrough, 1);
			CHECK_EQ(p->nb_segments, 2u);
			plan_free(p);
		}
		free_index(&ix);
	}

	/* Transcode-only, 20 s: the first segment ends at 1 s, the next ones on a 2 s grid up to two
	 * targets, then on the 6 s one. On each grid point a keyframe at or after it cuts, and a GOP is
	 * cut between frames where no keyframe comes before the next point (1 s: before 2 s). With a
	 * passthrough, or for a recording being written, the target grid alone, at keyframes. */
	{
		static const struct {
			uint32_t gop;          /* frames, at 30 fps */
			bool split, h264;
			unsigned n;
			double starts[9];      /* seconds */
		} cases[] = {
			{ 30, true, false, 9, { 0, 1, 2, 4, 6, 8, 10, 12, 18 } },
			{ 60, true, false, 9, { 0, 1, 2, 4, 6, 8, 10, 12, 18 } },
			{ 45, true, false, 9, { 0, 1.5, 3, 4.5, 6, 9, 10.5, 12, 18 } },
			{ 150, true, false, 9, { 0, 1, 2, 5, 6, 8, 10, 15, 18 } },
			{ 90, true, false, 9, { 0, 1, 3, 4, 6, 9, 10, 12, 18 } },
			{ 240, true, false, 9, { 0, 1, 2, 4, 6, 8, 10, 16, 18 } },
			{ 30, false, false, 4, { 0, 6, 12, 18 } },  /* growing: cuts that never move */
			{ 30, true, true, 4, { 0, 6, 12, 18 } },    /* passthrough: the target grid */
		};
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct plan_config sc = cfg;
			make_index(&ix, 600, 3000, cases[c].gop, 470);
			if (!cases[c].h264) {
				ix.video.codec = INDEX_CODEC_OTHER;
				ix.video.extradata = NULL;
				ix.video.extradata_size = 0;
			}
			sc.nb_rungs = 1;
			sc.rungs[0] = (struct plan_rung_config){ .height = 240, .kbps = 400 };
			sc.split_gops = cases[c].split;
			CHECK_EQ(plan_build(&ix, &sc, &p), 0);
			if (p) {
				CHECK_EQ(p->nb_segments, cases[c].n);
				for (uint32_t k = 0; k < p->nb_segments && k < cases[c].n; k++)
					CHECK_EQ(p->segments[k].start, (int64_t)(cases[c].starts[k] * 90000));
				CHECK_EQ(p->segments[p->nb_segments - 1].end, 20 * 90000);
				plan_free(p);
			}
			free_index(&ix);
		}
	}

	/* random GOP structures and sizes: the layout always matches the plan */
	for (int round = 0; round < 200; round++) {
		uint32_t nv = 1 + rnd() % 2000, gop = 1 + rnd() % 400, ft = 1000 + rnd() % 5000;
		make_index(&ix, nv, ft, gop, rnd() % 3 ? nv * ft / 1920 : 0);
		CHECK_EQ(plan_build(&ix, &cfg, &p), 0);
		if (p) {
			check_plan(p, &ix);
			plan_free(p);
		}
		free_index(&ix);
	}
	return check_report("plan");
}
