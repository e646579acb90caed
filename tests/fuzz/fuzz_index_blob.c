/* Fuzzes the persistent index encoding. The first input byte picks a mode:
 *   0: decode the bytes as they are (must never crash; results are freed, leaks are findings);
 *   1: the same bytes with a valid header and checksum patched in, so the fuzzer reaches the
 *      payload parser behind the checksum; what decodes must re-encode and decode the same;
 *   2: build an index (or an error sentence) from the bytes, encode it, and check that it
 *      decodes to the same thing, that another identity is stale, and that a cut, an extra
 *      byte or a flipped byte is refused (or, for a flip, decodes to exactly the same). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hash.h"
#include "index_blob.h"

/* The header as index_blob.c lays it out: magic 8, version 4, is_error 4, identity 32,
 * payload size 8, payload checksum 8. */
#define HDR_SIZE 64
#define HDR_ID 16
#define HDR_PAYLOAD_SIZE 48
#define HDR_CHECKSUM 56

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool same_track(const struct index_track *a, const struct index_track *b)
{
	return a->codec == b->codec && a->decoder_id == b->decoder_id && a->extradata_size == b->extradata_size &&
	       (!a->extradata_size || !memcmp(a->extradata, b->extradata, a->extradata_size)) &&
	       a->width == b->width && a->height == b->height && a->sar_num == b->sar_num &&
	       a->sar_den == b->sar_den && a->rotation == b->rotation && a->fps_num == b->fps_num &&
	       a->fps_den == b->fps_den && a->sample_rate == b->sample_rate && a->channels == b->channels &&
	       !memcmp(a->language, b->language, sizeof(a->language)) && !strcmp(a->title, b->title) &&
	       a->nb_samples == b->nb_samples &&
	       (!a->nb_samples || !memcmp(a->samples, b->samples, sizeof(a->samples[0]) * a->nb_samples));
}

static bool same_index(const struct media_index *a, const struct media_index *b)
{
	return identity_equal(&a->identity, &b->identity) && same_track(&a->video, &b->video) &&
	       same_track(&a->audio, &b->audio) && same_str(a->note, b->note);
}

/* What decode promises about a success: exactly one result, and an index the planner can take. */
static void check_decoded(int ret, const struct media_index *ix, const char *err)
{
	if (ret < 0) {
		FUZZ_CHECK(ret == -EINVAL || ret == -ESTALE || ret == -ENOMEM);
		FUZZ_CHECK(!ix && !err);
		return;
	}
	FUZZ_CHECK(ret == 0 && (!ix != !err));
	if (ix) {
		FUZZ_CHECK(ix->video.codec == INDEX_CODEC_H264 || ix->video.codec == INDEX_CODEC_OTHER);
		FUZZ_CHECK(ix->video.nb_samples > 0 && ix->video.samples);
		FUZZ_CHECK(ix->audio.codec <= INDEX_CODEC_OTHER);
		FUZZ_CHECK(!ix->audio.nb_samples || ix->audio.samples);
		FUZZ_CHECK(!ix->video.extradata_size || ix->video.extradata);
		FUZZ_CHECK(!ix->audio.extradata_size || ix->audio.extradata);
		FUZZ_CHECK(ix->video.language[3] == '\0' && ix->audio.language[3] == '\0');
		/* titles go into playlists as they are: only what index_title_clean leaves */
		for (unsigned k = 0; k <= ix->nb_renditions + ix->nb_subtitles + 1; k++) {
			const char *t = k == 0 ? ix->video.title : k == 1 ? ix->audio.title :
					k < 2 + ix->nb_renditions ? ix->renditions[k - 2].title :
					ix->subtitles[k - 2 - ix->nb_renditions].title;
			char clean[INDEX_TITLE_MAX];
			FUZZ_CHECK(memchr(t, '\0', INDEX_TITLE_MAX) != NULL);
			index_title_clean(t, clean);
			FUZZ_CHECK(!strcmp(clean, t) && !strchr(t, '"'));
		}
		/* touch every sample, so ASan sees any short allocation */
		for (uint32_t i = 0; i < ix->video.nb_samples; i++)
			FUZZ_CHECK(ix->video.samples[i].size == ix->video.samples[i].size);
		for (uint32_t i = 0; i < ix->audio.nb_samples; i++)
			FUZZ_CHECK(ix->audio.samples[i].size == ix->audio.samples[i].size);
	}
}

static void decode_raw(const uint8_t *blob, size_t size)
{
	struct source_identity id = { 0 }, other;
	struct media_index *ix;
	char *err;
	int ret;

	if (size >= HDR_SIZE)
		memcpy(&id, blob + HDR_ID, sizeof(id));
	ret = index_blob_decode(blob, size, &id, &ix, &err);
	check_decoded(ret, ix, err);
	index_free(ix);
	free(err);

	other = id;
	other.ino ^= 1;
	ret = index_blob_decode(blob, size, &other, &ix, &err);
	FUZZ_CHECK(ret < 0);
	check_decoded(ret, ix, err);
}

/* Decodes blob, encodes what came out, decodes that: the same content both times. */
static void decode_reencode(const uint8_t *blob, size_t size, const struct source_identity *id)
{
	struct media_index *ix, *ix2;
	char *err, *err2;
	uint8_t *blob2;
	size_t size2;
	int ret;

	ret = index_blob_decode(blob, size, id, &ix, &err);
	check_decoded(ret, ix, err);
	if (ret < 0)
		return;
	FUZZ_CHECK(index_blob_encode(id, ix, err, &blob2, &size2) == 0);
	ret = index_blob_decode(blob2, size2, id, &ix2, &err2);
	check_decoded(ret, ix2, err2);
	FUZZ_CHECK(ret == 0);
	if (ix)
		FUZZ_CHECK(ix2 && same_index(ix, ix2));
	else
		FUZZ_CHECK(err2 && !strcmp(err, err2));
	index_free(ix);
	index_free(ix2);
	free(err);
	free(err2);
	free(blob2);
}

static void decode_patched(const uint8_t *data, size_t size)
{
	size_t n = size < HDR_SIZE ? HDR_SIZE : size;
	uint8_t *blob = calloc(1, n);
	struct source_identity id;
	uint64_t payload, sum;
	uint32_t version = 1;

	if (!blob)
		return;
	memcpy(blob, data, size);
	memcpy(blob, "HLSFSIX\0", 8);
	memcpy(blob + 8, &version, 4);
	payload = n - HDR_SIZE;
	sum = hash_fnv1a(blob + HDR_SIZE, n - HDR_SIZE, 0);
	memcpy(blob + HDR_PAYLOAD_SIZE, &payload, 8);
	memcpy(blob + HDR_CHECKSUM, &sum, 8);
	memcpy(&id, blob + HDR_ID, sizeof(id));
	decode_reencode(blob, n, &id);
	free(blob);
}

static void fill_track(struct fz *f, struct index_track *t, bool video)
{
	uint8_t shape = fz_u8(f);

	memset(t, 0, sizeof(*t));
	/* mostly what the indexer makes; sometimes a codec number no build knows */
	t->codec = video ? ((shape & 7) > 1 ? INDEX_CODEC_H264 : (shape & 7) ? INDEX_CODEC_OTHER
						 : (enum index_codec)(fz_u8(f) % 6))
			 : (enum index_codec)((shape & 7) % 6);
	t->decoder_id = (int)fz_u32(f);
	t->extradata_size = fz_range(f, 0, 64);
	if (t->extradata_size) {
		t->extradata = malloc(t->extradata_size);
		for (size_t i = 0; i < t->extradata_size; i++)
			t->extradata[i] = fz_u8(f);
	}
	t->width = fz_u32(f);
	t->height = fz_u32(f);
	t->sar_num = fz_u32(f);
	t->sar_den = fz_u32(f);
	t->rotation = video ? (fz_u8(f) & 3) * 90u : 0;  /* a quarter turn, as the indexer gives it */
	t->fps_num = fz_u32(f);
	t->fps_den = fz_u32(f);
	t->sample_rate = fz_u32(f);
	t->channels = fz_u32(f);
	if (shape & 8) {
		/* a language is three letters or nothing, always NUL-terminated */
		for (int i = 0; i < 3; i++)
			t->language[i] = (char)('a' + fz_u8(f) % 26);
	}
	t->nb_samples = (shape & 0x30) == 0 && !video ? 0 : (uint32_t)fz_range(f, video && (shape & 0x40) ? 0 : 1, 300);
	if (t->nb_samples) {
		t->samples = malloc(sizeof(t->samples[0]) * t->nb_samples);
		for (uint32_t i = 0; i < t->nb_samples; i++) {
			struct index_sample *s = &t->samples[i];
			s->pts = (int64_t)fz_u64(f);
			s->dts = (int64_t)fz_u64(f);
			s->pos = fz_u64(f);
			s->size = fz_u32(f);
			s->duration = fz_u32(f);
			s->nals = fz_u32(f);
			s->flags = fz_u32(f);
		}
	}
}

/* A string of up to 200 bytes without NULs, or NULL. */
static char *fill_string(struct fz *f, bool may_be_null)
{
	size_t n = fz_range(f, 0, 200);
	char *s;

	if (may_be_null && n == 0)
		return NULL;
	if (!(s = malloc(n + 1)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = fz_u8(f);
		s[i] = (char)(c ? c : ' ');
	}
	s[n] = '\0';
	return s;
}

static void round_trip(const uint8_t *data, size_t size)
{
	struct fz f;
	struct source_identity id, other;
	struct media_index ix = { 0 }, *out;
	char *error = NULL, *err;
	uint8_t *blob, flip;
	size_t n, at;
	bool is_error, valid;
	int ret;

	fz_init(&f, data, size);
	is_error = (fz_u8(&f) & 3) == 0;
	id.size = fz_u64(&f);
	id.mtime_ns = (int64_t)fz_u64(&f);
	id.ino = fz_u64(&f);
	id.dev = fz_u64(&f);
	ix.identity = id;
	if (is_error) {
		error = fill_string(&f, false);
		valid = true;
	} else {
		fill_track(&f, &ix.video, true);
		fill_track(&f, &ix.audio, false);
		ix.note = fill_string(&f, true);
		valid = (ix.video.codec == INDEX_CODEC_H264 || ix.video.codec == INDEX_CODEC_OTHER) &&
			ix.video.nb_samples > 0 && ix.audio.codec <= INDEX_CODEC_OTHER;
	}

	FUZZ_CHECK(index_blob_encode(&id, is_error ? NULL : &ix, error, &blob, &n) == 0);
	FUZZ_CHECK(n >= HDR_SIZE + 8);
	ret = index_blob_decode(blob, n, &id, &out, &err);
	check_decoded(ret, out, err);
	if (!valid) {
		FUZZ_CHECK(ret == -EINVAL);  /* an unknown codec, or no video frames: refused */
	} else if (is_error) {
		FUZZ_CHECK(ret == 0 && err && !strcmp(err, error));
	} else {
		FUZZ_CHECK(ret == 0 && out && same_index(&ix, out));
	}
	index_free(out);
	free(err);

	if (valid) {
		other = id;
		other.dev ^= 1ull << fz_range(&f, 0, 63);
		FUZZ_CHECK(index_blob_decode(blob, n, &other, &out, &err) == -ESTALE);
		FUZZ_CHECK(!out && !err);

		/* a torn write: any shorter blob is refused */
		at = fz_range(&f, 0, n - 1);
		FUZZ_CHECK(index_blob_decode(blob, at, &id, &out, &err) < 0);
		FUZZ_CHECK(!out && !err);

		/* a flipped byte is refused, or (a header field read as a flag) decodes the same */
		at = fz_range(&f, 0, n - 1);
		flip = (uint8_t)fz_range(&f, 1, 255);
		blob[at] ^= flip;
		ret = index_blob_decode(blob, n, &id, &out, &err);
		check_decoded(ret, out, err);
		if (ret == 0) {
			if (is_error)
				FUZZ_CHECK(err && !strcmp(err, error));
			else
				FUZZ_CHECK(out && same_index(&ix, out));
		}
		index_free(out);
		free(err);
		blob[at] ^= flip;
	}
	{
		/* one byte too many */
		uint8_t *longer = malloc(n + 1);
		memcpy(longer, blob, n);
		longer[n] = fz_u8(&f);
		FUZZ_CHECK(index_blob_decode(longer, n + 1, &id, &out, &err) < 0);
		free(longer);
	}
	free(blob);
	free(error);
	free(ix.video.extradata);
	free(ix.video.samples);
	free(ix.audio.extradata);
	free(ix.audio.samples);
	free(ix.note);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 1 << 20)
		return 0;
	switch (data[0] % 3) {
	case 0:
		decode_raw(data + 1, size - 1);
		break;
	case 1:
		decode_patched(data + 1, size - 1);
		break;
	default:
		round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
