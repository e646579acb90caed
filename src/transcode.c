/* Transcoding one segment of one rung.
 *
 * Frames: exactly those the plan says segment N presents (plan_presented), with their source
 * timestamps, so every variant's segment N covers the same time and timestamps run on across
 * segments. Decoding starts at the keyframe at or before the first of them (open GOPs need the
 * frames before) and stops after the last; decoded frames outside the span are dropped, and a
 * frame the decoder could not produce is replaced by the previous one, so the count holds.
 *
 * Encoding: a fresh encoder per segment (segments are made independently, in any order), an
 * IDR first, no B-frames (PTS = DTS), average rate = the rung's, VBV maxrate = that rate with a
 * one-second buffer, a fixed thread count and bit-exact scaling, so the same input gives the
 * same bytes on every run. An encode larger than the planned bound is redone at a lower rate;
 * the result is padded with null packets to the bound.
 *
 * Threads: a segment's frames go through two stages at once, read + decode + scale on a helper
 * thread and encode on the caller's, handed over in presentation order through a short queue.
 * The encoder sees the same frames in the same order whatever the timing, so the bytes are
 * those of one thread doing both; the segment is ready about as soon as its encode is. */
#include "transcode.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "log.h"
#include "plan.h"
#include "rotate.h"
#include "source.h"
#include "synth.h"
#include "tsmux.h"

#define ENCODER_THREADS 1  /* x264 with more threads and VBV is not repeatable run to run */
/* One decoder thread: with two (frame threads), a 720p rung segment of a 1080p source came 1.33x
 * sooner, but two mounts gave different bytes for one segment of a test source (pictures the
 * decoder conceals differ between runs); identical bytes come first. */
#define DECODER_THREADS 1

static struct transcode_config config = { "libx264", "veryfast", "main" };

void transcode_init(const struct transcode_config *cfg)
{
	config = *cfg;
}

bool transcode_encoder_exists(const char *name)
{
	const AVCodec *c = avcodec_find_encoder_by_name(name);
	return c && c->id == AV_CODEC_ID_H264;
}

void transcode_fingerprint(char *out, size_t size)
{
	snprintf(out, size, "%s/%s/%s/t%d/%s", config.encoder, config.preset, config.profile, ENCODER_THREADS,
		 LIBAVCODEC_IDENT);
}

struct encoded {
	struct synth_frame *frames;
	uint32_t n, cap;
};

static void encoded_release(struct encoded *e)
{
	for (uint32_t i = 0; i < e->n; i++)
		free((void *)e->frames[i].data);
	free(e->frames);
	memset(e, 0, sizeof(*e));
}

static int encoded_push(struct encoded *e, const AVPacket *pkt, int64_t pts)
{
	uint8_t *data;
	if (e->n == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 256;
		struct synth_frame *f = realloc(e->frames, sizeof(*f) * cap);
		if (!f)
			return -ENOMEM;
		e->frames = f;
		e->cap = cap;
	}
	if (!(data = malloc((size_t)pkt->size)))
		return -ENOMEM;
	memcpy(data, pkt->data, (size_t)pkt->size);
	e->frames[e->n++] = (struct synth_frame){ pts, (pkt->flags & AV_PKT_FLAG_KEY) != 0, data, (uint64_t)pkt->size };
	return 0;
}

/* Scaled frames the decoding thread may be ahead of the encoder by. */
#define QUEUE_FRAMES 6

/* Everything one attempt at one segment needs. The decoding thread owns dec, sws and taken;
 * the caller's thread owns enc, last, sent and out; the queue is shared under lock. */
struct job {
	const struct synth_input *in;  /* borrowed for the call */
	const struct plan_rung *r;
	uint32_t seg;
	struct source *src;
	struct plan_frame *want;   /* the frames to encode, PTS order */
	uint32_t nwant, sent;      /* sent: frames given to the encoder so far */
	uint32_t k0, last_sample;  /* the video samples decoded: from the keyframe k0 to last_sample */
	uint32_t taken;            /* decoded frames queued so far */
	AVCodecContext *dec, *enc;
	struct SwsContext *sws;
	AVFrame *upright;          /* a turned source's picture scaled before it is turned */
	AVFrame *last;             /* the previous frame encoded, for stand-ins */
	struct encoded out;
	double rate_factor;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	AVFrame *queue[QUEUE_FRAMES];
	unsigned head, count;
	bool decoded;              /* the decoding thread is done: nothing more will be queued */
	bool abandoned;            /* the encoder gave up: the decoding thread stops */
	int dec_ret;               /* the decoding thread's result */
};

/* Gives a decoder the track's codec configuration, padded as libavcodec requires. */
static int set_extradata(AVCodecContext *dec, const struct index_track *t)
{
	if (!t->extradata_size)
		return 0;
	if (!(dec->extradata = av_mallocz(t->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE)))
		return -ENOMEM;
	memcpy(dec->extradata, t->extradata, t->extradata_size);
	dec->extradata_size = (int)t->extradata_size;
	return 0;
}

static int drain_encoder(struct job *j, bool flush)
{
	AVPacket *pkt = av_packet_alloc();
	int ret;

	if (!pkt)
		return -ENOMEM;
	if (flush)
		avcodec_send_frame(j->enc, NULL);
	while ((ret = avcodec_receive_packet(j->enc, pkt)) >= 0) {
		/* No B-frames: packets come out in input order, so the i-th carries want[i]'s time. */
		uint32_t i = j->out.n;
		ret = i < j->nwant ? encoded_push(&j->out, pkt, j->want[i].pts) : 0;
		av_packet_unref(pkt);
		if (ret < 0)
			break;
	}
	av_packet_free(&pkt);
	return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret < 0 ? -EIO : 0;
}

static int encode_frame(struct job *j, AVFrame *f)
{
	int ret;
	f->pts = j->want[j->sent].pts;
	f->pict_type = j->sent == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	j->sent++;
	if ((ret = avcodec_send_frame(j->enc, f)) < 0)
		return -EIO;
	return drain_encoder(j, false);
}

/* Hands a scaled frame to the encoder's side, waiting while the queue is full. Takes f. */
static int queue_put(struct job *j, AVFrame *f)
{
	int ret = 0;
	pthread_mutex_lock(&j->lock);
	while (j->count == QUEUE_FRAMES && !j->abandoned)
		pthread_cond_wait(&j->changed, &j->lock);
	if (j->abandoned) {
		ret = -ECANCELED;
	} else {
		j->queue[(j->head + j->count) % QUEUE_FRAMES] = f;
		j->count++;
		f = NULL;
		pthread_cond_broadcast(&j->changed);
	}
	pthread_mutex_unlock(&j->lock);
	av_frame_free(&f);
	return ret;
}

/* The next frame in order, or NULL once the decoding thread is done and the queue empty. */
static AVFrame *queue_get(struct job *j)
{
	AVFrame *f = NULL;
	pthread_mutex_lock(&j->lock);
	while (j->count == 0 && !j->decoded)
		pthread_cond_wait(&j->changed, &j->lock);
	if (j->count) {
		f = j->queue[j->head];
		j->head = (j->head + 1) % QUEUE_FRAMES;
		j->count--;
		pthread_cond_broadcast(&j->changed);
	}
	pthread_mutex_unlock(&j->lock);
	return f;
}

static AVFrame *new_picture(int w, int h)
{
	AVFrame *f = av_frame_alloc();

	if (!f)
		return NULL;
	f->format = AV_PIX_FMT_YUV420P;
	f->width = w;
	f->height = h;
	if (av_frame_get_buffer(f, 0) < 0) {
		av_frame_free(&f);
		return NULL;
	}
	/* The encoder may look past the picture's width into the row padding: it must hold the
	 * same bytes on every run, not whatever the allocator left there. */
	for (int p = 0; p < AV_NUM_DATA_POINTERS && f->buf[p]; p++)
		memset(f->buf[p]->data, 0, f->buf[p]->size);
	return f;
}

/* Scales a decoded frame into a new picture of the rung's size, turned as the container asks,
 * and queues it. A turned picture is scaled upright first, then rotated plane by plane. */
static int take_frame(struct job *j, AVFrame *dec)
{
	unsigned rot = j->in->ix->video.rotation;
	bool turned = rotate_swaps(rot);
	int w = (int)j->r->width, h = (int)j->r->height, sw = turned ? h : w, sh = turned ? w : h;
	AVFrame *f;

	j->sws = sws_getCachedContext(j->sws, dec->width, dec->height, dec->format, sw, sh, AV_PIX_FMT_YUV420P,
				      SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
	if (!j->sws)
		return -EIO;
	if (!(f = new_picture(w, h)))
		return -ENOMEM;
	if (rot) {
		if (!j->upright && !(j->upright = new_picture(sw, sh))) {
			av_frame_free(&f);
			return -ENOMEM;
		}
		sws_scale(j->sws, (const uint8_t *const *)dec->data, dec->linesize, 0, dec->height, j->upright->data,
			  j->upright->linesize);
		rotate_yuv420(f->data, f->linesize, (const uint8_t *const *)j->upright->data, j->upright->linesize,
			      (unsigned)sw, (unsigned)sh, rot);
	} else {
		sws_scale(j->sws, (const uint8_t *const *)dec->data, dec->linesize, 0, dec->height, f->data,
			  f->linesize);
	}
	j->taken++;
	return queue_put(j, f);
}

static bool wanted(const struct job *j, int64_t t)
{
	const struct plan_segment *s = &j->in->plan->segments[j->seg];
	bool last = j->seg + 1 == j->in->plan->nb_segments;
	return (t >= s->start || j->seg == 0) && (last || t < s->end);
}

static int drain_decoder(struct job *j, AVFrame *frame)
{
	int ret;
	while ((ret = avcodec_receive_frame(j->dec, frame)) >= 0) {
		int64_t t = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
		if (j->taken < j->nwant && wanted(j, t))
			ret = take_frame(j, frame);
		av_frame_unref(frame);
		if (ret < 0)
			return ret;
	}
	return 0;  /* EAGAIN, EOF or damaged data: stand-ins cover what is missing */
}

/* Set at unmount: encodes under way give up at their next frame. */
static int stopping;

void transcode_stop(void)
{
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
}

/* The decoding thread: reads and decodes the samples from k0 on, queueing each wanted frame
 * scaled, until every wanted frame is queued or the samples run out. */
static int decode_span(struct job *j)
{
	const struct index_track *v = &j->in->ix->video;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	int ret = 0;

	if (!pkt || !frame) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = j->k0; i <= j->last_sample && j->taken < j->nwant; i++) {
		const struct index_sample *s = &v->samples[i];
		if (__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
			ret = -ECANCELED;
			goto out;
		}
		if ((ret = av_new_packet(pkt, (int)s->size)) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		if ((ret = source_pread(j->src, pkt->data, s->size, s->pos)) < 0) {
			log_error("%s: segment %u: reading the source failed (%s)", j->in->path, j->seg,
				  source_strerror(j->src, ret));
			ret = -EIO;
			goto out;
		}
		pkt->pts = s->pts;
		pkt->dts = s->dts;
		pkt->duration = s->duration;
		pkt->flags = (s->flags & INDEX_SAMPLE_KEY) ? AV_PKT_FLAG_KEY : 0;
		avcodec_send_packet(j->dec, pkt);  /* a damaged sample is skipped; stand-ins cover it */
		av_packet_unref(pkt);
		if ((ret = drain_decoder(j, frame)) < 0)
			goto out;
	}
	avcodec_send_packet(j->dec, NULL);
	ret = drain_decoder(j, frame);
out:
	av_packet_free(&pkt);
	av_frame_free(&frame);
	return ret;
}

static void *decode_thread(void *arg)
{
	struct job *j = arg;
	int ret = decode_span(j);

	pthread_mutex_lock(&j->lock);
	j->dec_ret = ret;
	j->decoded = true;
	pthread_cond_broadcast(&j->changed);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static int open_decoder(struct job *j)
{
	const struct index_track *v = &j->in->ix->video;
	const AVCodec *codec = avcodec_find_decoder(v->decoder_id);

	if (!codec || !(j->dec = avcodec_alloc_context3(codec)))
		return -EIO;
	if (set_extradata(j->dec, v) < 0)
		return -ENOMEM;
	j->dec->pkt_timebase = (AVRational){ 1, PLAN_TIMEBASE };
	j->dec->thread_count = DECODER_THREADS;
	return avcodec_open2(j->dec, codec, NULL) < 0 ? -EIO : 0;
}

static int open_encoder(struct job *j, const char *name)
{
	const struct index_track *v = &j->in->ix->video;
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	char params[256];
	uint64_t rate = (uint64_t)(j->r->maxrate * j->rate_factor);

	if (!codec) {
		static int warned;
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			log_warn("encoder %s is not available; using libx264", name);
		codec = avcodec_find_encoder_by_name("libx264");
	}
	if (!codec || !(j->enc = avcodec_alloc_context3(codec)))
		return -EIO;
	j->enc->width = (int)j->r->width;
	j->enc->height = (int)j->r->height;
	j->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	j->enc->sample_aspect_ratio = (AVRational){ 1, 1 };
	j->enc->time_base = (AVRational){ 1, PLAN_TIMEBASE };
	if (v->fps_num && v->fps_den)
		j->enc->framerate = (AVRational){ (int)v->fps_num, (int)v->fps_den };
	j->enc->bit_rate = (int64_t)rate;
	j->enc->rc_max_rate = (int64_t)rate;
	j->enc->rc_buffer_size = (int)(j->r->bufsize * j->rate_factor);
	j->enc->rc_initial_buffer_occupancy = j->enc->rc_buffer_size * 9 / 10;
	/* An IDR at the start and every two seconds after (Apple's authoring spec 1.13), so a player
	 * switching to this rung mid-segment shows a picture soon. */
	j->enc->gop_size = v->fps_num && v->fps_den ? (int)((2ull * v->fps_num + v->fps_den / 2) / v->fps_den) : 60;
	if (j->enc->gop_size < 1)
		j->enc->gop_size = 1;
	j->enc->max_b_frames = 0;
	j->enc->thread_count = ENCODER_THREADS;
	j->enc->level = j->r->level;
	j->enc->flags |= AV_CODEC_FLAG_BITEXACT;
	av_opt_set(j->enc->priv_data, "preset", config.preset, 0);
	av_opt_set(j->enc->priv_data, "profile", config.profile, 0);
	/* Every x264 thread knob pinned: with any of them left to x264, segments came out different
	 * from run to run once several encodes shared the machine. */
	snprintf(params, sizeof(params), "aud=1:scenecut=0:bframes=0:vbv-init=0.9:threads=1:lookahead-threads=1:"
					 "sync-lookahead=0:sliced-threads=0");
	if (!strcmp(codec->name, "libx264"))
		av_opt_set(j->enc->priv_data, "x264-params", params, 0);
	if (avcodec_open2(j->enc, codec, NULL) < 0) {
		static int warned;
		if (!strcmp(codec->name, "libx264"))
			return -EIO;
		/* A hardware encoder whose device is missing: the software one takes over. */
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			log_warn("encoder %s cannot start here (no device?); using libx264", codec->name);
		avcodec_free_context(&j->enc);
		return open_encoder(j, "libx264");
	}
	return 0;
}

static void job_release(struct job *j)
{
	avcodec_free_context(&j->dec);
	avcodec_free_context(&j->enc);
	sws_freeContext(j->sws);
	j->sws = NULL;
	av_frame_free(&j->upright);
	av_frame_free(&j->last);
	while (j->count) {
		av_frame_free(&j->queue[j->head]);
		j->head = (j->head + 1) % QUEUE_FRAMES;
		j->count--;
	}
	encoded_release(&j->out);
	j->sent = j->taken = 0;
	j->head = 0;
	j->decoded = j->abandoned = false;
	j->dec_ret = 0;
}

/* One attempt: decode and scale every wanted frame on a helper thread, encode them here. */
static int encode_all(struct job *j)
{
	const struct index_track *v = &j->in->ix->video;
	uint32_t first = UINT32_MAX, last = 0;
	pthread_t decoder;
	AVFrame *f;
	int ret;

	for (uint32_t i = 0; i < j->nwant; i++) {
		if (j->want[i].ref < first)
			first = j->want[i].ref;
		if (j->want[i].ref > last)
			last = j->want[i].ref;
	}
	for (j->k0 = first; j->k0 > 0 && !(v->samples[j->k0].flags & INDEX_SAMPLE_KEY); j->k0--)
		;
	j->last_sample = last;
	{
		uint64_t end = 0;  /* remote read-ahead stops at the last byte decoded */
		for (uint32_t i = j->k0; i <= last; i++)
			if (v->samples[i].pos + v->samples[i].size > end)
				end = v->samples[i].pos + v->samples[i].size;
		source_will_read(j->src, end);
	}
	if ((ret = open_decoder(j)) < 0 || (ret = open_encoder(j, config.encoder)) < 0) {
		log_error("%s: %up segment %u: the %s cannot start", j->in->path, j->r->height, j->seg,
			  j->dec && avcodec_is_open(j->dec) ? "encoder" : "decoder");
		return ret;
	}
	if (!(j->last = av_frame_alloc()))
		return -ENOMEM;
	if (pthread_create(&decoder, NULL, decode_thread, j) != 0)
		return -EAGAIN;
	ret = 0;
	while ((f = queue_get(j))) {
		if (ret == 0) {
			av_frame_unref(j->last);
			if (av_frame_ref(j->last, f) < 0)
				ret = -ENOMEM;
			else if (j->sent < j->nwant)
				ret = encode_frame(j, f);
			if (ret < 0) {  /* the decoding thread stops at its next frame */
				pthread_mutex_lock(&j->lock);
				j->abandoned = true;
				pthread_cond_broadcast(&j->changed);
				pthread_mutex_unlock(&j->lock);
			}
		}
		av_frame_free(&f);
	}
	pthread_join(decoder, NULL);
	if (ret < 0)
		return ret;
	if (j->dec_ret < 0)
		return j->dec_ret;
	while (j->sent < j->nwant) {  /* frames the decoder did not give: repeat the last one */
		if (!j->last->data[0]) {
			log_error("%s: segment %u: no frame could be decoded", j->in->path, j->seg);
			return -EIO;
		}
		if ((ret = encode_frame(j, j->last)) < 0)
			return ret;
	}
	ret = drain_encoder(j, true);
	if (ret == 0 && j->out.n != j->nwant)
		ret = -EIO;
	return ret;
}

int transcode_segment(const struct synth_input *in, unsigned rung, uint32_t seg, uint8_t **out)
{
	static const double factors[] = { 1.0, 0.7, 0.45, 0.25 };
	const struct plan_rung *r = &in->plan->rungs[rung];
	uint64_t bound = r->sizes[seg], size = 0;
	struct job j = { .in = in, .r = r, .seg = seg };
	struct plan_layout *l = NULL;
	uint8_t *buf = NULL;
	int ret;

	*out = NULL;
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.changed, NULL);
	if ((ret = source_open(in->path, &j.src, NULL, 0)) < 0 ||
	    !identity_equal(source_identity(j.src), in->id)) {
		log_error("%s: the source cannot be read or changed since it was indexed; not serving segment %u",
			  in->path, seg);
		ret = -EIO;
		goto done;
	}
	if ((ret = plan_presented(in->plan, in->ix, seg, &j.want, &j.nwant)) < 0 || j.nwant == 0) {
		ret = ret < 0 ? ret : -EIO;
		goto done;
	}
	for (size_t a = 0; a < sizeof(factors) / sizeof(factors[0]); a++) {
		struct plan_frame *pf;
		j.rate_factor = factors[a];
		if ((ret = encode_all(&j)) < 0)
			goto done;
		if (!(pf = malloc(sizeof(*pf) * j.out.n))) {
			ret = -ENOMEM;
			goto done;
		}
		for (uint32_t i = 0; i < j.out.n; i++)
			pf[i] = (struct plan_frame){ j.out.frames[i].pts, j.out.frames[i].pts, j.out.frames[i].size, i,
						     j.out.frames[i].key };
		ret = plan_layout_frames(in->plan, in->ix, seg, pf, j.out.n, &l, &size);
		free(pf);
		if (ret < 0)
			goto done;
		if (size <= bound)
			break;
		log_debug("%s: %up segment %u: %llu bytes over its bound of %llu; encoding again at %.0f%%", in->path,
			  r->height, seg, (unsigned long long)size, (unsigned long long)bound, factors[a + 1 < 4 ? a + 1 : a] * 100);
		free(l);
		l = NULL;
		job_release(&j);
	}
	if (!l) {
		log_error("%s: %up segment %u: no encode fits its planned size; not served", in->path, r->height, seg);
		ret = -EIO;
		goto done;
	}
	if (!(buf = malloc(bound))) {
		ret = -ENOMEM;
		goto done;
	}
	{
		struct synth_encoded enc = { j.out.n, j.out.frames };
		if ((ret = synth_write_encoded(in, j.src, l, &enc, buf)) < 0)
			goto done;
	}
	tsmux_null_packets(buf + size, (bound - size) / TS_PACKET_SIZE);
	*out = buf;
	buf = NULL;
	ret = 0;
done:
	free(buf);
	free(l);
	free(j.want);
	job_release(&j);
	source_close(j.src);
	pthread_mutex_destroy(&j.lock);
	pthread_cond_destroy(&j.changed);
	return ret;
}

/* ---- Audio renditions ----
 *
 * A transcoded rendition is AAC (FFmpeg's encoder, 48 kHz stereo) on one grid of 1024-sample
 * frames for the whole file: grid frame g starts at grid_start + g x 1024 samples. Segment N
 * holds the grid frames whose start falls in its span. To make its frames independently of the
 * segment before, the encoder starts AUDIO_PREROLL frames early on the same grid and those
 * frames are dropped, so the MDCT overlap of the first kept frame is primed by the same signal
 * the previous segment's last frame encoded: the joins carry no gap, overlap or click. */

#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "codec.h"

#define AUDIO_PREROLL 3
#define AUDIO_DECODE_LEAD (PLAN_TIMEBASE / 5)  /* decode from 200 ms before: codec priming */

struct ajob {
	const struct synth_input *in;  /* borrowed for the call */
	const struct plan_rendition *r;
	const struct index_track *t;
	uint32_t seg;
	struct source *src;
	AVCodecContext *dec, *enc;
	SwrContext *swr;
	AVAudioFifo *fifo;
	int64_t fifo_start;        /* grid sample index of the fifo's first sample; INT64_MIN before any */
	int64_t next_in;           /* grid sample index of the next frame to encode */
	int64_t first_keep, end_keep; /* grid frames kept: [first_keep, end_keep) */
	struct encoded out;
	double rate_factor;
};

static int aenc_drain(struct ajob *a, bool flush)
{
	AVPacket *pkt = av_packet_alloc();
	int ret;

	if (!pkt)
		return -ENOMEM;
	if (flush)
		avcodec_send_frame(a->enc, NULL);
	while ((ret = avcodec_receive_packet(a->enc, pkt)) >= 0) {
		int64_t g = pkt->pts / 1024;  /* packets carry the grid sample index of what they decode to */
		ret = 0;
		if (pkt->pts >= 0 && pkt->pts % 1024 == 0 && g >= a->first_keep && g < a->end_keep &&
		    (int64_t)a->out.n == g - a->first_keep)
			ret = encoded_push(&a->out, pkt, a->r->grid_start + g * PLAN_AAC_FRAME_TICKS);
		av_packet_unref(pkt);
		if (ret < 0)
			break;
	}
	av_packet_free(&pkt);
	return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret < 0 ? -EIO : 0;
}

/* Encodes every whole 1024-sample frame the fifo holds from next_in on. */
static int aenc_feed(struct ajob *a, bool final)
{
	AVFrame *f = av_frame_alloc();
	int ret = 0;

	if (!f)
		return -ENOMEM;
	while (a->next_in < a->end_keep * 1024 + 1024 &&
	       (av_audio_fifo_size(a->fifo) >= 1024 || (final && av_audio_fifo_size(a->fifo) > 0))) {
		int n = av_audio_fifo_size(a->fifo) < 1024 ? av_audio_fifo_size(a->fifo) : 1024;
		f->nb_samples = 1024;
		f->format = AV_SAMPLE_FMT_FLTP;
		f->sample_rate = PLAN_AAC_RATE;
		av_channel_layout_default(&f->ch_layout, 2);
		if ((ret = av_frame_get_buffer(f, 0)) < 0)
			break;
		av_samples_set_silence(f->extended_data, 0, 1024, 2, AV_SAMPLE_FMT_FLTP);
		av_audio_fifo_read(a->fifo, (void **)f->extended_data, n);
		f->pts = a->next_in;
		a->next_in += 1024;
		a->fifo_start += n;
		ret = avcodec_send_frame(a->enc, f);
		av_frame_unref(f);
		if (ret < 0 || (ret = aenc_drain(a, false)) < 0)
			break;
	}
	av_frame_free(&f);
	return ret < 0 ? -EIO : 0;
}

/* Puts resampled samples that start at grid sample index at into the fifo, dropping what lies
 * before the first frame to encode and filling a hole before them with silence. */
static int afifo_put(struct ajob *a, uint8_t **data, int n, int64_t at)
{
	int64_t want = a->next_in;
	if (a->fifo_start == INT64_MIN) {
		a->fifo_start = want;
		if (at > want) {  /* the track starts later than the first frame: silence first */
			int64_t gap = at - want;
			uint8_t *z[2];
			float *zero = calloc((size_t)(gap > 0 ? gap : 1), sizeof(float));
			if (!zero)
				return -ENOMEM;
			z[0] = z[1] = (uint8_t *)zero;
			av_audio_fifo_write(a->fifo, (void **)z, (int)gap);
			free(zero);
		}
	}
	if (at < want) {  /* before the first frame: skip that much */
		int64_t skip = want - at;
		if (skip >= n)
			return 0;
		{
			uint8_t *d[2] = { data[0] + skip * (int64_t)sizeof(float), data[1] + skip * (int64_t)sizeof(float) };
			return av_audio_fifo_write(a->fifo, (void **)d, n - (int)skip) < 0 ? -ENOMEM : 0;
		}
	}
	return av_audio_fifo_write(a->fifo, (void **)data, n) < 0 ? -ENOMEM : 0;
}

static int adec_frame(struct ajob *a, AVFrame *fr, int64_t *written)
{
	uint8_t *buf[2] = { NULL, NULL };
	int max, n, ret;

	if (!a->swr) {
		AVChannelLayout out = AV_CHANNEL_LAYOUT_STEREO;
		if (swr_alloc_set_opts2(&a->swr, &out, AV_SAMPLE_FMT_FLTP, PLAN_AAC_RATE, &fr->ch_layout, fr->format,
					fr->sample_rate, 0, NULL) < 0 || swr_init(a->swr) < 0)
			return -EIO;
	}
	max = swr_get_out_samples(a->swr, fr->nb_samples);
	if (max <= 0)
		return 0;
	if (av_samples_alloc(buf, NULL, 2, max, AV_SAMPLE_FMT_FLTP, 0) < 0)
		return -ENOMEM;
	n = swr_convert(a->swr, buf, max, (const uint8_t **)fr->extended_data, fr->nb_samples);
	ret = n > 0 ? afifo_put(a, buf, n, *written) : 0;
	if (n > 0)
		*written += n;
	av_freep(&buf[0]);
	return ret;
}

static int aopen(struct ajob *a)
{
	const AVCodec *dc = avcodec_find_decoder(a->t->decoder_id), *ec = avcodec_find_encoder(AV_CODEC_ID_AAC);
	AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;

	if (!dc || !ec || !(a->dec = avcodec_alloc_context3(dc)) || !(a->enc = avcodec_alloc_context3(ec)))
		return -EIO;
	if (set_extradata(a->dec, a->t) < 0)
		return -ENOMEM;
	a->dec->sample_rate = (int)a->t->sample_rate;
	if (a->t->channels)
		av_channel_layout_default(&a->dec->ch_layout, (int)a->t->channels);
	a->dec->pkt_timebase = (AVRational){ 1, PLAN_TIMEBASE };
	a->dec->thread_count = 1;
	if (avcodec_open2(a->dec, dc, NULL) < 0)
		return -EIO;
	a->enc->sample_rate = PLAN_AAC_RATE;
	a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
	av_channel_layout_copy(&a->enc->ch_layout, &stereo);
	a->enc->bit_rate = (int64_t)(PLAN_AAC_KBPS * 1000 * a->rate_factor);
	a->enc->time_base = (AVRational){ 1, PLAN_AAC_RATE };
	a->enc->flags |= AV_CODEC_FLAG_BITEXACT;
	a->enc->thread_count = 1;
	if (avcodec_open2(a->enc, ec, NULL) < 0)
		return -EIO;
	if (!(a->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 2, 4096)))
		return -ENOMEM;
	return 0;
}

static void arelease(struct ajob *a)
{
	avcodec_free_context(&a->dec);
	avcodec_free_context(&a->enc);
	swr_free(&a->swr);
	if (a->fifo)
		av_audio_fifo_free(a->fifo);
	a->fifo = NULL;
	encoded_release(&a->out);
}

/* One attempt: decode the source around the segment, resample, encode the grid frames. */
static int aencode_all(struct ajob *a)
{
	const struct index_track *t = a->t;
	int64_t from = (a->first_keep - AUDIO_PREROLL) * 1024, written = INT64_MIN;
	int64_t t_from = a->r->grid_start + av_rescale(from, PLAN_TIMEBASE, PLAN_AAC_RATE) - AUDIO_DECODE_LEAD;
	int64_t t_to = a->r->grid_start + av_rescale(a->end_keep * 1024 + 2048, PLAN_TIMEBASE, PLAN_AAC_RATE);
	uint32_t lo = 0, hi = t->nb_samples;
	AVPacket *pkt = NULL;
	AVFrame *fr = NULL;
	int ret;

	a->fifo_start = INT64_MIN;
	a->next_in = from;
	if ((ret = aopen(a)) < 0)
		goto out;
	while (lo < hi) {  /* the first sample at or after t_from */
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->samples[mid].pts < t_from)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!(pkt = av_packet_alloc()) || !(fr = av_frame_alloc())) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = lo; i < t->nb_samples && t->samples[i].pts < t_to; i++) {
		const struct index_sample *s = &t->samples[i];
		if (av_new_packet(pkt, (int)s->size) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		if ((ret = source_pread(a->src, pkt->data, s->size, s->pos)) < 0) {
			log_error("%s: audio segment %u: reading the source failed (%s)", a->in->path, a->seg,
				  source_strerror(a->src, ret));
			ret = -EIO;
			goto out;
		}
		pkt->pts = pkt->dts = s->pts;
		pkt->duration = s->duration;
		avcodec_send_packet(a->dec, pkt);  /* damaged frames are skipped: the grid stays */
		av_packet_unref(pkt);
		while (avcodec_receive_frame(a->dec, fr) >= 0) {
			if (written == INT64_MIN)  /* where this decode starts on the grid; contiguous after */
				written = av_rescale((fr->pts != AV_NOPTS_VALUE ? fr->pts : s->pts) - a->r->grid_start,
						     PLAN_AAC_RATE, PLAN_TIMEBASE);
			ret = adec_frame(a, fr, &written);
			av_frame_unref(fr);
			if (ret < 0 || (ret = aenc_feed(a, false)) < 0)
				goto out;
		}
	}
	/* After the track (or a short read), silence carries the grid to the segment's end. */
	while (a->next_in < a->end_keep * 1024 + 1024) {
		int need = (int)(a->end_keep * 1024 + 1024 - a->next_in);
		uint8_t *z[2];
		float *zero = calloc((size_t)need, sizeof(float));
		if (!zero) {
			ret = -ENOMEM;
			goto out;
		}
		z[0] = z[1] = (uint8_t *)zero;
		if (a->fifo_start == INT64_MIN)
			a->fifo_start = a->next_in;
		av_audio_fifo_write(a->fifo, (void **)z, need);
		free(zero);
		if ((ret = aenc_feed(a, true)) < 0)
			goto out;
	}
	ret = aenc_drain(a, true);
	if (ret == 0 && a->out.n != (uint32_t)(a->end_keep - a->first_keep))
		ret = -EIO;
out:
	av_packet_free(&pkt);
	av_frame_free(&fr);
	return ret;
}

int transcode_rendition_segment(const struct synth_input *in, unsigned rn, uint32_t seg, uint8_t **out)
{
	static const double factors[] = { 1.0, 0.8, 0.6 };
	const struct plan_rendition *r = &in->plan->renditions[rn];
	uint64_t bound = r->sizes[seg], size = 0;
	struct ajob a = { .in = in, .r = r, .t = &in->ix->renditions[rn], .seg = seg };
	struct plan_layout *l = NULL;
	struct aac_config aac;
	uint8_t *buf = NULL;
	int ret;

	*out = NULL;
	if ((ret = source_open(in->path, &a.src, NULL, 0)) < 0 || !identity_equal(source_identity(a.src), in->id)) {
		log_error("%s: the source cannot be read or changed since it was indexed; not serving audio segment %u",
			  in->path, seg);
		source_close(a.src);
		return -EIO;
	}
	if (!r->transcode) {
		/* Copied AAC: exact size, no encoder. */
		if (codec_aac_parse(a.t->extradata, a.t->extradata_size, &aac) < 0 ||
		    (ret = plan_layout_rendition(in->plan, in->ix, rn, seg, NULL, 0, &l, &size)) < 0 ||
		    !(buf = malloc(size))) {
			ret = ret < 0 ? ret : -ENOMEM;
			goto done;
		}
		if ((ret = synth_write_rendition(in, a.src, l, rn, NULL, &aac, buf)) < 0)
			goto done;
		*out = buf;
		buf = NULL;
		goto done;
	}
	a.first_keep = r->first[seg];
	a.end_keep = (int64_t)r->first[seg] + r->count[seg];
	for (size_t i = 0; i < sizeof(factors) / sizeof(factors[0]); i++) {
		uint64_t *sizes;
		a.rate_factor = factors[i];
		if ((ret = aencode_all(&a)) < 0)
			goto done;
		if (codec_aac_parse(a.enc->extradata, (size_t)a.enc->extradata_size, &aac) < 0) {
			ret = -EIO;
			goto done;
		}
		if (!(sizes = malloc(sizeof(*sizes) * (a.out.n ? a.out.n : 1)))) {
			ret = -ENOMEM;
			goto done;
		}
		for (uint32_t k = 0; k < a.out.n; k++)
			sizes[k] = a.out.frames[k].size + CODEC_ADTS_SIZE;
		ret = plan_layout_rendition(in->plan, in->ix, rn, seg, sizes, a.out.n, &l, &size);
		free(sizes);
		if (ret < 0)
			goto done;
		if (size <= bound)
			break;
		free(l);
		l = NULL;
		arelease(&a);
	}
	if (!l) {
		log_error("%s: audio segment %u: no encode fits its planned size; not served", in->path, seg);
		ret = -EIO;
		goto done;
	}
	if (!(buf = malloc(bound))) {
		ret = -ENOMEM;
		goto done;
	}
	{
		struct synth_encoded enc = { a.out.n, a.out.frames };
		if ((ret = synth_write_rendition(in, a.src, l, rn, &enc, &aac, buf)) < 0)
			goto done;
	}
	tsmux_null_packets(buf + size, (bound - size) / TS_PACKET_SIZE);
	*out = buf;
	buf = NULL;
	ret = 0;
done:
	free(buf);
	free(l);
	arelease(&a);
	source_close(a.src);
	return ret;
}
