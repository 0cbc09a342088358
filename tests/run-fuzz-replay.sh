#!/bin/sh
# Replay each libFuzzer target over its committed corpus (no new fuzzing): any crash,
# leak or sanitizer report fails.
set -u
b=${1:?build dir}
fail=0; n=0
for f in "$b"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f"); name=${name#fuzz_}
    dir=tests/fuzz/corpus/$name
    [ -d "$dir" ] || { echo "fuzz: no corpus for $name"; fail=1; continue; }
    n=$((n + 1))
    if ! "$f" -runs=0 $(find "$dir" -type f | sort) >"$b/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name FAILED on its corpus:"; tail -30 "$b/fuzz/$name.log"; fail=1
    else
        echo "fuzz: $name replayed $(find "$dir" -type f | wc -l) inputs"
    fi
done
[ $fail = 0 ]
