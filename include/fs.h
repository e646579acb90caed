/* The FUSE layer: mount paths to media, playlists and segments. It knows paths and file
 * handles, not codecs. Only fs.c and main.c include fuse.h. */
#ifndef HLSFS_FS_H
#define HLSFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <sys/stat.h>

struct catalog;

struct fs_ctx {
	char *root;        /* real path of SOURCE, no trailing slash; or its URL */
	size_t root_len;
	struct catalog *catalog; /* SOURCE is a remote base: its listing (NULL for a folder) */
	struct stat remote_st;   /* what folders and videos of a remote base show as their stat */
	struct store *store; /* persistent index, NULL without cache_dir */
};

extern const struct fuse_operations fs_operations;

#endif
