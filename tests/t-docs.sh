#!/usr/bin/env bash
# t-docs: the video extensions of src/naming.c are named in man/hlsfs.1 and README.md; the options of the table in include/config.h (CONFIG_OPTIONS, the one list the code is made
# from) are the options the documentation lists, no more and no fewer, with the same defaults: against
# `hlsfs --help`, man/hlsfs.1 and README.md's table; its config-file keys (all but the -o only ones, that
# is config) against man/hlsfs.conf.5. Each option's entry in each of them must state the table's default
# ("default X", or "default: none" for an option without one). src/main.c may not add -o options beside
# the table. The short options (-f -d -h --help -V --version) must be in --help and man/hlsfs.1.
# Mounts nothing. A doctored copy of the files (an option added everywhere, then left out of one place at a
# time; a default changed in one place at a time) proves every comparison can fail.
#
# Environment: HLSFS_DOCS_ROOT (the tree whose include/, src/, man/ and README.md are read; default this
# checkout), HLSFS_DOCS_HELP (a file holding the --help text to use instead of running $HLSFS --help).
source "$(dirname "$0")/lib.sh"

DOCS_ROOT=${HLSFS_DOCS_ROOT:-$REPO_DIR}
SHORT_OPTS=(-f -d -h --help -V --version)
FILES=(include/config.h include/remote.h src/main.c src/naming.c man/hlsfs.1 man/hlsfs.conf.5 README.md)

# --- extraction: each prints one name a line, sorted, without duplicates --------------------------------

# The rows of CONFIG_OPTIONS in ROOT/include/config.h, one a line: NAME, FLAGS and DEFAULT separated by
# tabs; DEFAULT is the string without its quotes, a macro resolved from its #define in ROOT/include/*.h,
# or empty for NULL.
table_rows() {
    local root=$1
    awk '/^#define[[:space:]]+CONFIG_OPTIONS\(/ { f = 1; next } f { print } f && !/\\$/ { exit }' \
        "$root/include/config.h" |
        sed -nE 's/^[[:space:]]*OPTION\([[:space:]]*([A-Za-z0-9_]+)[[:space:]]*,[[:space:]]*[A-Z]+[[:space:]]*,[^,]*,[^,]*,[[:space:]]*("[^"]*"|[A-Za-z0-9_]+)[[:space:]]*,[[:space:]]*([A-Za-z0-9_|]+)[[:space:]]*,.*/\1\t\3\t\2/p' |
        while IFS=$'\t' read -r name flags dflt; do
            case $dflt in
                NULL) dflt= ;;
                \"*) dflt=${dflt#\"}; dflt=${dflt%\"} ;;
                *) dflt=$(cat "$root"/include/*.h | sed -nE "s/^#define[[:space:]]+${dflt}[[:space:]]+\"([^\"]*)\".*/\1/p" | head -n 1)
                   [ -n "$dflt" ] || dflt='?unresolved macro?' ;;
            esac
            printf '%s\t%s\t%s\n' "$name" "$flags" "$dflt"
        done
}

# The names of the table: every -o option.
code_opts() { table_rows "$1" | cut -f1 | sort -u; }
# The config-file keys: the rows without CONFIG_CMDLINE.
config_keys() { table_rows "$1" | awk -F'\t' '$2 !~ /CONFIG_CMDLINE/ { print $1 }' | sort -u; }
# name<TAB>default of every row.
table_defaults() { table_rows "$1" | cut -f1,3; }

# "name=%s" templates written into src/main.c beside CONFIG_OPTIONS: options the table does not hold.
main_extra_opts() {
    sed -E 's|/\*.*\*/||; s|^[[:space:]]*/?\*.*||' "$1" | sed -nE 's/.*"([A-Za-z0-9_]+)=%s".*/\1/p' | sort -u
}

# The "hlsfs options:" block of --help, up to its first empty line (FUSE's own options follow it).
help_block() {
    awk '/^hlsfs options:/ { f = 1; next } f && /^[[:space:]]*$/ { exit } f' "$1"
}
help_opts() {
    help_block "$1" | sed -nE 's/^[[:space:]]*-o[[:space:]]+([A-Za-z0-9_]+)=.*/\1/p' | sort -u
}
# name<TAB>text of each -o entry of --help, its continuation lines joined on.
help_entries() {
    help_block "$1" | awk '
        /^[[:space:]]*-o[[:space:]]+[A-Za-z0-9_]+=/ { if (n != "") print n "\t" t; n = $2; sub(/=.*/, "", n); t = $0; next }
        /^[[:space:]]*-/ { if (n != "") print n "\t" t; n = ""; next }
        n != "" { t = t " " $0 }
        END { if (n != "") print n "\t" t }'
}

# The tag lines (the line after each .TP) of one section of a man page, \- turned into -.
man_tags() {
    local file=$1 section=$2
    awk -v s="$section" '
        /^\.SH/ { sec = $0; sub(/^\.SH[[:space:]]+"?/, "", sec); sub(/"[[:space:]]*$/, "", sec); tp = 0; next }
        sec == s && tp { print; tp = 0; next }
        sec == s && /^\.TP/ { tp = 1 }' "$file" | sed 's/\\-/-/g'
}

# man_entries FILE SECTION SEP: name<TAB>text of each .TP entry of SECTION whose tag is "name" then SEP
# ("=" in hlsfs.1, " = " in hlsfs.conf.5), the text up to the next .TP or .SH as plain words: font
# requests (.B, .BR, ...) give their arguments, the alternating ones without spaces between them, as
# troff prints them; other requests are dropped.
man_entries() {
    awk -v s="$2" -v sep="$3" '
        function words(l,   r, alt, out, a, q, n, i) {
            r = l; sub(/[[:space:]].*/, "", r); sub(/^\.[A-Z]+[[:space:]]*/, "", l)
            gsub(/\\ /, "\001", l)  # an escaped space is no argument break
            alt = length(r) == 3
            # split into arguments, double quotes grouping
            n = 0
            while (l != "") {
                sub(/^[[:space:]]+/, "", l)
                if (l == "") break
                if (substr(l, 1, 1) == "\"") { q = index(substr(l, 2), "\""); if (!q) q = length(l); a[++n] = substr(l, 2, q - 1); l = substr(l, q + 2) }
                else { q = match(l, /[[:space:]]/); if (!q) q = length(l) + 1; a[++n] = substr(l, 1, q - 1); l = substr(l, q) }
            }
            out = ""
            for (i = 1; i <= n; i++) out = out (alt || i == 1 ? "" : " ") a[i]
            gsub(/\001/, " ", out)
            return out
        }
        function flush() { if (name != "") print name "\t" text; name = "" }
        /^\.SH/ { flush(); sec = $0; sub(/^\.SH[[:space:]]+"?/, "", sec); sub(/"[[:space:]]*$/, "", sec); tp = 0; next }
        sec != s { next }
        /^\.TP/ { flush(); tp = 1; next }
        tp { tp = 0; t = words($0); gsub(/\\-/, "-", t)
             if (index(t, sep) && match(t, /^[A-Za-z0-9_]+/) && substr(t, RLENGTH + 1, length(sep)) == sep) { name = substr(t, 1, RLENGTH); text = "" }
             next }
        name == "" { next }
        /^\.(B|I|R|BR|BI|IB|IR|RB|RI)([[:space:]]|$)/ { text = text " " words($0); next }
        /^\./ { next }
        { text = text " " $0 }
        END { flush() }' "$1" | sed 's/\\-/-/g; s/\\ / /g; s/\\(aq/'"'"'/g; s/\\&//g'
}

# man/hlsfs.1: ".BI name= value" / ".BR name= ..." entries of OPTIONS.
man1_opts() {
    man_tags "$1" OPTIONS | sed -nE 's/^\.B[IR]?[[:space:]]+"?([A-Za-z0-9_]+)=.*/\1/p' | sort -u
}

# man/hlsfs.conf.5: '.BI "name = " value' entries of KEYS.
conf5_keys() {
    man_tags "$1" KEYS | sed -nE 's/^\.B[IR]?[[:space:]]+"?([A-Za-z0-9_]+)[[:space:]]*=.*/\1/p' | sort -u
}

# README.md: table rows whose first cell is `-o name=...`.
readme_opts() {
    sed -nE 's/^\|[[:space:]]*`-o[[:space:]]+([A-Za-z0-9_]+)=.*/\1/p' "$1" | sort -u
}
# name<TAB>text of those rows, without Markdown's backquotes and escapes.
readme_entries() {
    awk '/^\|[[:space:]]*`-o[[:space:]]+[A-Za-z0-9_]+=/ {
        gsub(/\\\|/, "\001"); split($0, cell, "|")
        n = cell[2]; sub(/^[[:space:]]*`-o[[:space:]]+/, "", n); sub(/=.*/, "", n)
        t = cell[3]; gsub(/`/, "", t); gsub(/\001/, "|", t)
        print n "\t" t }' "$1"
}

# has_word TEXT WORD: WORD stands alone in TEXT (between blanks, commas, brackets or line ends).
has_word() {
    grep -Eq -- "(^|[][[:space:],|])$2([][[:space:],|]|\$)" <<<"$1"
}

# states_default TEXT DEFAULT: TEXT says "default DEFAULT" or "default: DEFAULT" (any case), DEFAULT
# followed by neither a letter nor a digit; an empty DEFAULT (no default) must read "none".
states_default() {
    awk -v t="$1" -v d="${2:-none}" 'BEGIN {
        t = tolower(t); d = tolower(d)
        n = split("default |default: ", pre, "|")
        for (i = 1; i <= n; i++) {
            s = t
            while ((k = index(s, pre[i] d)) > 0) {
                c = substr(s, k + length(pre[i] d), 1)
                if (c !~ /[a-z0-9]/) exit 0
                s = substr(s, k + 1)
            }
        }
        exit 1 }'
}

# --- comparison ------------------------------------------------------------------------------------------

# compare WHERE EXPECTED_FILE ACTUAL_FILE: one line per name missing from or extra in WHERE.
compare() {
    local where=$1 want=$2 got=$3 n
    if [ ! -s "$got" ]; then
        echo "$where: found no options at all (missing, or its format changed)"
        return 0
    fi
    while IFS= read -r n; do echo "$where lacks $n"; done < <(comm -23 "$want" "$got")
    while IFS= read -r n; do echo "$where has $n, which the table in include/config.h does not hold"; done < <(comm -13 "$want" "$got")
}

# compare_defaults WHERE DEFAULTS_FILE ENTRIES_FILE: one line per option of ENTRIES (name<TAB>text) whose
# text does not state the default DEFAULTS (name<TAB>default) gives it.
compare_defaults() {
    local where=$1 defaults=$2 entries=$3 name text d
    while IFS=$'\t' read -r name text; do
        d=$(awk -F'\t' -v n="$name" '$1 == n { print $2; f = 1 } END { exit !f }' "$defaults") || continue
        states_default "$text" "$d" ||
            echo "$where: $name does not state its default '${d:-none}' (want \"default${d:+ }${d:-: none}\")"
    done < "$entries"
}

# check_docs ROOT HELPFILE: prints every mismatch, one a line; nothing when all agree.
# The video extensions of the table in src/naming.c (video_ext), one a line.
video_exts() {
    awk '/video_ext\[\] = \{/ { f = 1; next } f && /^\};/ { exit } f' "$1" | grep -oE '"\.[A-Za-z0-9]+"' | tr -d '"' | sort -u
}

check_docs() {
    local root=$1 help=$2 d f o n
    d=$(mktemp -d "$T/sets.XXXXXX")
    for f in "${FILES[@]}"; do
        [ -f "$root/$f" ] || echo "$f: no such file in $root"
    done
    [ -f "$help" ] || echo "--help: no such file $help"

    code_opts "$root" > "$d/opts" 2>/dev/null || true
    config_keys "$root" > "$d/keys" 2>/dev/null || true
    table_defaults "$root" > "$d/defaults" 2>/dev/null || true
    main_extra_opts "$root/src/main.c" > "$d/main-extra" 2>/dev/null || true
    help_opts "$help" > "$d/help" 2>/dev/null || true
    man1_opts "$root/man/hlsfs.1" > "$d/man1" 2>/dev/null || true
    conf5_keys "$root/man/hlsfs.conf.5" > "$d/conf5" 2>/dev/null || true
    readme_opts "$root/README.md" > "$d/readme" 2>/dev/null || true

    # The table with itself: config is there, -o only; no macro default left unresolved; main.c adds
    # no option of its own.
    [ -s "$d/opts" ] || echo "include/config.h: found no OPTION(name, ...) rows in CONFIG_OPTIONS"
    grep -qx config "$d/opts" || echo "include/config.h has no config option"
    grep -qx config "$d/keys" && echo "include/config.h: config is a config-file key, but only -o may give it"
    grep -F '?unresolved macro?' "$d/defaults" | cut -f1 | sed 's|^|include/config.h: cannot resolve the default of |'
    while IFS= read -r n; do echo "src/main.c: option $n is written outside the table in include/config.h"; done < "$d/main-extra"

    compare "--help" "$d/opts" "$d/help"
    compare "man/hlsfs.1" "$d/opts" "$d/man1"
    compare "README.md" "$d/opts" "$d/readme"
    compare "man/hlsfs.conf.5" "$d/keys" "$d/conf5"

    help_entries "$help" > "$d/help-entries" 2>/dev/null || true
    man_entries "$root/man/hlsfs.1" OPTIONS "=" > "$d/man1-entries" 2>/dev/null || true
    man_entries "$root/man/hlsfs.conf.5" KEYS " = " > "$d/conf5-entries" 2>/dev/null || true
    readme_entries "$root/README.md" > "$d/readme-entries" 2>/dev/null || true
    compare_defaults "--help" "$d/defaults" "$d/help-entries"
    compare_defaults "man/hlsfs.1" "$d/defaults" "$d/man1-entries"
    compare_defaults "man/hlsfs.conf.5" "$d/defaults" "$d/conf5-entries"
    compare_defaults "README.md" "$d/defaults" "$d/readme-entries"

    # Every video extension of src/naming.c is named (as a word of its own) in man/hlsfs.1 and README.md.
    video_exts "$root/src/naming.c" > "$d/exts" 2>/dev/null || true
    [ -s "$d/exts" ] || echo "src/naming.c: found no video extensions in its video_ext table"
    while IFS= read -r o; do
        for f in man/hlsfs.1 README.md; do
            grep -qE "(^|[^A-Za-z0-9.])\\$o([^A-Za-z0-9]|\$)" "$root/$f" 2>/dev/null || echo "$f does not name the video extension $o"
        done
    done < "$d/exts"

    # Short options: in the hlsfs block of --help and among the OPTIONS entries of the man page.
    local hb mt
    hb=$(help_block "$help" 2>/dev/null || true)
    mt=$(man_tags "$root/man/hlsfs.1" OPTIONS 2>/dev/null | sed -E 's/^\.[A-Z]+[[:space:]]*//; s/"//g' || true)
    for o in "${SHORT_OPTS[@]}"; do
        has_word "$hb" "$o" || echo "--help lacks $o"
        has_word "$mt" "$o" || echo "man/hlsfs.1 lacks $o"
    done
    rm -rf "$d"
}

# --- the real tree ---------------------------------------------------------------------------------------

if [ -n "${HLSFS_DOCS_HELP:-}" ]; then
    HELP=$HLSFS_DOCS_HELP
else
    need_hlsfs
    HELP=$T/help.txt
    rc=0; timeout 10 "$HLSFS" --help > "$HELP" 2> "$T/help.err" || rc=$?
    [ "$rc" = 0 ] || fail "hlsfs --help exited $rc: $(head -n 2 "$T/help.err" | tr '\n' ' ')"
fi
real=$(check_docs "$DOCS_ROOT" "$HELP")
if [ -n "$real" ]; then
    n=$(grep -c . <<<"$real")
    while IFS= read -r l; do say "t-docs: $l"; done <<<"$real"
    hint=
    if grep -q '^--help ' <<<"$real" && [ -z "${HLSFS_DOCS_HELP:-}" ]; then
        hint=" (--help is that of $HLSFS: is it built from this tree?)"
    fi
    fail "$n documentation mismatches$hint: $(paste -sd ';' <<<"$real" | sed 's/;/; /g')"
fi

# --- the check itself can fail ---------------------------------------------------------------------------
# Only a pass needs this proof, so it runs once the real tree agrees (every file is then there). A copy with
# a probe option added to the table, --help and every document agrees; leaving the probe out of any one
# place, or giving it another default in any one place, must then be reported, naming that place (only
# what is new against the copy's own baseline counts).
PROBE=zz_docs_probe
PROBE_DEFAULT=zz7
C=$T/copy
mkdir -p "$C/include" "$C/src" "$C/man"
for f in "${FILES[@]}"; do
    cp "$DOCS_ROOT/$f" "$C/$f"
    cp "$C/$f" "$C/$f.orig"
done
cp "$HELP" "$C/help.txt"
cp "$HELP" "$C/help.txt.orig"
base=$(check_docs "$C" "$C/help.txt")

# add_probe FILE DEFAULT: the probe option, with that default, into the copy's FILE.
add_probe() {
    local f=$1 dflt=$2
    case $f in
        include/config.h)
            sed -i -E "/^#define[[:space:]]+CONFIG_OPTIONS\(/a\\\\tOPTION($PROBE, TEXT, 0, 0, \"$dflt\", 0, \"X\", \\\\\n\\t       \"probe option\") \\\\" "$C/$f" ;;
        help.txt)
            sed -i "/^hlsfs options:/a\\    -o $PROBE=X    probe option\\n                           (default $dflt)" "$C/$f" ;;
        man/hlsfs.1)
            sed -i "/^\.SH OPTIONS/a\\.TP\n.BI $PROBE= x\nProbe option (default\n.BR $dflt )." "$C/$f" ;;
        man/hlsfs.conf.5)
            sed -i "/^\.SH KEYS/a\\.TP\n.BI \"$PROBE = \" x\nProbe key.\nDefault\n.BR $dflt ." "$C/$f" ;;
        README.md)
            # shellcheck disable=SC2016 # the backquotes are Markdown
            printf '| `-o %s=X` | Probe option (default `%s`). |\n' "$PROBE" "$dflt" >> "$C/$f" ;;
    esac
}
PLACES=(include/config.h help.txt man/hlsfs.1 man/hlsfs.conf.5 README.md)
for f in "${PLACES[@]}"; do add_probe "$f" "$PROBE_DEFAULT"; done

# new_lines BASE OUT: the lines of OUT not in BASE.
new_lines() { comm -13 <(sort -u <<<"$1") <(sort -u <<<"$2"); }

added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
[ -z "$added" ] || fail "a probe option added consistently to every place is reported (test bug): $(head -n 3 <<<"$added" | tr '\n' ';')"

declare -A label=([include/config.h]=include/config.h [help.txt]=--help [man/hlsfs.1]=man/hlsfs.1
                  [man/hlsfs.conf.5]=man/hlsfs.conf.5 [README.md]=README.md)
for f in "${PLACES[@]}"; do
    cp "$C/$f" "$C/$f.probe"
    # left out of this place only
    cp "$C/$f.orig" "$C/$f"
    added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
    grep -F -- "${label[$f]}" <<<"$added" | grep -qF "$PROBE" ||
        fail "the probe option left out of ${label[$f]} only is not reported (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
    # another default in this place only: the table's change is seen by every other place
    cp "$C/$f.orig" "$C/$f"
    add_probe "$f" zz8
    added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
    if [ "$f" = include/config.h ]; then
        for g in --help man/hlsfs.1 man/hlsfs.conf.5 README.md; do
            grep -qF -- "$g: $PROBE does not state its default 'zz8'" <<<"$added" ||
                fail "the probe's default changed in the table only is not reported for $g (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
        done
    else
        grep -qF -- "${label[$f]}: $PROBE does not state its default '$PROBE_DEFAULT'" <<<"$added" ||
            fail "the probe's default changed in ${label[$f]} only is not reported (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
    fi
    cp "$C/$f.probe" "$C/$f"
done

# A real option's default changed in the table (a copy of it) is reported for every document, so the
# defaults of the real rows are compared too, not only the probe's.
cp "$C/include/config.h" "$C/include/config.h.probe"
sed -i -E 's/^([[:space:]]*OPTION\(segment,[^,]*,[^,]*,[^,]*,[[:space:]]*)"6"/\1"7"/' "$C/include/config.h"
added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
for g in --help man/hlsfs.1 man/hlsfs.conf.5 README.md; do
    grep -qF -- "$g: segment does not state its default '7'" <<<"$added" ||
        fail "segment's default changed to 7 in the table is not reported for $g (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
done
cp "$C/include/config.h.probe" "$C/include/config.h"

# An option written into src/main.c beside the table is reported.
sed -i -E "/CONFIG_OPTIONS\(HLSFS_OPT\)/a\\\\t{ \"$PROBE=%s\", offsetof(struct opts, conf.cache_dir), 0 }," "$C/src/main.c"
added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
grep -qxF -- "src/main.c: option $PROBE is written outside the table in include/config.h" <<<"$added" ||
    fail "an option written into src/main.c beside the table is not reported (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
cp "$C/src/main.c.orig" "$C/src/main.c"

# Short options: -V taken out of --help, and out of the man page's OPTIONS.
for o in -V --version; do
    grep -v -- "--version" "$C/help.txt.orig" > "$C/help.txt"
    added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
    grep -qxF -- "--help lacks $o" <<<"$added" || fail "--help without $o is not reported (test bug)"
    cp "$C/help.txt.orig" "$C/help.txt"
done
cp "$C/man/hlsfs.1.orig" "$C/man/hlsfs.1"

# A video extension added to the table in src/naming.c only is reported for both documents.
sed -i 's/"\.wmv",/".wmv", ".zzprobe",/' "$C/src/naming.c"
added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
for f in man/hlsfs.1 README.md; do
    grep -qxF -- "$f does not name the video extension .zzprobe" <<<"$added" ||
        fail "a video extension missing from $f is not reported (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
done
cp "$C/src/naming.c.orig" "$C/src/naming.c"

sed -i -E '/^\.B[IR]?[[:space:]].*\\-V/d' "$C/man/hlsfs.1"
added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
grep -qxF -- "man/hlsfs.1 lacks -V" <<<"$added" || fail "man/hlsfs.1 without -V is not reported (test bug)"

pass
