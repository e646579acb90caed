/* Segment bytes. An open segment holds its layout (from the plan) and the source; a read at any
 * offset builds only the PES units it covers, so a read in the middle of a segment never re-muxes
 * it from byte 0. The bytes are exactly the plan's size. */
#ifndef HLSFS_SYNTH_H
#define HLSFS_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"
#include "index.h"
#include "plan.h"

struct source;
struct synth;

/* What making a segment's bytes reads of a source: borrowed from the media that owns them, which
 * the caller keeps referenced until it is done (synth_close, or the call's return). */
struct synth_input {
	const char *path;                   /* to open the source, and for log lines */
	const struct source_identity *id;   /* the version that was indexed: another is refused */
	const struct media_index *ix;
	const struct plan *plan;
};

/* Opens segment seg of in (copied; what it points to must outlive the synth). The source must
 * still have in->id. Returns 0 with *out, -ENOENT for no such segment, -EIO when the source
 * changed or cannot be read, -ENOMEM. */
int synth_open(const struct synth_input *in, uint32_t seg, struct synth **out);
void synth_close(struct synth *s);

/* Copies up to size bytes at off into buf. Returns the count (0 past the end), or -EIO when
 * the source can no longer be read as indexed. Safe to call from several threads. */
ssize_t synth_read(struct synth *s, char *buf, size_t size, uint64_t off);

/* Size of the segment in bytes. */
uint64_t synth_size(const struct synth *s);

/* One encoded video frame of a transcoded segment: Annex B with its own AUD and, at keyframes,
 * parameter sets. */
struct synth_frame {
	int64_t pts;  /* source timeline, 90 kHz; DTS is the same */
	bool key;
	const uint8_t *data;
	uint64_t size;
};

struct synth_encoded {
	uint32_t nb_frames;
	const struct synth_frame *frames;
};

/* Writes every unit of a transcoded segment's layout (plan_layout_frames) to out: video from
 * enc (a unit's `first` indexes enc->frames), audio from src as in passthrough. Writes exactly
 * the layout's bytes. Returns 0, -EIO when the source cannot be read, -ENOMEM. */
int synth_write_encoded(const struct synth_input *in, struct source *src, const struct plan_layout *l,
			const struct synth_encoded *enc, uint8_t *out);

struct aac_config;

/* Writes every unit of a rendition segment's layout (plan_layout_rendition) to out: frames of
 * the source's rendition track rn (enc NULL: copied) or the encoded frames enc, each behind an
 * ADTS header made from aac. Returns 0, -EIO, -ENOMEM. */
int synth_write_rendition(const struct synth_input *in, struct source *src, const struct plan_layout *l, unsigned rn,
			  const struct synth_encoded *enc, const struct aac_config *aac, uint8_t *out);

#endif
