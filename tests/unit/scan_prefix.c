/* scan_prefix FILE [CUTS]: proves that a recording being written is indexed from its complete
 * part only. FILE (finished) is indexed whole with scan_build; then, as if only its first C bytes
 * were written yet, for CUTS sizes C spread over the file (none on a packet boundary; a Matroska
 * file is complete up to its last whole Cluster before C), it is opened as growing (source_open_as with a growing identity), its complete part found with scan_complete_at
 * and indexed with scan_build_upto. Every such index must succeed (once its head is written) and
 * each of its tracks must be a prefix of the whole file's: the same samples, at the same place and
 * time, with the same flags (the last one's duration aside, which only the next frame tells), so
 * that a frame cut short by the end of what is written is never in it.
 * Prints one line with the counts and exits 0; names the first difference and exits 1; exits 2
 * when a part cannot be indexed, with its reason on stderr. A FILE that cannot be indexed whole
 * (damaged in its middle) has its parts indexed all the same, without the prefix check: the first
 * one that fails gives its reason, the one the whole file gives. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "source.h"

static int prefix_of(const struct index_track *whole, const struct index_track *part, const char *what, uint64_t cut)
{
	if (part->nb_samples > whole->nb_samples) {
		fprintf(stderr, "scan_prefix: cut at %" PRIu64 ": %u %s samples, the whole file has %u\n", cut,
			part->nb_samples, what, whole->nb_samples);
		return -1;
	}
	for (uint32_t i = 0; i < part->nb_samples; i++) {
		struct index_sample a = whole->samples[i], b = part->samples[i];
		if (i + 1 == part->nb_samples)
			a.duration = b.duration;
		if (memcmp(&a, &b, sizeof(a))) {
			fprintf(stderr, "scan_prefix: cut at %" PRIu64 ": %s sample %u of %u differs from the whole file's "
				"(pos %" PRIu64 "/%" PRIu64 " skip %u/%u size %u/%u pts %" PRId64 "/%" PRId64 " flags %u/%u)\n",
				cut, what, i, part->nb_samples, a.pos, b.pos, a.skip, b.skip, a.size, b.size, a.pts, b.pts,
				a.flags, b.flags);
			return -1;
		}
	}
	if (part->extradata_size != whole->extradata_size ||
	    (part->extradata_size && memcmp(part->extradata, whole->extradata, part->extradata_size))) {
		fprintf(stderr, "scan_prefix: cut at %" PRIu64 ": the %s track's configuration differs\n", cut, what);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct source_config cfg = { 0 };
	struct source *src = NULL;
	struct media_index *whole = NULL;
	struct source_identity g;
	char *why = NULL, reason[256] = "";
	unsigned cuts = argc > 2 ? (unsigned)atoi(argv[2]) : 40, indexed = 0;
	uint64_t size, short_v = 0, short_a = 0;

	if (argc < 2 || cuts == 0) {
		fprintf(stderr, "usage: scan_prefix FILE [CUTS]\n");
		return 2;
	}
	source_init(&cfg, NULL, NULL);
	if (source_open(argv[1], &src, reason, sizeof(reason)) < 0) {
		fprintf(stderr, "scan_prefix: %s: %s\n", argv[1], reason);
		return 2;
	}
	if (scan_build(src, &whole, &why) < 0) {
		fprintf(stderr, "scan_prefix: %s whole: %s\n", argv[1], why ? why : "?");
		free(why);
		why = NULL;
	}
	size = source_identity(src)->size;
	g = (struct source_identity){ .mtime_ns = IDENTITY_GROWING, .ino = source_identity(src)->ino,
				      .dev = source_identity(src)->dev };
	source_close(src);

	for (unsigned k = 1; k <= cuts; k++) {
		/* spread over the file, off every packet boundary (a prime step) */
		uint64_t cut = size * k / (cuts + 1) + 97 * k % 187 + 1, end, head, head_at;
		struct media_index *part = NULL;
		int ret;
		if (cut >= size)
			cut = size - 1;
		if (source_open_as(argv[1], &g, &src, reason, sizeof(reason)) < 0 ||
		    !identity_equal(source_identity(src), &g)) {
			fprintf(stderr, "scan_prefix: %s cannot be opened as growing: %s\n", argv[1], reason);
			return 2;
		}
		if ((ret = scan_complete_at(src, cut, &end, &head, &head_at)) < 0) {
			fprintf(stderr, "scan_prefix: cut at %" PRIu64 ": scan_complete: %s\n", cut, strerror(-ret));
			return 1;
		}
		if (end > cut) {
			fprintf(stderr, "scan_prefix: cut at %" PRIu64 ": complete up to %" PRIu64 ", past the cut\n", cut, end);
			return 1;
		}
		if (!head) {
			source_close(src);
			continue;
		}
		if (scan_build_upto(src, end, &part, &why) < 0) {
			fprintf(stderr, "scan_prefix: %s cut at %" PRIu64 " (complete up to %" PRIu64 "): %s\n", argv[1], cut, end,
				why ? why : "?");
			return 2;
		}
		if (!whole) {
			index_free(part);
			source_close(src);
			continue;
		}
		if (prefix_of(&whole->video, &part->video, "video", cut) < 0 ||
		    (whole->audio.nb_samples && prefix_of(&whole->audio, &part->audio, "audio", cut) < 0))
			return 1;
		short_v += whole->video.nb_samples - part->video.nb_samples;
		short_a += whole->audio.nb_samples - part->audio.nb_samples;
		indexed++;
		index_free(part);
		source_close(src);
	}
	if (!whole) {
		fprintf(stderr, "scan_prefix: %s cannot be indexed whole, but every part of it can\n", argv[1]);
		return 1;
	}
	if (indexed < cuts / 2) {
		fprintf(stderr, "scan_prefix: only %u of %u cuts held a complete head\n", indexed, cuts);
		return 1;
	}
	printf("%u cuts of %" PRIu64 " bytes: every index a prefix of the whole file's (%u video, %u audio samples; "
	       "on average %.1f video and %.1f audio samples not yet indexed)\n",
	       indexed, size, whole->video.nb_samples, whole->audio.nb_samples, (double)short_v / indexed,
	       (double)short_a / indexed);
	index_free(whole);
	return 0;
}
