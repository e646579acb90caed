/* Playlist writers. Every number comes from the plan, so the text (and its size, which stat
 * reports) is the same on every machine for the same source and configuration. */
#include "playlist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "naming.h"
#include "strbuf.h"

int playlist_media(const struct plan *p, char **text, size_t *len)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%" PRIu32 "\n"
			   "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n",
		      p->target_duration);
	for (uint32_t i = 0; i < p->nb_segments; i++) {
		char name[NAMING_MAX];
		uint64_t ms = plan_segment_ms(p, i);
		naming_segment(i, name);
		strbuf_printf(&sb, "#EXTINF:%" PRIu64 ".%03" PRIu64 ",\n%s\n", ms / 1000, ms % 1000, name);
	}
	strbuf_printf(&sb, "#EXT-X-ENDLIST\n");
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}

int playlist_codecs(const struct media_index *ix, char *out, size_t size)
{
	struct avc_config avc;
	struct aac_config aac;
	int n;

	out[0] = '\0';
	if (codec_avc_parse(ix->video.extradata, ix->video.extradata_size, &avc) < 0)
		return -EINVAL;
	codec_avc_release(&avc);
	n = snprintf(out, size, "avc1.%02x%02x%02x", avc.profile, avc.compat, avc.level);
	if (ix->audio.codec == INDEX_CODEC_AAC) {
		if (codec_aac_parse(ix->audio.extradata, ix->audio.extradata_size, &aac) < 0) {
			out[0] = '\0';
			return -EINVAL;
		}
		n += snprintf(out + n, size - (size_t)n, ",mp4a.40.%u", aac.object_type);
	} else if (ix->audio.codec == INDEX_CODEC_MP3) {
		n += snprintf(out + n, size - (size_t)n, ",mp4a.40.34");
	}
	if (n < 0 || (size_t)n >= size) {
		out[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

int playlist_master(const struct media_index *ix, const struct plan *p, const char *variant_uri,
		    char **text, size_t *len)
{
	const struct index_track *v = &ix->video;
	struct strbuf sb;
	char codecs[64];

	strbuf_init(&sb);
	strbuf_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
	strbuf_printf(&sb, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64 ",AVERAGE-BANDWIDTH=%" PRIu64,
		      p->peak_bps, p->average_bps);
	if (playlist_codecs(ix, codecs, sizeof(codecs)) == 0)
		strbuf_printf(&sb, ",CODECS=\"%s\"", codecs);
	strbuf_printf(&sb, ",RESOLUTION=%ux%u", v->width, v->height);
	if (v->fps_num && v->fps_den) {
		uint64_t milli = ((uint64_t)v->fps_num * 1000 + v->fps_den / 2) / v->fps_den;
		strbuf_printf(&sb, ",FRAME-RATE=%" PRIu64 ".%03" PRIu64, milli / 1000, milli % 1000);
	}
	strbuf_printf(&sb, "\n%s\n", variant_uri);
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}
