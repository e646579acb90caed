/* The FUSE layer: mount paths to media, playlists and segments. It knows paths and file
 * handles, not codecs. Only fs.c and main.c include fuse.h. */
#ifndef HLSFS_FS_H
#define HLSFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>

struct fs_ctx {
	char *root;        /* real path of SOURCE, no trailing slash */
	size_t root_len;
	struct store *store; /* persistent index, NULL without cache_dir */
};

extern const struct fuse_operations fs_operations;

#endif
