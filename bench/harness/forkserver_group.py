"""Imported only inside multiprocessing's fork server (as a preload module): its job is to run there.

It puts the fork server in a process group of its own, which every case it forks inherits, so
the parent can kill the whole memory pass with one ``killpg``; and it has Linux kill the server
when its parent dies. The server's own "parent is gone" check is not enough: every forked case
holds the pipe the server watches, so a server whose parent was SIGKILLed waits for its case.
"""

import os

from bench.harness.children import die_with_parent_here, expect_to_be_parent

if os.getpid() != os.getpgid(0):
    os.setpgid(0, 0)
die_with_parent_here()
expect_to_be_parent()  # the cases it forks die with it
