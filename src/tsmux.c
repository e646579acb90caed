/* MPEG-TS packet writer. One program, PAT and PMT in one packet each, PES split into
 * 188-byte packets with adaptation-field stuffing in the last one (never null packets inside a
 * PES), so a PES of n bytes always takes the packet count tsmux_packets() says. */
#include "tsmux.h"

#include <string.h>

/* CRC-32/MPEG-2: polynomial 0x04c11db7, initial value all ones, no reflection. */
static uint32_t crc32_mpeg2(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	while (n--) {
		crc ^= (uint32_t)*p++ << 24;
		for (int i = 0; i < 8; i++)
			crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04c11db7u : crc << 1;
	}
	return crc;
}

/* A PSI packet: header, pointer field, section, CRC, 0xff fill. */
static void psi_packet(uint16_t pid, unsigned cc, const uint8_t *section, size_t n, uint8_t out[TS_PACKET_SIZE])
{
	uint32_t crc;

	memset(out, 0xff, TS_PACKET_SIZE);
	out[0] = 0x47;
	out[1] = (uint8_t)(0x40 | (pid >> 8));
	out[2] = (uint8_t)pid;
	out[3] = (uint8_t)(0x10 | (cc & 15));
	out[4] = 0;  /* pointer_field */
	memcpy(out + 5, section, n);
	crc = crc32_mpeg2(section, n);
	out[5 + n] = (uint8_t)(crc >> 24);
	out[6 + n] = (uint8_t)(crc >> 16);
	out[7 + n] = (uint8_t)(crc >> 8);
	out[8 + n] = (uint8_t)crc;
}

void tsmux_pat(unsigned cc, uint8_t out[TS_PACKET_SIZE])
{
	const uint8_t s[] = {
		0x00, 0xb0, 13,            /* table 0, section_length 13 */
		0x00, 0x01, 0xc1, 0x00, 0x00, /* transport_stream_id 1, version 0, current */
		0x00, 0x01,                /* program 1 */
		(uint8_t)(0xe0 | (TS_PID_PMT >> 8)), (uint8_t)TS_PID_PMT,
	};
	psi_packet(TS_PID_PAT, cc, s, sizeof(s), out);
}

void tsmux_pmt(const struct ts_program *prog, unsigned cc, uint8_t out[TS_PACKET_SIZE])
{
	uint8_t s[12 + 5 * 2];
	size_t n = 0;
	unsigned i, nb = prog->nb_es > 2 ? 2 : prog->nb_es;

	s[n++] = 0x02;
	s[n++] = 0xb0;
	s[n++] = (uint8_t)(9 + 5 * nb + 4);   /* section_length: after this field, CRC included */
	s[n++] = 0x00;
	s[n++] = 0x01;                        /* program_number 1 */
	s[n++] = 0xc1;
	s[n++] = 0x00;
	s[n++] = 0x00;
	s[n++] = (uint8_t)(0xe0 | (prog->pcr_pid >> 8));
	s[n++] = (uint8_t)prog->pcr_pid;
	s[n++] = 0xf0;
	s[n++] = 0x00;                        /* program_info_length 0 */
	for (i = 0; i < nb; i++) {
		s[n++] = prog->es[i].stream_type;
		s[n++] = (uint8_t)(0xe0 | (prog->es[i].pid >> 8));
		s[n++] = (uint8_t)prog->es[i].pid;
		s[n++] = 0xf0;
		s[n++] = 0x00;                /* ES_info_length 0 */
	}
	psi_packet(TS_PID_PMT, cc, s, n, out);
}

static void put_pcr(uint8_t *p, uint64_t pcr)
{
	uint64_t base = (pcr / 300) & TS_TIME_MASK;
	unsigned ext = (unsigned)(pcr % 300);
	p[0] = (uint8_t)(base >> 25);
	p[1] = (uint8_t)(base >> 17);
	p[2] = (uint8_t)(base >> 9);
	p[3] = (uint8_t)(base >> 1);
	p[4] = (uint8_t)(((base & 1) << 7) | 0x7e | (ext >> 8));
	p[5] = (uint8_t)ext;
}

void tsmux_pcr_packet(uint16_t pid, unsigned cc, uint64_t pcr_value, uint8_t out[TS_PACKET_SIZE])
{
	memset(out, 0xff, TS_PACKET_SIZE);
	out[0] = 0x47;
	out[1] = (uint8_t)(pid >> 8);
	out[2] = (uint8_t)pid;
	out[3] = (uint8_t)(0x20 | (cc & 15));  /* adaptation field only */
	out[4] = 183;
	out[5] = 0x10;
	put_pcr(out + 6, pcr_value);
}

static void put_ts(uint8_t *p, unsigned marker, uint64_t t)
{
	t &= TS_TIME_MASK;
	p[0] = (uint8_t)(marker << 4 | ((t >> 29) & 0x0e) | 1);
	p[1] = (uint8_t)(t >> 22);
	p[2] = (uint8_t)(((t >> 14) & 0xfe) | 1);
	p[3] = (uint8_t)(t >> 7);
	p[4] = (uint8_t)(((t << 1) & 0xfe) | 1);
}

size_t tsmux_pes_header(uint8_t stream_id, uint64_t pts, bool with_dts, uint64_t dts,
			size_t payload_size, uint8_t *out)
{
	size_t hsize = tsmux_pes_header_size(with_dts);
	size_t len = payload_size + hsize - 6;  /* PES_packet_length counts after its own field */

	if (len > 65535) {
		if (stream_id != TS_STREAM_ID_VIDEO)
			return 0;
		len = 0;  /* unbounded: allowed for video elementary streams in TS */
	}
	out[0] = 0;
	out[1] = 0;
	out[2] = 1;
	out[3] = stream_id;
	out[4] = (uint8_t)(len >> 8);
	out[5] = (uint8_t)len;
	out[6] = 0x84;  /* '10', data_alignment_indicator */
	out[7] = with_dts ? 0xc0 : 0x80;
	out[8] = (uint8_t)(hsize - 9);
	put_ts(out + 9, with_dts ? 3 : 2, pts);
	if (with_dts)
		put_ts(out + 14, 1, dts);
	return hsize;
}

uint64_t tsmux_packets(uint64_t pes_size, bool pcr)
{
	uint64_t first = pcr ? 184 - 8 : 184;
	if (pes_size <= first)
		return 1;
	return 1 + (pes_size - first + 183) / 184;
}

void tsmux_packetize(const struct ts_pes_out *o, const uint8_t *pes, size_t pes_size, uint64_t packets,
		     uint8_t *out)
{
	size_t done = 0;
	unsigned cc = o->cc;
	bool first = true;

	do {
		size_t af = 0, n, later = packets > 1 ? packets - 1 : 0;

		uint8_t flags = 0;

		if (first && o->pcr) {
			af = 8;
			flags = (uint8_t)((o->random_access ? 0x40 : 0) | 0x10);
		}
		n = pes_size - done;
		if (n > 184 - af)
			n = 184 - af;
		if (n > pes_size - done - later)
			n = pes_size - done - later;  /* leave a byte for each packet still to come */
		packets--;
		if (af + n < 184)
			af = 184 - n;  /* stuffing: the adaptation field fills the rest */

		out[0] = 0x47;
		out[1] = (uint8_t)((first ? 0x40 : 0) | (o->pid >> 8));
		out[2] = (uint8_t)o->pid;
		out[3] = (uint8_t)((af ? 0x30 : 0x10) | (cc & 15));
		if (af) {
			out[4] = (uint8_t)(af - 1);
			if (af > 1) {
				out[5] = flags;
				memset(out + 6, 0xff, af - 2);
				if (first && o->pcr)
					put_pcr(out + 6, o->pcr_value);
			}
		}
		memcpy(out + 4 + af, pes + done, n);
		done += n;
		out += TS_PACKET_SIZE;
		cc = (cc + 1) & 15;
		first = false;
	} while (done < pes_size);
}

void tsmux_null_packets(uint8_t *out, uint64_t n)
{
	for (; n; n--, out += TS_PACKET_SIZE) {
		memset(out, 0xff, TS_PACKET_SIZE);
		out[0] = 0x47;
		out[1] = TS_PID_NULL >> 8;
		out[2] = TS_PID_NULL & 0xff;
		out[3] = 0x10;  /* payload only, continuity counter 0 */
	}
}
