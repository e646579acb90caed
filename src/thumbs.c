/* Scrubbing previews (thumbs.h). The plan is pure arithmetic on the index: tile k stands for
 * [k x interval, (k+1) x interval) of the player's timeline and shows the last keyframe at or
 * before the middle of that span. Making the sheets reads and decodes each chosen keyframe once,
 * in order (a keyframe shown by several tiles, in a GOP longer than the interval, is decoded once
 * and scaled again), scales it straight into its place on the sheet, and encodes each sheet as a
 * bit-exact JPEG: the same source gives the same bytes on any machine.
 *
 * Keeping: each sheet is a cache entry, and a small entry of fixed size records the sheets' sizes,
 * so a remount knows every size without decoding or opening the source. Without a working cache
 * the sheets stay in memory with the media. One lock per video's previews, held while they are
 * made (a leaf apart from the source and cache locks taken under it). */
#include "thumbs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>

#include "cache.h"
#include "colour.h"
#include "hash.h"
#include "log.h"
#include "poster.h"
#include "rotate.h"
#include "sampleio.h"
#include "source.h"
#include "strbuf.h"

/* Bump when the bytes of a sheet change for the same plan. */
#define THUMBS_FORMAT "thumbs-2"  /* 2: BT.601 full range, converted from the source's matrix (colour.h) */
#define JPEG_QSCALE 5
#define SIZES_BYTES (sizeof(uint64_t) * (1 + THUMBS_MAX_SHEETS))

struct thumbs {
	char *path;
	struct source_identity id;
	const struct media_index *ix;
	unsigned tw, th;            /* tile size */
	uint32_t n_tiles, n_sheets;
	uint32_t *tile_sample;      /* the keyframe (video sample index) each tile shows */
	char *vtt;
	size_t vtt_len;
	char material[4096 + 256];  /* what shapes the sheets' bytes, for their cache keys */
	pthread_mutex_t lock;
	bool known;                 /* sizes known (sheets in memory or in the cache) */
	uint64_t sizes[THUMBS_MAX_SHEETS];
	uint8_t *mem[THUMBS_MAX_SHEETS];  /* sheets the cache could not keep */
};

/* Every sheet is as wide as the first: THUMBS_COLUMNS tiles, fewer for a video of fewer tiles. */
static unsigned sheet_columns(const struct thumbs *t)
{
	return t->n_tiles < THUMBS_COLUMNS ? t->n_tiles : THUMBS_COLUMNS;
}

static unsigned sheet_rows(const struct thumbs *t, uint32_t sheet)
{
	uint32_t per = THUMBS_COLUMNS * THUMBS_ROWS, in = t->n_tiles - sheet * per;
	if (in > per)
		in = per;
	return (in + THUMBS_COLUMNS - 1) / THUMBS_COLUMNS;
}

static void put_time(struct strbuf *sb, int64_t ms)
{
	strbuf_printf(sb, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%03" PRId64, ms / 3600000, ms / 60000 % 60,
		      ms / 1000 % 60, ms % 1000);
}

int thumbs_plan(const char *path, const struct source_identity *id, const struct media_index *ix,
		const struct plan *p, struct thumbs **out)
{
	const struct index_track *v = &ix->video;
	struct thumbs *t;
	uint64_t dw, dh, span, interval;
	int64_t start = p->segments[0].start, end = p->segments[p->nb_segments - 1].end;
	uint32_t key = UINT32_MAX;
	bool skip_hidden = false;
	struct strbuf sb;

	*out = NULL;
	dw = (uint64_t)v->width * (v->sar_num ? v->sar_num : 1) / (v->sar_den ? v->sar_den : 1);
	dh = v->height;
	if (rotate_swaps(v->rotation)) {
		uint64_t x = dw;
		dw = dh;
		dh = x;
	}
	if (!dw || !dh || end <= start)
		return -EINVAL;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->ix = ix;
	t->id = *id;
	t->tw = THUMBS_WIDTH;
	t->th = (unsigned)(((uint64_t)THUMBS_WIDTH * dh + dw) / dw) & ~1u;  /* rounded, even */
	if (t->th < 2)
		t->th = 2;
	if (t->th > 4 * THUMBS_WIDTH)
		t->th = 4 * THUMBS_WIDTH;
	span = (uint64_t)(end - start);
	interval = (uint64_t)THUMBS_INTERVAL_S * PLAN_TIMEBASE;
	if ((span + interval - 1) / interval > THUMBS_MAX_TILES)  /* whole seconds, long enough for the cap */
		interval = ((span + THUMBS_MAX_TILES - 1) / THUMBS_MAX_TILES + PLAN_TIMEBASE - 1) / PLAN_TIMEBASE * PLAN_TIMEBASE;
	t->n_tiles = (uint32_t)((span + interval - 1) / interval);
	t->n_sheets = (t->n_tiles + THUMBS_COLUMNS * THUMBS_ROWS - 1) / (THUMBS_COLUMNS * THUMBS_ROWS);
	if (!(t->path = strdup(path)) || !(t->tile_sample = malloc(sizeof(*t->tile_sample) * t->n_tiles))) {
		thumbs_free(t);
		return -ENOMEM;
	}
	/* Keyframes are in decode order with increasing PTS among themselves (they open GOPs). Those an
	 * edit list hides (a trimmed copy's, before its cut) are passed over when another is shown. */
	for (uint32_t i = 0; i < v->nb_samples && !skip_hidden; i++)
		skip_hidden = (v->samples[i].flags & (INDEX_SAMPLE_KEY | INDEX_SAMPLE_HIDDEN)) == INDEX_SAMPLE_KEY;
	for (uint32_t k = 0, i = 0; k < t->n_tiles; k++) {
		uint64_t b = (k + 1) * interval < span ? (k + 1) * interval : span;
		int64_t mid = start + (int64_t)((k * interval + b) / 2);  /* the middle of the tile's span */
		for (; i < v->nb_samples; i++) {
			if (!(v->samples[i].flags & INDEX_SAMPLE_KEY) || (skip_hidden && (v->samples[i].flags & INDEX_SAMPLE_HIDDEN)))
				continue;
			if (v->samples[i].pts > mid && key != UINT32_MAX)
				break;
			key = i;
		}
		if (key == UINT32_MAX) {
			thumbs_free(t);
			return -EINVAL;
		}
		t->tile_sample[k] = key;
	}
	strbuf_init(&sb);
	strbuf_printf(&sb, "WEBVTT\n");
	for (uint32_t k = 0; k < t->n_tiles; k++) {
		uint32_t sheet = k / (THUMBS_COLUMNS * THUMBS_ROWS), in = k % (THUMBS_COLUMNS * THUMBS_ROWS);
		uint64_t a = k * interval, b = (k + 1) * interval < span ? (k + 1) * interval : span;
		strbuf_printf(&sb, "\n");
		put_time(&sb, (int64_t)(a * 1000 / PLAN_TIMEBASE));
		strbuf_printf(&sb, " --> ");
		put_time(&sb, (int64_t)((b * 1000 + PLAN_TIMEBASE / 2) / PLAN_TIMEBASE));
		strbuf_printf(&sb, "\nsprite-%03u.jpg#xywh=%u,%u,%u,%u\n", sheet, in % THUMBS_COLUMNS * t->tw,
			      in / THUMBS_COLUMNS * t->th, t->tw, t->th);
	}
	if (!(t->vtt = strbuf_steal(&sb, &t->vtt_len))) {
		thumbs_free(t);
		return -ENOMEM;
	}
	snprintf(t->material, sizeof(t->material), "%s|%" PRIu64 "|%" PRId64 "|%" PRIu64 "|%" PRIu64 "|%" PRIx64
		 "|" THUMBS_FORMAT "|%" PRIu64 "|%ux%u|%u|%d|%u|q%d",
		 path, id->size, id->mtime_ns, id->ino, id->dev, id->tag, interval, t->tw, t->th, t->n_tiles,
		 v->decoder_id, v->rotation, JPEG_QSCALE);
	*out = t;
	return 0;
}

void thumbs_free(struct thumbs *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < THUMBS_MAX_SHEETS; i++)
		free(t->mem[i]);
	free(t->path);
	free(t->tile_sample);
	free(t->vtt);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void thumbs_vtt(const struct thumbs *t, const char **text, size_t *len)
{
	*text = t->vtt;
	*len = t->vtt_len;
}

uint32_t thumbs_sheets(const struct thumbs *t)
{
	return t->n_sheets;
}

/* Cache key of sheet i, or of the sizes record (i = UINT32_MAX). */
static void key_of(const struct thumbs *t, uint32_t i, char key[CACHE_KEY_LEN + 1])
{
	char mat[sizeof(t->material) + 32];
	int n = snprintf(mat, sizeof(mat), "%s|%s%u", t->material, i == UINT32_MAX ? "sizes" : "sheet", i);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(mat) ? (size_t)n : sizeof(mat) - 1;
	snprintf(key, CACHE_KEY_LEN + 1, "%c%015" PRIx64 "%016" PRIx64, CACHE_PREVIEW_MARK,
		 hash_fnv1a(mat, len, 0) & UINT64_C(0xfffffffffffffff), hash_fnv1a(mat, len, 0x9e3779b97f4a7c15ull));
}

/* The sizes the cache recorded for these sheets, when every sheet is still there. */
static bool load_sizes(struct thumbs *t)
{
	char key[CACHE_KEY_LEN + 1];
	uint64_t rec[1 + THUMBS_MAX_SHEETS];
	int fd;

	if (!cache_enabled())
		return false;
	key_of(t, UINT32_MAX, key);
	if ((fd = cache_open(key, SIZES_BYTES)) < 0)
		return false;
	if (pread(fd, rec, SIZES_BYTES, 0) != (ssize_t)SIZES_BYTES || rec[0] != t->n_sheets) {
		close(fd);
		return false;
	}
	close(fd);
	for (uint32_t i = 0; i < t->n_sheets; i++) {
		key_of(t, i, key);
		if (!rec[1 + i] || !cache_has(key, rec[1 + i]))
			return false;
	}
	memcpy(t->sizes, rec + 1, sizeof(uint64_t) * t->n_sheets);
	return true;
}

static int cache_put(const char *key, const void *p, uint64_t n)
{
	struct cache_writer *w;
	int ret;
	if ((ret = cache_write_begin(key, n, &w)) < 0)
		return ret;
	if ((ret = cache_write(w, p, (size_t)n)) < 0) {
		cache_write_abort(w);
		return ret;
	}
	/* Not synced: a torn sheet fails its checksum on the first open and is made again, cheaply. */
	return cache_write_commit(w, false);
}

static int encode_sheet(const AVFrame *sheet, uint8_t **jpeg, uint64_t *size)
{
	size_t n;
	int ret = poster_jpeg(sheet, JPEG_QSCALE, jpeg, &n);

	*size = n;
	return ret;
}

/* Puts the picture `pic` on tile `in_sheet` of sheet, upright. */
static int place_tile(struct thumbs *t, const AVFrame *pic, AVFrame *sheet, uint32_t in_sheet, struct colour_scaler *sc,
		      AVFrame *turned)
{
	unsigned rot = t->ix->video.rotation, x = in_sheet % THUMBS_COLUMNS * t->tw, y = in_sheet / THUMBS_COLUMNS * t->th;
	bool swap = rotate_swaps(rot);
	int sw = (int)(swap ? t->th : t->tw), sh = (int)(swap ? t->tw : t->th);
	uint8_t *dst[4] = { sheet->data[0] + (size_t)y * sheet->linesize[0] + x,
			    sheet->data[1] + (size_t)(y / 2) * sheet->linesize[1] + x / 2,
			    sheet->data[2] + (size_t)(y / 2) * sheet->linesize[2] + x / 2, NULL };
	int dls[4] = { sheet->linesize[0], sheet->linesize[1], sheet->linesize[2], 0 };
	AVFrame *sdr = poster_sdr(pic, sw, sh);  /* an HDR picture mapped to SDR at the tile's size */
	const AVFrame *in = sdr ? sdr : pic;

	/* A JPEG is BT.601 full range (JFIF): its viewers take it as that. */
	struct SwsContext *sws = colour_scaler(sc, in, sw, sh, AV_PIX_FMT_YUVJ420P, SWS_CS_ITU601, true);
	if (!sws) {
		av_frame_free(&sdr);
		return -EIO;
	}
	if (!rot) {
		sws_scale(sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, dst, dls);
	} else {
		sws_scale(sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, turned->data,
			  turned->linesize);
		rotate_yuv420(dst, dls, (const uint8_t *const *)turned->data, turned->linesize, (unsigned)sw, (unsigned)sh,
			      rot);
	}
	av_frame_free(&sdr);
	return 0;
}

static AVFrame *new_picture(int w, int h, bool black)
{
	AVFrame *f = av_frame_alloc();
	if (!f)
		return NULL;
	f->format = AV_PIX_FMT_YUVJ420P;
	f->width = w;
	f->height = h;
	if (av_frame_get_buffer(f, 0) < 0) {
		av_frame_free(&f);
		return NULL;
	}
	if (black) {
		memset(f->data[0], 0, (size_t)f->linesize[0] * (size_t)h);
		memset(f->data[1], 128, (size_t)f->linesize[1] * (size_t)((h + 1) / 2));
		memset(f->data[2], 128, (size_t)f->linesize[2] * (size_t)((h + 1) / 2));
	}
	return f;
}

/* Decodes the tiles' keyframes and encodes every sheet into t->mem. */
static int make_sheets(struct thumbs *t)
{
	const struct index_track *v = &t->ix->video;
	struct source *src = NULL;
	AVCodecContext *dec = NULL;
	AVPacket *pkt = NULL;
	AVFrame *frame = NULL, *sheet = NULL, *turned = NULL;
	struct colour_scaler sws = { 0 };
	uint32_t decoded = UINT32_MAX;
	char why[256] = "";
	int ret;

	if ((ret = source_open(t->path, &src, why, sizeof(why))) < 0)
		return ret;
	if (!identity_equal(source_identity(src), &t->id)) {
		ret = -EIO;  /* changed since it was indexed: the next stat sees the new one */
		goto out;
	}
	if ((ret = sample_decoder(v, &dec)) < 0)
		goto out;
	ret = -EIO;
	if (!(pkt = av_packet_alloc()) || !(frame = av_frame_alloc()))
		goto out;
	dec->thread_count = 1;
	if (avcodec_open2(dec, NULL, NULL) < 0)
		goto out;
	if (v->rotation && !(turned = new_picture((int)(rotate_swaps(v->rotation) ? t->th : t->tw),
						  (int)(rotate_swaps(v->rotation) ? t->tw : t->th), false))) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t s = 0; s < t->n_sheets; s++) {
		uint32_t per = THUMBS_COLUMNS * THUMBS_ROWS, first = s * per;
		uint32_t n = t->n_tiles - first < per ? t->n_tiles - first : per;
		av_frame_free(&sheet);
		if (!(sheet = new_picture((int)(sheet_columns(t) * t->tw), (int)(sheet_rows(t, s) * t->th), true))) {
			ret = -ENOMEM;
			goto out;
		}
		for (uint32_t k = first; k < first + n; k++) {
			uint32_t si = t->tile_sample[k];
			if (si != decoded) {
				const struct index_sample *smp = &v->samples[si];
				av_frame_unref(frame);
				avcodec_flush_buffers(dec);
				if (av_new_packet(pkt, (int)smp->size) < 0) {
					ret = -ENOMEM;
					goto out;
				}
				if ((ret = source_pread(src, pkt->data, smp->size, smp->pos)) < 0)
					goto out;
				pkt->flags = AV_PKT_FLAG_KEY;
				pkt->pts = pkt->dts = smp->pts;
				ret = avcodec_send_packet(dec, pkt);
				av_packet_unref(pkt);
				if (ret < 0 || avcodec_send_packet(dec, NULL) < 0 || avcodec_receive_frame(dec, frame) < 0) {
					/* A keyframe that does not decode leaves its tile black. */
					av_frame_unref(frame);
					decoded = si;
					ret = 0;
					continue;
				}
				decoded = si;
			}
			if (frame->width > 0 && (ret = place_tile(t, frame, sheet, k - first, &sws, turned)) < 0)
				goto out;
		}
		if ((ret = encode_sheet(sheet, &t->mem[s], &t->sizes[s])) < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0) {
		log_error("%s: its preview thumbnails could not be made (%s)", t->path,
			  src ? source_strerror(src, ret) : why[0] ? why : strerror(-ret));
		for (uint32_t s = 0; s < t->n_sheets; s++) {
			free(t->mem[s]);
			t->mem[s] = NULL;
		}
	}
	colour_scaler_free(&sws);
	av_frame_free(&sheet);
	av_frame_free(&turned);
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	source_close(src);
	return ret;
}

/* With t->lock held: drops the copies in memory of the sheets the cache holds. */
static void trim(struct thumbs *t)
{
	char key[CACHE_KEY_LEN + 1];
	for (uint32_t s = 0; s < t->n_sheets; s++) {
		if (!t->mem[s])
			continue;
		key_of(t, s, key);
		if (cache_has(key, t->sizes[s])) {
			free(t->mem[s]);
			t->mem[s] = NULL;
		}
	}
}

/* With t->lock held: makes the sizes known, from the cache or by making the sheets (kept in
 * memory too until trim(): the cache may evict one before it is opened). */
static int ensure(struct thumbs *t)
{
	char key[CACHE_KEY_LEN + 1];
	uint64_t rec[1 + THUMBS_MAX_SHEETS] = { t->n_sheets };
	bool kept = true;
	int ret;

	if (t->known)
		return 0;
	if (load_sizes(t)) {
		t->known = true;
		return 0;
	}
	if ((ret = make_sheets(t)) < 0)
		return ret;
	log_debug("%s: %u preview sheets made", t->path, t->n_sheets);
	for (uint32_t s = 0; s < t->n_sheets && cache_enabled(); s++) {
		key_of(t, s, key);
		rec[1 + s] = t->sizes[s];
		kept &= cache_put(key, t->mem[s], t->sizes[s]) == 0;
	}
	if (kept && cache_enabled()) {
		key_of(t, UINT32_MAX, key);
		cache_put(key, rec, SIZES_BYTES);
	}
	t->known = true;
	return 0;
}

int thumbs_size(struct thumbs *t, uint32_t i, uint64_t *size)
{
	int ret;
	if (i >= t->n_sheets)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	if ((ret = ensure(t)) == 0)
		*size = t->sizes[i];
	trim(t);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* With t->lock held: a copy of sheet i from memory. */
static int copy_mem(struct thumbs *t, uint32_t i, uint8_t **mem, uint64_t *size)
{
	*size = t->sizes[i];
	if (!(*mem = malloc(*size ? *size : 1)))
		return -ENOMEM;
	memcpy(*mem, t->mem[i], *size);
	return 0;
}

int thumbs_open(struct thumbs *t, uint32_t i, int *fd, uint8_t **mem, uint64_t *size)
{
	char key[CACHE_KEY_LEN + 1];
	int ret;

	*fd = -1;
	*mem = NULL;
	if (i >= t->n_sheets)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	if ((ret = ensure(t)) < 0)
		goto out;
	if (t->mem[i]) {
		ret = copy_mem(t, i, mem, size);
		goto out;
	}
	key_of(t, i, key);
	*size = t->sizes[i];
	if ((*fd = cache_open(key, *size)) >= 0)
		goto out;
	/* Evicted since: made again (the same bytes, the same size), and served from memory. */
	t->known = false;
	if ((ret = ensure(t)) == 0 && t->mem[i])
		ret = copy_mem(t, i, mem, size);
	else if (ret == 0 && (*fd = cache_open(key, *size)) < 0)
		ret = -EIO;  /* put back meanwhile by another holder, and gone again */
out:
	trim(t);
	pthread_mutex_unlock(&t->lock);
	return ret;
}
