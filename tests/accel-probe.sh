#!/bin/sh
# accel-probe.sh - print "kvm" only where KVM is real hardware virtualization.
#
# Some machines (these included) have a /dev/kvm that is a software
# implementation: an ordinary guest runs ~100x slower under it than under
# TCG. Real VT-x/AMD-V shows up as the vmx/svm CPU flag; without it, or
# without access to /dev/kvm, we use TCG. ACCEL=kvm|tcg overrides.
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qw -e vmx -e svm /proc/cpuinfo; then
    echo kvm
else
    echo tcg
fi
