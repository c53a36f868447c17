#!/bin/sh
# The SL_HAVE_* names the sources use must be exactly the ones the build defines, each 0 or 1,
# and always tested with "#if" (never #ifdef/#ifndef/defined()), so a misspelt or forgotten
# switch fails the build under -Wundef instead of silently compiling the wrong branch.
#   usage: check_have_switches.sh SOURCE_DIR path/to/sl_config.h
set -eu
src=$1 hdr=$2
dirs=""
for d in src tests fuzz bench; do [ -d "$src/$d" ] && dirs="$dirs $src/$d"; done
used=$(grep -rhoE --include='*.c' --include='*.h' 'SL_HAVE_[A-Z0-9_]+' $dirs | sort -u)
defined=$(grep -oE '^#define SL_HAVE_[A-Z0-9_]+ [01]$' "$hdr" | awk '{print $2}' | sort -u)
all_defs=$(grep -oE '^#define SL_HAVE_[A-Z0-9_]+' "$hdr" | awk '{print $2}' | sort -u)
status=0
if [ "$defined" != "$all_defs" ]; then
    echo "SL_HAVE_* defined to something other than 0 or 1 in $hdr" >&2
    status=1
fi
tmp_u=$(mktemp) tmp_d=$(mktemp)
printf '%s\n' $used > "$tmp_u"
printf '%s\n' $defined > "$tmp_d"
only_used=$(comm -23 "$tmp_u" "$tmp_d")
only_defined=$(comm -13 "$tmp_u" "$tmp_d")
rm -f "$tmp_u" "$tmp_d"
if [ -n "$only_used" ]; then
    echo "used in the sources but not defined by the build: $only_used" >&2
    status=1
fi
if [ -n "$only_defined" ]; then
    echo "defined by the build but used nowhere: $only_defined" >&2
    status=1
fi
bad=$(grep -rnE --include='*.c' --include='*.h' '#\s*(ifdef|ifndef)\s+SL_HAVE_|defined\s*\(?\s*SL_HAVE_' $dirs || true)
if [ -n "$bad" ]; then
    echo "SL_HAVE_* tested with #ifdef/#ifndef/defined(); use #if:" >&2
    echo "$bad" >&2
    status=1
fi
[ $status -eq 0 ] && echo "SL_HAVE switches: $(echo $defined | wc -w) defined, all used, all 0/1"
exit $status
