/* avcC and AudioSpecificConfig parsing, Annex B conversion for every NAL length size, and the
 * ADTS header fields. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec.h"

static void test_avcc(void)
{
	/* High@3.1, 4-byte lengths, one SPS (4 bytes), one PPS (2 bytes) */
	const uint8_t avcc[] = { 1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0x00, 0x1f, 1, 0, 2, 0x68, 0xee };
	struct avc_config c;

	CHECK_EQ(codec_avc_parse(avcc, sizeof(avcc), &c), 0);
	CHECK_EQ(c.nal_length_size, 4);
	CHECK_EQ(c.profile, 0x64);
	CHECK_EQ(c.level, 0x1f);
	CHECK_EQ(c.ps_size, 8 + 6);
	CHECK(!memcmp(c.ps, "\0\0\0\1\x67\x64\x00\x1f\0\0\0\1\x68\xee", 14));
	codec_avc_release(&c);
	/* every truncation is rejected, never read past */
	for (size_t n = 0; n < sizeof(avcc); n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, avcc, n);
		CHECK(codec_avc_parse(copy, n, &c) < 0);
		free(copy);
	}
	{
		uint8_t bad[sizeof(avcc)];
		memcpy(bad, avcc, sizeof(avcc));
		bad[4] = 0xfe;  /* 3-byte lengths are not allowed */
		CHECK_EQ(codec_avc_parse(bad, sizeof(bad), &c), -EINVAL);
	}
}

static void test_annexb(unsigned lsize)
{
	/* two NAL units: a 3-byte slice and a 2-byte AUD that must become filler */
	uint8_t in[32], out[64];
	size_t n = 0;
	const uint8_t nal1[] = { 0x65, 0x88, 0x84 }, nal2[] = { 0x09, 0xf0 };
	const uint8_t *nals[] = { nal1, nal2 };
	size_t lens[] = { 3, 2 };

	for (int k = 0; k < 2; k++) {
		for (unsigned b = 0; b < lsize; b++)
			in[n++] = (uint8_t)(lens[k] >> (8 * (lsize - 1 - b)));
		memcpy(in + n, nals[k], lens[k]);
		n += lens[k];
	}
	CHECK_EQ(codec_avc_count_nals(in, n, lsize), 2);
	CHECK_EQ(codec_avc_annexb_size((uint32_t)n, 2, lsize), 4 + 3 + 4 + 2);
	CHECK_EQ(codec_avc_to_annexb(in, n, lsize, out, 13), 0);
	CHECK(!memcmp(out, "\0\0\0\1\x65\x88\x84\0\0\0\1\x0c\x80", 13));
	/* a damaged sample keeps the promised size */
	in[lsize - 1] = 200;
	CHECK_EQ(codec_avc_count_nals(in, n, lsize), -EINVAL);
	memset(out, 0xa5, sizeof(out));
	CHECK_EQ(codec_avc_to_annexb(in, n, lsize, out, 13), -EINVAL);
	CHECK_EQ(out[13], 0xa5);
}

static void test_aac(void)
{
	struct aac_config c;
	uint8_t h[7];
	const uint8_t lc[] = { 0x12, 0x10 };              /* LC, 44100, stereo */
	const uint8_t he[] = { 0x2b, 0x92, 0x08, 0x00 };  /* HE-AAC: SBR 22050->44100? core LC */
	const uint8_t ch0[] = { 0x12, 0x00 };             /* channel config 0 (PCE) */

	CHECK_EQ(codec_aac_parse(lc, sizeof(lc), &c), 0);
	CHECK_EQ(c.object_type, 2);
	CHECK_EQ(c.core_object_type, 2);
	CHECK_EQ(c.freq_index, 4);
	CHECK_EQ(c.channels, 2);
	codec_adts_header(&c, 100, h);
	CHECK_EQ(h[0], 0xff);
	CHECK_EQ(h[1], 0xf1);
	CHECK_EQ(h[2] >> 6, 1);            /* profile = LC - 1 */
	CHECK_EQ(h[2] >> 2 & 15, 4);
	CHECK_EQ(((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5), 107);
	CHECK_EQ(codec_aac_parse(he, sizeof(he), &c), 0);
	CHECK_EQ(c.object_type, 5);
	CHECK_EQ(c.core_object_type, 2);
	CHECK_EQ(codec_aac_parse(ch0, sizeof(ch0), &c), -ENOTSUP);
	CHECK(codec_aac_parse(lc, 1, &c) < 0);
}

/* Annex B parameter sets as FFmpeg gives H.264's extradata from MPEG-TS: SPS then PPS behind
 * 4-byte start codes whatever the source used, zeros at a NAL's end and other NALs dropped. */
static void test_annexb_config(void)
{
	static const uint8_t ab[] = { 0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0,
				      0, 0, 0, 1, 0x06, 0x05, 0x01 };
	static const uint8_t ps[] = { 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80 };
	static const uint8_t no_sps[] = { 0, 0, 1, 0x68, 0xee, 0x3c, 0x80 };
	struct avc_config c;

	CHECK_EQ(codec_avc_parse(ab, sizeof(ab), &c), 0);
	CHECK_EQ(c.profile, 0x64);
	CHECK_EQ(c.level, 0x1f);
	CHECK_EQ(c.nal_length_size, 4);
	CHECK_EQ(c.ps_size, sizeof(ps));
	CHECK(c.ps && !memcmp(c.ps, ps, sizeof(ps)));
	codec_avc_release(&c);
	CHECK_EQ(codec_avc_parse(no_sps, sizeof(no_sps), &c), -EINVAL);
}

static void test_mpeg4_vops(void)
{
	/* A VOL header, a packed P + B (the P's payload long enough to be coded), then an N-VOP. */
	static const uint8_t packed[] = { 0, 0, 1, 0x20, 0x08, 0xc8,
					  0, 0, 1, 0xb6, 0x50, 1, 2, 3, 4, 5, 6, 7,
					  0, 0, 1, 0xb6, 0x90, 9, 8, 7, 6, 5, 4, 3, 2 };
	static const uint8_t nvop[] = { 0, 0, 1, 0xb6, 0x50, 0x0a, 0x60 };
	static const uint8_t intra[] = { 0, 0, 1, 0xb6, 0x10, 1, 2, 3, 4, 5 };
	char t[4];

	CHECK_EQ(codec_mpeg4_vops(packed, sizeof(packed), t, 4), 2);
	CHECK(t[0] == 'P' && t[1] == 'B');
	CHECK_EQ(codec_mpeg4_vops(packed, sizeof(packed), t, 1), 1);
	CHECK(t[0] == 'P');
	CHECK_EQ(codec_mpeg4_vops(nvop, sizeof(nvop), t, 4), 0);
	CHECK_EQ(codec_mpeg4_vops(intra, sizeof(intra), t, 4), 1);
	CHECK(t[0] == 'I');
}

static void test_mpa_layer(void)
{
	static const uint8_t mp3[] = { 0, 0xff, 0xfb, 0x90, 0x64 }, mp2[] = { 0xff, 0xfd, 0x84, 0x04 },
			     mp1[] = { 0xff, 0xff, 0x44, 0 }, none[] = { 0xff, 0xf9, 0x50, 0x80 };

	CHECK_EQ(codec_mpa_layer(mp3, sizeof(mp3)), 3);
	CHECK_EQ(codec_mpa_layer(mp2, sizeof(mp2)), 2);
	CHECK_EQ(codec_mpa_layer(mp1, sizeof(mp1)), 1);
	CHECK_EQ(codec_mpa_layer(none, sizeof(none)), 0);  /* layer bits 00 (ADTS) */
	CHECK_EQ(codec_mpa_layer(mp3, 1), 0);
}

/* SPSs x264 wrote (with ffmpeg's -vf setsar): 720x480 High, SAR 32:27 (aspect_ratio_idc 8 is
 * 32:11, so this one is extended: 255), emulation prevention bytes inside; 1920x1080 interlaced
 * (frame_mbs_only 0, 68 map units of 32 lines cropped to 1080), SAR 59:54; 1366x766 High 4:4:4
 * (crop in single pixels), no aspect ratio but square. Each checked against ffprobe. */
static void test_avc_picture(void)
{
	static const uint8_t ntsc[] = { 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xb4, 0x3d, 0xbf, 0xf0, 0x02,
		0x00, 0x01, 0xb1, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2d, 0x96 };
	static const uint8_t interlaced[] = { 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x04, 0x4f,
		0xdf, 0xfe, 0x00, 0x76, 0x00, 0x6c, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x07, 0x83, 0xe2, 0xc5,
		0xb2, 0xc0 };
	static const uint8_t yuv444[] = { 0, 0, 0, 1, 0x67, 0xf4, 0x00, 0x20, 0x91, 0x9b, 0x28, 0x0a, 0xc0, 0xc3, 0xc5,
		0xde, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x07, 0x81, 0xe3, 0x06, 0x32, 0xc0 };

	/* Written bit by bit: 320x240 Baseline with a VUI that has a square aspect ratio, then video
	 * signal type with colour description, timing and NAL HRD with one CPB; bitstream_restriction_flag
	 * 0 in the first, 1 in the second (as ffmpeg's trace_headers reads them). */
	static const uint8_t no_restriction[] = { 0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07,
		0xec, 0x05, 0xa8, 0x08, 0x08, 0x0a, 0x00, 0x00, 0x07, 0xd2, 0x00, 0x01, 0xd4, 0xc0, 0xd1, 0x00, 0x1f,
		0x48, 0x01, 0xf4, 0x57, 0xbd, 0xf0, 0x10 };
	static const uint8_t restriction[] = { 0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xec,
		0x05, 0xa8, 0x08, 0x08, 0x0a, 0x00, 0x00, 0x07, 0xd2, 0x00, 0x01, 0xd4, 0xc0, 0xd1, 0x00, 0x1f, 0x48,
		0x01, 0xf4, 0x57, 0xbd, 0xf0, 0x3c, 0x22, 0x11, 0x65, 0x80 };
	struct avc_picture pic;

	CHECK_EQ(codec_avc_picture(ntsc, sizeof(ntsc), &pic), 0);
	CHECK(pic.width == 720 && pic.height == 480 && pic.sar_num == 32 && pic.sar_den == 27);
	CHECK_EQ(codec_avc_picture(interlaced, sizeof(interlaced), &pic), 0);
	CHECK(pic.width == 1920 && pic.height == 1080 && pic.sar_num == 59 && pic.sar_den == 54);
	CHECK_EQ(codec_avc_picture(yuv444, sizeof(yuv444), &pic), 0);
	CHECK(pic.width == 1366 && pic.height == 766 && pic.sar_num == 1 && pic.sar_den == 1);
	CHECK_EQ(codec_avc_picture(no_restriction, sizeof(no_restriction), &pic), 0);
	CHECK(pic.width == 320 && pic.height == 240 && pic.sar_num == 1 && pic.sar_den == 1);
	CHECK_EQ(codec_avc_picture(restriction, sizeof(restriction), &pic), 0);
	CHECK(pic.width == 320 && pic.height == 240 && pic.sar_num == 1 && pic.sar_den == 1);
	/* Cut short after the aspect ratio (its last two bytes gone): the picture still. */
	CHECK_EQ(codec_avc_picture(restriction, sizeof(restriction) - 2, &pic), 0);
	CHECK(pic.width == 320 && pic.sar_num == 1);
	/* Cut short: no crash, and no size read from what is not there. */
	for (size_t n = 0; n < 14; n++)
		CHECK(codec_avc_picture(ntsc, n, &pic) < 0);
	/* Keyframe samples: an IDR NAL whose slice header says first_mb 0, slice_type 7 (I) passes;
	 * a P slice (type 5), lengths that do not tile, or no slice at all do not. */
	{
		static const uint8_t idr[] = { 0, 0, 0, 2, 0x65, 0x88 }, p_slice[] = { 0, 0, 0, 2, 0x41, 0x98 };
		static const uint8_t sei_then_idr[] = { 0, 3, 0x06, 0x05, 0x80, 0, 2, 0x65, 0x88 };
		static const uint8_t annexb[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0x80 };
		CHECK_EQ(codec_avc_key_slice(idr, sizeof(idr), 4), 0);
		CHECK_EQ(codec_avc_key_slice(sei_then_idr, sizeof(sei_then_idr), 2), 0);
		CHECK_EQ(codec_avc_key_slice(annexb, sizeof(annexb), 0), 0);
		CHECK(codec_avc_key_slice(p_slice, sizeof(p_slice), 4) < 0);
		CHECK(codec_avc_key_slice(idr, sizeof(idr), 2) < 0);      /* the wrong NAL length size */
		CHECK(codec_avc_key_slice(idr, sizeof(idr) - 1, 4) < 0);  /* cut short */
		CHECK(codec_avc_key_slice(sei_then_idr, 5, 2) < 0);       /* no slice */
	}
	/* No SPS: a PPS alone. */
	CHECK(codec_avc_picture((const uint8_t *)"\0\0\0\1\x68\xee\x3c\x80", 8, &pic) < 0);
}

int main(void)
{
	test_annexb_config();
	test_avcc();
	test_avc_picture();
	test_annexb(1);
	test_annexb(2);
	test_annexb(4);
	test_aac();
	test_mpeg4_vops();
	test_mpa_layer();
	return check_report("codec");
}
