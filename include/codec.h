/* Codec configuration facts the muxer needs, parsed from MP4 sample-entry extradata:
 * H.264 avcC (parameter sets, NAL length size, profile/level; the SPS's picture size and aspect
 * ratio) and AAC AudioSpecificConfig.
 * Pure: no I/O, no FFmpeg; also converts samples to the byte forms MPEG-TS carries. */
#ifndef HLSFS_CODEC_H
#define HLSFS_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the access unit delimiter we put before every H.264 access unit (start code + 2). */
#define CODEC_AUD_SIZE 6
/* Bytes of the ADTS header put before every AAC frame (no CRC). */
#define CODEC_ADTS_SIZE 7

struct avc_config {
	uint8_t profile, compat, level;  /* from the first SPS (or the avcC header without one) */
	unsigned nal_length_size;        /* 1, 2 or 4 */
	uint8_t *ps;                     /* every SPS then PPS, each behind a 4-byte start code */
	size_t ps_size;
};

/* Parses Annex B parameter sets (SPS and PPS behind start codes, as FFmpeg gives the extradata
 * of H.264 in MPEG-TS): ps gets every SPS then every PPS behind 4-byte start codes, the profile
 * and level come from the first SPS, nal_length_size is 4 (the samples are not rewritten).
 * Returns 0, -EINVAL without an SPS, -ENOMEM. */
int codec_avc_parse_annexb(const uint8_t *p, size_t size, struct avc_config *out);

/* Parses an avcC record, or Annex B parameter sets (codec_avc_parse_annexb) when the record
 * begins with a zero byte. On success *out owns ps (release with codec_avc_release).
 * Returns 0, or -EINVAL for a malformed or unsupported record, -ENOMEM. */
int codec_avc_parse(const uint8_t *avcc, size_t size, struct avc_config *out);
void codec_avc_release(struct avc_config *c);

/* The picture an H.264 SPS describes (ITU-T H.264 7.3.2.1.1 and E.1.1). */
struct avc_picture {
	unsigned width, height;      /* after cropping */
	unsigned sar_num, sar_den;   /* the sample aspect ratio, 0/0 when the SPS does not say */
};

/* Reads the first SPS of ps (codec_avc_parse's parameter sets, behind start codes): its size
 * and its VUI sample aspect ratio. Returns 0, or -EINVAL when there is no SPS, it does not
 * parse, or its frame is larger than any level allows. */
int codec_avc_picture(const uint8_t *ps, size_t size, struct avc_picture *out);

/* Whether an H.264 sample is what a keyframe must be: its NAL units tile it (nal_length_size 1, 2
 * or 4; 0 for Annex B) and its first slice is an I (or SI) slice. Returns 0 or -EINVAL. Cheap
 * enough for indexing, where it stands in for decoding: a sample table that points at the wrong
 * bytes, or a wrong NAL length size, fails it. */
int codec_avc_key_slice(const uint8_t *p, size_t size, unsigned nal_length_size);

/* Counts the NAL units of a length-prefixed sample. Returns the count, or -EINVAL when the
 * lengths do not tile the sample exactly. */
int codec_avc_count_nals(const uint8_t *p, size_t size, unsigned nal_length_size);

/* Size of a sample once its length prefixes are 4-byte start codes. */
static inline uint64_t codec_avc_annexb_size(uint32_t size, uint32_t nals, unsigned nal_length_size)
{
	return (uint64_t)size + (uint64_t)nals * (4 - nal_length_size);
}

/* Writes a length-prefixed sample as Annex B into out, exactly out_size bytes (the size
 * codec_avc_annexb_size promised). Access unit delimiters inside the sample become filler
 * NAL units of the same size, since we write our own AUD first. A sample whose lengths do
 * not parse is copied (and zero-padded or cut) so the size still holds; returns -EINVAL then,
 * 0 otherwise. */
int codec_avc_to_annexb(const uint8_t *in, size_t size, unsigned nal_length_size,
			uint8_t *out, size_t out_size);

/* Writes the access unit delimiter (primary_pic_type 7: any slice type). */
void codec_avc_aud(uint8_t out[CODEC_AUD_SIZE]);

struct aac_config {
	unsigned object_type;       /* audioObjectType as signalled (2 LC, 5 HE, 29 HEv2): for CODECS */
	unsigned core_object_type;  /* the AAC core carried in ADTS: 1..4 */
	unsigned freq_index;        /* sampling_frequency_index of the core */
	unsigned channels;          /* channel_configuration 1..7 */
};

/* Parses an AudioSpecificConfig. Returns 0, or -EINVAL when it is malformed, -ENOTSUP when
 * ADTS cannot carry it (core object type above 4, explicit frequency, channel config 0). */
int codec_aac_parse(const uint8_t *asc, size_t size, struct aac_config *out);

/* Writes the 7-byte ADTS header for one raw AAC frame of frame_size bytes. */
void codec_adts_header(const struct aac_config *c, size_t frame_size, uint8_t out[CODEC_ADTS_SIZE]);

/* The layer (1, 2 or 3) of the first MPEG audio frame header in p, or 0 when none is found. */
unsigned codec_mpa_layer(const uint8_t *p, size_t size);

/* The coded pictures (VOPs) of one MPEG-4 Part 2 sample, in order, as 'I', 'P', 'B' or 'S'
 * (sprite): at most max of them into types. A VOP of 8 bytes or fewer from its start code to the
 * next start code is not coded (an N-VOP: the placeholder a packed B-frame leaves; a coded VOP's
 * header and one macroblock take more), and is left out. Returns how many were found. */
#define CODEC_MPEG4_VOP_MAX_UNCODED 8
unsigned codec_mpeg4_vops(const uint8_t *p, size_t size, char *types, unsigned max);

#endif
