/* Builds a source's media index (index.h) by reading it with libavformat: the only module that
 * knows containers. Everything after it (plan, playlists, segment sizes) reads the index alone. */
#ifndef HLSFS_SCAN_H
#define HLSFS_SCAN_H

#include <stdbool.h>

#include "index.h"
#include "source.h"

/* Sends FFmpeg's own log messages (the demuxer's, the codecs') to our debug log, so a damaged
 * file or an encoder's chatter is never printed as is. Call once at start. */
void scan_init(void);

/* Whether MP4/MOV audio, and video without B-frames, is read from libavformat's sample table once
 * its first packets are seen to match it (default true; tests compare with false, every packet
 * through the demuxer). */
extern bool scan_samples_from_table;

/* Indexes an opened source. On success *out is the index (index_free). On failure returns a
 * negative errno and *why is one sentence for error.txt (free() it), e.g. that the file is
 * truncated or no decoder knows its video codec. */
int scan_build(struct source *src, struct media_index **out, char **why);

/* scan_build of the first size bytes of src alone (a recording being written: its complete
 * part). */
int scan_build_upto(struct source *src, uint64_t size, struct media_index **out, char **why);

/* For a source that may still be being written (size bytes now): how many bytes from its start
 * are complete (*end: a fragmented MP4 up to its last whole moof + mdat, an MPEG-TS up to its
 * last whole packet; 0 before the first), and where the part that names the recording ends
 * (*head: a fragmented MP4's first whole fragment, an MPEG-TS's first 512 packets; 0 before it).
 * Returns 0, -EINPROGRESS for a plain MP4 (its sample tables come at its end: nothing can be
 * served before it is finished), -EBUSY for another container (Matroska/WebM: see scan_complete_at; AVI, FLV, ...),
 * which is served once finished, -ENOTSUP for an MP4 that is not one being written (indexed as
 * any file), or a source error. Reads box headers, or the first 64 KiB of an MPEG-TS. An index
 * of a growing source (identity_growing) by scan_build_upto leaves out the last PES of each
 * MPEG-TS stream, which the end of the complete part may cut short. */
int scan_complete(struct source *src, uint64_t size, uint64_t *end, uint64_t *head);

/* scan_complete, and a Matroska/WebM recording: complete up to the end of its last whole Cluster
 * of known size; the part that names it is its first Cluster, [*head_at, *head) (its muxer
 * rewrites what comes before when it finishes). *head_at is 0 for every other container. A
 * Matroska file whose Clusters have unknown sizes (a live muxer's) gives -EBUSY. */
int scan_complete_at(struct source *src, uint64_t size, uint64_t *end, uint64_t *head, uint64_t *head_at);

#endif
