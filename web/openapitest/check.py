"""Checks a live edgesearch against its OpenAPI descriptions.

    python3 check.py MAIN_URL QDRANT_URL API_KEY

For each port: fetch /openapi.json (with the key), validate it with
openapi-spec-validator, then let schemathesis send generated requests,
valid and invalid, to every operation, and fail on any 5xx, any status,
content type or header the description does not list, and any body that
breaks its schema. The run is bounded and repeatable: a fixed number of
examples per operation, a fixed seed, one worker, no example database.
TestOpenAPISchemathesis (web/openapi_test.go) starts the server, with
fixture data, and runs this.
"""

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from openapi_spec_validator import validate

# The bounds of a run: examples per operation (each phase), the seed, and
# how long one request may take before it counts as a failure.
MAX_EXAMPLES = 10
SEED = 14
REQUEST_TIMEOUT = 60

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def fetch(url, header, key):
    req = urllib.request.Request(url, headers={header: key})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def check(name, base, header, key, workdir):
    doc = fetch(base + "/openapi.json", header, key)
    validate(doc)
    print(f"{name}: {base}/openapi.json is valid OpenAPI {doc['openapi']}", flush=True)
    path = Path(workdir) / f"{name}.json"
    path.write_text(json.dumps(doc))
    cmd = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "run", str(path),
        "--url", base,
        "--header", f"{header}: {key}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--mode", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--generation-database", "none",
        "--generation-with-security-parameters", "false",
        "--workers", "1",
        "--request-timeout", str(REQUEST_TIMEOUT),
        "--no-color",
    ]
    print("$ " + " ".join(cmd[:1] + ["-m schemathesis"] + cmd[3:]).replace(key, "KEY"), flush=True)
    start = time.monotonic()
    code = subprocess.run(cmd, cwd=workdir).returncode
    print(f"{name}: schemathesis exited {code} after {time.monotonic() - start:.1f} s", flush=True)
    return code == 0


def main():
    main_url, qdrant_url, key = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as workdir:
        ok = check("main", main_url, "X-API-Key", key, workdir)
        ok = check("qdrant", qdrant_url, "api-key", key, workdir) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
