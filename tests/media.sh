# tests/media.sh: generates the test media library with ffmpeg at test time (nothing binary is committed)
# and caches it, with ffprobe facts about every usable video, in one shared folder per recipe version.
#
# Sourced by lib.sh. The library (relative paths under media_dir):
#   bframes.mp4                 H.264 High, B-frames (pyramid), AAC stereo 48 kHz, 20 s @30, GOP 2 s, moov at end
#   faststart.mp4               H.264 Main, AAC stereo, 8 s @30, GOP 1 s, moov first (+faststart), for contrast
#   gop10.mp4                   H.264, video only, 25 s @30, keyframe every 10 s (keyint 300, scenecut off)
#   ntsc-film.mp4               H.264 at 24000/1001 fps, AAC mono 44.1 kHz, 12 s, GOP 48 frames
#   Café del Mar – live 1.mp4   spaces, non-ASCII and an en dash in the name, 6 s
#   clip.mov                    QuickTime container, 640x360 @25, AAC
#   LOUD.MP4                    upper-case extension, 4 s @25
#   mp3audio.mp4                H.264 + MP3 audio
#   sub/deeper/nested.m4v       .m4v two folders down, Baseline (no B-frames)
#   empty-folder/               a source folder with nothing in it
#   notes.txt                   not a video: must be hidden
#   truncated-moov.mp4          head -c of bframes.mp4: the moov (at the end) is cut off   -> error.txt
#   truncated-mdat.mp4          head -c of faststart.mp4: moov intact, mdat cut short     -> served up to its end
#   audio-only.mp4              no video stream                                           -> error.txt
#   empty.mp4                   0 bytes                                                   -> error.txt
#   hevc.mp4                    HEVC (libx265, when ffmpeg has it): transcoded to H.264, or error.txt
#                               saying it needs transcoding (t-transcode)

MEDIA_SH=${BASH_SOURCE[0]}

# The folder for this recipe: a change to this file gives a new folder, so stale media is never used.
media_dir() {
    local base=${HLSFS_MEDIA_CACHE:-${TMPDIR:-/tmp}/hlsfs-test-media}
    local ver
    ver=$( { cat "$MEDIA_SH"; ffmpeg -version 2>/dev/null | sed -n 1p; } | sha256sum | cut -c1-12)
    printf '%s/%s\n' "$base" "$ver"
}

# Usable videos, one relative path a line.
media_good_list() {
    cat <<'LIST'
bframes.mp4
faststart.mp4
gop10.mp4
ntsc-film.mp4
Café del Mar – live 1.mp4
clip.mov
LOUD.MP4
mp3audio.mp4
sub/deeper/nested.m4v
LIST
}

# Files that must become a directory holding only error.txt, one relative path a line.
media_bad_list() {
    local d=${1:-$(media_dir)}
    printf '%s\n' truncated-moov.mp4 audio-only.mp4 empty.mp4
}

# Sources served only in part (one log line says so), one relative path a line.
media_cut_list() {
    printf '%s\n' truncated-mdat.mp4
}

# Sources that need transcoding (HEVC), one relative path a line; empty when ffmpeg has no libx265.
media_transcode_list() {
    local d=${1:-$(media_dir)}
    if [ -e "$d/lib/hevc.mp4" ]; then printf '%s\n' hevc.mp4; fi
}

# Files that must not appear in the mount at all.
media_hidden_list() {
    printf '%s\n' notes.txt
}

_ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }

# Top-level MP4 box types in file order, one a line.
mp4_top_boxes() {
    local f=$1 off=0 size len type
    len=$(stat -c %s "$f")
    while [ "$off" -lt "$len" ]; do
        size=$(od -An -tu1 -j "$off" -N 4 "$f" | awk '{print ($1*16777216)+($2*65536)+($3*256)+$4}')
        type=$(dd if="$f" bs=1 skip=$((off + 4)) count=4 status=none)
        if [ "$size" = 1 ]; then
            size=$(od -An -tu1 -j $((off + 8)) -N 8 "$f" |
                awk '{s=0; for (i=1;i<=8;i++) s=s*256+$i; print s}')
        elif [ "$size" = 0 ]; then
            size=$((len - off))
        fi
        printf '%s\n' "$type"
        [ "$size" -ge 8 ] || break
        off=$((off + size))
    done
}

# A 2-channel test tone of $1 seconds at $2 Hz.
_tone2() { printf 'aevalsrc=exprs=0.3*sin(440*2*PI*t)|0.3*sin(660*2*PI*t):s=%s:d=%s' "$2" "$1"; }
_video() { printf 'testsrc2=size=%s:rate=%s:duration=%s' "$1" "$2" "$3"; }

_media_generate() {
    local d=$1 l=$1/lib
    mkdir -p "$l/sub/deeper" "$l/empty-folder"
    local x264='-c:v libx264 -preset veryfast -pix_fmt yuv420p -crf 30 -sc_threshold 0'

    # shellcheck disable=SC2086
    {
    _ff -f lavfi -i "$(_video 320x180 30 20)" -f lavfi -i "$(_tone2 20 48000)" \
        $x264 -profile:v high -g 60 -keyint_min 60 -bf 3 -x264-params b-pyramid=normal \
        -c:a aac -b:a 64k "$l/bframes.mp4"
    _ff -f lavfi -i "$(_video 320x180 30 8)" -f lavfi -i "$(_tone2 8 48000)" \
        $x264 -profile:v main -g 30 -keyint_min 30 -bf 2 \
        -c:a aac -b:a 64k -movflags +faststart "$l/faststart.mp4"
    _ff -f lavfi -i "$(_video 320x180 30 25)" \
        $x264 -profile:v high -g 300 -keyint_min 300 -x264-params scenecut=0 -an "$l/gop10.mp4"
    _ff -f lavfi -i "$(_video 320x180 24000/1001 12)" \
        -f lavfi -i "aevalsrc=exprs=0.3*sin(523*2*PI*t):s=44100:d=12" \
        $x264 -profile:v high -g 48 -keyint_min 48 -c:a aac -b:a 48k "$l/ntsc-film.mp4"
    _ff -f lavfi -i "$(_video 320x180 30 6)" -f lavfi -i "$(_tone2 6 48000)" \
        $x264 -profile:v high -g 60 -keyint_min 60 -c:a aac -b:a 64k "$l/Café del Mar – live 1.mp4"
    _ff -f lavfi -i "$(_video 640x360 25 6)" -f lavfi -i "$(_tone2 6 48000)" \
        $x264 -profile:v high -g 50 -keyint_min 50 -c:a aac -b:a 64k -f mov "$l/clip.mov"
    _ff -f lavfi -i "$(_video 320x180 25 4)" -f lavfi -i "$(_tone2 4 48000)" \
        $x264 -profile:v high -g 50 -keyint_min 50 -c:a aac -b:a 64k -f mp4 "$l/LOUD.MP4"
    _ff -f lavfi -i "$(_video 320x180 30 6)" -f lavfi -i "$(_tone2 6 44100)" \
        $x264 -profile:v high -g 60 -keyint_min 60 -c:a libmp3lame -b:a 96k "$l/mp3audio.mp4"
    _ff -f lavfi -i "$(_video 320x180 30 4)" -f lavfi -i "$(_tone2 4 48000)" \
        $x264 -profile:v baseline -g 60 -keyint_min 60 -c:a aac -b:a 64k -f mp4 "$l/sub/deeper/nested.m4v"
    _ff -f lavfi -i "$(_tone2 3 48000)" -c:a aac -b:a 64k "$l/audio-only.mp4"
    if ffmpeg -hide_banner -encoders 2>/dev/null | grep ' libx265 ' > /dev/null; then
        _ff -f lavfi -i "$(_video 320x180 30 2)" -c:v libx265 -preset ultrafast -pix_fmt yuv420p \
            -x265-params log-level=error -tag:v hvc1 "$l/hevc.mp4"
    fi
    } || return 1

    : > "$l/empty.mp4"
    printf 'These notes are not a video.\n' > "$l/notes.txt"
    local n
    n=$(stat -c %s "$l/bframes.mp4"); head -c $((n * 6 / 10)) "$l/bframes.mp4" > "$l/truncated-moov.mp4"
    n=$(stat -c %s "$l/faststart.mp4"); head -c $((n / 2)) "$l/faststart.mp4" > "$l/truncated-mdat.mp4"

    # The fixtures are what they claim to be, or nothing that uses them means anything.
    local boxes
    boxes=$(mp4_top_boxes "$l/bframes.mp4" | tr '\n' ' ')
    case $boxes in *mdat*moov*) ;; *) echo "media: bframes.mp4 should have moov after mdat: $boxes" >&2; return 1;; esac
    boxes=$(mp4_top_boxes "$l/faststart.mp4" | tr '\n' ' ')
    case $boxes in *moov*mdat*) ;; *) echo "media: faststart.mp4 should have moov before mdat: $boxes" >&2; return 1;; esac
    boxes=$(mp4_top_boxes "$l/truncated-moov.mp4" | tr '\n' ' ')
    case $boxes in *moov*) echo "media: truncated-moov.mp4 still has a moov: $boxes" >&2; return 1;; esac
    local bf
    bf=$(ffprobe -v error -select_streams v:0 -show_entries stream=has_b_frames -of csv=p=0 "$l/bframes.mp4")
    [ "${bf:-0}" -ge 1 ] || { echo "media: bframes.mp4 has no B-frames" >&2; return 1; }

    # Facts about each usable video, computed once: stream/format JSON (with decoded frame counts) and
    # the video packets (pts_time, duration_time, flags) in presentation order.
    mkdir -p "$d/probe"
    local rel id
    while IFS= read -r rel; do
        id=$(media_id "$rel")
        ffprobe -v error -count_frames -show_streams -show_format -of json "$l/$rel" > "$d/probe/$id.json"
        ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,duration_time,flags \
            -of csv=p=0 "$l/$rel" | sort -t, -k1,1g > "$d/probe/$id.vpk"
        [ -s "$d/probe/$id.vpk" ] || { echo "media: no video packets in $rel" >&2; return 1; }
    done < <(media_good_list)
}

media_id() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# Makes sure the library exists (generating it under a lock if not) and prints its folder.
media_ensure() {
    local d
    d=$(media_dir)
    if [ -f "$d/.complete" ]; then printf '%s\n' "$d"; return 0; fi
    mkdir -p "$(dirname "$d")"
    (
        flock 9
        if [ ! -f "$d/.complete" ]; then
            rm -rf "$d.tmp"
            mkdir -p "$d.tmp"
            if ! _media_generate "$d.tmp" >&2; then rm -rf "$d.tmp"; exit 1; fi
            touch "$d.tmp/.complete"
            rm -rf "$d"
            mv "$d.tmp" "$d"
        fi
    ) 9>"$d.lock" || { echo "media: generation failed" >&2; return 1; }
    printf '%s\n' "$d"
}

# Facts about a usable video (relative path $1), from the cached probe.
#   media_fact REL frames|width|height|fps|fps_num|fps_den|duration|vprofile|vlevel|acodec|aprofile|keyframes|vend
media_fact() {
    local rel=$1 what=$2 d id j
    d=$(media_dir); id=$(media_id "$rel"); j=$d/probe/$id.json
    case $what in
        frames)   jq -r '[.streams[]|select(.codec_type=="video")][0].nb_read_frames' "$j" ;;
        width)    jq -r '[.streams[]|select(.codec_type=="video")][0].width' "$j" ;;
        height)   jq -r '[.streams[]|select(.codec_type=="video")][0].height' "$j" ;;
        fps)      jq -r '[.streams[]|select(.codec_type=="video")][0].avg_frame_rate' "$j" ;;
        fps_num)  media_fact "$rel" fps | cut -d/ -f1 ;;
        fps_den)  media_fact "$rel" fps | cut -d/ -f2 ;;
        duration) jq -r '.format.duration' "$j" ;;
        vprofile) jq -r '[.streams[]|select(.codec_type=="video")][0].profile' "$j" ;;
        vlevel)   jq -r '[.streams[]|select(.codec_type=="video")][0].level' "$j" ;;
        acodec)   jq -r '[.streams[]|select(.codec_type=="audio")][0].codec_name // ""' "$j" ;;
        aprofile) jq -r '[.streams[]|select(.codec_type=="audio")][0].profile // ""' "$j" ;;
        # presentation times of the keyframes, one a line
        keyframes) awk -F, '$3 ~ /^K/ {print $1}' "$d/probe/$id.vpk" ;;
        # end of the video: last presentation time plus that frame's duration
        vend)     tail -n 1 "$d/probe/$id.vpk" | awk -F, '{printf "%.6f\n", $1 + $2}' ;;
        # first presentation time
        vstart)   head -n 1 "$d/probe/$id.vpk" | cut -d, -f1 ;;
        *) echo "media_fact: unknown fact $what" >&2; return 1 ;;
    esac
}
