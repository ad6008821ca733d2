#!/usr/bin/env python3
"""Seeds for the fuzz corpora, made from the project's own policies, URLs, bundles,
artefacts and captured logs. Run from the repository root after
`cargo build -p egress-policy-cli`; `cargo fuzz cmin` then keeps the seeds that add coverage
(fuzz/README.md). Writes target/fuzzseeds/<target>/."""
import base64, glob, hashlib, os, re, subprocess, sys, tempfile

OUT = sys.argv[1] if len(sys.argv) > 1 else "target/fuzzseeds"
CLI = "target/debug/egress-policy"
# fuzz/src/bundle.rs: KEY_SEED and ENVIRONMENT.
KEY_SEED = b"egress-policy fuzz signing key!!"
ENVIRONMENT = "fuzz"
ARTIFACT_HEADER_LEN = 62


def seed(target, data):
    os.makedirs(f"{OUT}/{target}", exist_ok=True)
    with open(f"{OUT}/{target}/{hashlib.sha1(data).hexdigest()}", "wb") as f:
        f.write(data)


policies = sorted(set(glob.glob("policy/**/*.toml", recursive=True)
                      + glob.glob("tests/e2e/*.toml")
                      + glob.glob("crates/*/tests/fixtures/**/*.toml", recursive=True)))
policies = [p for p in policies if not p.startswith("policy/tests/")]
for p in policies:
    seed("parse_compile", open(p, "rb").read())

urls = set()
for f in glob.glob("policy/tests/*.toml") + glob.glob("tests/e2e/*.mjs") + glob.glob("docs/*.md"):
    urls.update(re.findall(r"""https?://[^"'\s`)<>\]]+""", open(f).read()))
for i, url in enumerate(sorted(urls)):
    seed("decide", bytes([i % 16]) + url.encode())

der = bytes.fromhex("302e020100300506032b657004220420") + KEY_SEED
pem = "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n"
with tempfile.TemporaryDirectory() as tmp:
    key = f"{tmp}/key.pem"
    open(key, "w").write(pem)
    for i, p in enumerate(policies):
        out, archive = f"{tmp}/{i}.bundle", f"{tmp}/archive{i}"
        made = subprocess.run([CLI, "bundle", p, "--key-file", key, "--environment", ENVIRONMENT,
                               "--serial", str(100 + i), "-o", out, "--archive", archive],
                              capture_output=True)
        if made.returncode != 0:
            continue  # a policy `check` refuses (a fixture of errors)
        bundle = open(out, "rb").read()
        seed("bundle", b"\0" + bundle)
        for artifact in glob.glob(f"{archive}/*"):
            payload = open(artifact, "rb").read()[ARTIFACT_HEADER_LEN:]
            seed("bundle", b"\1" + payload)
            seed("artifact", payload)

for f in glob.glob("crates/cli/tests/fixtures/logs/*.jsonl*"):
    data = open(f, "rb").read()
    if len(data) <= 16384:
        seed("log_reader", data)
    else:
        for line in data.splitlines(keepends=True):
            seed("log_reader", line)
