/* Our MPEG-TS muxer (ITU-T H.222.0): PAT/PMT, PES headers and packetization.
 * It knows packets and bytes only. Every writer has a size function beside it, and the
 * writer produces exactly that many bytes: the planner counts with the one, synth writes with
 * the other. Pure: no I/O. */
#ifndef HLSFS_TSMUX_H
#define HLSFS_TSMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_PACKET_SIZE 188
#define TS_PID_PAT 0x0000
#define TS_PID_PMT 0x1000
#define TS_PID_VIDEO 0x0100
#define TS_PID_AUDIO 0x0101
#define TS_PID_NULL 0x1fff

#define TS_TYPE_MPEG1_AUDIO 0x03
#define TS_TYPE_MPEG2_AUDIO 0x04
#define TS_TYPE_AAC_ADTS 0x0f
#define TS_TYPE_H264 0x1b

#define TS_STREAM_ID_VIDEO 0xe0
#define TS_STREAM_ID_AUDIO 0xc0

/* 90 kHz timestamps are 33 bits on the wire. */
#define TS_TIME_MASK ((1ULL << 33) - 1)

struct ts_es {
	uint16_t pid;
	uint8_t stream_type;
};

struct ts_program {
	struct ts_es es[2];
	unsigned nb_es;
	uint16_t pcr_pid;
};

/* One PAT or PMT packet (a single section each), continuity counter cc. */
void tsmux_pat(unsigned cc, uint8_t out[TS_PACKET_SIZE]);
void tsmux_pmt(const struct ts_program *prog, unsigned cc, uint8_t out[TS_PACKET_SIZE]);

/* PES header size: with PTS only, or PTS and DTS. */
static inline size_t tsmux_pes_header_size(bool with_dts)
{
	return with_dts ? 19 : 14;
}

/* Writes a PES header for payload_size bytes of elementary stream. dts is written when
 * with_dts. A video PES (stream_id 0xe0) may be unbounded (length 0); others must fit 16 bits.
 * Returns bytes written (tsmux_pes_header_size), or 0 when payload_size does not fit. */
size_t tsmux_pes_header(uint8_t stream_id, uint64_t pts, bool with_dts, uint64_t dts,
			size_t payload_size, uint8_t *out);

/* Largest payload a bounded PES (audio) can carry with a PTS-only header. */
#define TS_PES_MAX_BOUNDED (65535 - 8)

/* Packets needed for a PES of pes_size bytes; the first packet carries a PCR when pcr. */
uint64_t tsmux_packets(uint64_t pes_size, bool pcr);

struct ts_pes_out {
	uint16_t pid;
	unsigned cc;            /* continuity counter of the first packet */
	bool pcr;               /* first packet carries pcr (27 MHz) */
	uint64_t pcr_value;
	bool random_access;     /* with pcr: first packet flags a random access point */
};

/* Splits one PES into exactly `packets` packets (at least tsmux_packets(pes_size, o->pcr), at
 * most pes_size; beyond the minimum, adaptation-field stuffing spreads the payload) and writes
 * packets * 188 bytes to out. */
void tsmux_packetize(const struct ts_pes_out *o, const uint8_t *pes, size_t pes_size, uint64_t packets,
		     uint8_t *out);

/* An adaptation-only packet carrying just a PCR (27 MHz) on pid; it does not advance the
 * continuity counter, so cc is the counter of the pid's previous packet. */
void tsmux_pcr_packet(uint16_t pid, unsigned cc, uint64_t pcr_value, uint8_t out[TS_PACKET_SIZE]);

/* n null packets (PID 0x1fff, payload only, 0xff bytes): the padding of transcoded segments. */
void tsmux_null_packets(uint8_t *out, uint64_t n);

#endif
