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
 * same bytes on every run; padded with null packets to the planned bound.
 *
 * Final bytes as they are made: the encode is judged GOP by GOP (an IDR half a second in, then
 * every two seconds, so the first bytes are final soon). When
 * a GOP is encoded, the segment's bytes up to it plus the rest's audio and its video at the VBV
 * allowance must fit the bound; if they do, the GOP is kept and the bytes that can no longer
 * change are written and reported (transcode_segment_stream); if not, that GOP alone is encoded
 * again by a fresh encoder at a lower rate (an IDR where it starts), the GOPs before it staying
 * as they are. The choice depends on encoded sizes only, never on timing or on who reads.
 *
 * Threads: a segment's frames go through two stages at once, read + decode + scale on a helper
 * thread (the decoder itself with one thread per core) and encode on the caller's, handed over in
 * presentation order through a short queue.
 * The encoder sees the same frames in the same order whatever the timing, so the bytes are
 * those of one thread doing both; the segment is ready about as soon as its encode is. */
#include "transcode.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/cpu.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "codec.h"
#include "colour.h"
#include "log.h"
#include "sampleio.h"
#include "plan.h"
#include "rotate.h"
#include "tonemap.h"
#include "segment.h"
#include "source.h"
#include "stats.h"
#include "synth.h"
#include "tsmux.h"

#define ENCODER_THREADS 1  /* x264 with more threads and VBV is not repeatable run to run */
/* Decoder threads (frame and slice threads): one per core unless set. They do not shape the bytes:
 * libavcodec's threaded decoders give the frames one thread gives, and the only pictures that could
 * depend on timing (a leading picture of an open GOP whose references lie before the decode start,
 * a picture the decoder flags corrupt) are dropped and stood in for, whatever the thread count. The
 * differences once blamed on frame threads came from the encoder (x264_level above). */
#define DECODER_THREADS_MAX 16
static unsigned decoder_threads;  /* 0: one per core */

void transcode_set_decoder_threads(unsigned n)
{
	decoder_threads = n > DECODER_THREADS_MAX ? DECODER_THREADS_MAX : n;
}

static int decoder_thread_count(void)
{
	long n = decoder_threads ? (long)decoder_threads : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > DECODER_THREADS_MAX ? DECODER_THREADS_MAX : (int)n;
}

static struct transcode_config config = { "libx264", "veryfast", "main" };

/* x264's SIMD level, named rather than detected by x264. Its AVX-512 code (in the macroblock-tree
 * rate control) reads memory it never wrote: the same frames gave other bytes from one encode to
 * the next in a long-running process, depending on what the heap held before (MALLOC_PERTURB_=1
 * shows it at once), while the AVX2 code gives the same bytes every time. The levels below AVX2
 * are not all bit-exact with each other either, so the level used is part of the fingerprint:
 * equal keys, equal bytes, whatever the machine. NULL: x264 detects (not x86, or no SSE2). */
static const char *x264_level(void)
{
#if defined(__x86_64__) || defined(__i386__)
	int f = av_get_cpu_flags();
	if ((f & AV_CPU_FLAG_AVX2) && (f & AV_CPU_FLAG_FMA3) && (f & AV_CPU_FLAG_BMI2))
		return "AVX2";
	if (f & AV_CPU_FLAG_AVX)
		return "AVX";
	if (f & AV_CPU_FLAG_SSE42)
		return "SSE4.2";
	if (f & AV_CPU_FLAG_SSSE3)
		return "SSSE3";
	if (f & AV_CPU_FLAG_SSE2)
		return "SSE2";
#endif
	return NULL;
}

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
	const char *level = x264_level();
	/* gops=3: a short first GOP (first_gop_frames), then GOP by GOP refits (what the bytes are);
	 * yadif: interlaced pictures deinterlaced (offer_frame) by this libavfilter;
	 * hdr: HDR pictures mapped to SDR by tonemap.c (this is its version);
	 * colour1: pictures in the rung's matrix and limited range, and tagged so (rung_matrix) */
	snprintf(out, size, "%s/%s/%s/t%d/%s/simd=%s/gops=3/yadif-%s/hdr=mobius1/colour1", config.encoder, config.preset,
		 config.profile, ENCODER_THREADS, LIBAVCODEC_IDENT, level ? level : "auto", LIBAVFILTER_IDENT);
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
	uint32_t nwant, sent;      /* sent: frames given to the current encoder so far (index into want) */
	uint32_t k0, last_sample;  /* the video samples decoded: from the keyframe k0 to last_sample */
	uint32_t first_wanted;     /* the first sample (decode order) whose picture the segment shows */
	uint32_t fed;              /* the last sample given to the decoder */
	uint32_t taken;            /* decoded frames queued so far */
	bool continuable;          /* the decoder may be handed on from segment to segment (continuable) */
	bool keep;                 /* the next segment starts in this GOP: park the decoder at the end */
	AVCodecContext *dec, *enc;
	AVFilterGraph *deint;      /* yadif, from the first interlaced picture on (deint_offer) */
	AVFilterContext *deint_in, *deint_out;
	AVFrame *deint_frame;
	struct colour_scaler sws;
	AVFrame *upright;          /* a turned source's picture scaled before it is turned */
	const struct tonemap *tm;  /* an HDR source's: its pictures scaled in 10 bits into hdr, then mapped */
	AVFrame *hdr;
	AVFrame *last;             /* the previous frame encoded, for stand-ins */
	struct encoded out;        /* encoded frames: [0, gop0) committed, [gop0, out.n) the GOP under way */
	double rate_factor;
	unsigned attempt;          /* index into rate_factors */
	uint32_t gop, first_gop;   /* frames per GOP (an IDR each), and in the first one */
	uint32_t gop0;             /* first frame of the GOP under way: frames before it are final */
	AVFrame **pend;            /* scaled frames [gop0, avail), kept to encode the GOP again */
	uint32_t avail, pend_cap;
	bool flushed;              /* the current encoder was told the input ended */
	/* Output: bound bytes; [0, emitted_bytes) are final and were reported through progress. */
	uint8_t *buf;
	uint64_t bound, emitted_bytes;
	uint32_t emitted_units, total_pcr;
	struct plan_layout *layout;  /* of the committed frames, the whole segment's at the end */
	uint64_t layout_size;
	const struct transcode_watch *watch;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	AVFrame *queue[QUEUE_FRAMES];
	unsigned head, count;
	bool decoded;              /* the decoding thread is done: nothing more will be queued */
	bool abandoned;            /* the encoder gave up: the decoding thread stops */
	int dec_ret;               /* the decoding thread's result */
};

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

static AVFrame *new_picture_of(int w, int h, enum AVPixelFormat format)
{
	AVFrame *f = av_frame_alloc();

	if (!f)
		return NULL;
	f->format = format;
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

static AVFrame *new_picture(int w, int h)
{
	return new_picture_of(w, h, AV_PIX_FMT_YUV420P);
}

/* HDR pictures (PQ or HLG) are scaled in 10 bits and then mapped to SDR (tonemap.h) for the rungs,
 * which are BT.709 SDR: shown as they are, they would look grey and washed out. The peak is taken
 * as 1000 cd/m2 for every picture of every segment (metadata that only some pictures carry would
 * map segments differently). */
static int hdr_prepare(struct job *j, const AVFrame *dec, int sw, int sh)
{
	enum AVColorTransferCharacteristic trc = dec->color_trc != AVCOL_TRC_UNSPECIFIED ? dec->color_trc : j->dec->color_trc;

	if (trc != AVCOL_TRC_SMPTE2084 && trc != AVCOL_TRC_ARIB_STD_B67)
		return 0;
	if (!j->tm && !(j->tm = tonemap_shared(trc == AVCOL_TRC_SMPTE2084 ? TONEMAP_PQ : TONEMAP_HLG,
					       dec->color_range == AVCOL_RANGE_JPEG)))
		return -ENOMEM;
	if (!j->hdr && !(j->hdr = new_picture_of(sw, sh, AV_PIX_FMT_YUV420P10)))
		return -ENOMEM;
	return 1;
}

/* The colours of a rung: every rung says what it is (colour description in its SPS), in limited
 * range, in the matrix hlsfs keeps for the source's size (colour.h), so that pictures are seldom
 * converted; HDR pictures tonemap.c maps to BT.709. */
static int rung_matrix(const struct index_track *v)
{
	return colour_matrix_of_size((int)v->width, (int)v->height);
}

/* Scales a decoded frame into a new picture of the rung's size, turned as the container asks,
 * and queues it. A turned picture is scaled upright first, then rotated plane by plane. */
static int take_frame(struct job *j, AVFrame *dec)
{
	unsigned rot = j->in->ix->video.rotation;
	bool turned = rotate_swaps(rot);
	int w = (int)j->r->width, h = (int)j->r->height, sw = turned ? h : w, sh = turned ? w : h;
	AVFrame *f;
	struct SwsContext *sws;
	int hdr = hdr_prepare(j, dec, sw, sh);

	if (hdr < 0)
		return hdr;
	if (!(sws = colour_scaler(&j->sws, dec, sw, sh, hdr ? AV_PIX_FMT_YUV420P10 : AV_PIX_FMT_YUV420P,
				  hdr ? -1 : rung_matrix(&j->in->ix->video), false)))
		return -EIO;
	if (!(f = new_picture(w, h)))
		return -ENOMEM;
	if (rot && !j->upright && !(j->upright = new_picture(sw, sh))) {
		av_frame_free(&f);
		return -ENOMEM;
	}
	if (hdr) {
		AVFrame *to = rot ? j->upright : f;
		sws_scale(sws, (const uint8_t *const *)dec->data, dec->linesize, 0, dec->height, j->hdr->data,
			  j->hdr->linesize);
		tonemap_yuv420(j->tm, to->data, to->linesize, (const uint8_t *const *)j->hdr->data, j->hdr->linesize,
			       (unsigned)sw, (unsigned)sh);
		if (rot)
			rotate_yuv420(f->data, f->linesize, (const uint8_t *const *)j->upright->data,
				      j->upright->linesize, (unsigned)sw, (unsigned)sh, rot);
	} else if (rot) {
		sws_scale(sws, (const uint8_t *const *)dec->data, dec->linesize, 0, dec->height, j->upright->data,
			  j->upright->linesize);
		rotate_yuv420(f->data, f->linesize, (const uint8_t *const *)j->upright->data, j->upright->linesize,
			      (unsigned)sw, (unsigned)sh, rot);
	} else {
		sws_scale(sws, (const uint8_t *const *)dec->data, dec->linesize, 0, dec->height, f->data,
			  f->linesize);
	}
	j->taken++;
	return queue_put(j, f);
}

static bool wanted(const struct job *j, int64_t t)
{
	const struct plan_segment *s = &j->in->plan->segments[j->seg];
	bool last = j->seg + 1 == j->in->plan->nb_segments;
	/* The first segment also shows what comes before its start (open GOPs), but not the
	 * frames an edit list hides. */
	return (t >= s->start || (j->seg == 0 && t >= j->in->plan->shown_from)) && (last || t < s->end);
}

static int64_t frame_time(const AVFrame *f)
{
	return f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
}

static int take_if_wanted(struct job *j, AVFrame *f)
{
	int64_t t = frame_time(f);

	if (j->taken < j->nwant && wanted(j, t))
		return take_frame(j, f);
	if (t >= j->in->plan->segments[j->seg].end)
		j->keep = false;  /* a picture of the next segment is out: the decoder cannot be handed on */
	return 0;
}

/* Interlaced pictures (DVD, broadcast recordings) are deinterlaced before they are scaled, or every
 * rung would show their two fields combed together: yadif, one picture out per picture in, only on
 * pictures flagged interlaced. The graph is made at the first such picture of the segment's decode
 * (always the same one: decoding starts at the same keyframe) and runs on one thread. */
static int deint_open(struct job *j, const AVFrame *f)
{
	char args[160];
	AVFilterContext *yadif;
	AVRational sar = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio : (AVRational){ 1, 1 };

	if (!(j->deint = avfilter_graph_alloc()) || (!j->deint_frame && !(j->deint_frame = av_frame_alloc())))
		return -ENOMEM;
	j->deint->nb_threads = 1;
	snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=1/%d:pixel_aspect=%d/%d", f->width,
		 f->height, f->format, PLAN_TIMEBASE, sar.num, sar.den);
	if (avfilter_graph_create_filter(&j->deint_in, avfilter_get_by_name("buffer"), "in", args, NULL, j->deint) < 0 ||
	    avfilter_graph_create_filter(&yadif, avfilter_get_by_name("yadif"), "yadif",
					 "mode=send_frame:parity=auto:deint=interlaced", NULL, j->deint) < 0 ||
	    avfilter_graph_create_filter(&j->deint_out, avfilter_get_by_name("buffersink"), "out", NULL, NULL,
					 j->deint) < 0 ||
	    avfilter_link(j->deint_in, 0, yadif, 0) < 0 || avfilter_link(yadif, 0, j->deint_out, 0) < 0 ||
	    avfilter_graph_config(j->deint, NULL) < 0) {
		avfilter_graph_free(&j->deint);
		return -EIO;
	}
	return 0;
}

/* What the deinterlacer has ready, to take_frame; with eof, everything it holds. */
static int deint_drain(struct job *j, bool eof)
{
	int ret;

	if (!j->deint)
		return 0;
	if (eof && av_buffersrc_add_frame(j->deint_in, NULL) < 0)
		return -EIO;
	while ((ret = av_buffersink_get_frame(j->deint_out, j->deint_frame)) >= 0) {
		ret = take_if_wanted(j, j->deint_frame);
		av_frame_unref(j->deint_frame);
		if (ret < 0)
			return ret;
	}
	if (eof)
		avfilter_graph_free(&j->deint);
	return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : -EIO;
}

/* A sound decoded picture: through the deinterlacer once one was needed, else straight on. */
static int offer_frame(struct job *j, AVFrame *f)
{
	int ret;

	if (j->deint && (f->width != j->deint_in->outputs[0]->w || f->height != j->deint_in->outputs[0]->h ||
			 f->format != j->deint_in->outputs[0]->format) && (ret = deint_drain(j, true)) < 0)
		return ret;  /* the picture changed size mid-stream: a new graph for the new size */
	if (!j->deint && f->interlaced_frame) {
		j->keep = false;  /* the deinterlacer's pictures in hand are not handed on */
		if ((ret = deint_open(j, f)) < 0)
			return ret;
	}
	if (!j->deint)
		return take_if_wanted(j, f);
	if (av_buffersrc_add_frame_flags(j->deint_in, f, AV_BUFFERSRC_FLAG_KEEP_REF) < 0)
		return -EIO;
	return deint_drain(j, false);
}

static int drain_decoder(struct job *j, AVFrame *frame)
{
	int ret;
	const struct index_track *v = &j->in->ix->video;
	while ((ret = avcodec_receive_frame(j->dec, frame)) >= 0) {
		/* At the end, the picture held back comes out for no sample: the last non-B-frame
		 * fed (the one sample shown later than it is decoded). */
		if (v->shown_late && frame_time(frame) == AV_NOPTS_VALUE) {
			uint32_t i = j->fed;
			while (i > j->k0 && v->samples[i].pts == v->samples[i].dts)
				i--;
			frame->best_effort_timestamp = v->samples[i].pts;
		}
		/* A picture shown before the keyframe the decode starts at leads an open GOP: its
		 * references were never decoded. It, and any picture the decoder flags corrupt, is
		 * dropped (a stand-in takes its place), so no concealed picture reaches the encoder. */
		bool sound = !(frame->flags & AV_FRAME_FLAG_CORRUPT) && !frame->decode_error_flags &&
			     frame_time(frame) >= v->samples[j->k0].pts;
		if (sound)
			ret = offer_frame(j, frame);
		av_frame_unref(frame);
		if (ret < 0)
			return ret;
	}
	return 0;  /* EAGAIN, EOF or damaged data: stand-ins cover what is missing */
}

/* Set at unmount: encodes under way give up at their next frame. */
static int stopping;

/* Decoders parked at the end of a segment whose GOP goes on into the next segment, so that the
 * next segment's transcode (any rung: they share the plan) decodes on from there rather than again
 * from the keyframe: in a 30 s GOP, segment k otherwise decodes k segments' worth of pictures
 * first. The bytes are those of a decode from the keyframe: the same samples from the same
 * keyframe are decoded, and what is skipped before a segment (AVDISCARD_NONREF) no picture refers
 * to. Only where the bitstream fixes the output order: HEVC, VP9, AV1, and H.264, whose decoder
 * holds back what the SPS's reorder depth says or, where it does not say, the most its level
 * allows (sample_decoder), never a depth guessed from the pictures it has seen (a decoder that
 * had seen more could then give out a picture that a fresh one drops). */
struct parked {
	AVCodecContext *dec;       /* NULL: a free slot */
	char *path;
	struct source_identity id;
	uint32_t k0;               /* the keyframe the decode started at */
	uint32_t fed;              /* the last sample given to it */
	uint32_t whole_from;       /* samples from here on were decoded whole (unreferenced ones too) */
	int64_t end;               /* no picture shown from here on has come out of it yet */
	struct timespec when;
};

/* A 4K decoder holds a few hundred MB of pictures: two at most, for 20 s (a reaper thread, started
 * with the first one parked, frees them when nothing took them). */
#define PARKED_MAX 2
#define PARKED_SECONDS 20
static struct parked parked[PARKED_MAX];
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t parked_changed;
static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;
static pthread_t reaper;
static bool reaper_running;

static void parked_free(struct parked *p)
{
	if (p->dec)
		stats_gauge_add(STATS_DECODERS_PARKED, -1);
	avcodec_free_context(&p->dec);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* Takes out of the lot, into out (PARKED_MAX slots), the decoders parked longer than
 * PARKED_SECONDS, all of them with all; the caller frees them outside the lock. */
static void parked_expire(struct parked *out, bool all)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (unsigned i = 0; i < PARKED_MAX; i++) {
		if (parked[i].dec && (all || now.tv_sec - parked[i].when.tv_sec > PARKED_SECONDS)) {
			out[i] = parked[i];
			memset(&parked[i], 0, sizeof(parked[i]));
		}
	}
}

static void parked_free_all(struct parked *v)
{
	for (unsigned i = 0; i < PARKED_MAX; i++)
		if (v[i].dec)
			parked_free(&v[i]);
}

static void *reaper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&parked_lock);
	while (!__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		struct parked gone[PARKED_MAX] = { 0 };
		struct timespec due = { 0 };
		for (unsigned i = 0; i < PARKED_MAX; i++)
			if (parked[i].dec && (!due.tv_sec || parked[i].when.tv_sec < due.tv_sec))
				due = parked[i].when;
		if (!due.tv_sec) {
			pthread_cond_wait(&parked_changed, &parked_lock);
			continue;
		}
		due.tv_sec += PARKED_SECONDS + 1;
		pthread_cond_timedwait(&parked_changed, &parked_lock, &due);
		parked_expire(gone, false);
		pthread_mutex_unlock(&parked_lock);
		parked_free_all(gone);
		pthread_mutex_lock(&parked_lock);
	}
	pthread_mutex_unlock(&parked_lock);
	return NULL;
}

static void reaper_start(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&parked_changed, &a);
	pthread_condattr_destroy(&a);
	pthread_mutex_lock(&parked_lock);  /* transcode_stop reads it under the lock */
	reaper_running = !__atomic_load_n(&stopping, __ATOMIC_RELAXED) &&
			 pthread_create(&reaper, NULL, reaper_main, NULL) == 0;
	pthread_mutex_unlock(&parked_lock);
}

void transcode_stop(void)
{
	struct parked gone[PARKED_MAX] = { 0 };
	bool join;

	pthread_mutex_lock(&parked_lock);
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
	parked_expire(gone, true);
	join = reaper_running;
	reaper_running = false;
	if (join)
		pthread_cond_broadcast(&parked_changed);
	pthread_mutex_unlock(&parked_lock);
	if (join)
		pthread_join(reaper, NULL);
	parked_free_all(gone);
}

/* Whether j's decoder may be handed on from segment to segment at all (see struct parked): where
 * the pictures it gives out and their order depend on the bitstream alone, not on how many it has
 * seen. So H.264 too, whose decoder holds back the most its level allows when the SPS does not
 * say (sample_decoder). */
static bool continuable(const struct job *j)
{
	const struct index_track *v = &j->in->ix->video;

	if (v->shown_late || identity_growing(j->in->id))
		return false;
	return v->decoder_id == AV_CODEC_ID_HEVC || v->decoder_id == AV_CODEC_ID_VP9 || v->decoder_id == AV_CODEC_ID_AV1 ||
	       v->decoder_id == AV_CODEC_ID_H264;
}

/* Whether the segment after this one starts in the GOP this one is decoded from (no keyframe up
 * to the sample after the last one it needs), and the decoder can be handed on. */
static bool parkable(const struct job *j)
{
	const struct index_track *v = &j->in->ix->video;

	if (!j->continuable || j->seg + 1 >= j->in->plan->nb_segments || j->last_sample + 1 >= v->nb_samples)
		return false;
	for (uint32_t i = j->k0 + 1; i <= j->last_sample + 1; i++)
		if (v->samples[i].flags & INDEX_SAMPLE_KEY)
			return false;
	return true;
}

/* At the end of a segment with keep: the decoder, fed up to j->fed and not drained, goes to the
 * lot. Returns false when it cannot. */
static bool park(struct job *j)
{
	struct parked gone[PARKED_MAX] = { 0 }, p = {
		.dec = j->dec, .id = *j->in->id, .k0 = j->k0, .fed = j->fed, .whole_from = j->first_wanted,
		.end = j->in->plan->segments[j->seg].end,
	};
	unsigned slot = 0;

	pthread_once(&reaper_once, reaper_start);
	if (!(p.path = strdup(j->in->path)))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &p.when);
	pthread_mutex_lock(&parked_lock);
	if (__atomic_load_n(&stopping, __ATOMIC_RELAXED) || !reaper_running) {
		pthread_mutex_unlock(&parked_lock);
		free(p.path);
		return false;
	}
	for (unsigned i = 0; i < PARKED_MAX; i++) {
		if (!parked[i].dec) {
			slot = i;
			break;
		}
		if (parked[i].when.tv_sec < parked[slot].when.tv_sec ||
		    (parked[i].when.tv_sec == parked[slot].when.tv_sec && parked[i].when.tv_nsec < parked[slot].when.tv_nsec))
			slot = i;
	}
	if (parked[slot].dec)  /* the lot is full: the oldest makes room */
		gone[slot] = parked[slot];
	parked[slot] = p;
	stats_gauge_add(STATS_DECODERS_PARKED, 1);
	pthread_cond_broadcast(&parked_changed);
	pthread_mutex_unlock(&parked_lock);
	parked_free_all(gone);
	j->dec = NULL;
	return true;
}

/* Before sample *next, while no picture of the segment has come out: takes a decoder parked by
 * an earlier segment of the same GOP that is further on than j's own, if the lot has one, in place
 * of j's own, and sets *next to the first sample it has not had. It fits when it started at k0,
 * was fed whole (unreferenced samples too) from a sample no later than the first this segment
 * shows, and gave out no picture from where this segment starts. (A transcode made ahead may
 * have started from the keyframe beside the one it follows, then paused for it.) */
static bool adopt(struct job *j, uint32_t *next)
{
	const struct plan_segment *s = &j->in->plan->segments[j->seg];
	struct parked p = { 0 };

	if (j->taken || j->deint || *next >= j->first_wanted || !j->continuable)
		return false;
	pthread_mutex_lock(&parked_lock);
	for (unsigned i = 0; i < PARKED_MAX; i++) {
		struct parked *c = &parked[i];
		if (c->dec && c->k0 == j->k0 && c->fed >= *next && c->whole_from <= j->first_wanted && c->end <= s->start &&
		    identity_equal(&c->id, j->in->id) && !strcmp(c->path, j->in->path)) {
			p = *c;
			memset(c, 0, sizeof(*c));
			break;
		}
	}
	pthread_mutex_unlock(&parked_lock);
	if (!p.dec)
		return false;
	avcodec_free_context(&j->dec);
	j->dec = p.dec;
	p.dec = NULL;
	stats_gauge_add(STATS_DECODERS_PARKED, -1);
	j->fed = p.fed;
	*next = p.fed + 1;
	stats_add(STATS_DECODES_CONTINUED, 1);
	log_debug("%s: %up segment %u: decoding on from sample %u (GOP from sample %u)", j->in->path, j->r->height,
		  j->seg, p.fed + 1, j->k0);
	parked_free(&p);
	return true;
}

/* The decoding thread: reads and decodes the samples from k0 on (or from where a parked decoder
 * stopped), queueing each wanted frame scaled, until every wanted frame is queued or the samples
 * run out. */
static int decode_span(struct job *j)
{
	const struct index_track *v = &j->in->ix->video;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	struct sample_reader rd;
	uint64_t bad;
	uint32_t i = j->k0;
	int ret = 0;

	sample_reader_init(&rd, j->src);
	if (!pkt || !frame) {
		ret = -ENOMEM;
		goto out;
	}
	/* With keep, samples past the last one needed are fed until the segment's last picture
	 * comes out, rather than draining the decoder: it stays usable for the next segment. */
	for (; j->taken < j->nwant && (i <= j->last_sample || (j->keep && i < v->nb_samples &&
								!(v->samples[i].flags & INDEX_SAMPLE_KEY)));
	     i++) {
		const struct index_sample *s = &v->samples[i];
		if (j->watch && j->watch->turn)
			j->watch->turn(j->watch->ctx);
		if (__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
			ret = -ECANCELED;
			goto out;
		}
		if (adopt(j, &i)) {  /* a decoder further on was parked meanwhile */
			i--;  /* the loop's test again, from the sample after its last */
			continue;
		}
		if ((ret = av_new_packet(pkt, (int)s->size)) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		if ((ret = sample_read(&rd, v, s, pkt->data, &bad)) < 0 && i > j->last_sample) {
			av_packet_unref(pkt);  /* read only to keep the decoder: it is drained instead */
			j->keep = false;
			ret = 0;
			break;
		}
		if (ret < 0) {
			if (ret == -EILSEQ)
				log_error("%s: segment %u: %s", j->in->path, j->seg, rd.damage);
			else
				log_error("%s: segment %u: reading the source failed (%s)", j->in->path, j->seg,
					  source_strerror(j->src, ret));
			ret = -EIO;
			goto out;
		}
		/* A picture shown one sample late (index_track.shown_late) is timed by the sample it
		 * comes out for: no PTS, so the decoder's best guess is that sample's DTS. */
		pkt->pts = v->shown_late ? AV_NOPTS_VALUE : s->pts;
		pkt->dts = s->dts;
		pkt->duration = s->duration;
		pkt->flags = (s->flags & INDEX_SAMPLE_KEY) ? AV_PKT_FLAG_KEY : 0;
		j->fed = i;
		/* Before the first picture the segment shows, only what later pictures refer to is
		 * decoded: a seek into a long GOP skips its unreferenced frames (H.264, HEVC). The
		 * pictures shown are the same, as nothing refers to what is skipped. */
		j->dec->skip_frame = i < j->first_wanted ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
		avcodec_send_packet(j->dec, pkt);  /* a damaged sample is skipped; stand-ins cover it */
		av_packet_unref(pkt);
		if ((ret = drain_decoder(j, frame)) < 0)
			goto out;
	}
	if (j->keep && j->taken == j->nwant && park(j))
		goto out;
	avcodec_send_packet(j->dec, NULL);
	if ((ret = drain_decoder(j, frame)) == 0)
		ret = deint_drain(j, true);
out:
	sample_reader_release(&rd);
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
	int ret;

	if ((ret = sample_decoder(&j->in->ix->video, &j->dec)) < 0)
		return ret;
	j->dec->pkt_timebase = (AVRational){ 1, PLAN_TIMEBASE };
	/* One thread where pictures are timed by the sample fed (index_track.shown_late): frame
	 * threads would tie a picture to another sample. */
	j->dec->thread_count = j->in->ix->video.shown_late ? 1 : decoder_thread_count();
	j->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	return avcodec_open2(j->dec, NULL, NULL) < 0 ? -EIO : 0;
}

static int open_encoder(struct job *j, const char *name)
{
	const struct index_track *v = &j->in->ix->video;
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	const char *level = x264_level();
	char params[320];
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
	if (rung_matrix(v) == SWS_CS_ITU709) {  /* what take_frame makes (colour_scaler) */
		j->enc->colorspace = AVCOL_SPC_BT709;
		j->enc->color_primaries = AVCOL_PRI_BT709;
		j->enc->color_trc = AVCOL_TRC_BT709;
	} else {
		j->enc->colorspace = AVCOL_SPC_SMPTE170M;
		j->enc->color_primaries = AVCOL_PRI_SMPTE170M;
		j->enc->color_trc = AVCOL_TRC_SMPTE170M;
	}
	j->enc->color_range = AVCOL_RANGE_MPEG;
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
					 "sync-lookahead=0:sliced-threads=0%s%s", level ? ":asm=" : "", level ? level : "");
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

static void pend_drop(struct job *j, uint32_t upto)
{
	uint32_t n = upto - j->gop0, have = j->avail - j->gop0;
	for (uint32_t i = 0; i < n; i++)
		av_frame_free(&j->pend[i]);
	memmove(j->pend, j->pend + n, sizeof(*j->pend) * (have - n));
	j->gop0 = upto;
}

static void job_release(struct job *j)
{
	avcodec_free_context(&j->dec);
	avfilter_graph_free(&j->deint);
	av_frame_free(&j->deint_frame);
	avcodec_free_context(&j->enc);
	colour_scaler_free(&j->sws);
	av_frame_free(&j->upright);
	av_frame_free(&j->hdr);
	av_frame_free(&j->last);
	while (j->count) {
		av_frame_free(&j->queue[j->head]);
		j->head = (j->head + 1) % QUEUE_FRAMES;
		j->count--;
	}
	if (j->pend)
		pend_drop(j, j->avail);
	free(j->pend);
	j->pend = NULL;
	encoded_release(&j->out);
	free(j->layout);
	j->layout = NULL;
}

/* Rate factors, in order: a GOP whose encode would leave the segment over its bound is encoded
 * again by a fresh encoder at the next one (the GOPs before it stay as they are). */
static const double rate_factors[] = { 1.0, 0.7, 0.45, 0.25 };
#define NB_RATE_FACTORS (sizeof(rate_factors) / sizeof(rate_factors[0]))

/* Frames of a segment's first GOP, gop being 2 s of frames: half a second, or at a low rung as long
 * as the rung's rate takes to fill a first read through the mount (SEGMENT_READAHEAD; at most
 * gop), so that read is answered as soon as the first GOP is final, not the second. */
static uint32_t first_gop_frames(uint32_t gop, uint32_t kbps)
{
	uint64_t fill = kbps ? ((uint64_t)SEGMENT_READAHEAD * 8 * gop + 2000ull * kbps - 1) / (2000ull * kbps) : gop;
	uint32_t n = (gop + 3) / 4;

	if (fill > n)
		n = fill < gop ? (uint32_t)fill : gop;
	return n;
}

/* GOPs: the first is short (see first_gop_frames; an IDR forced where it ends), so the segment's
 * first bytes are final, and served, after a few frames; then an IDR every gop frames. */
static uint32_t gop_end(const struct job *j)
{
	uint32_t len = j->gop0 == 0 ? j->first_gop : j->gop;
	return j->nwant - j->gop0 < len ? j->nwant : j->gop0 + len;
}

/* Lays out the committed frames [0, n) into j->layout. */
static int layout_prefix(struct job *j, uint32_t n)
{
	struct plan_frame *pf = malloc(sizeof(*pf) * (n ? n : 1));
	int ret;

	if (!pf)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		pf[i] = (struct plan_frame){ j->out.frames[i].pts, j->out.frames[i].pts, j->out.frames[i].size, i,
					     j->out.frames[i].key };
	free(j->layout);
	j->layout = NULL;
	ret = plan_layout_frames(j->in->plan, j->in->ix, j->seg, pf, n, &j->layout, &j->layout_size);
	free(pf);
	return ret;
}

static uint32_t video_unit_of(const struct plan_layout *l, uint32_t frame)
{
	for (uint32_t i = l->nb_units; i-- > 0;)
		if (l->units[i].kind == PLAN_UNIT_VIDEO && l->units[i].first == frame)
			return i;
	return UINT32_MAX;
}

/* Whether the frames [0, e) leave room for the rest of the segment under its bound: the bytes of
 * the segment up to frame e-1, the rest's audio and PCR packets (exact: unit order depends on
 * timestamps alone) and the rest's video at its VBV allowance (the plan's bound, per frame).
 * Lays out the frames [0, e) into j->layout. */
static int fits(struct job *j, uint32_t e, bool *ok)
{
	const struct plan_segment *s = &j->in->plan->segments[j->seg];
	uint64_t head, tail = 0, rest = j->nwant - e, es, vpk;
	uint32_t iv, pcr = 0;
	int ret;

	if ((ret = layout_prefix(j, e)) < 0)
		return ret;
	if (rest == 0) {
		*ok = j->layout_size <= j->bound;
		return 0;
	}
	if ((iv = video_unit_of(j->layout, e - 1)) == UINT32_MAX)
		return -EIO;
	head = j->layout->units[iv].offset + j->layout->units[iv].packets * TS_PACKET_SIZE;
	for (uint32_t i = 0; i < j->layout->nb_units; i++) {
		const struct plan_unit *u = &j->layout->units[i];
		if (i > iv && u->kind == PLAN_UNIT_AUDIO)
			tail += u->packets * TS_PACKET_SIZE;
		if (i < iv && u->kind == PLAN_UNIT_PCR)
			pcr++;
	}
	tail += (uint64_t)(j->total_pcr > pcr ? j->total_pcr - pcr : 0) * TS_PACKET_SIZE;
	es = (uint64_t)((double)j->r->maxrate * (double)(s->end - s->start) * (double)rest / j->nwant / PLAN_TIMEBASE / 8) +
	     rest * 64;
	vpk = (es + rest * (tsmux_pes_header_size(false) + 8) + 183) / 184 + rest + 15;
	*ok = head + tail + vpk * TS_PACKET_SIZE <= j->bound;
	return 0;
}

/* Writes units [from, to) of j->layout into j->buf. */
static int write_units(struct job *j, uint32_t from, uint32_t to)
{
	struct plan_layout *sub;
	struct synth_encoded enc = { j->out.n, j->out.frames };
	int ret;

	if (from >= to)
		return 0;
	if (!(sub = malloc(sizeof(*sub) + sizeof(sub->units[0]) * (to - from))))
		return -ENOMEM;
	sub->segment = j->layout->segment;
	sub->nb_units = to - from;
	memcpy(sub->units, j->layout->units + from, sizeof(sub->units[0]) * (to - from));
	ret = synth_write_encoded(j->in, j->src, sub, &enc, j->buf + j->layout->units[from].offset);
	free(sub);
	return ret;
}

/* After a GOP is committed: writes the units that can no longer change and reports them. A
 * unit is final when it comes before the last video units whose spare room covers the packets
 * the end of the segment may still spread over them (plan_layout_frames: at most 15). */
static int emit(struct job *j)
{
	uint32_t k = j->layout->nb_units;
	uint64_t room = 0;
	int ret;

	while (k > j->emitted_units && room < 15) {
		const struct plan_unit *u = &j->layout->units[--k];
		if (u->kind == PLAN_UNIT_VIDEO)
			room += tsmux_pes_header_size(false) + u->payload - u->packets;
	}
	if (room < 15 || k <= j->emitted_units)
		return 0;
	if (j->layout->units[j->emitted_units].offset != j->emitted_bytes)
		return -EIO;  /* cannot happen: what was sent stays */
	if ((ret = write_units(j, j->emitted_units, k)) < 0)
		return ret;
	j->emitted_units = k;
	j->emitted_bytes = j->layout->units[k].offset;
	if (j->watch && j->watch->progress)
		j->watch->progress(j->watch->ctx, j->emitted_bytes);
	return 0;
}

/* The GOP under way is encoded: keep it and report what is final, or encode it again at a lower rate. */
static int gop_done(struct job *j)
{
	uint32_t e = j->out.n;
	bool ok;
	int ret;

	if ((ret = fits(j, e, &ok)) < 0)
		return ret;
	if (ok) {
		pend_drop(j, e);
		return e < j->nwant ? emit(j) : 0;
	}
	if (++j->attempt == NB_RATE_FACTORS) {
		log_error("%s: %up segment %u: no encode fits its planned size; not served", j->in->path, j->r->height,
			  j->seg);
		return -EIO;
	}
	log_debug("%s: %up segment %u: frames %u-%u leave the segment over its bound of %llu; encoding them again at "
		  "%.0f%%", j->in->path, j->r->height, j->seg, j->gop0, e - 1, (unsigned long long)j->bound,
		  rate_factors[j->attempt] * 100);
	while (j->out.n > j->gop0)
		free((void *)j->out.frames[--j->out.n].data);
	avcodec_free_context(&j->enc);
	j->rate_factor = rate_factors[j->attempt];
	if ((ret = open_encoder(j, config.encoder)) < 0)
		return ret;
	j->sent = j->gop0;
	j->flushed = false;
	return 0;
}

/* Sends the next pending frame. Returns 0, 1 when the encoder must be drained first, -EIO. */
static int send_next(struct job *j)
{
	AVFrame *f = j->pend[j->sent - j->gop0];
	int ret;

	f->pts = j->want[j->sent].pts;
	f->pict_type = j->sent == j->gop0 || j->sent == j->first_gop ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	if ((ret = avcodec_send_frame(j->enc, f)) == AVERROR(EAGAIN))
		return 1;
	if (ret < 0)
		return -EIO;
	j->sent++;
	return 0;
}

/* Takes the encoder's packets up to the end of the GOP under way. Returns 1 at its end, 0 when
 * the encoder needs more input, -EIO. No B-frames: packets come out in input order. */
static int receive(struct job *j, AVPacket *pkt)
{
	while (j->out.n < gop_end(j)) {
		int ret = avcodec_receive_packet(j->enc, pkt);
		if (ret == AVERROR(EAGAIN))
			return 0;
		if (ret < 0)
			return -EIO;  /* at the end of the input with frames missing, too */
		ret = encoded_push(&j->out, pkt, j->want[j->out.n].pts);
		av_packet_unref(pkt);
		if (ret < 0)
			return ret;
	}
	return 1;
}

/* Encodes what is pending, committing each GOP that fits; flush: no more frames will come. */
static int advance(struct job *j, bool flush)
{
	AVPacket *pkt = av_packet_alloc();
	int ret = 0;

	if (!pkt)
		return -ENOMEM;
	while (j->out.n < j->nwant) {
		bool blocked = false;
		while (j->sent < j->avail && !blocked) {
			if ((ret = send_next(j)) < 0)
				goto out;
			blocked = ret == 1;
		}
		if (flush && j->sent == j->nwant && !j->flushed) {
			avcodec_send_frame(j->enc, NULL);
			j->flushed = true;
		}
		if ((ret = receive(j, pkt)) < 0)
			goto out;
		if (ret == 1) {
			if ((ret = gop_done(j)) < 0)
				goto out;
			continue;
		}
		if (!blocked)
			break;  /* the encoder waits for frames not decoded yet */
	}
	ret = 0;
out:
	av_packet_free(&pkt);
	return ret;
}

/* Keeps a reference to the next frame to encode and encodes what it can. */
static int feed(struct job *j, AVFrame *f)
{
	uint32_t have = j->avail - j->gop0;
	if (have == j->pend_cap) {
		uint32_t cap = j->pend_cap ? j->pend_cap * 2 : 32;
		AVFrame **p = realloc(j->pend, sizeof(*p) * cap);
		if (!p)
			return -ENOMEM;
		j->pend = p;
		j->pend_cap = cap;
	}
	if (!(j->pend[have] = av_frame_clone(f)))
		return -ENOMEM;
	j->avail++;
	return advance(j, false);
}

/* Decodes and scales every wanted frame on a helper thread, encodes them here GOP by GOP. */
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
	j->first_wanted = first;
	j->last_sample = last;
	j->continuable = continuable(j);
	j->keep = parkable(j);
	{
		uint64_t end = 0;  /* remote read-ahead stops at the last byte decoded */
		for (uint32_t i = j->k0; i <= last; i++)
			if (sample_end(v, &v->samples[i]) > end)
				end = sample_end(v, &v->samples[i]);
		source_will_read(j->src, end);
	}
	j->rate_factor = rate_factors[0];
	if ((ret = open_decoder(j)) < 0 || (ret = open_encoder(j, config.encoder)) < 0) {
		log_error("%s: %up segment %u: the %s cannot start", j->in->path, j->r->height, j->seg,
			  j->dec && avcodec_is_open(j->dec) ? "encoder" : "decoder");
		return ret;
	}
	j->gop = (uint32_t)j->enc->gop_size;
	j->first_gop = first_gop_frames(j->gop, j->r->kbps);
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
			else if (j->avail < j->nwant)
				ret = feed(j, f);
			if (ret == 0 && __atomic_load_n(&stopping, __ATOMIC_RELAXED))
				ret = -ECANCELED;
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
	while (j->avail < j->nwant) {  /* frames the decoder did not give: repeat the last one */
		if (!j->last->data[0]) {
			log_error("%s: segment %u: no frame could be decoded", j->in->path, j->seg);
			return -EIO;
		}
		if ((ret = feed(j, j->last)) < 0)
			return ret;
	}
	if ((ret = advance(j, true)) < 0)
		return ret;
	return j->out.n == j->nwant && j->layout ? 0 : -EIO;
}

int transcode_segment_stream(const struct synth_input *in, unsigned rung, uint32_t seg, uint8_t *buf,
			     const struct transcode_watch *watch)
{
	const struct plan_rung *r = &in->plan->rungs[rung];
	struct job j = { .in = in, .r = r, .seg = seg, .buf = buf, .bound = r->sizes[seg], .watch = watch };
	int ret;

	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.changed, NULL);
	if ((ret = source_open_as(in->path, in->id, &j.src, NULL, 0)) < 0 ||
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
	{
		/* PCR-only packets of the whole segment: unit order does not depend on sizes. */
		struct plan_layout *l;
		uint64_t size;
		if ((ret = plan_layout_frames(in->plan, in->ix, seg, j.want, j.nwant, &l, &size)) < 0)
			goto done;
		for (uint32_t i = 0; i < l->nb_units; i++)
			j.total_pcr += l->units[i].kind == PLAN_UNIT_PCR;
		free(l);
	}
	if ((ret = encode_all(&j)) < 0)
		goto done;
	/* The whole segment's layout: the rest of it, then padding. */
	if (j.layout->nb_units <= j.emitted_units || j.layout->units[j.emitted_units].offset != j.emitted_bytes) {
		ret = -EIO;
		goto done;
	}
	if ((ret = write_units(&j, j.emitted_units, j.layout->nb_units)) < 0)
		goto done;
	tsmux_null_packets(buf + j.layout_size, (j.bound - j.layout_size) / TS_PACKET_SIZE);
	if (watch && watch->progress)
		watch->progress(watch->ctx, j.bound);
	ret = 0;
done:
	free(j.want);
	job_release(&j);
	source_close(j.src);
	pthread_mutex_destroy(&j.lock);
	pthread_cond_destroy(&j.changed);
	return ret;
}

int transcode_segment(const struct synth_input *in, unsigned rung, uint32_t seg, uint8_t **out)
{
	uint8_t *buf = malloc(in->plan->rungs[rung].sizes[seg]);
	int ret;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	if ((ret = transcode_segment_stream(in, rung, seg, buf, NULL)) < 0) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
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
	const AVCodec *ec = avcodec_find_encoder(AV_CODEC_ID_AAC);
	AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
	int ret;

	if ((ret = sample_decoder(a->t, &a->dec)) < 0)
		return ret;
	if (!ec || !(a->enc = avcodec_alloc_context3(ec)))
		return -EIO;
	a->dec->pkt_timebase = (AVRational){ 1, PLAN_TIMEBASE };
	a->dec->thread_count = 1;
	if (avcodec_open2(a->dec, NULL, NULL) < 0)
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
	struct sample_reader rd;
	uint64_t bad;
	int ret;

	sample_reader_init(&rd, a->src);
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
		if ((ret = sample_read(&rd, t, s, pkt->data, &bad)) < 0) {
			if (ret == -EILSEQ)
				log_error("%s: audio segment %u: %s", a->in->path, a->seg, rd.damage);
			else
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
	sample_reader_release(&rd);
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
	if ((ret = source_open_as(in->path, in->id, &a.src, NULL, 0)) < 0 || !identity_equal(source_identity(a.src), in->id)) {
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
