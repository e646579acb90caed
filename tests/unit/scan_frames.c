/* scan_frames FILE: proves that the index hlsfs builds for FILE names exactly the demuxer's frames.
 * Indexes FILE with scan_build, demuxes it again on its own with libavformat (packets as the
 * container stores them, no parser), and compares, frame by frame for the video track and the
 * first audio track, the demuxer's bytes with the bytes of the file at the index's (pos, size).
 * MPEG-TS: for Annex B H.264 and AAC a second demuxer pass runs with its parsers (one access unit
 * or one ADTS frame a packet, as players get them; other tracks are whole PES), the index's bytes are put together from the transport packets
 * (sample_read), and each demuxer frame must be exactly the index's bytes behind the one thing
 * the index leaves out: the access unit delimiter that begins an H.264 access unit, or the ADTS
 * header of an AAC frame (the muxer writes its own of each).
 * MPEG-PS, Ogg, ASF (and Matroska tracks whose frames are compressed): the frames are those the
 * demuxer gives with its parsers, and the index's bytes are demuxed again (sample_read, demuxread.h)
 * from where the index found each frame.
 * Prints one line with the counts and exits 0, or names the first frame that differs and exits 1
 * (2: FILE could not be indexed or read). SCAN_FRAMES_SKEW=1 compares each sample with the next
 * frame instead, which must fail: the test's proof that the comparison can. scan_frames --table FILE:
 * see same_from_table. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "demuxread.h"
#include "log.h"
#include "sampleio.h"
#include "scan.h"
#include "source.h"

/* How many bytes of a TS demuxer frame come before the index's sample: an AUD NAL unit (and its
 * trailing zeros) for video, an ADTS header for AAC; -1 when the prefix is not one of those. */
static long ts_prefix(const struct index_track *t, const AVPacket *pkt, uint32_t sample_size)
{
	long pre = (long)pkt->size - (long)sample_size;
	const uint8_t *d = pkt->data;
	if (pre < 0)
		return -1;
	if (pre == 0)
		return 0;
	if (t == NULL)
		return -1;
	if (t->codec == INDEX_CODEC_AAC)
		return (pre == 7 || pre == 9) && d[0] == 0xff && (d[1] & 0xf6) == 0xf0 && (pre == 7) == (d[1] & 1) ? pre : -1;
	if (t->annexb) {
		long sc = pre >= 6 && !d[0] && !d[1] && !d[2] && d[3] == 1 ? 4 : pre >= 5 && !d[0] && !d[1] && d[2] == 1 ? 3 : 0;
		if (!sc || (d[sc] & 0x1f) != 9)
			return -1;
		for (long i = sc + 2; i < pre; i++)
			if (d[i])
				return -1;
		return pre;
	}
	return -1;
}

static struct sample_reader rd;

static int compare(struct source *src, const struct index_track *t, const char *what, const AVPacket *pkt,
		   uint32_t *n, uint8_t **buf, size_t *cap)
{
	const struct index_sample *s;
	long pre = 0;
	uint64_t bad;
	if (*n >= t->nb_samples) {
		fprintf(stderr, "scan_frames: %s frame %u: the demuxer has it, the index has only %u samples\n", what, *n,
			t->nb_samples);
		return -1;
	}
	s = &t->samples[*n];
	if (t->ts_stride && (pre = ts_prefix(t, pkt, s->size)) < 0) {
		fprintf(stderr, "scan_frames: %s frame %u: demuxer size %d, index size %u, and what lies between is no AUD or ADTS header (PES at %llu)\n",
			what, *n, pkt->size, s->size, (unsigned long long)s->pos);
		return -1;
	}
	if (s->size + (uint32_t)pre != (uint32_t)pkt->size) {
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
	(void)src;
	if (sample_read(&rd, t, s, *buf, &bad) < 0 || memcmp(*buf, pkt->data + pre, s->size)) {
		fprintf(stderr, "scan_frames: %s frame %u: the %u bytes at %llu are not the demuxer's frame\n", what, *n,
			s->size, (unsigned long long)s->pos);
		return -1;
	}
	(*n)++;
	return 0;
}

/* scan_frames --table FILE: the index of FILE with MP4/MOV audio read from the sample table
 * (scan_samples_from_table, the default) is the one made with every audio packet demuxed: every
 * track, every sample, every field. Debug lines go to stderr, among them how many samples came
 * from the table. */
static int same_from_table(const char *path)
{
	struct source_config cfg = { 0 };
	struct media_index *ix[2] = { NULL, NULL };
	char reason[256] = "";
	int ret = 0;

	source_init(&cfg, NULL, NULL);
	for (int k = 0; k < 2; k++) {
		struct source *src = NULL;
		char *why = NULL;
		scan_samples_from_table = k == 0;
		log_set_debug(k == 0);
		if (source_open(path, &src, reason, sizeof(reason)) < 0 || scan_build(src, &ix[k], &why) < 0) {
			fprintf(stderr, "scan_frames: %s: %s\n", path, why ? why : reason);
			return 2;
		}
		source_close(src);
		free(why);
	}
	log_set_debug(false);
	for (unsigned k = 0; k < 2 + ix[0]->nb_renditions && ret == 0; k++) {
		const struct index_track *a = k == 0 ? &ix[0]->video : k == 1 ? &ix[0]->audio : &ix[0]->renditions[k - 2];
		const struct index_track *b = k == 0 ? &ix[1]->video : k == 1 ? &ix[1]->audio : &ix[1]->renditions[k - 2];
		if (a->nb_samples != b->nb_samples) {
			fprintf(stderr, "scan_frames: %s track %u: %u samples from the table, %u demuxed\n", path, k, a->nb_samples,
				b->nb_samples);
			ret = 1;
		}
		for (uint32_t i = 0; i < a->nb_samples && ret == 0; i++)
			if (memcmp(&a->samples[i], &b->samples[i], sizeof(a->samples[i]))) {
				fprintf(stderr, "scan_frames: %s track %u sample %u: pts %lld dts %lld pos %llu size %u duration %u flags %u "
					"from the table, pts %lld dts %lld pos %llu size %u duration %u flags %u demuxed\n", path, k, i,
					(long long)a->samples[i].pts, (long long)a->samples[i].dts, (unsigned long long)a->samples[i].pos,
					a->samples[i].size, a->samples[i].duration, a->samples[i].flags, (long long)b->samples[i].pts,
					(long long)b->samples[i].dts, (unsigned long long)b->samples[i].pos, b->samples[i].size,
					b->samples[i].duration, b->samples[i].flags);
				ret = 1;
			}
	}
	if (ix[0]->nb_renditions != ix[1]->nb_renditions) {
		fprintf(stderr, "scan_frames: %s: %u audio renditions from the table, %u demuxed\n", path, ix[0]->nb_renditions,
			ix[1]->nb_renditions);
		ret = 1;
	}
	if (ret == 0)
		printf("%s: %u video and %u audio samples, the same from the table and demuxed\n", path, ix[0]->video.nb_samples,
		       ix[0]->audio.nb_samples);
	index_free(ix[0]);
	index_free(ix[1]);
	return ret;
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

	if (argc == 3 && !strcmp(argv[1], "--table"))
		return same_from_table(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: scan_frames [--table] FILE\n");
		return 2;
	}
	source_init(&cfg, NULL, NULL);
	if (source_open(argv[1], &src, reason, sizeof(reason)) < 0 || scan_build(src, &ix, &why) < 0) {
		fprintf(stderr, "scan_frames: %s: %s\n", argv[1], why ? why : reason);
		return 2;
	}
	audio = ix->audio.codec != INDEX_CODEC_NONE ? &ix->audio : ix->nb_renditions ? &ix->renditions[0] : NULL;

	sample_reader_init(&rd, src);
	pkt = av_packet_alloc();
	prev = av_packet_alloc();
	if (!pkt || !prev)
		return 2;
	/* Pass 0 without parsers; for MPEG-TS, pass 1 with them, for the tracks whose index splits
	 * the PES (Annex B H.264 access units, ADTS frames); the rest are whole PES in pass 0. */
	for (int pass = 0; pass < (ix->video.ts_stride ? 2 : 1); pass++) {
		bool split_v = ix->video.ts_stride && ix->video.annexb;
		bool split_a = audio && audio->ts_stride && audio->codec == INDEX_CODEC_AAC;
		bool want_v = split_v == (pass == 1), want_a = audio && split_a == (pass == 1);
		vi = ai = -1;
		if (!(fc = avformat_alloc_context()))
			return 2;
		if (pass == 0)
			fc->flags |= AVFMT_FLAG_NOPARSE;
		if (avformat_open_input(&fc, argv[1], NULL, NULL) < 0)
			fc = NULL;
		/* MPEG-PS, Ogg, ASF: frames as their parsers put them together, as hlsfs indexes them. */
		if (fc && pass == 0 && !ix->video.ts_stride && demux_in_pieces(fc->iformat))
			fc->flags &= ~AVFMT_FLAG_NOPARSE;
		if (!fc || avformat_find_stream_info(fc, NULL) < 0) {
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
		av_packet_unref(prev);
		while (av_read_frame(fc, pkt) >= 0) {
			int is_v = want_v && pkt->stream_index == vi, is_a = want_a && pkt->stream_index == ai;
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
		avformat_close_input(&fc);
	}
	if (nv != ix->video.nb_samples || (audio && na != audio->nb_samples)) {
		fprintf(stderr, "scan_frames: the index holds %u video and %u audio samples, the demuxer gave %u and %u frames\n",
			ix->video.nb_samples, audio ? audio->nb_samples : 0, nv, na);
		return 1;
	}
	printf("%u video and %u audio frames: every sample's bytes are the demuxer's frame\n", nv, na);
	av_packet_free(&pkt);
	av_packet_free(&prev);
	index_free(ix);
	source_close(src);
	free(buf);
	return 0;
}
