/* Poster frames, and the check that a video decodes. A keyframe decodes on its own, so either
 * costs one sample read and one decode (tens of milliseconds at 1080p), the poster one JPEG
 * encode more. */
#include "poster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>

#include "codec.h"
#include "colour.h"
#include "rotate.h"
#include "tonemap.h"
#include "sampleio.h"

int poster_jpeg(const AVFrame *pic, int qscale, uint8_t **jpeg, size_t *size)
{
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *enc = NULL;
	AVPacket *pkt = NULL;
	int ret = -EIO;

	*jpeg = NULL;
	*size = 0;
	if (!codec || !(enc = avcodec_alloc_context3(codec)) || !(pkt = av_packet_alloc()))
		goto out;
	enc->width = pic->width;
	enc->height = pic->height;
	enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
	enc->time_base = (AVRational){ 1, 25 };
	enc->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
	enc->global_quality = FF_QP2LAMBDA * qscale;
	enc->thread_count = 1;
	if (avcodec_open2(enc, codec, NULL) < 0 || avcodec_send_frame(enc, pic) < 0 ||
	    avcodec_send_frame(enc, NULL) < 0 || avcodec_receive_packet(enc, pkt) < 0)
		goto out;
	if (!(*jpeg = malloc((size_t)pkt->size))) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(*jpeg, pkt->data, (size_t)pkt->size);
	*size = (size_t)pkt->size;
	ret = 0;
out:
	av_packet_free(&pkt);
	avcodec_free_context(&enc);
	return ret;
}

/* A YUVJ420P picture of w x h, or NULL. */
static AVFrame *picture(int w, int h)
{
	AVFrame *f = av_frame_alloc();

	if (!f)
		return NULL;
	f->format = AV_PIX_FMT_YUVJ420P;
	f->width = w;
	f->height = h;
	if (av_frame_get_buffer(f, 0) < 0)
		av_frame_free(&f);
	return f;
}

AVFrame *poster_sdr(const AVFrame *pic, int w, int h)
{
	const struct tonemap *t;
	struct SwsContext *sws;
	AVFrame *ten = NULL, *out = NULL;

	if ((pic->color_trc != AVCOL_TRC_SMPTE2084 && pic->color_trc != AVCOL_TRC_ARIB_STD_B67) || w < 2 || h < 2 ||
	    (w | h) & 1 ||
	    !(t = tonemap_shared(pic->color_trc == AVCOL_TRC_SMPTE2084 ? TONEMAP_PQ : TONEMAP_HLG,
				 pic->color_range == AVCOL_RANGE_JPEG)))
		return NULL;
	if (!(ten = av_frame_alloc()) || !(out = av_frame_alloc()))
		goto fail;
	ten->format = AV_PIX_FMT_YUV420P10;
	out->format = AV_PIX_FMT_YUV420P;
	ten->width = out->width = w;
	ten->height = out->height = h;
	if (av_frame_get_buffer(ten, 0) < 0 || av_frame_get_buffer(out, 0) < 0)
		goto fail;
	if (!(sws = sws_getContext(pic->width, pic->height, pic->format, w, h, AV_PIX_FMT_YUV420P10,
				   SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL)))
		goto fail;
	sws_scale(sws, (const uint8_t *const *)pic->data, pic->linesize, 0, pic->height, ten->data, ten->linesize);
	sws_freeContext(sws);
	tonemap_yuv420(t, out->data, out->linesize, (const uint8_t *const *)ten->data, ten->linesize, (unsigned)w,
		       (unsigned)h);
	out->color_range = AVCOL_RANGE_MPEG;
	out->colorspace = AVCOL_SPC_BT709;  /* what tonemap.c makes */
	out->sample_aspect_ratio = pic->sample_aspect_ratio;
	av_frame_free(&ten);
	return out;
fail:
	av_frame_free(&ten);
	av_frame_free(&out);
	return NULL;
}

/* Encodes in, scaled to w x h after turning it clockwise by rot degrees, as a JPEG. */
static int encode_jpeg(const AVFrame *pic, unsigned w, unsigned h, unsigned rot, uint8_t **jpeg, size_t *size)
{
	bool turned = rotate_swaps(rot);
	int sw = (int)(turned ? h : w), sh = (int)(turned ? w : h);
	AVFrame *sdr = poster_sdr(pic, sw, sh);
	const AVFrame *in = sdr ? sdr : pic;
	AVFrame *upright = NULL, *f = NULL;
	struct colour_scaler sc = { 0 };
	struct SwsContext *sws;
	int ret = -ENOMEM;

	if (!(f = picture((int)w, (int)h)) || (rot && !(upright = picture(sw, sh))))
		goto out;
	ret = -EIO;
	/* A JPEG is BT.601 full range (JFIF): its viewers take it as that. */
	if (!(sws = colour_scaler(&sc, in, sw, sh, AV_PIX_FMT_YUVJ420P, SWS_CS_ITU601, true)))
		goto out;
	if (rot) {
		sws_scale(sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, upright->data,
			  upright->linesize);
		rotate_yuv420(f->data, f->linesize, (const uint8_t *const *)upright->data, upright->linesize,
			      (unsigned)sw, (unsigned)sh, rot);
	} else {
		sws_scale(sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, f->data, f->linesize);
	}
	f->pts = 0;
	ret = poster_jpeg(f, 3, jpeg, size);
out:
	av_frame_free(&sdr);
	av_frame_free(&f);
	av_frame_free(&upright);
	colour_scaler_free(&sc);
	return ret;
}

/* Reads sample k of v into buf (its size). Returns 0, -ENODATA when its bytes are damaged, another
 * negative errno when it cannot be read. */
static int read_key(struct source *src, const struct index_track *v, uint32_t k, uint8_t *buf)
{
	struct sample_reader rd;
	uint64_t bad;
	int ret;

	sample_reader_init(&rd, src);
	ret = sample_read(&rd, v, &v->samples[k], buf, &bad);
	sample_reader_release(&rd);
	return ret == -EILSEQ ? -ENODATA : ret;  /* a damaged frame: no picture from it */
}

/* Decodes sample k of v, a keyframe, into frame. Returns 0, -ENODATA when it does not decode
 * (or its bytes are damaged), another negative errno when it cannot be read, -ENOMEM. With
 * headers_only, nothing is decoded past the headers (skip_frame): frame gets only the width,
 * height and sample aspect ratio the decoder read from them, and -EAGAIN means it read not all
 * three (H.264 gives the aspect ratio only with a decoded picture). */
static int decode_key(struct source *src, const struct index_track *v, uint32_t k, bool headers_only, AVFrame *frame)
{
	AVCodecContext *dec = NULL;
	AVPacket *pkt = NULL;
	int ret;

	if ((ret = sample_decoder(v, &dec)) < 0)
		goto out;
	if (!(pkt = av_packet_alloc())) {
		ret = -ENOMEM;
		goto out;
	}
	dec->thread_count = 1;  /* the picture size comes from the bitstream */
	if (headers_only)
		dec->skip_frame = AVDISCARD_ALL;
	if (avcodec_open2(dec, NULL, NULL) < 0 || av_new_packet(pkt, (int)v->samples[k].size) < 0) {
		ret = -ENODATA;
		goto out;
	}
	if ((ret = read_key(src, v, k, pkt->data)) < 0)
		goto out;
	ret = -ENODATA;  /* from here on, a failure is the video's, not the disk's */
	pkt->flags = AV_PKT_FLAG_KEY;
	pkt->pts = pkt->dts = v->samples[k].pts;
	if (headers_only) {
		if (avcodec_send_packet(dec, pkt) < 0)
			goto out;
		frame->width = dec->width;
		frame->height = dec->height;
		frame->sample_aspect_ratio = dec->sample_aspect_ratio;
		ret = dec->width > 0 && dec->height > 0 && dec->sample_aspect_ratio.num > 0 &&
		      dec->sample_aspect_ratio.den > 0 ? 0 : -EAGAIN;
		goto out;
	}
	if (avcodec_send_packet(dec, pkt) < 0 || avcodec_send_packet(dec, NULL) < 0 ||
	    avcodec_receive_frame(dec, frame) < 0)
		goto out;
	ret = 0;
out:
	av_packet_free(&pkt);
	avcodec_free_context(&dec);
	return ret;
}

/* The first keyframe of v, or v->nb_samples when it has none. */
static uint32_t first_key(const struct index_track *v)
{
	uint32_t k = 0;
	while (k < v->nb_samples && !(v->samples[k].flags & INDEX_SAMPLE_KEY))
		k++;
	return k;
}

/* The picture of an H.264 track from its first SPS, as decode_key's headers_only gives it,
 * once its first keyframe k is seen to be one (codec_avc_key_slice). Returns 0, -EINVAL when the
 * SPS does not parse (the decoder is asked then), -ENODATA when the keyframe is not one, another
 * negative errno when it cannot be read. */
static int avc_facts(struct source *src, const struct index_track *v, uint32_t k, AVFrame *frame)
{
	struct avc_config avc;
	struct avc_picture pic;
	unsigned lsize;
	int ret;

	if (codec_avc_parse(v->extradata, v->extradata_size, &avc) < 0)
		return -EINVAL;
	ret = codec_avc_picture(avc.ps, avc.ps_size, &pic);
	lsize = v->annexb ? 0 : avc.nal_length_size;
	codec_avc_release(&avc);
	if (ret < 0)
		return ret;
	{
		uint8_t *key = malloc(v->samples[k].size ? v->samples[k].size : 1);
		if (!key)
			return -ENOMEM;
		if ((ret = read_key(src, v, k, key)) == 0 && codec_avc_key_slice(key, v->samples[k].size, lsize) < 0)
			ret = -ENODATA;
		free(key);
		if (ret < 0)
			return ret;
	}
	frame->width = (int)pic.width;
	frame->height = (int)pic.height;
	/* No aspect ratio in the SPS: square, as a decoder shows it. */
	frame->sample_aspect_ratio = pic.sar_num ? (AVRational){ (int)pic.sar_num, (int)pic.sar_den } : (AVRational){ 1, 1 };
	return 0;
}

int poster_probe(struct source *src, struct media_index *ix)
{
	struct index_track *v = &ix->video;
	uint32_t k = first_key(v);
	AVFrame *frame;
	int ret;

	if (k == v->nb_samples)
		return -EIO;
	if (!(frame = av_frame_alloc()))
		return -ENOMEM;
	/* H.264: its SPS tells the picture. Otherwise the headers alone when the decoder tells all
	 * from them (HEVC: a 4K keyframe's decode is a fifth of a second); the keyframe otherwise. */
	if (v->codec != INDEX_CODEC_H264 || (ret = avc_facts(src, v, k, frame)) == -EINVAL) {
		if ((ret = decode_key(src, v, k, true, frame)) == -EAGAIN)
			ret = decode_key(src, v, k, false, frame);
	}
	if (ret == 0) {
		/* The bitstream's picture size is the truth; the sample entry's may be missing or wrong. */
		v->width = (unsigned)frame->width;
		v->height = (unsigned)frame->height;
		if (!v->sar_num && frame->sample_aspect_ratio.num > 0 && frame->sample_aspect_ratio.den > 0 &&
		    frame->sample_aspect_ratio.num != frame->sample_aspect_ratio.den) {
			v->sar_num = (unsigned)frame->sample_aspect_ratio.num;
			v->sar_den = (unsigned)frame->sample_aspect_ratio.den;
		}
	}
	av_frame_free(&frame);
	return ret;
}

int poster_make(struct source *src, const struct media_index *ix, uint8_t **jpeg, size_t *size)
{
	const struct index_track *v = &ix->video;
	AVFrame *frame = NULL;
	uint32_t k = first_key(v);
	uint64_t dw, dh;
	int64_t target;
	int ret;

	*jpeg = NULL;
	*size = 0;
	if (k == v->nb_samples)
		return -ENODATA;
	/* The last keyframe at or before 10% of the way through (the first one if none), of those an
	 * edit list shows: a trimmed copy's first keyframe lies before its cut (then the first shown
	 * one, when there is one). */
	target = v->samples[0].pts + (v->samples[v->nb_samples - 1].pts - v->samples[0].pts) / 10;
	{
		uint32_t best = v->nb_samples, shown = v->nb_samples;
		for (uint32_t i = k; i < v->nb_samples; i++) {
			if (!(v->samples[i].flags & INDEX_SAMPLE_KEY) || (v->samples[i].flags & INDEX_SAMPLE_HIDDEN))
				continue;
			if (shown == v->nb_samples)
				shown = i;
			if (v->samples[i].pts <= target)
				best = i;
		}
		k = best < v->nb_samples ? best : shown < v->nb_samples ? shown : k;
	}
	if (!(frame = av_frame_alloc()))
		return -ENOMEM;
	/* That keyframe, or the first one (which indexing checked) when it does not decode. */
	if ((ret = decode_key(src, v, k, false, frame)) == -ENODATA && k != first_key(v))
		ret = decode_key(src, v, first_key(v), false, frame);
	if (ret < 0)
		goto out;
	/* Display size: the sample aspect ratio applied, turned as the container asks, then fitted
	 * to the width bound, even. */
	dw = (uint64_t)frame->width * (v->sar_num ? v->sar_num : 1) / (v->sar_den ? v->sar_den : 1);
	dh = (uint64_t)frame->height;
	if (rotate_swaps(v->rotation)) {
		uint64_t t = dw;
		dw = dh;
		dh = t;
	}
	if (dw > POSTER_MAX_WIDTH) {
		dh = dh * POSTER_MAX_WIDTH / dw;
		dw = POSTER_MAX_WIDTH;
	}
	dw = (dw + 1) & ~1ull;
	dh = (dh + 1) & ~1ull;
	ret = -ENODATA;
	if (dw < 2 || dh < 2)
		goto out;
	ret = encode_jpeg(frame, (unsigned)dw, (unsigned)dh, v->rotation, jpeg, size);
out:
	av_frame_free(&frame);
	return ret;
}
