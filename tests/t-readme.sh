#!/usr/bin/env bash
# t-readme: tests/README.md's table of tests is the list of tests, no more and no fewer: every tests/t-*.sh
# has a row, and every test a row names exists. Mounts nothing. A doctored copy of the README and of the
# test folder (a row taken out, a row for no test, a test with no row, a test named twice) proves the
# comparison can fail.
source "$(dirname "$0")/lib.sh"

# readme_tests README: the test names in the first cell of each row of README's "The tests" table, one a line
# (a row may name several, as `t-caddy`, `t-nginx`).
readme_tests() {
    awk '/^## / { s = ($0 == "## The tests"); next }
        s && /^\| *`t-/ {
            split($0, cell, "|"); c = cell[2]
            while (match(c, /`t-[A-Za-z0-9_-]+`/)) { print substr(c, RSTART + 1, RLENGTH - 2); c = substr(c, RSTART + RLENGTH) }
        }' "$1"
}

# test_scripts DIR: the names of DIR/t-*.sh without .sh, one a line.
test_scripts() {
    local f
    for f in "$1"/t-*.sh; do [ -e "$f" ] && basename "$f" .sh; done
    return 0
}

# readme_gaps README DIR: one line per disagreement ("no row: NAME", "no test: NAME", "twice: NAME"); nothing
# when the table and the scripts agree.
readme_gaps() {
    local rows=$T/.rows scripts=$T/.scripts
    readme_tests "$1" | sort > "$rows"
    test_scripts "$2" | sort > "$scripts"
    comm -13 "$rows" "$scripts" | sed 's/^/no row: /'
    sort -u "$rows" | comm -23 - "$scripts" | sed 's/^/no test: /'
    uniq -d "$rows" | sed 's/^/twice: /'
}

README=$TESTS_DIR/README.md
[ -f "$README" ] || fail "no $README"
n=$(readme_tests "$README" | wc -l)
[ "$n" -gt 0 ] || fail "found no rows in the '## The tests' table of tests/README.md (has its heading or layout changed?)"
gaps=$(readme_gaps "$README" "$TESTS_DIR")
[ -z "$gaps" ] || fail "tests/README.md's table of tests and tests/t-*.sh disagree: $(tr '\n' ';' <<<"$gaps")"

# The doctored copies: each change must be reported, naming the test.
D=$T/doctored
mkdir -p "$D"
fresh_copy() {
    rm -rf "$D"/*
    cp "$README" "$D/README.md"
    local name
    while IFS= read -r name; do : > "$D/$name.sh"; done < <(test_scripts "$TESTS_DIR")
}
# expect_gap WHAT LINE: readme_gaps on the doctored copy reports LINE (and only that).
expect_gap() {
    local got
    got=$(readme_gaps "$D/README.md" "$D")
    [ "$got" = "$2" ] || fail "test bug: with $1, the check reports [$(tr '\n' ';' <<<"$got")], want [$2]"
}

fresh_copy
expect_gap "an untouched copy" ""
fresh_copy
grep -v '^| `t-tree` |' "$README" > "$D/README.md"
expect_gap "the row of t-tree taken out" "no row: t-tree"
fresh_copy
sed -i '/^| `t-tree` |/a | `t-no-such-test` | A test that does not exist. |' "$D/README.md"
expect_gap "a row for no test" "no test: t-no-such-test"
fresh_copy
: > "$D/t-unlisted.sh"
expect_gap "a test with no row" "no row: t-unlisted"
fresh_copy
sed -i '/^| `t-tree` |/a | `t-tree` | Listed again. |' "$D/README.md"
expect_gap "a test named twice" "twice: t-tree"
fresh_copy
sed -i 's/^| `t-caddy`, `t-nginx` |/| `t-caddy` |/' "$D/README.md"
expect_gap "the second name of a shared row taken out" "no row: t-nginx"

pass
