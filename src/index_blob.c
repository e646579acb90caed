/* Index blobs: header (magic, version, identity, payload size, checksum) then the payload:
 * an error sentence, or both tracks (fixed fields, extradata, raw sample records) and the
 * audio note, title, poster, then the text subtitle tracks (fixed fields, cues, text) and the
 * sidecar fingerprint. Every length is checked against what remains before it is used. */
#include "index_blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "strbuf.h"

#define BLOB_MAGIC "HLSFSIX\0"
#define BLOB_VERSION 16u  /* 16: the default audio track is the muxed one */

struct blob_header {
	char magic[8];
	uint32_t version;
	uint32_t is_error;
	struct source_identity id;
	uint64_t payload_size;
	uint64_t checksum;  /* of the payload, hash_words: a long film's payload is megabytes, hashed on every load */
};

struct track_fixed {
	uint32_t codec, width, height, fps_num, fps_den, sample_rate, channels, nb_samples;
	int32_t decoder_id;
	uint32_t sar_num, sar_den, rotation;
	char language[4];
	char title[INDEX_TITLE_MAX];
	uint32_t ts_pid, ts_stride, annexb;
	uint32_t demux;  /* 0, or 1 + index_track.demux_id of a demuxed track */
	uint32_t block_align, bit_rate, shown_late;  /* three words: the record has no padding */
	uint64_t extradata_size;
};

static void put_track(struct strbuf *sb, const struct index_track *t)
{
	struct track_fixed f = {
		.codec = t->codec, .width = t->width, .height = t->height, .fps_num = t->fps_num,
		.fps_den = t->fps_den, .sample_rate = t->sample_rate, .channels = t->channels,
		.nb_samples = t->nb_samples, .extradata_size = t->extradata_size,
		.decoder_id = t->decoder_id, .sar_num = t->sar_num, .sar_den = t->sar_den, .rotation = t->rotation,
		.ts_pid = t->ts_pid, .ts_stride = t->ts_stride, .annexb = t->annexb,
		.demux = t->demuxed ? (uint32_t)t->demux_id + 1 : 0,
		.block_align = t->block_align, .bit_rate = t->bit_rate, .shown_late = t->shown_late,
	};
	memcpy(f.language, t->language, sizeof(f.language));
	memcpy(f.title, t->title, sizeof(f.title));
	strbuf_add(sb, &f, sizeof(f));
	if (t->extradata_size)
		strbuf_add(sb, t->extradata, t->extradata_size);
	if (t->nb_samples)
		strbuf_add(sb, t->samples, sizeof(t->samples[0]) * (size_t)t->nb_samples);
}

struct subtitle_fixed {
	char language[8];
	char title[INDEX_TITLE_MAX];
	uint32_t flags, nb_cues, text_size, pad;
};

static void put_subtitles(struct strbuf *sb, const struct media_index *ix)
{
	uint64_t n = ix->nb_subtitles;
	strbuf_add(sb, &n, sizeof(n));
	for (unsigned k = 0; k < ix->nb_subtitles; k++) {
		const struct index_subtitle *t = &ix->subtitles[k];
		struct subtitle_fixed f = { .flags = t->flags, .nb_cues = t->nb_cues, .text_size = t->text_size };
		memcpy(f.language, t->language, sizeof(f.language));
		memcpy(f.title, t->title, sizeof(f.title));
		strbuf_add(sb, &f, sizeof(f));
		if (t->nb_cues)
			strbuf_add(sb, t->cues, sizeof(t->cues[0]) * (size_t)t->nb_cues);
		if (t->text_size)
			strbuf_add(sb, t->text, t->text_size);
	}
	strbuf_add(sb, &ix->sidecar_tag, sizeof(ix->sidecar_tag));
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
	if (ix) {  /* room for the sample tables at once: a long film's are megabytes */
		size_t room = sizeof(h) + 4096 + ix->poster_size;
		for (unsigned k = 0; k < 2 + ix->nb_renditions; k++) {
			const struct index_track *t = k == 0 ? &ix->video : k == 1 ? &ix->audio : &ix->renditions[k - 2];
			room += sizeof(struct track_fixed) + t->extradata_size + sizeof(t->samples[0]) * (size_t)t->nb_samples;
		}
		strbuf_grow(&sb, room);
	}
	strbuf_add(&sb, &h, sizeof(h));
	if (ix) {
		uint64_t nr = ix->nb_renditions;
		put_track(&sb, &ix->video);
		put_track(&sb, &ix->audio);
		strbuf_add(&sb, &nr, sizeof(nr));
		for (unsigned k = 0; k < ix->nb_renditions; k++)
			put_track(&sb, &ix->renditions[k]);
		put_string(&sb, ix->note);
		put_string(&sb, ix->title);
		{
			uint64_t n = ix->poster_size;
			strbuf_add(&sb, &n, sizeof(n));
			if (n)
				strbuf_add(&sb, ix->poster, n);
		}
		put_subtitles(&sb, ix);
	} else {
		put_string(&sb, error ? error : "");
	}
	data = strbuf_steal(&sb, &len);
	if (!data)
		return -ENOMEM;
	h.payload_size = len - sizeof(h);
	h.checksum = hash_words(HASH_BASIS, data + sizeof(h), len - sizeof(h));
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
	    f.ts_pid > 0x1fff || (f.ts_stride && f.ts_stride != 188 && f.ts_stride != 192 && f.ts_stride != 204) ||
	    f.annexb > 1 || f.demux > INT32_MAX || (f.demux && f.ts_stride) ||
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
	t->ts_pid = (uint16_t)f.ts_pid;
	t->ts_stride = (uint16_t)f.ts_stride;
	t->annexb = (uint8_t)f.annexb;
	t->demuxed = f.demux != 0;
	t->block_align = f.block_align;
	t->bit_rate = f.bit_rate;
	t->shown_late = f.shown_late != 0;
	t->demux_id = f.demux ? (int32_t)(f.demux - 1) : 0;
	memcpy(t->language, f.language, sizeof(t->language));
	t->language[3] = '\0';
	f.title[sizeof(f.title) - 1] = '\0';
	index_title_clean(f.title, t->title);  /* it goes into a playlist as it is */
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

static int get_subtitles(struct reader *r, struct media_index *ix)
{
	uint64_t n;
	int ret;
	if ((ret = take(r, &n, sizeof(n))) < 0)
		return ret;
	if (n > INDEX_MAX_SUBTITLES)
		return -EINVAL;
	for (unsigned k = 0; k < n; k++) {
		struct index_subtitle *t = &ix->subtitles[k];
		struct subtitle_fixed f;
		ix->nb_subtitles = k + 1;
		if ((ret = take(r, &f, sizeof(f))) < 0)
			return ret;
		if ((uint64_t)f.nb_cues * sizeof(t->cues[0]) > r->left || f.text_size > r->left)
			return -EINVAL;
		memcpy(t->language, f.language, sizeof(t->language));
		t->language[sizeof(t->language) - 1] = '\0';
		f.title[sizeof(f.title) - 1] = '\0';
		index_title_clean(f.title, t->title);  /* it goes into a playlist as it is */
		t->flags = f.flags;
		if ((ret = take_alloc(r, sizeof(t->cues[0]) * (size_t)f.nb_cues, (void **)&t->cues)) < 0)
			return ret;
		t->nb_cues = f.nb_cues;
		if ((ret = take_alloc(r, f.text_size, (void **)&t->text)) < 0)
			return ret;
		t->text_size = f.text_size;
		for (uint32_t i = 0; i < t->nb_cues; i++)
			if (t->cues[i].text_off > t->text_size || t->cues[i].text_len > t->text_size - t->cues[i].text_off ||
			    t->cues[i].end < t->cues[i].start)
				return -EINVAL;
	}
	return take(r, &ix->sidecar_tag, sizeof(ix->sidecar_tag));
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
	    h.checksum != hash_words(HASH_BASIS, r.p, r.left))
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
	    (ret = get_string(&r, &ix->note)) < 0 || (ret = get_string(&r, &ix->title)) < 0 ||
	    (ret = get_poster(&r, ix)) < 0 || (ret = get_subtitles(&r, ix)) < 0 ||
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
