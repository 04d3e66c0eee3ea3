#!/usr/bin/env python3
"""Counts guest instructions executed in a `qemu-user -d in_asm,exec,nochain` log.

in_asm gives each translated block's instructions (address -> count), exec one line per block
executed (with `nochain`, every execution is logged). The sum is the instructions executed;
blocks left early by an exception are counted whole, which is rare in user code.
"""
import re
import sys

block_start = re.compile(r"^0x([0-9a-f]+):\s")
trace = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")

sizes = {}
executed = 0
current = None
with open(sys.argv[1], errors="replace") as log:
    for line in log:
        if line.startswith("IN:"):
            current = None
            continue
        match = trace.match(line)
        if match:
            current = None
            executed += sizes.get(int(match.group(1), 16), 0)
            continue
        match = block_start.match(line)
        if match:
            if current is None:
                current = int(match.group(1), 16)
                sizes[current] = 0
            sizes[current] += 1
print(executed)
