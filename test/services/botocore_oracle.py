"""What botocore resolves under the current environment, as one JSON line.

Usage: python3 botocore_oracle.py [PROFILE]
Prints {"ok": true, "method": ..., "accessKey": ...}, {"ok": false, "none": true} when botocore
finds nothing, or {"ok": false, "error": <exception class>} when it raises.
"""
import json
import sys

import botocore.session

profile = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
try:
    credentials = botocore.session.Session(profile=profile).get_credentials()
    if credentials is None:
        print(json.dumps({"ok": False, "none": True}))
    else:
        frozen = credentials.get_frozen_credentials()
        print(json.dumps({"ok": True, "method": credentials.method, "accessKey": frozen.access_key}))
except Exception as error:  # noqa: BLE001 - the class name is the answer
    print(json.dumps({"ok": False, "error": type(error).__name__}))
