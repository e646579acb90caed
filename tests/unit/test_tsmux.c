/* The packetizer writes exactly the packet count tsmux_packets() promises, for every PES size
 * around the packet boundaries, with and without PCR; PSI packets carry a valid CRC. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tsmux.h"

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint32_t)p[i] << 24;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x80000000u ? crc << 1 ^ 0x04c11db7u : crc << 1;
	}
	return crc;
}

static void check_pes(size_t size, int pcr, uint64_t extra)
{
	uint8_t *pes = malloc(size), *out;
	uint64_t packets = tsmux_packets(size, pcr) + extra;
	struct ts_pes_out o = { .pid = 0x100, .cc = 14, .pcr = pcr, .pcr_value = 123456789, .random_access = pcr };
	size_t got = 0;

	for (size_t i = 0; i < size; i++)
		pes[i] = (uint8_t)(i * 7 + 1);
	/* One spare packet of canary bytes catches a write past the promise. */
	out = malloc((packets + 1) * 188);
	memset(out, 0xa5, (packets + 1) * 188);
	tsmux_packetize(&o, pes, size, packets, out);
	CHECK(out[packets * 188] == 0xa5);
	for (uint64_t k = 0; k < packets; k++) {
		const uint8_t *p = out + k * 188;
		unsigned afc = p[3] >> 4 & 3, start = 4;
		CHECK_EQ(p[0], 0x47);
		CHECK_EQ(((p[1] & 0x1f) << 8) | p[2], 0x100);
		CHECK_EQ(!!(p[1] & 0x40), k == 0);
		CHECK_EQ(p[3] & 15, (14 + k) & 15);
		CHECK(afc & 1);
		if (afc & 2) {
			start = 5 + p[4];
			if (k == 0 && pcr) {
				CHECK(p[5] & 0x10);
				CHECK(p[5] & 0x40);
			}
		}
		CHECK(start <= 188);
		/* the payload bytes, in order */
		if (memcmp(p + start, pes + got, 188 - start)) {
			CHECK(!"payload mismatch");
			break;
		}
		got += 188 - start;
	}
	CHECK_EQ(got, size);
	free(pes);
	free(out);
}

int main(void)
{
	uint8_t pkt[188];
	struct ts_program prog = { .es = { { 0x100, TS_TYPE_H264 }, { 0x101, TS_TYPE_AAC_ADTS } }, .nb_es = 2, .pcr_pid = 0x100 };
	size_t sizes[] = { 1, 2, 14, 175, 176, 177, 182, 183, 184, 185, 359, 360, 361, 367, 368, 369, 1000, 65535, 300001 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		check_pes(sizes[i], 0, 0);
		check_pes(sizes[i], 1, 0);
		/* spread over more packets, up to one payload byte each */
		if (sizes[i] > tsmux_packets(sizes[i], 1) + 15) {
			check_pes(sizes[i], 1, 15);
			check_pes(sizes[i], 0, 3);
		}
		check_pes(sizes[i], 1, sizes[i] - tsmux_packets(sizes[i], 1));
	}
	for (size_t s = 1; s < 2000; s++)
		CHECK_EQ(tsmux_packets(s, 1), s <= 176 ? 1 : 1 + (s - 176 + 183) / 184);

	tsmux_pat(3, pkt);
	CHECK_EQ(pkt[0], 0x47);
	CHECK_EQ(pkt[3] & 15, 3);
	CHECK_EQ(crc32_ref(pkt + 5, 3 + 13), 0);  /* CRC over the section including it is 0 */
	tsmux_pmt(&prog, 9, pkt);
	CHECK_EQ(((pkt[1] & 0x1f) << 8) | pkt[2], TS_PID_PMT);
	CHECK_EQ(crc32_ref(pkt + 5, 3 + pkt[7]), 0);
	CHECK_EQ(pkt[5 + 12], TS_TYPE_H264);
	CHECK_EQ(pkt[5 + 17], TS_TYPE_AAC_ADTS);

	{
		uint8_t h[19];
		CHECK_EQ(tsmux_pes_header(TS_STREAM_ID_VIDEO, 900000, true, 897000, 1000000, h), 19);
		CHECK_EQ(h[4] << 8 | h[5], 0);  /* unbounded video */
		CHECK_EQ(tsmux_pes_header(TS_STREAM_ID_AUDIO, 900000, false, 0, 1000, h), 14);
		CHECK_EQ(h[4] << 8 | h[5], 1000 + 8);
		CHECK_EQ(tsmux_pes_header(TS_STREAM_ID_AUDIO, 900000, false, 0, 70000, h), 0);
		/* PTS 900000 decodes back */
		{
			uint64_t t = ((uint64_t)(h[9] >> 1 & 7) << 30) | (uint64_t)h[10] << 22 | (uint64_t)(h[11] >> 1) << 15 |
				     (uint64_t)h[12] << 7 | h[13] >> 1;
			CHECK_EQ(t, 900000);
		}
	}
	return check_report("tsmux");
}
