/* Writes the binary seed inputs of the harnesses: real avcC/ASC records and samples for
 * fuzz_codec, real index blobs (index_blob_encode) for fuzz_index_blob, and plan inputs in
 * fuzz_plan.c's input format describing ordinary sources (keep the two in step).
 * Usage: make-seeds OUTDIR  (writes OUTDIR/codec, OUTDIR/index_blob, OUTDIR/plan). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "index_blob.h"

static const char *outdir;

struct w {
	uint8_t b[1 << 20];
	size_t n;
};

static void put(struct w *w, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

static void save(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "make-seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static const uint8_t avcc[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee };
static const uint8_t asc[] = { 0x11, 0x90 };

/* ---- fuzz_codec: configuration records and length-prefixed samples ---- */

static void codec_seeds(void)
{
	static const uint8_t avcc_2byte[] = { 1, 0x4d, 0x40, 0x1e, 0xfd, 0xe1, 0, 4, 0x67, 0x4d, 0x40, 0x1e,
					      1, 0, 2, 0x68, 0xce };
	static const uint8_t avcc_two_pps[] = { 1, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0, 5, 0x67, 0x42, 0xc0, 0x0d, 0x8c,
						2, 0, 2, 0x68, 0xce, 0, 3, 0x68, 0xce, 0x3c };
	static const uint8_t asc_44k[] = { 0x12, 0x10 };          /* AAC LC, 44.1 kHz, stereo */
	static const uint8_t asc_he[] = { 0x2b, 0x92, 0x08, 0x00 }; /* HE-AAC (SBR), explicit */
	static const uint8_t asc_mono[] = { 0x11, 0x88 };         /* AAC LC, 48 kHz, mono */
	static const uint8_t sample4[] = { 0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x33 };
	static const uint8_t sample2[] = { 0, 3, 0x06, 0x05, 0x01, 0, 4, 0x41, 0x9a, 0x02, 0x10 };
	static const uint8_t sample1[] = { 2, 0x09, 0x10, 3, 0x41, 0x9a, 0x21, 0, 1, 0x0c };
	/* Annex B SPS whose VUI has every part (HRD included, bitstream_restriction last), then a PPS. */
	static const uint8_t sps_vui[] = { 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xec, 0x05, 0xa8, 0x08,
					   0x08, 0x0a, 0x00, 0x00, 0x07, 0xd2, 0x00, 0x01, 0xd4, 0xc0, 0xd1, 0x00, 0x1f,
					   0x48, 0x01, 0xf4, 0x57, 0xbd, 0xf0, 0x3c, 0x22, 0x11, 0x65, 0x80,
					   0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80 };

	save("codec", "avcc-high-4byte", avcc, sizeof(avcc));
	save("codec", "avcc-main-2byte", avcc_2byte, sizeof(avcc_2byte));
	save("codec", "avcc-baseline-two-pps", avcc_two_pps, sizeof(avcc_two_pps));
	save("codec", "asc-lc-48k", asc, sizeof(asc));
	save("codec", "asc-lc-44k", asc_44k, sizeof(asc_44k));
	save("codec", "asc-he-aac", asc_he, sizeof(asc_he));
	save("codec", "asc-lc-mono", asc_mono, sizeof(asc_mono));
	save("codec", "sample-4byte-aud", sample4, sizeof(sample4));
	save("codec", "sample-2byte", sample2, sizeof(sample2));
	save("codec", "sample-1byte-empty-nal", sample1, sizeof(sample1));
	save("codec", "annexb-sps-vui-restriction", sps_vui, sizeof(sps_vui));
}

/* ---- fuzz_index_blob: real blobs (mode 0 as they are, mode 1 patched), round-trip inputs ---- */

static void blob_seed(const char *name, const struct source_identity *id, const struct media_index *ix,
		      const char *error)
{
	uint8_t *blob, *in;
	size_t n;
	char nm[256];

	if (index_blob_encode(id, ix, error, &blob, &n) < 0)
		exit(1);
	in = malloc(n + 1);
	memcpy(in + 1, blob, n);
	in[0] = 0;  /* decoded as it is */
	snprintf(nm, sizeof(nm), "raw-%s", name);
	save("index_blob", nm, in, n + 1);
	in[0] = 1;  /* header and checksum patched: the payload parser */
	snprintf(nm, sizeof(nm), "patched-%s", name);
	save("index_blob", nm, in, n + 1);
	free(in);
	free(blob);
}

static void index_blob_seeds(void)
{
	struct source_identity id = { 73400320, 1700000000123456789, 1234567, 2049 };
	struct index_sample vs[4] = { { 0, -3003, 48, 24000, 3003, 0, 1 }, { 9009, 0, 24048, 900, 3003, 0, 0 },
				      { 3003, 3003, 24948, 400, 3003, 0, 0 }, { 6006, 6006, 25348, 380, 3003, 0, 0 } };
	struct index_sample as[3] = { { -1920, -1920, 100, 371, 1920, 0, 1 }, { 0, 0, 471, 380, 1920, 0, 1 },
				      { 1920, 1920, 851, 366, 1920, 0, 1 } };
	struct media_index ix = { 0 };
	uint8_t in[64];

	ix.identity = id;
	ix.video.codec = INDEX_CODEC_H264;
	ix.video.extradata = (uint8_t *)avcc;
	ix.video.extradata_size = sizeof(avcc);
	ix.video.width = 1280;
	ix.video.height = 720;
	ix.video.fps_num = 30000;
	ix.video.fps_den = 1001;
	memcpy(ix.video.language, "und", 4);
	ix.video.nb_samples = 4;
	ix.video.samples = vs;
	ix.audio.codec = INDEX_CODEC_AAC;
	ix.audio.extradata = (uint8_t *)asc;
	ix.audio.extradata_size = sizeof(asc);
	ix.audio.sample_rate = 48000;
	ix.audio.channels = 2;
	memcpy(ix.audio.language, "eng", 4);
	ix.audio.nb_samples = 3;
	ix.audio.samples = as;
	blob_seed("h264-aac", &id, &ix, NULL);

	ix.audio = (struct index_track){ 0 };
	ix.note = "its audio is Opus, which is not carried yet (AAC and MP3 are); the video plays without sound";
	blob_seed("h264-note", &id, &ix, NULL);

	ix.video.codec = INDEX_CODEC_OTHER;
	ix.video.decoder_id = 173;
	ix.video.sar_num = 4;
	ix.video.sar_den = 3;
	ix.note = NULL;
	blob_seed("other-codec", &id, &ix, NULL);

	blob_seed("error", &id, NULL, "it is truncated: its sample tables point past the end of the file.");

	/* mode 2: an index or an error made from the bytes, then round-tripped */
	for (int i = 0; i < 3; i++) {
		for (size_t k = 0; k < sizeof(in); k++)
			in[k] = (uint8_t)(k * 37 + i * 101);
		in[0] = 2;
		in[1] = (uint8_t)i;  /* (i & 3) == 0: an error sentence */
		save("index_blob", i == 0 ? "roundtrip-error" : i == 1 ? "roundtrip-index" : "roundtrip-index2", in,
		     sizeof(in));
	}
}

/* ---- fuzz_plan: ordinary sources in the harness's input format ---- */

struct plan_src {
	const char *name;
	uint8_t flags;          /* bit0 audio, bit1 MP3, bits2-3 NAL length (0:4 1:2 2:1), bit4 no SPS/PPS, bits5-6 start */
	uint32_t target;        /* 90 kHz */
	int64_t base;           /* start, for start mode 1 (negative) or 2 */
	uint32_t nv, gop;       /* frames, keyframe interval */
	uint8_t delta_class;    /* 0: 3003 (29.97 fps), 1: 3600 (25 fps) */
	uint8_t bframes;        /* PTS 2 frames after DTS (composition offsets) */
	uint8_t codec;          /* 2: H.264, 0: another codec, 1: H.264 without avcC */
	unsigned width, height; /* 0: 1280x720 */
	unsigned nb_rungs;
	uint32_t na;            /* audio frames of 1920 ticks */
};

static void plan_seed(const struct plan_src *s)
{
	static struct w w;
	unsigned lsize = (unsigned[]){ 4, 2, 1, 4 }[(s->flags >> 2) & 3];

	w.n = 0;
	put(&w, s->flags, 1);
	put(&w, s->target - 90000, 4);
	switch ((s->flags >> 5) & 3) {
	case 1: put(&w, (uint64_t)-s->base, 2); break;
	case 2: {
		/* magnitude bits, then the magnitude with the sign in bit 63 */
		uint64_t mag = (uint64_t)(s->base < 0 ? -s->base : s->base);
		unsigned bits = 0;
		while (bits < 62 && (mag >> bits))
			bits++;
		put(&w, bits, 1);
		put(&w, mag | (s->base < 0 ? 1ull << 63 : 0), 8);
		break;
	}
	case 3: put(&w, (uint32_t)s->base, 4); break;
	}
	if (s->nv <= 64) {
		put(&w, s->nv - 1, 1);
	} else {
		put(&w, s->nv <= 2000 ? 128 : 240, 1);
		put(&w, s->nv - 1, 2);
	}
	put(&w, s->codec | (s->width ? 8 : 0), 1);
	if (s->width) {
		put(&w, s->width - 1, 2);
		put(&w, s->height - 1, 2);
	}
	put(&w, 30, 1);  /* fps 30/1 */
	put(&w, 1, 1);
	if (s->nb_rungs) {
		/* nb_rungs rungs: 1080, 720, 480, 360 (as the default ladder), steps from 4322 */
		static const unsigned h[] = { 1080, 720, 480, 360 };
		static const uint32_t kbps[] = { 5000, 2800, 1400, 800 };
		unsigned prev = 4322;
		put(&w, 7 | (s->nb_rungs << 3), 1);
		for (unsigned r = 0; r < s->nb_rungs; r++) {
			put(&w, (prev - 2 - h[r]) / 2, 2);
			put(&w, kbps[r] - 50, 4);
			prev = h[r];
		}
	} else {
		put(&w, 0, 1);
	}
	put(&w, 2, 1);  /* profile main */
	for (uint32_t i = 0; i < s->nv; i++) {
		bool key = i % s->gop == 0;
		uint32_t size = key ? 30000 + (i * 7919) % 20000 : 800 + (i * 104729) % 6000;
		uint8_t op = (uint8_t)(key | s->delta_class << 1 | (s->bframes ? 1 : 0) << 3 | 1 << 5);
		uint64_t max = lsize == 4 ? 0xffffffffull : (1ull << (8 * lsize)) - 1;
		uint64_t kmin = (size + lsize + max - 1) / (lsize + max), kmax = size / lsize;

		put(&w, op, 1);
		if (s->bframes)
			put(&w, 1, 1);  /* PTS = DTS + 2 frames */
		put(&w, size, 2);
		put(&w, 1, 1);  /* sample bytes: NAL units that tile it */
		if (kmin <= kmax)
			put(&w, i % 3, 1);
	}
	if (s->flags & 1) {
		if (s->na <= 64) {
			put(&w, s->na - 1, 1);
		} else {
			put(&w, 128, 1);
			put(&w, s->na - 1, 2);
		}
		if (s->flags & 2)
			put(&w, 0, 1);  /* 44.1 kHz */
		put(&w, (uint16_t)(int16_t)(-1920 / 8), 2);  /* priming: audio starts 1920 ticks early */
		for (uint32_t i = 0; i < s->na; i++) {
			put(&w, 0, 1);  /* 1920 ticks, duration = delta, PTS = DTS, small frame */
			put(&w, 120 + i % 80, 1);
		}
	}
	save("plan", s->name, w.b, w.n);
}

static void plan_seeds(void)
{
	static const struct plan_src srcs[] = {
		/* 20 s at 29.97 fps, 2 s GOP, B-frames, AAC, 6 s segments */
		{ "h264-aac-bframes", 0x01, 6 * 90000, 0, 600, 60, 0, 1, 2, 0, 0, 0, 470 },
		/* 10 s GOP, video only, 25 fps: segments longer than the target */
		{ "h264-gop10", 0x00, 6 * 90000, 0, 750, 250, 1, 0, 2, 0, 0, 0, 0 },
		/* NAL lengths of 2 bytes, parameter sets in band, MP3 audio, 4 s segments */
		{ "h264-2byte-mp3", 0x03 | 1 << 2 | 0x10, 4 * 90000, 0, 300, 30, 0, 0, 2, 0, 0, 0, 300 },
		/* 1-byte NAL lengths (many small NAL units), negative start */
		{ "h264-1byte-negstart", 0x01 | 2 << 2 | 1 << 5, 6 * 90000, -6006, 200, 48, 0, 1, 2, 0, 0, 0, 200 },
		/* passthrough and the default ladder below 1080p */
		{ "h264-ladder", 0x01, 6 * 90000, 0, 400, 60, 0, 1, 2, 1920, 1080, 4, 300 },
		/* another codec: rungs only */
		{ "other-ladder", 0x01, 6 * 90000, 0, 300, 30, 0, 0, 0, 1280, 720, 3, 250 },
		/* one frame */
		{ "one-frame", 0x00, 6 * 90000, 0, 1, 1, 0, 0, 2, 0, 0, 0, 0 },
		/* a start far along the timeline (a recording's clock) */
		{ "late-start", 0x01 | 2 << 5, 10 * 90000, 1000ll * 3600 * 90000, 120, 30, 0, 1, 2, 0, 0, 0, 100 },
	};
	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
		plan_seed(&srcs[i]);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make-seeds OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	codec_seeds();
	index_blob_seeds();
	plan_seeds();
	return 0;
}
