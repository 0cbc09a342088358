#!/bin/sh
# Run every cmocka unit-test binary of a build; prints cmocka's own lines and a total.
set -u
b=${1:?build dir}
pass=0; fail=0
for t in "$b"/tests/*; do
    [ -x "$t" ] || continue
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "unit: FAILED: $(basename "$t")"; fi
done
echo "unit binaries: $pass passed, $fail failed"
[ $fail = 0 ]
