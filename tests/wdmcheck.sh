#!/bin/sh
# wdmcheck.sh FILE.c... - a driver sees the kernel only through wdm.h.
#
# Every #include in a driver source and in the headers beside it must be
# <wdm.h> or "name.h" naming a header in the driver's own folder. The
# Makefile runs this before compiling anything under drivers/ or
# tests/drivers/ (which are also compiled without -I., so a path into the
# kernel would not resolve anyway); `make test-host` proves it refuses.
status=0
for src in "$@"; do
    dir=$(dirname "$src")
    for f in "$src" $(ls "$dir"/*.h 2>/dev/null); do
        grep -n '^[[:space:]]*#[[:space:]]*include' "$f" | while IFS= read -r line; do
            inc=$(printf '%s\n' "$line" | sed -e 's/^[0-9]*:[[:space:]]*#[[:space:]]*include[[:space:]]*//' -e 's/[[:space:]].*//')
            case "$inc" in
            '<wdm.h>') ;;
            \"*/*\") echo "$f:${line%%:*}: includes $inc; a driver includes only <wdm.h> and its own headers"; exit 1 ;;
            \"*.h\") name=${inc#\"}; name=${name%\"}
                     [ -f "$dir/$name" ] || { echo "$f:${line%%:*}: includes $inc, not a header of this driver"; exit 1; } ;;
            *) echo "$f:${line%%:*}: includes $inc; a driver includes only <wdm.h> and its own headers"; exit 1 ;;
            esac
        done || status=1
    done
done
exit $status
