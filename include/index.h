/* The index of a source: per-sample timing, size, position and keyframe flag for the video
 * track and the first usable audio track, plus their codec configurations. The data model the
 * planner, the muxer and the store read; scan.h builds it from a source with libavformat. Plain
 * data and pure code: no FFmpeg types, no I/O. */
#ifndef HLSFS_INDEX_H
#define HLSFS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"

enum index_codec {
	INDEX_CODEC_NONE = 0,
	INDEX_CODEC_H264,
	INDEX_CODEC_AAC,
	INDEX_CODEC_MP3,
	INDEX_CODEC_OTHER,  /* a video codec we decode and transcode (HEVC, VP9, AV1, MPEG-4, ...) */
};

/* Track titles are kept up to this many bytes, NUL included (index_title_clean). */
#define INDEX_TITLE_MAX 48

#define INDEX_SAMPLE_KEY 1u
/* Annex B video (index_track.annexb): the sample holds its own SPS and PPS, so none are put
 * before it. */
#define INDEX_SAMPLE_PS 2u
/* A video frame the container's edit list leaves out (MP4/MOV: before the edit's start, as a
 * trimmed copy keeps from the keyframe before its cut, or after its end): decoded for the frames
 * after it, never shown, so the timeline and a transcoded picture leave it out. */
#define INDEX_SAMPLE_HIDDEN 4u

/* Times are 90 kHz ticks on the source's presentation timeline, edit lists applied: the first
 * presented video frame is at its edit's start (normally 0), and AAC priming lands before 0. */
/* Sources with more streams than this are refused (scan.c): libavformat's sample walk costs grow
 * with their square. */
#define INDEX_MAX_TRACKS 64

struct index_sample {
	int64_t pts;
	int64_t dts;
	uint64_t pos;       /* byte offset in the source */
	uint32_t size;      /* bytes in the source */
	uint32_t duration;  /* 90 kHz */
	uint32_t nals;      /* NAL units; counted only when the NAL length field is not 4 bytes */
	uint32_t flags;     /* INDEX_SAMPLE_* */
	uint32_t skip;      /* MPEG-TS (index_track.ts_stride): bytes of the PES payload before the
	                       frame; pos is then the offset of the packet that starts the PES */
	uint32_t check;     /* a demuxed track's (index_track.demuxed): CRC-32 of the sample's bytes
	                       (demuxread.h); else zero. The record has no padding (index blobs hold
	                       it as it is) */
};

struct index_track {
	enum index_codec codec;
	int decoder_id;                /* libavcodec's codec id, for decoding when transcoding */
	uint8_t *extradata;            /* avcC, AudioSpecificConfig, or the codec's own */
	size_t extradata_size;
	unsigned width, height;        /* video */
	unsigned sar_num, sar_den;     /* video sample aspect ratio; 0/0 when square or unknown */
	unsigned rotation;             /* video: clockwise quarter turn the container asks for at display
	                                  (0, 90, 180, 270); width, height and SAR are the coded picture's */
	unsigned fps_num, fps_den;     /* video; 0/0 when unknown */
	unsigned sample_rate, channels;/* audio */
	uint32_t block_align, bit_rate;/* audio, as the container says; 0 when it does not (WMA needs them) */
	char language[4];              /* ISO 639-2 from the track, "" when unknown */
	char title[INDEX_TITLE_MAX];   /* the container's name of the track ("Commentary"), as
	                                  index_title_clean leaves it; "" without */
	uint32_t nb_samples;
	struct index_sample *samples;  /* decode order */
	/* MPEG-TS sources: a sample's bytes are put together from the transport packets of this
	 * PID (tsread.h), packets ts_stride bytes apart; 0 when each sample is one range. */
	uint16_t ts_pid, ts_stride;
	/* H.264 whose samples are Annex B (start codes; an access unit delimiter they began with is
	 * left out of the sample) and whose extradata is Annex B SPS/PPS, as MPEG-TS and AVI hold it. */
	uint8_t annexb;
	/* Containers that store a frame in pieces or altered (MPEG-PS, Ogg, ASF): each sample is
	 * demuxed again (demuxread.h) from near pos, the offset the demuxer gave it, and found by
	 * the demuxer's stream id demux_id, its size and its check. */
	uint8_t demuxed;
	int32_t demux_id;
	/* Video whose container gives decode times only, though the codec reorders (MPEG-4 Part 2
	 * with B-frames in AVI, packed or not): the decoder shows one picture per sample it is fed,
	 * one sample late, so a sample's pts is the dts of the sample after it (scan.c), the order
	 * of the samples is the order of the pictures, and the transcoder times each picture by the
	 * sample it was fed with (transcode.c). Never passed through. */
	uint8_t shown_late;
};

/* A text subtitle track (embedded, or a sidecar file beside the video), its cues already WebVTT
 * payload text in UTF-8 (line breaks, <i> and <b> kept; other styling dropped). Times are 90 kHz on
 * the same presentation timeline as the samples. Small: kept whole in the index, so every
 * WebVTT file's size is known at stat time. */
#define INDEX_SUB_FORCED 1u   /* a forced track (NAME.LANG.forced.srt, or the container says so) */
#define INDEX_SUB_SIDECAR 2u  /* from a file beside the video */

struct index_cue {
	int64_t start, end;
	uint32_t text_off, text_len;   /* into index_subtitle.text */
};

struct index_subtitle {
	char language[8];              /* BCP 47 primary tag ("en", "fr", "pt"), "und" when unknown */
	uint32_t flags;                /* INDEX_SUB_* */
	char title[INDEX_TITLE_MAX];   /* the container's name of the track ("Signs & Songs"), as
	                                  index_title_clean leaves it; "" without */
	uint32_t nb_cues;
	struct index_cue *cues;        /* by start time */
	char *text;                    /* the cues' payloads, back to back (not NUL-terminated) */
	uint32_t text_size;
};

#define INDEX_MAX_SUBTITLES 16

/* Audio tracks offered as separate renditions: the first audio track when it cannot be muxed as
 * it is (AC-3, Opus, PCM, ...: transcoded to AAC), and every further audio track. */
#define INDEX_MAX_RENDITIONS 4

struct media_index {
	struct source_identity identity;
	struct index_track video;
	struct index_track audio;      /* muxed into every variant: AAC or MP3; codec NONE without */
	unsigned nb_renditions;
	struct index_track renditions[INDEX_MAX_RENDITIONS];  /* codec AAC (copied) or OTHER */
	char *note;                    /* what of the file is left out and why (the log says it when it is
	                                  indexed), or NULL */
	char *title;                   /* the file's title tag, or NULL */
	uint8_t *poster;               /* poster.jpg, or NULL when no frame could be made */
	size_t poster_size;
	unsigned nb_subtitles;
	struct index_subtitle subtitles[INDEX_MAX_SUBTITLES];
	uint64_t sidecar_tag;          /* fingerprint of the sidecar files the subtitles came from */
	unsigned subtitle_streams;     /* set by scan_build, not stored: subtitle tracks the container declares */
};

/* A track title as the index keeps it: well-formed UTF-8 only (other bytes left out), '"' and "'"
 * made U+2019 (’), control characters and runs of spaces one space, trimmed, cut between characters to fit
 * INDEX_TITLE_MAX. in may be NULL (out is then ""). */
void index_title_clean(const char *in, char out[INDEX_TITLE_MAX]);

/* Frees an index and everything it points to; NULL is fine. */
void index_free(struct media_index *ix);

#endif
