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

#define PLAN_MAX_RUNGS 8

struct plan_rung_config {
	unsigned height;     /* even, in pixels */
	uint32_t kbps;       /* average video bit rate */
};

struct plan_config {
	uint32_t target;     /* target segment duration, 90 kHz ticks */
	unsigned nb_rungs;   /* transcoded rungs on offer, tallest first; 0: passthrough only */
	struct plan_rung_config rungs[PLAN_MAX_RUNGS];
	uint8_t profile_idc; /* H.264 profile of the rungs: 66, 77 or 100 */
	/* Where no variant passes the video through, a GOP longer than two targets is cut between
	 * frames too (every rung's segment starts with its own IDR): segments stay near the target
	 * and a seek decodes at most from the keyframe before it. Off for recordings being written,
	 * whose listed segments must not move. */
	bool split_gops;
};

struct plan_segment {
	int64_t start, end;         /* presentation span on the source timeline, 90 kHz */
	uint32_t v_first, v_count;  /* video samples, decode order */
	uint32_t a_first, a_count;  /* audio samples */
	uint64_t a_packets;         /* audio PES packets, the same in every variant */
	uint8_t a_cc;               /* continuity counter of the first audio packet */
	/* The passthrough variant (when plan->passthrough): */
	uint64_t size;              /* bytes of the .ts */
	uint64_t v_packets;         /* video PES packets (continuity counters count these) */
	uint64_t pcr_packets;       /* adaptation-only PCR packets */
	uint8_t v_cc;               /* continuity counter of the first video packet */
};

/* A transcoded rung. Its segments' sizes are bounds planned from the rate control (VBV):
 * the encoder stays under them and the segment is padded with null packets up to them. */
struct plan_rung {
	unsigned width, height;
	uint32_t kbps;              /* average video bit rate asked of the encoder */
	uint64_t maxrate;           /* VBV maximum rate, bit/s */
	uint64_t bufsize;           /* VBV buffer, bits */
	uint8_t profile_idc;        /* H.264 profile the encoder is asked for */
	uint8_t level;              /* H.264 level_idc that fits size, rate and frame rate */
	uint64_t *sizes;            /* bytes of each segment */
	uint64_t peak_bps, average_bps, total_bytes;
};

/* AAC of a transcoded rendition: 1024-sample frames at 48 kHz on one grid for the whole file. */
#define PLAN_AAC_RATE 48000
#define PLAN_AAC_FRAME_TICKS 1920
#define PLAN_AAC_KBPS 128

/* An audio rendition (an EXT-X-MEDIA audio playlist): AAC copied from the source, sizes exact;
 * or transcoded to AAC on a fixed frame grid, sizes bounds padded with null packets. */
struct plan_rendition {
	unsigned track;             /* index in media_index.renditions */
	bool transcode;
	int64_t grid_start;         /* transcoded: PTS of grid frame 0 (the track's first sample) */
	uint32_t *first, *count;    /* per segment: samples (copied) or grid frames (transcoded) */
	uint8_t *cc;                /* copied: continuity counter of each segment's first audio packet */
	uint64_t *sizes;
	uint64_t peak_bps, average_bps, total_bytes;
};

struct plan {
	uint32_t nb_segments;
	struct plan_segment *segments;
	int64_t ts_offset;          /* TS time = source time + ts_offset */
	int64_t shown_from;         /* the earliest PTS of a video frame shown (INDEX_SAMPLE_HIDDEN
	                               frames before it are decoded only) */
	struct ts_program program;
	bool has_audio;
	unsigned adts_size;         /* bytes added before each audio frame (ADTS header) */
	bool passthrough;           /* the source's H.264 is served as it is (the first variant) */
	bool independent;           /* every segment of every variant decodes on its own (the
	                               playlists say EXT-X-INDEPENDENT-SEGMENTS): false when a
	                               passthrough segment starts at an open GOP's keyframe */
	unsigned nal_length_size;
	uint32_t ps_size;           /* SPS+PPS bytes put before every keyframe */
	bool annexb;                /* samples are Annex B already (index_track.annexb): copied as they
	                               are, parameter sets put only before keyframes without their own */
	unsigned nb_rungs;          /* transcoded rungs, tallest first */
	struct plan_rung rungs[PLAN_MAX_RUNGS];
	unsigned nb_renditions;     /* one per media_index rendition */
	struct plan_rendition renditions[INDEX_MAX_RENDITIONS];
	struct ts_program audio_program;  /* of rendition segments: one AAC stream, PCR on it */
	uint32_t target_duration;   /* EXT-X-TARGETDURATION, seconds */
	uint64_t peak_bps, average_bps;
	uint64_t total_bytes;
};

/* Plans a source: the passthrough variant when its video is H.264, and the configured rungs
 * below the source's height (every one up to it when the video is not H.264, and at least one).
 * Returns 0 with *out (plan_free), -EINVAL when the index cannot be planned (no keyframe),
 * -ENOTSUP when nothing can be offered (not H.264 and no rungs configured), -ENOMEM. */
int plan_build(const struct media_index *ix, const struct plan_config *cfg, struct plan **out);
/* plan_build with the rungs of ladder (an earlier plan of the same source) kept as they are,
 * none chosen or left out: a recording being written keeps the ladder of its first part. */
int plan_build_ladder(const struct media_index *ix, const struct plan_config *cfg, const struct plan *ladder,
		      struct plan **out);
void plan_free(struct plan *p);

/* Milliseconds of a segment's EXTINF: differences of rounded boundaries, so the sum never
 * drifts from the source duration by more than half a millisecond. */
uint64_t plan_segment_ms(const struct plan *p, uint32_t seg);

/* One video access unit as the layout sees it. */
struct plan_frame {
	int64_t pts, dts;       /* source timeline, 90 kHz */
	uint64_t payload;       /* elementary-stream bytes */
	uint32_t ref;           /* passthrough: sample index; transcoded: encoded frame index */
	bool key;
};

/* The video frames presented in segment seg (PTS within its span, decodable: at or after the
 * first keyframe), in PTS order, ref = sample index. A transcoded rung encodes exactly these.
 * Returns 0 with *frames (free() it) and *n, or -ENOMEM. */
int plan_presented(const struct plan *p, const struct media_index *ix, uint32_t seg,
		   struct plan_frame **frames, uint32_t *n);

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

/* Lays out segment seg of a transcoded rung from its encoded frames (PTS order, DTS = PTS).
 * The video packet count is made a multiple of 16 (by spreading the last PES units over more
 * packets), so continuity counters run on across segments of unknown size. *size gets the
 * bytes before padding. Returns 0 with *out (free() it), -ENOMEM. */
int plan_layout_frames(const struct plan *p, const struct media_index *ix, uint32_t seg,
		       const struct plan_frame *frames, uint32_t n, struct plan_layout **out, uint64_t *size);

/* Lays out segment seg of rendition rn. Copied: from the source samples, exactly
 * renditions[rn].sizes[seg] bytes (frame_sizes NULL). Transcoded: from the encoded frames'
 * sizes (nframes of them, ADTS headers included), the packet count made a multiple of 16;
 * *size gets the bytes before padding. Every audio unit carries a PCR. Returns 0 with *out
 * (free() it), -EINVAL, -ENOMEM. */
int plan_layout_rendition(const struct plan *p, const struct media_index *ix, unsigned rn, uint32_t seg,
			  const uint64_t *frame_sizes, uint32_t nframes, struct plan_layout **out, uint64_t *size);

/* One keyframe of the passthrough variant, for its I-frame playlist: the packets of its PES in
 * its segment, and how long it stands for (to the next keyframe's presentation, or the end). */
struct plan_iframe {
	uint32_t segment;
	uint64_t offset, size;
	uint64_t ms;        /* EXTINF in milliseconds: differences of rounded times, at least 1 */
};

/* Every keyframe of the passthrough variant, in order. Returns 0 with *out (free() it) and *n,
 * -EINVAL when the plan has no passthrough, -ENOMEM. */
int plan_iframes(const struct plan *p, const struct media_index *ix, struct plan_iframe **out, uint32_t *n);

/* Index of the unit holding byte off of the segment (binary search). */
uint32_t plan_layout_find(const struct plan_layout *l, uint64_t off);

/* Elementary-stream bytes of one passthrough video access unit: AUD, parameter sets before
 * keyframes (Annex B samples: keyframes without their own), the sample with start codes. */
uint64_t plan_video_payload(const struct plan *p, const struct index_sample *s);

/* Bytes of the PES header of a video access unit (a DTS only when it differs from the PTS). */
static inline size_t plan_video_header(int64_t pts, int64_t dts)
{
	return tsmux_pes_header_size(pts != dts);
}

/* Video variants are numbered 0 .. plan_variants() - 1: the passthrough first when there is
 * one, then the rungs, tallest first; the audio renditions follow them. plan_variant_rung says
 * which rung v is (-1: passthrough or a rendition), plan_variant_rendition which rendition
 * (-1: a video variant). plan_variant_size works for every variant. */
unsigned plan_variants(const struct plan *p);
int plan_variant_rung(const struct plan *p, unsigned v);
int plan_variant_rendition(const struct plan *p, unsigned v);
unsigned plan_variant_height(const struct plan *p, const struct media_index *ix, unsigned v);
uint64_t plan_variant_size(const struct plan *p, unsigned v, uint32_t seg);

#endif
