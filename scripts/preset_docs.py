"""Rewrite each "### preset NAME" section of docs/compare-dropout.md and docs/lessons.md from
`revival compare-dropout --preset NAME --explain` (a test checks the settings tables match the code).
Usage: python scripts/preset_docs.py (from the repository root)."""

import re

from click.testing import CliRunner

from revival.cli import main


def explain(name):
    r = CliRunner().invoke(main, ["compare-dropout", "--preset", name, "--explain"])
    assert r.exit_code == 0, r.output
    out = []
    for line in r.output.rstrip().splitlines():
        out.append("##" + line if line.startswith("#") else line)
    return "\n".join(out)


for path, add in (("docs/compare-dropout.md", ["salakhutdinov2009-dbm", "maji2009"]), ("docs/lessons.md", [])):
    text = open(path).read()
    parts = re.split(r"(?m)^(?=### preset )", text)
    head, sections = parts[0], parts[1:]
    new = []
    for sec in sections:
        name = sec.split("\n", 1)[0].split()[-1]
        # a section runs to the next '### preset' or the next '## ' heading
        m = re.search(r"(?m)^## (?!#)", sec)
        tail = sec[m.start() :] if m else ""
        new.append(explain(name) + "\n\n" + tail)
    for name in add:
        if not any(s.startswith(f"### preset {name}\n") for s in sections):
            # insert after the last section but before its tail
            last = new[-1]
            m = re.search(r"(?m)^## (?!#)", last)
            if m:
                new[-1] = last[: m.start()]
                new.append(explain(name) + "\n\n" + last[m.start() :])
            else:
                new.append(explain(name) + "\n")
    open(path, "w").write(head + "".join(new).rstrip() + "\n")
