/* The segment plan of a source: where segments are cut (once, for every variant), which samples
 * each segment holds, and the exact byte layout of each segment's MPEG-TS, all computed from the
 * index alone. Sizes, durations and bandwidths that stat and the playlists report come from here;
 * synth writes exactly what the layout says. Pure: no I/O. */
#ifndef HLSFS_PLAN_H
#define HLSFS_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "index.h"
#include "tsmux.h"

#define PLAN_TIMEBASE 90000
/* Added to source times to make TS times: segment 0 starts near 10 s as Apple's segmenter does,
 * so DTS before the first PTS (B-frames) and AAC priming stay positive. */
#define PLAN_TS_OFFSET (10 * PLAN_TIMEBASE)
/* PCR runs this far ahead of the DTS of the frame it is sent with (FFmpeg's default mux delay). */
#define PLAN_PCR_LEAD (63000)
/* Longest gap between PCRs (H.222.0 asks for at most 100 ms): slow video (slides, screen
 * recordings) gets PCR-only packets in between. */
#define PLAN_PCR_INTERVAL (8100)
/* Audio frames grouped in one PES, fewer at a gap or a segment end. */
#define PLAN_AUDIO_FRAMES_PER_PES 4

struct plan_config {
	uint32_t target;  /* target segment duration, 90 kHz ticks */
};

struct plan_segment {
	int64_t start, end;         /* presentation span on the source timeline, 90 kHz */
	uint32_t v_first, v_count;  /* video samples, decode order */
	uint32_t a_first, a_count;  /* audio samples */
	uint64_t size;              /* bytes of the .ts */
	uint64_t v_packets, a_packets;  /* PES packets per PID (continuity counters count these) */
	uint64_t pcr_packets;           /* adaptation-only PCR packets */
	uint8_t v_cc, a_cc;         /* continuity counters of the first video / audio packet */
};

struct plan {
	uint32_t nb_segments;
	struct plan_segment *segments;
	int64_t ts_offset;          /* TS time = source time + ts_offset */
	struct ts_program program;
	bool has_audio;
	unsigned adts_size;         /* bytes added before each audio frame (ADTS header) */
	unsigned nal_length_size;
	uint32_t ps_size;           /* SPS+PPS bytes put before every keyframe */
	uint32_t target_duration;   /* EXT-X-TARGETDURATION, seconds */
	uint64_t peak_bps, average_bps;
	uint64_t total_bytes;
};

/* Plans a source. Returns 0 with *out (plan_free), -EINVAL when the index cannot be planned
 * (no keyframe, unusable video configuration), -ENOMEM. */
int plan_build(const struct media_index *ix, const struct plan_config *cfg, struct plan **out);
void plan_free(struct plan *p);

/* Milliseconds of a segment's EXTINF: differences of rounded boundaries, so the sum never
 * drifts from the source duration by more than half a millisecond. */
uint64_t plan_segment_ms(const struct plan *p, uint32_t seg);

enum plan_unit_kind {
	PLAN_UNIT_PAT,
	PLAN_UNIT_PMT,
	PLAN_UNIT_VIDEO,   /* one access unit */
	PLAN_UNIT_AUDIO,   /* one to PLAN_AUDIO_FRAMES_PER_PES frames */
	PLAN_UNIT_PCR,     /* one adaptation-only packet carrying a PCR, base in `pcr` */
};

struct plan_unit {
	uint64_t offset;    /* first byte in the segment */
	uint64_t packets;
	uint64_t payload;   /* elementary-stream bytes in the PES */
	uint32_t first, count;  /* samples of the unit's track */
	int64_t pcr;            /* PLAN_UNIT_PCR: PCR base on the source timeline, 90 kHz */
	uint8_t kind;
	uint8_t cc;
};

struct plan_layout {
	uint32_t segment;
	uint32_t nb_units;
	struct plan_unit units[];
};

/* Lays out segment seg: its units in byte order, with offsets and continuity counters.
 * Returns 0 with *out (free() it), -EINVAL for a segment out of range, -ENOMEM. */
int plan_layout(const struct plan *p, const struct media_index *ix, uint32_t seg, struct plan_layout **out);

/* Index of the unit holding byte off of the segment (binary search). */
uint32_t plan_layout_find(const struct plan_layout *l, uint64_t off);

/* Elementary-stream bytes of one video access unit: AUD, parameter sets before keyframes,
 * the sample with start codes. */
uint64_t plan_video_payload(const struct plan *p, const struct index_sample *s);

/* PES header of a video access unit carries a DTS when it differs from the PTS. */
static inline bool plan_video_has_dts(const struct index_sample *s)
{
	return s->pts != s->dts;
}

#endif
