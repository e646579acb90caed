/* Sample bytes through libavformat's demuxer, for containers that store a frame in pieces or
 * altered (MPEG-PS packs, Ogg pages, ASF payloads): no range of the file is the frame, so the
 * frame is demuxed again from near where it was found at index time and recognised by its
 * stream, size and checksum (index_sample.check). A frame not found so is an error, never other
 * bytes. */
#ifndef HLSFS_DEMUXREAD_H
#define HLSFS_DEMUXREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avsource.h"
#include "index.h"

struct demux_held;

struct demux_reader {
	struct source *src;
	struct avsource io;
	AVFormatContext *fc;        /* opened at the first read */
	struct AVPacket *pkt;
	struct demux_held *held;    /* frames demuxed but not asked for yet, oldest first */
	size_t nb_held, held_cap, held_bytes;
	int64_t last_pos;           /* file offset of the last frame demuxed; -1 before any */
	int opened;                 /* 0 not yet, 1 open, <0 the error opening gave */
};

/* Containers that cut frames into pieces (transport packets, pack payloads, pages, ASF
 * payloads): libavformat's parsers put their frames together, so they are indexed and demuxed
 * with parsing; other containers' frames are the demuxer's packets as they are (no parsing).
 * MPEG-TS is read with tsread.h instead. */
bool demux_in_pieces(const AVInputFormat *f);

/* The checksum a demuxed sample is recognised by (CRC-32 of its bytes). */
uint32_t demux_check(const uint8_t *p, size_t n);

void demux_reader_init(struct demux_reader *d, struct source *src);
void demux_reader_release(struct demux_reader *d);

/* Copies sample s of track t (t->demuxed; s->size bytes) into buf. Samples asked for in file
 * order are read in one pass. Returns 0, -EILSEQ when the frame is not where the index found it
 * (the source changed, or a demuxer that cannot find it again), -ENOMEM, or the source's error. */
int demux_read(struct demux_reader *d, const struct index_track *t, const struct index_sample *s, uint8_t *buf);

#endif
