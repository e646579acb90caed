/* Text subtitles into the index: tracks embedded in the source (mov_text/tx3g, SubRip, ASS/SSA,
 * WebVTT) and sidecar files beside it (NAME.srt, NAME.LANG.srt, NAME.LANG.forced.srt, .vtt,
 * .ass, .ssa), decoded with FFmpeg's subtitle decoders to ASS events and made WebVTT payloads
 * (webvtt.h). Sidecars in legacy 8-bit encodings or UTF-16 are converted to UTF-8 (uchardet
 * tells the encoding, iconv converts). Bitmap subtitles (PGS, VobSub, DVB) are named in one log
 * line and left out. */
#ifndef HLSFS_SUBTITLE_H
#define HLSFS_SUBTITLE_H

#include <stdint.h>

#include "index.h"
#include "source.h"

/* Adds the text subtitle tracks of the opened video src (at path) and of its sidecars to ix
 * (ix->subtitles, ix->sidecar_tag). The source is read again only when scan_build saw subtitle
 * tracks in it (ix->subtitle_streams). A track that cannot be read is logged and left out; the
 * video is served all the same. Returns 0, or -ENOMEM. */
int subtitle_scan(struct source *src, const char *path, struct media_index *ix);

/* A fingerprint of the sidecar files of the video at path (their names, sizes, times and inode
 * numbers), 0 when it has none. A video whose fingerprint changed gets its index built again,
 * so a changed sidecar gives new bytes. Costs a stat of the folder and of each sidecar (the
 * folder is read again only when its time changed). Videos of a remote base have none: 0. */
uint64_t subtitle_sidecar_tag(const char *path);

#endif
