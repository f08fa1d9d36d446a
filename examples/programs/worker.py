#!/usr/bin/env python3
"""A background worker, like a queue consumer: says whether the migration ran first, stops on TERM."""
import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("worker up, migrated={}".format("yes" if os.path.exists("migrated.txt") else "no"), flush=True)
while True:
    time.sleep(1)
