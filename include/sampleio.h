/* Reading a sample's bytes from its source, whatever the container: one range of the file, for
 * an MPEG-TS source the frame put together from its transport packets (tsread.h), or for
 * containers that store frames in other pieces the frame demuxed again (demuxread.h). */
#ifndef HLSFS_SAMPLEIO_H
#define HLSFS_SAMPLEIO_H

#include <stdint.h>

#include "demuxread.h"
#include "index.h"
#include "tsread.h"

struct source;
struct AVCodecContext;

struct sample_reader {
	struct source *src;
	struct tsread_src ts;  /* its cache: samples read in file order read the file about once */
	struct demux_reader dx;
	char damage[160];      /* after -EILSEQ: what is wrong and where, for a log line */
};

/* Prepares r to read samples of src (borrowed). */
void sample_reader_init(struct sample_reader *r, struct source *src);
void sample_reader_release(struct sample_reader *r);

/* Copies sample s of track t (s->size bytes) into buf. Returns 0, -EILSEQ when the transport
 * packets there are damaged or a demuxed frame is not found as indexed (*bad: the offset of the
 * packet; r->damage says it in words), or the source's error. */
int sample_read(struct sample_reader *r, const struct index_track *t, const struct index_sample *s, uint8_t *buf,
		uint64_t *bad);

/* One past the last byte of the file sample s needs (for read-ahead): an estimate for MPEG-TS
 * and demuxed tracks, whose pieces interleave with other streams'. */
uint64_t sample_end(const struct index_track *t, const struct index_sample *s);

/* A decoder for track t (libavcodec's for its codec), given the track's codec configuration padded
 * as libavcodec requires; not opened (set threads, time base, then avcodec_open2 with no codec).
 * Returns 0 with *out (avcodec_free_context it), -EIO when there is no such decoder, -ENOMEM. */
int sample_decoder(const struct index_track *t, struct AVCodecContext **out);

#endif
