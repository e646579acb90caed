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

#define INDEX_SAMPLE_KEY 1u

/* Times are 90 kHz ticks on the source's presentation timeline, edit lists applied: the first
 * presented video frame is at its edit's start (normally 0), and AAC priming lands before 0. */
struct index_sample {
	int64_t pts;
	int64_t dts;
	uint64_t pos;       /* byte offset in the source */
	uint32_t size;      /* bytes in the source */
	uint32_t duration;  /* 90 kHz */
	uint32_t nals;      /* NAL units; counted only when the NAL length field is not 4 bytes */
	uint32_t flags;     /* INDEX_SAMPLE_* */
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
	char language[4];              /* ISO 639-2 from the track, "" when unknown */
	uint32_t nb_samples;
	struct index_sample *samples;  /* decode order */
};

/* Audio tracks offered as separate renditions: the first audio track when it cannot be muxed as
 * it is (AC-3, Opus, PCM, ...: transcoded to AAC), and every further audio track. */
#define INDEX_MAX_RENDITIONS 4

struct media_index {
	struct source_identity identity;
	struct index_track video;
	struct index_track audio;      /* muxed into every variant: AAC or MP3; codec NONE without */
	unsigned nb_renditions;
	struct index_track renditions[INDEX_MAX_RENDITIONS];  /* codec AAC (copied) or OTHER */
	char *audio_note;              /* why an audio track was left out, or NULL */
	char *title;                   /* the file's title tag, or NULL */
	uint8_t *poster;               /* poster.jpg, or NULL when no frame could be made */
	size_t poster_size;
};

/* Frees an index and everything it points to; NULL is fine. */
void index_free(struct media_index *ix);

#endif
