/* Writes segment bytes from the layout: PAT, PMT, and each PES built from source samples
 * (H.264 to Annex B with AUD and parameter sets, AAC behind ADTS headers), split into packets.
 * The last built unit is kept, since the kernel reads in 128 KiB pieces and a large keyframe
 * spans several of them. */
#include "synth.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "sampleio.h"
#include "source.h"
#include "tsmux.h"

struct synth {
	pthread_mutex_t lock;
	struct synth_input in;    /* borrowed: the caller keeps its media referenced */
	struct source *src;
	struct plan_layout *layout;
	struct aac_config aac;
	struct avc_config avc;    /* parameter sets put before keyframes */
	uint64_t size;
	uint8_t *pes, *sample;    /* scratch: PES bytes, one raw video sample */
	size_t pes_cap, sample_cap;
	uint8_t *unit;            /* packets of the cached unit */
	size_t unit_cap;
	int64_t unit_index;       /* which unit is in unit[], -1 for none */
	int failed;               /* a read error was logged for this open */
	const struct synth_encoded *enc;  /* transcoded: the encoded video frames */
	struct sample_reader rd;  /* sample bytes: a range, or MPEG-TS packets put together */
};

static int reserve(uint8_t **p, size_t *cap, size_t n)
{
	uint8_t *q;
	if (n <= *cap)
		return 0;
	q = realloc(*p, n);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

int synth_open(const struct synth_input *in, uint32_t seg, struct synth **out)
{
	struct synth *s;
	char why[512];
	int ret;

	*out = NULL;
	if (seg >= in->plan->nb_segments)
		return -ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->unit_index = -1;
	s->in = *in;
	if ((ret = source_open_as(in->path, in->id, &s->src, why, sizeof(why))) < 0) {
		log_error("%s: cannot open the source for segment %u: %s", in->path, seg, why[0] ? why : strerror(-ret));
		ret = -EIO;
		goto fail;
	}
	sample_reader_init(&s->rd, s->src);
	if (!identity_equal(source_identity(s->src), in->id)) {
		log_error("%s: the source changed since it was indexed; not serving segment %u", in->path, seg);
		ret = -EIO;
		goto fail;
	}
	if (in->ix->audio.codec == INDEX_CODEC_AAC &&
	    codec_aac_parse(in->ix->audio.extradata, in->ix->audio.extradata_size, &s->aac) < 0) {
		ret = -EIO;  /* the indexer checked this; reaching here is a bug */
		goto fail;
	}
	if (codec_avc_parse(in->ix->video.extradata, in->ix->video.extradata_size, &s->avc) < 0 ||
	    s->avc.ps_size != in->plan->ps_size) {
		ret = -EIO;
		goto fail;
	}
	{
		/* The last byte this segment reads: remote read-ahead stops there. */
		const struct plan_segment *ps = &in->plan->segments[seg];
		uint64_t end = 0;
		for (uint32_t i = ps->v_first; i < ps->v_first + ps->v_count; i++)
			if (sample_end(&in->ix->video, &in->ix->video.samples[i]) > end)
				end = sample_end(&in->ix->video, &in->ix->video.samples[i]);
		for (uint32_t i = ps->a_first; i < ps->a_first + ps->a_count; i++)
			if (sample_end(&in->ix->audio, &in->ix->audio.samples[i]) > end)
				end = sample_end(&in->ix->audio, &in->ix->audio.samples[i]);
		source_will_read(s->src, end);
	}
	if ((ret = plan_layout(in->plan, in->ix, seg, &s->layout)) < 0) {
		if (ret == -EIO)
			log_error("%s: segment %u: layout disagrees with the plan; not served", in->path, seg);
		goto fail;
	}
	s->size = in->plan->segments[seg].size;
	*out = s;
	return 0;
fail:
	synth_close(s);
	return ret;
}

void synth_close(struct synth *s)
{
	if (!s)
		return;
	sample_reader_release(&s->rd);
	source_close(s->src);
	free(s->layout);
	codec_avc_release(&s->avc);
	free(s->pes);
	free(s->sample);
	free(s->unit);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint64_t synth_size(const struct synth *s)
{
	return s->size;
}

static int read_failed(struct synth *s, const struct plan_unit *u, int err)
{
	if (!s->failed && err == -EILSEQ) {
		s->failed = 1;
		log_error("%s: segment %u: %s; not served", s->in.path, s->layout ? s->layout->segment : 0,
			  s->rd.damage);
	} else if (!s->failed) {
		s->failed = 1;
		log_error("%s: segment %u: reading source bytes failed (%s); the file was truncated, replaced or is unreadable",
			  s->in.path, s->layout ? s->layout->segment : 0, source_strerror(s->src, err));
	}
	(void)u;
	return -EIO;
}

/* Builds the PES of an encoded video frame (transcoded rung; PTS = DTS). */
static ssize_t build_encoded(struct synth *s, const struct plan_unit *u)
{
	const struct synth_frame *f = &s->enc->frames[u->first];
	size_t pos;

	if (reserve(&s->pes, &s->pes_cap, tsmux_pes_header_size(false) + f->size) < 0)
		return -ENOMEM;
	pos = tsmux_pes_header(TS_STREAM_ID_VIDEO, (uint64_t)(f->pts + s->in.plan->ts_offset), false, 0, f->size, s->pes);
	memcpy(s->pes + pos, f->data, f->size);
	return (ssize_t)(pos + f->size);
}

/* Builds the PES of a video unit into s->pes; returns its size or a negative errno. */
static ssize_t build_video(struct synth *s, const struct plan_unit *u)
{
	const struct plan *p = s->in.plan;
	const struct index_sample *smp = &s->in.ix->video.samples[u->first];
	bool with_dts = smp->pts != smp->dts;
	size_t hsize = tsmux_pes_header_size(with_dts), pos;
	uint64_t annexb = p->annexb ? smp->size : codec_avc_annexb_size(smp->size, smp->nals, p->nal_length_size);
	uint64_t bad;
	int ret;

	if (reserve(&s->pes, &s->pes_cap, hsize + u->payload) < 0 ||
	    reserve(&s->sample, &s->sample_cap, smp->size) < 0)
		return -ENOMEM;
	pos = tsmux_pes_header(TS_STREAM_ID_VIDEO, (uint64_t)(smp->pts + p->ts_offset), with_dts,
			       (uint64_t)(smp->dts + p->ts_offset), u->payload, s->pes);
	codec_avc_aud(s->pes + pos);
	pos += CODEC_AUD_SIZE;
	if ((smp->flags & INDEX_SAMPLE_KEY) && s->avc.ps_size && !(p->annexb && (smp->flags & INDEX_SAMPLE_PS))) {
		memcpy(s->pes + pos, s->avc.ps, s->avc.ps_size);
		pos += s->avc.ps_size;
	}
	if (p->annexb) {  /* start codes already: copied as they are */
		if ((ret = sample_read(&s->rd, &s->in.ix->video, smp, s->pes + pos, &bad)) < 0)
			return read_failed(s, u, ret);
		pos += annexb;
		return (ssize_t)pos;
	}
	if ((ret = sample_read(&s->rd, &s->in.ix->video, smp, s->sample, &bad)) < 0)
		return read_failed(s, u, ret);
	codec_avc_to_annexb(s->sample, smp->size, p->nal_length_size, s->pes + pos, annexb);
	pos += annexb;
	return (ssize_t)pos;
}

/* Builds the PES of an audio unit into s->pes: frames of track t (or of the encoded frames
 * enc, when given), each behind an ADTS header when adts. */
static ssize_t build_audio_from(struct synth *s, const struct plan_unit *u, const struct index_track *t,
				const struct aac_config *aac, bool adts, const struct synth_encoded *enc, int64_t pts)
{
	size_t pos;
	uint64_t bad;
	int ret;

	if (reserve(&s->pes, &s->pes_cap, tsmux_pes_header_size(false) + u->payload) < 0)
		return -ENOMEM;
	pos = tsmux_pes_header(TS_STREAM_ID_AUDIO, (uint64_t)(pts + s->in.plan->ts_offset), false, 0, u->payload, s->pes);
	if (pos == 0)
		return -EIO;
	for (uint32_t i = 0; i < u->count; i++) {
		uint64_t size = enc ? enc->frames[u->first + i].size : t->samples[u->first + i].size;
		if (adts) {
			codec_adts_header(aac, (size_t)size, s->pes + pos);
			pos += CODEC_ADTS_SIZE;
		}
		if (enc)
			memcpy(s->pes + pos, enc->frames[u->first + i].data, (size_t)size);
		else if ((ret = sample_read(&s->rd, t, &t->samples[u->first + i], s->pes + pos, &bad)) < 0)
			return read_failed(s, u, ret);
		pos += (size_t)size;
	}
	return (ssize_t)pos;
}

/* Builds the PES of a unit of the muxed audio. */
static ssize_t build_audio(struct synth *s, const struct plan_unit *u)
{
	const struct index_track *a = &s->in.ix->audio;
	return build_audio_from(s, u, a, &s->aac, s->in.plan->adts_size != 0, NULL, a->samples[u->first].pts);
}

/* Puts the packets of unit i into s->unit. */
static int build_unit(struct synth *s, uint32_t i)
{
	const struct plan_unit *u = &s->layout->units[i];
	const struct plan *p = s->in.plan;
	struct ts_pes_out o = { 0 };
	ssize_t n = 0;

	if (s->unit_index == (int64_t)i)
		return 0;
	s->unit_index = -1;
	if (reserve(&s->unit, &s->unit_cap, u->packets * TS_PACKET_SIZE) < 0)
		return -ENOMEM;
	switch (u->kind) {
	case PLAN_UNIT_PAT:
		tsmux_pat(u->cc, s->unit);
		break;
	case PLAN_UNIT_PMT:
		tsmux_pmt(&p->program, u->cc, s->unit);
		break;
	case PLAN_UNIT_VIDEO: {
		int64_t dts;
		bool key;
		if (s->enc) {
			dts = s->enc->frames[u->first].pts;
			key = s->enc->frames[u->first].key;
			n = build_encoded(s, u);
		} else {
			dts = s->in.ix->video.samples[u->first].dts;
			key = (s->in.ix->video.samples[u->first].flags & INDEX_SAMPLE_KEY) != 0;
			n = build_video(s, u);
		}
		if (n < 0)
			return (int)n;
		o.pid = TS_PID_VIDEO;
		o.pcr = true;
		o.pcr_value = (uint64_t)(dts + p->ts_offset - PLAN_PCR_LEAD) * 300;
		o.random_access = key;
		break;
	}
	case PLAN_UNIT_PCR:
		/* the counter of the video PID's previous packet: this one carries no payload */
		tsmux_pcr_packet(TS_PID_VIDEO, (u->cc + 15) & 15, (uint64_t)(u->pcr + p->ts_offset - PLAN_PCR_LEAD) * 300,
				 s->unit);
		break;
	case PLAN_UNIT_AUDIO:
		if ((n = build_audio(s, u)) < 0)
			return (int)n;
		o.pid = TS_PID_AUDIO;
		break;
	default:
		return -EIO;
	}
	if (u->kind == PLAN_UNIT_VIDEO || u->kind == PLAN_UNIT_AUDIO) {
		uint64_t min = tsmux_packets((uint64_t)n, o.pcr);
		/* Never send bytes the plan did not promise: passthrough units take exactly the
		 * planned packets; transcoded video may be spread over more (up to one per byte). */
		if (s->enc ? (u->packets < min || u->packets > (uint64_t)n) : min != u->packets)
			return -EIO;
		o.cc = u->cc;
		tsmux_packetize(&o, s->pes, (size_t)n, u->packets, s->unit);
	}
	s->unit_index = i;
	return 0;
}

ssize_t synth_read(struct synth *s, char *buf, size_t size, uint64_t off)
{
	size_t done = 0;
	int ret = 0;

	if (off >= s->size)
		return 0;
	if (size > s->size - off)
		size = (size_t)(s->size - off);
	pthread_mutex_lock(&s->lock);
	while (done < size) {
		uint64_t at = off + done;
		uint32_t i = plan_layout_find(s->layout, at);
		const struct plan_unit *u = &s->layout->units[i];
		uint64_t in = at - u->offset, avail = u->packets * TS_PACKET_SIZE - in;
		size_t n = size - done < avail ? size - done : (size_t)avail;

		if ((ret = build_unit(s, i)) < 0)
			break;
		memcpy(buf + done, s->unit + in, n);
		done += n;
	}
	pthread_mutex_unlock(&s->lock);
	if (ret < 0)
		return ret == -ENOMEM ? -ENOMEM : -EIO;
	return (ssize_t)done;
}

int synth_write_encoded(const struct synth_input *in, struct source *src, const struct plan_layout *l,
			const struct synth_encoded *enc, uint8_t *out)
{
	struct synth s = { .in = *in, .src = src, .layout = (struct plan_layout *)l, .enc = enc, .unit_index = -1 };
	uint64_t off = 0;
	int ret = 0;

	sample_reader_init(&s.rd, src);
	if (in->ix->audio.codec == INDEX_CODEC_AAC &&
	    codec_aac_parse(in->ix->audio.extradata, in->ix->audio.extradata_size, &s.aac) < 0)
		return -EIO;
	for (uint32_t i = 0; i < l->nb_units; i++) {
		const struct plan_unit *u = &l->units[i];
		if ((ret = build_unit(&s, i)) < 0)
			break;
		memcpy(out + off, s.unit, u->packets * TS_PACKET_SIZE);
		off += u->packets * TS_PACKET_SIZE;
	}
	free(s.pes);
	free(s.sample);
	free(s.unit);
	sample_reader_release(&s.rd);
	return ret;
}

int synth_write_rendition(const struct synth_input *in, struct source *src, const struct plan_layout *l, unsigned rn,
			  const struct synth_encoded *enc, const struct aac_config *aac, uint8_t *out)
{
	const struct plan *p = in->plan;
	struct synth s = { .in = *in, .src = src, .unit_index = -1 };
	uint64_t off = 0;
	int ret = 0;

	sample_reader_init(&s.rd, src);
	for (uint32_t i = 0; i < l->nb_units && ret == 0; i++) {
		const struct plan_unit *u = &l->units[i];
		struct ts_pes_out o = { .pid = TS_PID_AUDIO, .cc = u->cc, .pcr = true, .random_access = true };
		ssize_t n;

		if (u->kind == PLAN_UNIT_PAT) {
			tsmux_pat(u->cc, out + off);
		} else if (u->kind == PLAN_UNIT_PMT) {
			tsmux_pmt(&p->audio_program, u->cc, out + off);
		} else if ((n = build_audio_from(&s, u, &in->ix->renditions[rn], aac, true, enc, u->pcr)) < 0) {
			ret = (int)n;
		} else if (u->packets < tsmux_packets((uint64_t)n, true) || u->packets > (uint64_t)n) {
			ret = -EIO;  /* never send bytes the plan did not promise */
		} else {
			o.pcr_value = (uint64_t)(u->pcr + p->ts_offset - PLAN_PCR_LEAD) * 300;
			tsmux_packetize(&o, s.pes, (size_t)n, u->packets, out + off);
		}
		off += u->packets * TS_PACKET_SIZE;
	}
	free(s.pes);
	free(s.sample);
	free(s.unit);
	sample_reader_release(&s.rd);
	return ret;
}
