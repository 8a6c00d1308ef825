#!/usr/bin/env python3
"""Check that docs/config.md documents every configuration field in actors/src/config/.

Reads every `#[derive(... Deserialize ...)]` struct with named fields in the config module's files (config.rs below) and its `pub <field>:` lines
(honouring `#[serde(rename = "...")]`, skipping `#[serde(flatten)]` and `#[serde(skip...)]`), and every
`#[serde(rename_all = "lowercase")]` enum's variants. Then checks docs/config.md:

- each struct has a section: a Markdown heading that names the struct in backticks (e.g. "## `[server]` — `ServerConfig`");
- each field has a table row in its struct's section starting with the field's TOML name in backticks ("| `listen` |");
- each enum value appears in backticks or quotes somewhere in the page;
- every ```toml example parses and uses only keys that the config module defines (the config is `deny_unknown_fields`).

Exit status 0 when all hold; 1 with one line per problem otherwise; 2 when a file cannot be read.

Extra TOML files given as arguments (e.g. config/default.toml, deploy/panoptes.toml) get the same key check.

Usage: python3 docs/check_config_doc.py [--config-rs actors/src/config] [--doc docs/config.md] [--root Config]
                                        [FILE.toml ...]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_RS = ROOT / "actors" / "src" / "config"
DEFAULT_DOC = ROOT / "docs" / "config.md"

ITEM_RE = re.compile(r"^pub\s+(struct|enum)\s+([A-Za-z0-9_]+)\s*(\{|\(|;)?")
FIELD_RE = re.compile(r"^\s*pub\s+(?:r#)?([a-z_][a-z0-9_]*)\s*:\s*(.+?),?\s*$")
VARIANT_RE = re.compile(r"^\s*([A-Z][A-Za-z0-9_]*)\s*(?:[,({=]|$)")


@dataclass
class Field:
    name: str  # the TOML key
    ty: str  # the Rust type, as written


@dataclass
class Struct:
    name: str
    fields: list[Field] = field(default_factory=list)


def _rename_all(case: str | None, variant: str) -> str:
    if case == "lowercase":
        return variant.lower()
    if case == "UPPERCASE":
        return variant.upper()
    if case in ("snake_case", "kebab-case"):
        s = re.sub(r"(?<!^)(?=[A-Z])", "_", variant).lower()
        return s.replace("_", "-") if case == "kebab-case" else s
    return variant


def parse_config_rs(source: str) -> tuple[dict[str, Struct], dict[str, list[str]]]:
    """Deserialize structs (name → fields) and enums (name → TOML values) in `source`."""
    lines = source.splitlines()
    structs: dict[str, Struct] = {}
    enums: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}  # a struct parsed from another (`try_from`) → that one
    attrs: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("#[") or stripped.startswith("///"):
            attrs.append(stripped)
            i += 1
            continue
        m = ITEM_RE.match(line)
        if not m:
            if stripped:
                attrs = []
            i += 1
            continue
        kind, name, opener = m.group(1), m.group(2), m.group(3)
        item_attrs, attrs = attrs, []
        deserialize = any(a.startswith("#[derive") and "Deserialize" in a for a in item_attrs)
        parsed_from = next((m.group(1) for a in item_attrs if (m := re.search(r'try_from\s*=\s*"([^"]+)"', a))), None)
        rename_all = None
        for a in item_attrs:
            rm = re.search(r'rename_all\s*=\s*"([^"]+)"', a)
            if rm:
                rename_all = rm.group(1)
        # The body: lines up to the closing brace at column 0.
        body: list[str] = []
        if opener == "{":
            i += 1
            while i < len(lines) and not lines[i].startswith("}"):
                body.append(lines[i])
                i += 1
        i += 1
        if not deserialize or opener != "{":
            continue
        if parsed_from is not None:  # written as another struct (`#[serde(try_from = "Raw")]`): that one is checked
            aliases[name] = parsed_from
            continue
        if kind == "struct":
            s = Struct(name)
            field_attrs: list[str] = []
            for b in body:
                bs = b.strip()
                if bs.startswith("#[") or bs.startswith("///") or bs.startswith("//"):
                    field_attrs.append(bs)
                    continue
                fm = FIELD_RE.match(b)
                if fm:
                    serde = " ".join(a for a in field_attrs if a.startswith("#[serde"))
                    if re.search(r"\bflatten\b|\bskip\b|\bskip_deserializing\b", serde):
                        field_attrs = []
                        continue
                    rn = re.search(r'\brename\s*=\s*"([^"]+)"', serde)
                    key = rn.group(1) if rn else _rename_all(rename_all, fm.group(1))
                    s.fields.append(Field(key, fm.group(2).rstrip(",").strip()))
                field_attrs = []
            structs[name] = s
        else:
            values = []
            for b in body:
                bs = b.strip()
                if not bs or bs.startswith("#[") or bs.startswith("//"):
                    continue
                vm = VARIANT_RE.match(b)
                if vm and b.startswith("    ") and not b.startswith("     "):
                    values.append(_rename_all(rename_all, vm.group(1)))
            enums[name] = values
    for name, raw in aliases.items():
        if raw in structs:
            structs[name] = structs[raw]
    return structs, enums


def sections(doc: str) -> list[tuple[str, str]]:
    """(heading line, body up to the next heading of the same or a higher level)."""
    heads = [(m.start(), len(m.group(1)), m.group(0)) for m in re.finditer(r"^(#{1,6})\s.*$", doc, re.M)]
    out = []
    for k, (start, level, text) in enumerate(heads):
        end = len(doc)
        for start2, level2, _ in heads[k + 1 :]:
            if level2 <= level:
                end = start2
                break
        out.append((text, doc[start:end]))
    return out


def inner_type(ty: str) -> str:
    """`Vec<X>` / `Option<X>` / `Box<X>` → `X`, repeatedly."""
    ty = ty.strip()
    while True:
        m = re.fullmatch(r"(?:Vec|Option|Box)\s*<\s*(.+)\s*>", ty)
        if not m:
            return ty
        ty = m.group(1).strip()


def check_toml_keys(value, struct: Struct, structs: dict[str, Struct], where: str, problems: list[str]) -> None:
    if isinstance(value, list):
        for k, item in enumerate(value):
            check_toml_keys(item, struct, structs, f"{where}[{k}]", problems)
        return
    if not isinstance(value, dict):
        return
    by_key = {f.name: f for f in struct.fields}
    for key, sub in value.items():
        path = f"{where}.{key}" if where else key
        f = by_key.get(key)
        if f is None:
            problems.append(f"key `{path}` is not a field of {struct.name} in actors/src/config/")
            continue
        target = structs.get(inner_type(f.ty))
        if target is not None:
            check_toml_keys(sub, target, structs, path, problems)


def check_toml_file(config_rs: str, text: str, name: str, root: str = "Config") -> list[str]:
    """Keys of one TOML configuration file that the config module does not define."""
    structs, _ = parse_config_rs(config_rs)
    if root not in structs:
        return [f"root struct {root} not found in actors/src/config/"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return [f"{name} does not parse: {e}"]
    problems: list[str] = []
    check_toml_keys(data, structs[root], structs, "", problems)
    return [f"{name}: {p}" for p in problems]


def check(config_rs: str, doc: str, root: str = "Config") -> list[str]:
    structs, enums = parse_config_rs(config_rs)
    problems: list[str] = []
    if not structs:
        return ["no Deserialize structs with named fields found in actors/src/config/"]
    secs = sections(doc)
    for s in {id(s): s for s in structs.values()}.values():
        owning = [body for head, body in secs if f"`{s.name}`" in head]
        if not owning:
            problems.append(
                f"struct {s.name}: no section in docs/config.md; add a heading naming it, e.g. \"## `[...]` — `{s.name}`\""
            )
            continue
        body = "\n".join(owning)
        for f in s.fields:
            if not re.search(rf"^\|\s*`{re.escape(f.name)}`\s*\|", body, re.M):
                problems.append(
                    f"missing: {s.name}.{f.name} ({f.ty}) has no table row \"| `{f.name}` | ...\" in its section"
                )
    for enum, values in enums.items():
        for v in values:
            if not re.search(rf"[`\"]{re.escape(v)}[`\"]", doc):
                problems.append(f"enum {enum}: value `{v}` is not mentioned in docs/config.md")
    root_struct = structs.get(root)
    if root_struct is None:
        problems.append(f"root struct {root} not found in actors/src/config/")
    else:
        examples = re.findall(r"^```toml\n(.*?)^```", doc, re.M | re.S)
        if not examples:
            problems.append("docs/config.md has no ```toml example")
        for n, ex in enumerate(examples, 1):
            try:
                data = tomllib.loads(ex)
            except tomllib.TOMLDecodeError as e:
                problems.append(f"toml example {n} does not parse: {e}")
                continue
            check_toml_keys(data, root_struct, structs, "", problems)
    return problems


def read_rust(path: Path) -> str:
    """One Rust file, or every `.rs` file of a module folder (sorted), as one text."""
    if path.is_dir():
        return "\n".join(p.read_text(encoding="utf-8") for p in sorted(path.glob("*.rs")))
    return path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config-rs", type=Path, default=DEFAULT_CONFIG_RS)
    ap.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    ap.add_argument("--root", default="Config", help="the top-level configuration struct")
    ap.add_argument("toml", nargs="*", type=Path, help="configuration files whose keys to check too")
    args = ap.parse_args(argv)
    try:
        config_rs = read_rust(args.config_rs)
        doc = args.doc.read_text(encoding="utf-8")
        extra = [(p, p.read_text(encoding="utf-8")) for p in args.toml]
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    problems = check(config_rs, doc, args.root)
    for path, text in extra:
        problems += check_toml_file(config_rs, text, str(path), args.root)
    if problems:
        print(f"{args.doc}: {len(problems)} problem(s) against {args.config_rs}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    structs, _ = parse_config_rs(config_rs)
    n = sum(len(s.fields) for s in structs.values())
    print(f"ok: {n} fields in {len(structs)} structs documented in {args.doc.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
