/* Index blobs round-trip, and any damage (a flipped byte, a cut, another identity) is
 * refused rather than decoded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "index_blob.h"

static const uint8_t avcc[] = { 1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0x00, 0x1f, 1, 0, 2, 0x68, 0xee };

int main(void)
{
	struct source_identity id = { 1234567, 42, 7, 9, 0 }, other = id;
	struct media_index ix = { 0 }, *out;
	struct index_sample vs[3] = { { 0, -3000, 48, 1000, 3000, 0, 1, 6, 0 }, { 6000, 0, 1048, 200, 3000, 0, 0, 0, 0 },
				      { 3000, 3000, 1248, 100, 3000, 0, 2, 5, 0 } };
	uint8_t *blob;
	size_t size;
	char *err;

	ix.identity = id;
	ix.video.codec = INDEX_CODEC_H264;
	ix.video.extradata = (uint8_t *)avcc;
	ix.video.extradata_size = sizeof(avcc);
	ix.video.width = 640;
	ix.video.rotation = 270;
	ix.video.height = 360;
	ix.video.fps_num = 30;
	ix.video.fps_den = 1;
	memcpy(ix.video.language, "eng", 4);
	ix.video.nb_samples = 3;
	ix.video.samples = vs;
	ix.video.ts_pid = 0x100;
	ix.video.ts_stride = 192;
	ix.video.annexb = 1;
	ix.video.shown_late = 1;
	ix.note = "a note";
	struct index_cue cues[2] = { { 90000, 180000, 0, 5 }, { 200000, 300000, 5, 7 } };
	ix.nb_subtitles = 1;
	memcpy(ix.subtitles[0].language, "fr", 3);
	ix.subtitles[0].flags = INDEX_SUB_FORCED | INDEX_SUB_SIDECAR;
	index_title_clean("Signs \"&\" Songs", ix.subtitles[0].title);
	index_title_clean("Commentary", ix.video.title);
	ix.subtitles[0].nb_cues = 2;
	ix.subtitles[0].cues = cues;
	ix.subtitles[0].text = "Caf\xc3\xa9<i>x</i>";
	ix.subtitles[0].text_size = 12;
	ix.sidecar_tag = 0xfeedull;

	CHECK_EQ(index_blob_encode(&id, &ix, NULL, &blob, &size), 0);
	CHECK_EQ(index_blob_decode(blob, size, &id, &out, &err), 0);
	CHECK(out && !err);
	if (out) {
		CHECK_EQ(out->video.nb_samples, 3);
		CHECK(!memcmp(out->video.samples, vs, sizeof(vs)));
		CHECK_EQ(out->video.extradata_size, sizeof(avcc));
		CHECK(!memcmp(out->video.extradata, avcc, sizeof(avcc)));
		CHECK_EQ(out->video.height, 360);
		CHECK_EQ(out->video.rotation, 270);
		CHECK_EQ(out->video.ts_pid, 0x100);
		CHECK_EQ(out->video.ts_stride, 192);
		CHECK_EQ(out->video.annexb, 1);
		CHECK_EQ(out->video.shown_late, 1);
		CHECK_EQ(out->audio.shown_late, 0);
		CHECK(!strcmp(out->video.language, "eng"));
		CHECK(out->note && !strcmp(out->note, "a note"));
		CHECK_EQ(out->audio.codec, INDEX_CODEC_NONE);
		CHECK_EQ(out->nb_subtitles, 1);
		CHECK(!strcmp(out->subtitles[0].language, "fr"));
		CHECK_EQ(out->subtitles[0].flags, INDEX_SUB_FORCED | INDEX_SUB_SIDECAR);
		CHECK(!strcmp(out->subtitles[0].title, "Signs \xe2\x80\x99&\xe2\x80\x99 Songs"));
		CHECK(!strcmp(out->video.title, "Commentary"));
		CHECK(!strcmp(out->audio.title, ""));
		CHECK_EQ(out->subtitles[0].nb_cues, 2);
		CHECK(out->subtitles[0].cues && !memcmp(out->subtitles[0].cues, cues, sizeof(cues)));
		CHECK(out->subtitles[0].text && !memcmp(out->subtitles[0].text, "Caf\xc3\xa9<i>x</i>", 12));
		CHECK_EQ(out->sidecar_tag, 0xfeed);
		index_free(out);
	}
	other.mtime_ns++;
	CHECK_EQ(index_blob_decode(blob, size, &other, &out, &err), -ESTALE);
	/* A remote whose ETag changed keeps size and date but not its tag. */
	other = id;
	other.tag = 0x1234567890abcdefull;
	CHECK_EQ(index_blob_decode(blob, size, &other, &out, &err), -ESTALE);
	for (size_t i = 0; i < size; i++) {
		blob[i] ^= 0x40;
		CHECK(index_blob_decode(blob, size, &id, &out, &err) < 0);
		blob[i] ^= 0x40;
	}
	for (size_t n = 0; n < size; n++)
		CHECK(index_blob_decode(blob, n, &id, &out, &err) < 0);
	free(blob);

	CHECK_EQ(index_blob_encode(&id, NULL, "it has no video track.", &blob, &size), 0);
	CHECK_EQ(index_blob_decode(blob, size, &id, &out, &err), 0);
	CHECK(!out && err && !strcmp(err, "it has no video track."));
	free(err);
	free(blob);
	return check_report("index_blob");
}
