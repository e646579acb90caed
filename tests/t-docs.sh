#!/usr/bin/env bash
# t-docs: the options the code accepts are the options the documentation lists, no more and no fewer:
# the -o options of src/main.c (hlsfs_opts) against `hlsfs --help`, man/hlsfs.1 and README.md's table;
# the config-file keys of src/config.c against man/hlsfs.conf.5, and each of them against the -o options
# (all but config). The short options (-f -d -h --help -V --version) must be in --help and man/hlsfs.1.
# Mounts nothing. A doctored copy of the files (an option added everywhere, then left out of one place at a
# time) proves every comparison can fail.
#
# Environment: HLSFS_DOCS_ROOT (the tree whose src/, man/ and README.md are read; default this checkout),
# HLSFS_DOCS_HELP (a file holding the --help text to use instead of running $HLSFS --help).
source "$(dirname "$0")/lib.sh"

DOCS_ROOT=${HLSFS_DOCS_ROOT:-$REPO_DIR}
SHORT_OPTS=(-f -d -h --help -V --version)

# --- extraction: each prints one name a line, sorted, without duplicates --------------------------------

# OPT("name=%s", ...) entries of the hlsfs_opts table.
code_opts() {
    awk '/hlsfs_opts\[\][[:space:]]*=/ { f = 1; next } f && /FUSE_OPT_END|^[[:space:]]*};/ { exit } f' "$1" |
        sed -nE 's/^[[:space:]]*OPT[[:space:]]*\([[:space:]]*"([A-Za-z0-9_]+)=.*/\1/p' | sort -u
}

# { "name", offsetof(...) } entries of the key table of config_set_default.
config_keys() {
    awk '/config_set_default[[:space:]]*\(/ { c = 1 } c && /keys\[\][[:space:]]*=/ { f = 1; next }
         f && /^[[:space:]]*};/ { exit } f' "$1" |
        sed -nE 's/^[[:space:]]*\{[[:space:]]*"([A-Za-z0-9_]+)".*/\1/p' | sort -u
}

# The "hlsfs options:" block of --help, up to its first empty line (FUSE's own options follow it).
help_block() {
    awk '/^hlsfs options:/ { f = 1; next } f && /^[[:space:]]*$/ { exit } f' "$1"
}
help_opts() {
    help_block "$1" | sed -nE 's/^[[:space:]]*-o[[:space:]]+([A-Za-z0-9_]+)=.*/\1/p' | sort -u
}

# The tag lines (the line after each .TP) of one section of a man page, \- turned into -.
man_tags() {
    local file=$1 section=$2
    awk -v s="$section" '
        /^\.SH/ { sec = $0; sub(/^\.SH[[:space:]]+"?/, "", sec); sub(/"[[:space:]]*$/, "", sec); tp = 0; next }
        sec == s && tp { print; tp = 0; next }
        sec == s && /^\.TP/ { tp = 1 }' "$file" | sed 's/\\-/-/g'
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

# has_word TEXT WORD: WORD stands alone in TEXT (between blanks, commas, brackets or line ends).
has_word() {
    grep -Eq -- "(^|[][[:space:],|])$2([][[:space:],|]|\$)" <<<"$1"
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
    while IFS= read -r n; do echo "$where has $n, which the code does not accept"; done < <(comm -13 "$want" "$got")
}

# check_docs ROOT HELPFILE: prints every mismatch, one a line; nothing when all agree.
check_docs() {
    local root=$1 help=$2 d f o n
    d=$(mktemp -d "$T/sets.XXXXXX")
    for f in src/main.c src/config.c man/hlsfs.1 man/hlsfs.conf.5 README.md; do
        [ -f "$root/$f" ] || echo "$f: no such file in $root"
    done
    [ -f "$help" ] || echo "--help: no such file $help"

    code_opts "$root/src/main.c" > "$d/opts" 2>/dev/null || true
    config_keys "$root/src/config.c" > "$d/keys" 2>/dev/null || true
    help_opts "$help" > "$d/help" 2>/dev/null || true
    man1_opts "$root/man/hlsfs.1" > "$d/man1" 2>/dev/null || true
    conf5_keys "$root/man/hlsfs.conf.5" > "$d/conf5" 2>/dev/null || true
    readme_opts "$root/README.md" > "$d/readme" 2>/dev/null || true

    # The code with itself: every config key is an -o option; every -o option but config is a key.
    [ -s "$d/opts" ] || echo "src/main.c: found no OPT(\"name=%s\", ...) entries in hlsfs_opts"
    [ -s "$d/keys" ] || echo "src/config.c: found no { \"name\", ... } entries in the key table of config_set_default"
    grep -vx config "$d/opts" > "$d/opts-noconfig" || true
    grep -qx config "$d/keys" && echo "src/config.c has key config, which only -o may give"
    while IFS= read -r n; do
        [ "$n" = config ] || echo "src/config.c key $n is not an -o option of src/main.c"
    done < <(comm -13 "$d/opts-noconfig" "$d/keys")
    while IFS= read -r n; do echo "src/main.c option $n is not a config-file key of src/config.c"; done < <(comm -23 "$d/opts-noconfig" "$d/keys")
    grep -qx config "$d/opts" || echo "src/main.c has no config= option"

    compare "--help" "$d/opts" "$d/help"
    compare "man/hlsfs.1" "$d/opts" "$d/man1"
    compare "README.md" "$d/opts" "$d/readme"
    compare "man/hlsfs.conf.5" "$d/keys" "$d/conf5"

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
# Only a pass needs this proof, so it runs once the real tree agrees (every file is then there). A copy with a probe option added to the code, --help and every document agrees; leaving the probe out of
# any one place must then be reported, naming that place (only what is new against the copy's own
# baseline counts).
PROBE=zz_docs_probe
C=$T/copy
mkdir -p "$C/src" "$C/man"
for f in src/main.c src/config.c man/hlsfs.1 man/hlsfs.conf.5 README.md; do
    cp "$DOCS_ROOT/$f" "$C/$f"
    cp "$C/$f" "$C/$f.orig"
done
cp "$HELP" "$C/help.txt"
cp "$HELP" "$C/help.txt.orig"
base=$(check_docs "$C" "$C/help.txt")

sed -i -E "0,/^[[:space:]]*OPT\(\"[A-Za-z0-9_]+=/s//\tOPT(\"$PROBE=%s\", conf.cache_dir),\n&/" "$C/src/main.c"
sed -i -E "/keys\[\][[:space:]]*=/,/^[[:space:]]*};/{0,/^[[:space:]]*\{[[:space:]]*\"/s//\t\t{ \"$PROBE\", 0 },\n&/}" "$C/src/config.c"
sed -i "/^hlsfs options:/a\\    -o $PROBE=X    probe option" "$C/help.txt"
sed -i "/^\.SH OPTIONS/a\\.TP\n.BI $PROBE= x\nProbe option." "$C/man/hlsfs.1"
sed -i "/^\.SH KEYS/a\\.TP\n.BI \"$PROBE = \" x\nProbe key." "$C/man/hlsfs.conf.5"
# shellcheck disable=SC2016 # the backquotes are Markdown
printf '| `-o %s=X` | Probe option. |\n' "$PROBE" >> "$C/README.md"

# new_lines BASE OUT: the lines of OUT not in BASE.
new_lines() { comm -13 <(sort -u <<<"$1") <(sort -u <<<"$2"); }

added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
[ -z "$added" ] || fail "a probe option added consistently to every place is reported (test bug): $(head -n 3 <<<"$added" | tr '\n' ';')"

declare -A label=([src/main.c]=src/main.c [src/config.c]=src/config.c [help.txt]=--help
                  [man/hlsfs.1]=man/hlsfs.1 [man/hlsfs.conf.5]=man/hlsfs.conf.5 [README.md]=README.md)
for f in src/main.c src/config.c help.txt man/hlsfs.1 man/hlsfs.conf.5 README.md; do
    cp "$C/$f" "$C/$f.probe"
    cp "$C/$f.orig" "$C/$f"
    added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
    grep -F -- "${label[$f]}" <<<"$added" | grep -qF "$PROBE" ||
        fail "the probe option left out of ${label[$f]} only is not reported (test bug); reported: $(head -n 3 <<<"$added" | tr '\n' ';')"
    cp "$C/$f.probe" "$C/$f"
done

# Short options: -V taken out of --help, and out of the man page's OPTIONS.
for o in -V --version; do
    grep -v -- "--version" "$C/help.txt.orig" > "$C/help.txt"
    added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
    grep -qxF -- "--help lacks $o" <<<"$added" || fail "--help without $o is not reported (test bug)"
    cp "$C/help.txt.orig" "$C/help.txt"
done
cp "$C/man/hlsfs.1.orig" "$C/man/hlsfs.1"
sed -i -E '/^\.B[IR]?[[:space:]].*\\-V/d' "$C/man/hlsfs.1"
added=$(new_lines "$base" "$(check_docs "$C" "$C/help.txt")")
grep -qxF -- "man/hlsfs.1 lacks -V" <<<"$added" || fail "man/hlsfs.1 without -V is not reported (test bug)"

pass
