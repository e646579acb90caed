/* scan_frames FILE: proves that the index hlsfs builds for FILE names exactly the demuxer's frames.
 * Indexes FILE with scan_build, demuxes it again on its own with libavformat (packets as the
 * container stores them, no parser), and compares, frame by frame for the video track and the
 * first audio track, the demuxer's bytes with the bytes of the file at the index's (pos, size).
 * Prints one line with the counts and exits 0, or names the first frame that differs and exits 1
 * (2: FILE could not be indexed or read). SCAN_FRAMES_SKEW=1 compares each sample with the next
 * frame instead, which must fail: the test's proof that the comparison can. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "scan.h"
#include "source.h"

static int compare(struct source *src, const struct index_track *t, const char *what, const AVPacket *pkt,
		   uint32_t *n, uint8_t **buf, size_t *cap)
{
	const struct index_sample *s;
	if (*n >= t->nb_samples) {
		fprintf(stderr, "scan_frames: %s frame %u: the demuxer has it, the index has only %u samples\n", what, *n,
			t->nb_samples);
		return -1;
	}
	s = &t->samples[*n];
	if (s->size != (uint32_t)pkt->size) {
		fprintf(stderr, "scan_frames: %s frame %u: demuxer size %d, index size %u (at %llu)\n", what, *n, pkt->size,
			s->size, (unsigned long long)s->pos);
		return -1;
	}
	if (s->size > *cap) {
		uint8_t *b = realloc(*buf, s->size);
		if (!b)
			return -1;
		*buf = b;
		*cap = s->size;
	}
	if (source_pread(src, *buf, s->size, s->pos) < 0 || memcmp(*buf, pkt->data, s->size)) {
		fprintf(stderr, "scan_frames: %s frame %u: the %u bytes at %llu are not the demuxer's frame\n", what, *n,
			s->size, (unsigned long long)s->pos);
		return -1;
	}
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct source_config cfg = { 0 };
	struct source *src = NULL;
	struct media_index *ix = NULL;
	AVFormatContext *fc = NULL;
	AVPacket *pkt, *prev;
	const struct index_track *audio;
	char *why = NULL, reason[256] = "";
	int vi = -1, ai = -1, skew = getenv("SCAN_FRAMES_SKEW") && !strcmp(getenv("SCAN_FRAMES_SKEW"), "1");
	uint32_t nv = 0, na = 0;
	uint8_t *buf = NULL;
	size_t cap = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: scan_frames FILE\n");
		return 2;
	}
	source_init(&cfg, NULL, NULL);
	if (source_open(argv[1], &src, reason, sizeof(reason)) < 0 || scan_build(src, &ix, &why) < 0) {
		fprintf(stderr, "scan_frames: %s: %s\n", argv[1], why ? why : reason);
		return 2;
	}
	audio = ix->audio.codec != INDEX_CODEC_NONE ? &ix->audio : ix->nb_renditions ? &ix->renditions[0] : NULL;

	if (!(fc = avformat_alloc_context()))
		return 2;
	fc->flags |= AVFMT_FLAG_NOPARSE;
	if (avformat_open_input(&fc, argv[1], NULL, NULL) < 0 || avformat_find_stream_info(fc, NULL) < 0) {
		fprintf(stderr, "scan_frames: %s: libavformat cannot read it\n", argv[1]);
		return 2;
	}
	for (unsigned i = 0; i < fc->nb_streams; i++) {
		const AVStream *st = fc->streams[i];
		if (vi < 0 && st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			vi = (int)i;
		if (ai < 0 && st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
			ai = (int)i;
	}
	pkt = av_packet_alloc();
	prev = av_packet_alloc();
	if (!pkt || !prev)
		return 2;
	while (av_read_frame(fc, pkt) >= 0) {
		int is_v = pkt->stream_index == vi, is_a = audio && pkt->stream_index == ai;
		if (pkt->size > 0 && (is_v || is_a)) {
			if (skew) {
				/* each sample against the frame after it: holds the previous frame of that stream */
				if (prev->size > 0 && prev->stream_index == pkt->stream_index &&
				    compare(src, is_v ? &ix->video : audio, is_v ? "video" : "audio", pkt, is_v ? &nv : &na, &buf, &cap) < 0)
					return 1;
				av_packet_unref(prev);
				av_packet_ref(prev, pkt);
			} else if (compare(src, is_v ? &ix->video : audio, is_v ? "video" : "audio", pkt, is_v ? &nv : &na, &buf,
					   &cap) < 0) {
				return 1;
			}
		}
		av_packet_unref(pkt);
	}
	if (nv != ix->video.nb_samples || (audio && na != audio->nb_samples)) {
		fprintf(stderr, "scan_frames: the index holds %u video and %u audio samples, the demuxer gave %u and %u frames\n",
			ix->video.nb_samples, audio ? audio->nb_samples : 0, nv, na);
		return 1;
	}
	printf("%u video and %u audio frames: every sample's bytes are the demuxer's frame\n", nv, na);
	av_packet_free(&pkt);
	av_packet_free(&prev);
	avformat_close_input(&fc);
	index_free(ix);
	source_close(src);
	free(buf);
	return 0;
}
