"""A stand-in for a batch module run as an async job: writes its progress file (the format of
module_utils/batch.py write_progress) as two resources finish, then prints 'done'."""
import json
import os
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])


def write(done, pending, elapsed):
    with open(path + ".tmp", "w") as handle:
        json.dump(dict(what="steps", total=2, done=done, pending=pending, elapsed_seconds=elapsed), handle)
    os.replace(path + ".tmp", path)


write([], {"first": "working", "second": "working"}, 0)
time.sleep(seconds / 2)
write(["first"], {"second": "working"}, seconds / 2)
time.sleep(seconds / 2)
print("done")
