/* The index's lifetime (index.h). Pure, so that whatever decodes or builds an index can free it
 * without linking FFmpeg. */
#include "index.h"

#include <stdlib.h>

void index_free(struct media_index *ix)
{
	if (!ix)
		return;
	free(ix->video.extradata);
	free(ix->video.samples);
	free(ix->audio.extradata);
	free(ix->audio.samples);
	for (unsigned k = 0; k < ix->nb_renditions; k++) {
		free(ix->renditions[k].extradata);
		free(ix->renditions[k].samples);
	}
	free(ix->note);
	free(ix->title);
	free(ix->poster);
	for (unsigned k = 0; k < ix->nb_subtitles; k++) {
		free(ix->subtitles[k].cues);
		free(ix->subtitles[k].text);
	}
	free(ix);
}
