/* A growable byte buffer for building text (playlists, error messages) and PES payloads.
 * Allocation failure is sticky: check strbuf_failed() once at the end. */
#ifndef HLSFS_STRBUF_H
#define HLSFS_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *data;     /* NUL-terminated when used for text; owned by the buffer */
	size_t len;
	size_t cap;
	bool failed;
};

void strbuf_init(struct strbuf *sb);
/* Makes room for n more bytes; returns a pointer to them, or NULL on allocation failure. */
uint8_t *strbuf_grow(struct strbuf *sb, size_t n);
void strbuf_add(struct strbuf *sb, const void *p, size_t n);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text to the caller (free() it) and resets the buffer; NULL if any step failed. */
char *strbuf_steal(struct strbuf *sb, size_t *len);
void strbuf_release(struct strbuf *sb);

#endif
