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
import urllib.error
import urllib.request
from pathlib import Path

from openapi_spec_validator import validate

# The bounds of a run: examples per operation (each phase), the seed, and
# how long one request may take before it counts as a failure.
MAX_EXAMPLES = 30
SEED = 14
REQUEST_TIMEOUT = 60

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


# Random path parameters almost never name something stored, so half of
# the time these operations get a name the fixtures hold instead, to reach
# past the 404. The destructive operations (DELETE /documents/{id},
# DELETE /collections/{collection}) are left to their own examples, which
# run in a pass of their own after the others (see DESTRUCTIVE).
CONFIG = {
    "main": """
[dictionaries.documents]
values = ["bees", "train"]

[dictionaries.collections]
values = ["documents", "fixture"]

[[operations]]
include-path-regex = "^/documents/[{]id[}]"
include-method = "GET"
parameters = { "path.id" = { dictionary = "documents", probability = 0.5 } }

[[operations]]
include-path-regex = "^/collections/[{]name[}]/search$"
parameters = { "path.name" = { dictionary = "collections", probability = 0.5 } }
""",
    "qdrant": """
[dictionaries.collections]
values = ["documents", "fixture"]

[dictionaries.points]
values = [1, 2, 3]

[[operations]]
include-path-regex = "^/collections/[{]collection[}]/(points|index|exists)"
parameters = { "path.collection" = { dictionary = "collections", probability = 0.5 }, "path.id" = { dictionary = "points", probability = 0.5 } }
""",
}


# The operations that delete what the fixtures hold: schemathesis sends
# them the examples of the parameters they share with the reads ("bees",
# "fixture"), so they run last, in a pass of their own, after a check that
# the fixtures outlived every other operation.
DESTRUCTIVE = {"main": "deleteDocument", "qdrant": "deleteCollection"}
FIXTURES = {"main": ["/documents/bees", "/documents/train"], "qdrant": ["/collections/fixture"]}


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
    config = Path(workdir) / f"{name}.toml"
    config.write_text(CONFIG[name])
    ok = True
    for step, select in [("all but the destructive operation", "--exclude-operation-id"),
                         ("the destructive operation", "--include-operation-id")]:
        cmd = [
            sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
            "--config-file", str(config),
            "run", str(path),
            select, DESTRUCTIVE[name],
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
        print(f"{name}, {step}:\n$ schemathesis " + " ".join(cmd[3:]).replace(key, "KEY"), flush=True)
        start = time.monotonic()
        code = subprocess.run(cmd, cwd=workdir).returncode
        print(f"{name}: schemathesis exited {code} after {time.monotonic() - start:.1f} s", flush=True)
        ok = ok and code == 0
        if select == "--exclude-operation-id":
            for fixture in FIXTURES[name]:
                try:
                    fetch(base + fixture, header, key)
                except urllib.error.HTTPError as e:
                    print(f"{name}: {fixture} did not outlive the other operations: {e}", flush=True)
                    ok = False
    return ok


def main():
    main_url, qdrant_url, key = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as workdir:
        ok = check("main", main_url, "X-API-Key", key, workdir)
        ok = check("qdrant", qdrant_url, "api-key", key, workdir) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
