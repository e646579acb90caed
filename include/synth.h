/* Segment bytes. An open segment holds its layout (from the plan) and the source; a read at any
 * offset builds only the PES units it covers, so a read in the middle of a segment never re-muxes
 * it from byte 0. The bytes are exactly the plan's size. */
#ifndef HLSFS_SYNTH_H
#define HLSFS_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "media.h"

struct synth;

/* Opens segment seg of media m (which must have no error). The source must still have the
 * media's identity. Returns 0 with *out, -ENOENT for no such segment, -EIO when the source
 * changed or cannot be read, -ENOMEM. Holds a reference on m until synth_close. */
int synth_open(struct media *m, uint32_t seg, struct synth **out);
void synth_close(struct synth *s);

/* Copies up to size bytes at off into buf. Returns the count (0 past the end), or -EIO when
 * the source can no longer be read as indexed. Safe to call from several threads. */
ssize_t synth_read(struct synth *s, char *buf, size_t size, uint64_t off);

/* Size of the segment in bytes. */
uint64_t synth_size(const struct synth *s);

#endif
