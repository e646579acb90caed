/* WebVTT text from the index's subtitle tracks: cue payloads made from ASS events, the files of a
 * subtitle rendition (one WebVTT segment per plan segment with its X-TIMESTAMP-MAP, and the whole
 * track as one file), sidecar file names, language tags and labels.
 * Pure: no I/O, no FFmpeg. Returned text is malloc'd; the caller frees it. */
#ifndef HLSFS_WEBVTT_H
#define HLSFS_WEBVTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "naming.h"
#include "plan.h"
#include "strbuf.h"

/* Appends the WebVTT payload of one ASS event's text (the Text field alone, override blocks
 * included): \N and \n become line breaks, \h a space, {\i1}/{\b1} and their ends become <i>
 * and <b> (kept properly nested), other override blocks are dropped, & < > are escaped, blank
 * lines and "-->" cannot occur, invalid UTF-8 becomes U+FFFD. Leading and trailing white space
 * is trimmed. */
void webvtt_from_ass_text(const char *text, size_t n, struct strbuf *out);

/* The Text field of an ASS event line as FFmpeg's decoders give it
 * ("ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text"; a "Dialogue: " line of a
 * script is accepted too). Returns a pointer into line, or NULL. */
const char *webvtt_ass_event_text(const char *line);

/* A language tag as players want it in LANGUAGE= and srclang: ISO 639-2 codes with a 639-1
 * equivalent are shortened ("eng" -> "en", "fre"/"fra" -> "fr"), others kept in lower case;
 * "und" when in is NULL, empty or not 2-3 letters. out holds 8 bytes. */
void webvtt_language(const char *in, char out[8]);

/* A name for a language tag ("English", "Français" is not attempted: English names), or the tag
 * itself when unknown. */
const char *webvtt_language_label(const char *tag);
/* A rendition's NAME from its language tag (webvtt_language's) and its title (index_title_clean's,
 * "" without): the language in words, with the title in brackets ("English (Commentary)"); the
 * title alone where it names the language or the language is "und"; `unknown` for an "und" track
 * without a title. */
void webvtt_track_name(const char *tag, const char *title, const char *unknown, char *name, size_t size);

/* Whether file (a name in the video's folder) is a subtitle sidecar of the video called video
 * (its name with extension): NAME.srt, NAME.vtt, NAME.ass, NAME.ssa, NAME.LANG.EXT and
 * NAME.LANG.forced.EXT, NAME being video without its extension. On true, lang gets the language
 * tag (webvtt_language; "und" without one) and *flags INDEX_SUB_FORCED when forced. */
bool webvtt_sidecar_match(const char *video, const char *file, char lang[8], uint32_t *flags);

/* A subtitle rendition as the mount serves it: folder subs-LANG/ with index.m3u8 and one
 * seg-NNNNN.vtt per plan segment, and the whole track as subtitles/LANG.vtt. */
struct webvtt_rendition {
	char folder[NAMING_MAX];    /* "subs-en", "subs-en-2" */
	char file[NAMING_MAX];      /* "en.vtt", "en-2.vtt" */
	/* NAME= in the master, unique among them: "English", "English 2", "French (forced)", and with
	 * the track's title "English (Signs & Songs)", or the title alone when it names the language
	 * or the language is unknown */
	char name[NAMING_MAX + INDEX_TITLE_MAX + 16];
	const struct index_subtitle *track;
	char *playlist;
	size_t playlist_len;
	char *whole;                /* subtitles/LANG.vtt */
	size_t whole_len;
	char *segs;                 /* every segment's text, back to back */
	uint64_t *seg_off;          /* nb_segments + 1 offsets into segs */
};

/* Builds the renditions of every subtitle track of ix on plan p. Returns 0 with *out (an array
 * of *n, webvtt_free) -- NULL and 0 when there is no track --, or -ENOMEM. */
int webvtt_build(const struct media_index *ix, const struct plan *p, struct webvtt_rendition **out, unsigned *n);
void webvtt_free(struct webvtt_rendition *r, unsigned n);

/* The WebVTT text of segment seg of track t: "WEBVTT", X-TIMESTAMP-MAP mapping local 0 to the TS
 * time of the first segment's start (p->ts_offset + its start: cue times are then the player's, as
 * in webvtt_whole, and each lands on the TS frame of the same source time), then every cue that overlaps
 * the segment's span (a cue across a boundary is in both segments; the first segment also takes
 * cues before it, the last those after it). Appends to out. */
void webvtt_segment(const struct index_subtitle *t, const struct plan *p, uint32_t seg, struct strbuf *out);

/* The whole track as one WebVTT file, times from the start of the first segment (the player's 0).
 * Appends to out. */
void webvtt_whole(const struct index_subtitle *t, const struct plan *p, struct strbuf *out);

#endif
