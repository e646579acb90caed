/* Builds a source's media index (index.h) by reading it with libavformat: the only module that
 * knows containers. Everything after it (plan, playlists, segment sizes) reads the index alone. */
#ifndef HLSFS_SCAN_H
#define HLSFS_SCAN_H

#include "index.h"
#include "source.h"

/* Sends FFmpeg's own log messages (the demuxer's, the codecs') to our debug log, so a damaged
 * file or an encoder's chatter is never printed as is. Call once at start. */
void scan_init(void);

/* Indexes an opened source. On success *out is the index (index_free). On failure returns a
 * negative errno and *why is one sentence for error.txt (free() it), e.g. that the file is
 * truncated or no decoder knows its video codec. */
int scan_build(struct source *src, struct media_index **out, char **why);

#endif
