#!/usr/bin/env python3
"""What `docker compose config` refuses beyond the Compose schema, checked without Docker.

Run by scripts/compose-check.sh after the JSON-schema check. Variables are interpolated the
way Compose does (`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
`${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, nested in defaults) from the environment and the
project's `.env` file when there is one; then references are resolved. Exit 1 with one line
per problem.
"""

import os
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Interpolation(Exception):
    pass


def interpolate(text, env):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            value, i = braced(text, i + 2, env)
            out.append(value)
        else:
            m = NAME.match(text, i + 1)
            if not m:
                raise Interpolation(f"invalid interpolation format in {text!r}: a lone '$' (write '$$')")
            out.append(env.get(m.group(0), ""))
            i = m.end()
    return "".join(out)


def braced(text, i, env):
    """Parse `${...}` starting after the brace; return (value, index after the closing brace)."""
    m = NAME.match(text, i)
    if not m:
        raise Interpolation(f"invalid interpolation format in {text!r}: no variable name after '${{'")
    name, j = m.group(0), m.end()
    if text[j : j + 1] == "}":
        return env.get(name, ""), j + 1
    op = None
    for candidate in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(candidate, j):
            op = candidate
            break
    if op is None:
        raise Interpolation(f"invalid interpolation format in {text!r}: unexpected {text[j:j+1]!r} after ${{{name}")
    j += len(op)
    # The argument runs to the matching brace; it may hold nested ${...}.
    depth, k = 1, j
    while k < len(text):
        if text.startswith("$$", k):
            k += 2
            continue
        if text.startswith("${", k):
            depth += 1
            k += 2
            continue
        if text[k] == "}":
            depth -= 1
            if depth == 0:
                break
        k += 1
    if depth:
        raise Interpolation(f"invalid interpolation format in {text!r}: no closing '}}'")
    arg = text[j:k]
    value = env.get(name)
    unset_or_empty = value is None or (op.startswith(":") and value == "")
    if op in (":-", "-"):
        result = interpolate(arg, env) if unset_or_empty else value
    elif op in (":?", "?"):
        if unset_or_empty:
            raise Interpolation(f"required variable {name} is missing a value: {interpolate(arg, env)}")
        result = value
    else:  # :+ and +
        result = "" if unset_or_empty else interpolate(arg, env)
    return result, k + 1


def walk(node, env):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: walk(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, env) for v in node]
    return node


def dotenv(path):
    env = {}
    if not path.exists():
        return env
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip().removeprefix("export ").strip()] = v.strip().strip("'\"")
    return env


def main(path):
    path = Path(path)
    project = path.parent.resolve()
    raw = YAML(typ="safe").load(path.read_text())
    env = {**dotenv(project / ".env"), **os.environ}
    try:
        doc = walk(raw, env)
    except Interpolation as e:
        return [str(e)]
    problems = []
    services = doc.get("services") or {}
    volumes = doc.get("volumes") or {}
    for name, svc in services.items():
        where = f"services.{name}"
        if "image" not in svc and "build" not in svc:
            problems.append(f"{where}: neither image nor build")
        deps = svc.get("depends_on") or []
        for dep, spec in deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps):
            if dep not in services:
                problems.append(f"{where}.depends_on: no service {dep!r}")
            elif spec.get("condition") == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(f"{where}.depends_on.{dep}: service_healthy, but {dep} has no healthcheck")
        for v in svc.get("volumes") or []:
            source = v.get("source") if isinstance(v, dict) else (v.split(":")[0] if ":" in v else None)
            if source and not source.startswith((".", "/", "~")) and source not in volumes:
                problems.append(f"{where}.volumes: named volume {source!r} is not declared under volumes")
        for p in svc.get("ports") or []:
            spec = str(p.get("published", "")) + ":" + str(p.get("target")) if isinstance(p, dict) else str(p)
            for part in spec.split("/")[0].split(":")[-2:]:
                if part and not re.fullmatch(r"\d+(-\d+)?", part):
                    problems.append(f"{where}.ports: {p!r} is not a port mapping after interpolation")
        build = svc.get("build")
        if build is not None:
            ctx = project / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not (ctx / dockerfile).is_file():
                problems.append(f"{where}.build: {ctx / dockerfile} does not exist")
        env_files = svc.get("env_file") or []
        for f in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            file, required = (f, True) if isinstance(f, str) else (f.get("path"), f.get("required", True))
            if required and not (project / file).is_file():
                problems.append(f"{where}.env_file: {file} does not exist (mark it required: false)")
    # What Cadence relies on.
    pg = services.get("postgres", {})
    if "pgvector" not in str(pg.get("image", "")):
        problems.append("services.postgres.image: expected a PostgreSQL image with pgvector")
    app = services.get("app", {})
    if "postgres" not in (app.get("depends_on") or {}):
        problems.append("services.app.depends_on: the app must wait for postgres")
    return problems


if __name__ == "__main__":
    found = main(sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml")
    for p in found:
        print(f"docker-compose.yml: {p}", file=sys.stderr)
    if found:
        sys.exit(1)
    print("docker-compose.yml: references, interpolation and the pgvector image are fine")
