/* Index blobs: header (magic, version, identity, payload size, checksum) then the payload:
 * an error sentence, or both tracks (fixed fields, extradata, raw sample records) and the
 * audio note. Every length is checked against what remains before it is used. */
#include "index_blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "strbuf.h"

#define BLOB_MAGIC "HLSFSIX\0"
#define BLOB_VERSION 7u

struct blob_header {
	char magic[8];
	uint32_t version;
	uint32_t is_error;
	struct source_identity id;
	uint64_t payload_size;
	uint64_t checksum;  /* of the payload */
};

struct track_fixed {
	uint32_t codec, width, height, fps_num, fps_den, sample_rate, channels, nb_samples;
	int32_t decoder_id;
	uint32_t sar_num, sar_den, rotation;
	char language[4];
	uint64_t extradata_size;
};

static void put_track(struct strbuf *sb, const struct index_track *t)
{
	struct track_fixed f = {
		.codec = t->codec, .width = t->width, .height = t->height, .fps_num = t->fps_num,
		.fps_den = t->fps_den, .sample_rate = t->sample_rate, .channels = t->channels,
		.nb_samples = t->nb_samples, .extradata_size = t->extradata_size,
		.decoder_id = t->decoder_id, .sar_num = t->sar_num, .sar_den = t->sar_den, .rotation = t->rotation,
	};
	memcpy(f.language, t->language, sizeof(f.language));
	strbuf_add(sb, &f, sizeof(f));
	if (t->extradata_size)
		strbuf_add(sb, t->extradata, t->extradata_size);
	if (t->nb_samples)
		strbuf_add(sb, t->samples, sizeof(t->samples[0]) * (size_t)t->nb_samples);
}

static void put_string(struct strbuf *sb, const char *s)
{
	uint64_t n = s ? strlen(s) : 0;
	strbuf_add(sb, &n, sizeof(n));
	if (n)
		strbuf_add(sb, s, n);
}

int index_blob_encode(const struct source_identity *id, const struct media_index *ix, const char *error,
		      uint8_t **blob, size_t *size)
{
	struct blob_header h = { .version = BLOB_VERSION, .is_error = ix == NULL, .id = *id };
	struct strbuf sb;
	size_t len;
	char *data;

	memcpy(h.magic, BLOB_MAGIC, sizeof(h.magic));
	strbuf_init(&sb);
	strbuf_add(&sb, &h, sizeof(h));
	if (ix) {
		uint64_t nr = ix->nb_renditions;
		put_track(&sb, &ix->video);
		put_track(&sb, &ix->audio);
		strbuf_add(&sb, &nr, sizeof(nr));
		for (unsigned k = 0; k < ix->nb_renditions; k++)
			put_track(&sb, &ix->renditions[k]);
		put_string(&sb, ix->audio_note);
		put_string(&sb, ix->title);
		{
			uint64_t n = ix->poster_size;
			strbuf_add(&sb, &n, sizeof(n));
			if (n)
				strbuf_add(&sb, ix->poster, n);
		}
	} else {
		put_string(&sb, error ? error : "");
	}
	data = strbuf_steal(&sb, &len);
	if (!data)
		return -ENOMEM;
	h.payload_size = len - sizeof(h);
	h.checksum = hash_fnv1a(data + sizeof(h), len - sizeof(h), 0);
	memcpy(data, &h, sizeof(h));
	*blob = (uint8_t *)data;
	*size = len;
	return 0;
}

struct reader {
	const uint8_t *p;
	size_t left;
};

static int take(struct reader *r, void *dst, size_t n)
{
	if (n > r->left)
		return -EINVAL;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

static int take_alloc(struct reader *r, size_t n, void **out)
{
	*out = NULL;
	if (n > r->left)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (!(*out = malloc(n)))
		return -ENOMEM;
	return take(r, *out, n);
}

static int get_string(struct reader *r, char **out)
{
	uint64_t n;
	int ret;
	*out = NULL;
	if ((ret = take(r, &n, sizeof(n))) < 0)
		return ret;
	if (n == 0)
		return 0;
	if (n > r->left)
		return -EINVAL;
	if (!(*out = malloc(n + 1)))
		return -ENOMEM;
	take(r, *out, n);
	(*out)[n] = '\0';
	return 0;
}

static int get_track(struct reader *r, struct index_track *t)
{
	struct track_fixed f;
	int ret;

	if ((ret = take(r, &f, sizeof(f))) < 0)
		return ret;
	if (f.codec > INDEX_CODEC_OTHER || f.rotation % 90 || f.rotation >= 360 || f.extradata_size > r->left ||
	    (uint64_t)f.nb_samples * sizeof(t->samples[0]) > r->left)
		return -EINVAL;
	t->codec = (enum index_codec)f.codec;
	t->width = f.width;
	t->height = f.height;
	t->fps_num = f.fps_num;
	t->fps_den = f.fps_den;
	t->sample_rate = f.sample_rate;
	t->channels = f.channels;
	t->decoder_id = f.decoder_id;
	t->sar_num = f.sar_num;
	t->sar_den = f.sar_den;
	t->rotation = f.rotation;
	memcpy(t->language, f.language, sizeof(t->language));
	t->language[3] = '\0';
	if ((ret = take_alloc(r, f.extradata_size, (void **)&t->extradata)) < 0)
		return ret;
	t->extradata_size = f.extradata_size;
	if ((ret = take_alloc(r, sizeof(t->samples[0]) * (size_t)f.nb_samples, (void **)&t->samples)) < 0)
		return ret;
	t->nb_samples = f.nb_samples;
	return 0;
}

static int get_poster(struct reader *r, struct media_index *ix)
{
	uint64_t n;
	int ret;
	if ((ret = take(r, &n, sizeof(n))) < 0)
		return ret;
	if ((ret = take_alloc(r, (size_t)n, (void **)&ix->poster)) < 0)
		return ret;
	ix->poster_size = (size_t)n;
	return 0;
}

static int get_renditions(struct reader *r, struct media_index *ix)
{
	uint64_t n;
	int ret;
	if ((ret = take(r, &n, sizeof(n))) < 0)
		return ret;
	if (n > INDEX_MAX_RENDITIONS)
		return -EINVAL;
	for (unsigned k = 0; k < n; k++) {
		ix->nb_renditions = k + 1;  /* so index_free releases a partly read track too */
		if ((ret = get_track(r, &ix->renditions[k])) < 0)
			return ret;
	}
	return 0;
}

int index_blob_decode(const uint8_t *blob, size_t size, const struct source_identity *id,
		      struct media_index **ixp, char **error)
{
	struct reader r = { blob, size };
	struct blob_header h;
	struct media_index *ix;
	int ret;

	*ixp = NULL;
	*error = NULL;
	if (take(&r, &h, sizeof(h)) < 0 || memcmp(h.magic, BLOB_MAGIC, sizeof(h.magic)) ||
	    h.version != BLOB_VERSION || h.payload_size != r.left ||
	    h.checksum != hash_fnv1a(r.p, r.left, 0))
		return -EINVAL;
	if (!identity_equal(&h.id, id))
		return -ESTALE;
	if (h.is_error) {
		if ((ret = get_string(&r, error)) < 0)
			return ret;
		if (!*error && !(*error = strdup("")))
			return -ENOMEM;
		return r.left ? (free(*error), *error = NULL, -EINVAL) : 0;
	}
	if (!(ix = calloc(1, sizeof(*ix))))
		return -ENOMEM;
	ix->identity = h.id;
	if ((ret = get_track(&r, &ix->video)) < 0 || (ret = get_track(&r, &ix->audio)) < 0 ||
	    (ret = get_renditions(&r, ix)) < 0 ||
	    (ret = get_string(&r, &ix->audio_note)) < 0 || (ret = get_string(&r, &ix->title)) < 0 ||
	    (ret = get_poster(&r, ix)) < 0 ||
	    (r.left && (ret = -EINVAL))) {
		index_free(ix);
		return ret;
	}
	if ((ix->video.codec != INDEX_CODEC_H264 && ix->video.codec != INDEX_CODEC_OTHER) ||
	    ix->video.nb_samples == 0) {
		index_free(ix);
		return -EINVAL;
	}
	*ixp = ix;
	return 0;
}
