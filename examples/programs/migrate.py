#!/usr/bin/env python3
"""A one-shot task, like `manage.py migrate`: runs, leaves migrated.txt, exits 0."""
import time

print("migrating", flush=True)
time.sleep(0.3)
with open("migrated.txt", "w") as f:
    f.write("ok\n")
print("migrated", flush=True)
