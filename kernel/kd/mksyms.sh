#!/bin/sh
# mksyms.sh ELF - print the .ksyms table (GNU assembler) for kernel/kd/symbols.c.
# Lists the text symbols of the first-pass image sorted by address; see
# symbols.c for the layout. ${NM:-nm} may name a cross nm.
set -e
${NM:-nm} -n --defined-only "$1" | awk '
BEGIN { n = 0 }
$2 ~ /^[tTwW]$/ && $1 ~ /^ffffffff8/ && $3 !~ /^\./ { addr[n] = $1; name[n] = $3; n++ }
END {
    print "\t.section .ksyms, \"a\""
    print "\t.balign 8"
    print "\t.quad " n
    print "\t.quad 16 + " n " * 16"
    off = 0
    for (i = 0; i < n; i++) {
        print "\t.quad 0x" addr[i]
        print "\t.long " off ", 0"
        off += length(name[i]) + 1
    }
    for (i = 0; i < n; i++)
        print "\t.asciz \"" name[i] "\""
}'
