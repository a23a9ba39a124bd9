"""``wsvol weights list`` and ``wsvol weights check``: the named weights files, where each goes,
and whether the files found load into the models that use them."""

from __future__ import annotations

import argparse
import shutil
import textwrap

_INDENT = 11  # "  get it   "


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add weights (list, check)."""
    w = sub.add_parser("weights", help="list named weights, the files expected and where to put them")
    w.set_defaults(_parser=w)
    w_sub = w.add_subparsers(dest="weights_command", metavar="ACTION")
    w_sub.add_parser("list", help="every named weights file: expected file, format, where to get it, "
                     "where it was found").set_defaults(func=_weights_list)
    p = w_sub.add_parser("check", help="read each weights file found (or those named) and load it into "
                         "a component that uses it, strictly")
    p.add_argument("names", nargs="*", metavar="NAME", help="weights names (default: every one found)")
    p.set_defaults(func=_weights_check)


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 100))


def _field(label: str, text: str, width: int) -> str:
    """``  label    text`` wrapped at ``width``; URLs and paths are never broken."""
    return textwrap.fill(text, width, initial_indent=f"  {label:<8} ", subsequent_indent=" " * _INDENT,
                         break_long_words=False, break_on_hyphens=False)


def _weights_list(args: argparse.Namespace) -> int:
    import wsvol.weights as w

    width = _width()
    known = w.known_weights()
    lines = [f"Weights folder: {w.weights_dir()}",
             f"(set ${w.ENV} to move it; wsvol never downloads anything)", ""]
    for name, k in known.items():
        wf = k.file
        try:
            path, how = w.find_weights(name, known)
            found = f"{path} ({how})" if path else "no"
        except w.WeightsError as err:
            found = f"error: {err}"
        fmt = w.FORMATS.get(wf.format)
        lines.append(textwrap.fill(f"{name}" + (f": {wf.title}" if wf.title else ""), width, subsequent_indent="  "))
        lines.append(_field("found", found, width))
        lines.append(_field("file", wf.filename, width))
        lines += [_field("", f"or {a}", width) for a in wf.also]
        if fmt is not None:
            lines.append(_field("format", f"{fmt.name}: {fmt.container}", width))
        sources = [part.strip().removeprefix("or ") for part in wf.source.split(" ; ")]
        lines += [_field("get it" if i == 0 else "", ("or " if i else "") + part, width)
                  for i, part in enumerate(sources)]
        uses = list(k.used_by) or ["no installed component"]
        lines += [_field("used by" if i == 0 else "", u, width) for i, u in enumerate(uses)]
        lines.append("")
    lines.append("A config names weights by name (pretrained: dino_vits16) or by path. Put the file in the "
                 "weights folder under the name shown, or give its path. `wsvol weights check` loads "
                 "the files found.")
    print("\n".join(lines[:-1] + [textwrap.fill(lines[-1], width)]))
    return 0


def _weights_check(args: argparse.Namespace) -> int:
    import wsvol.weights as w

    known = w.known_weights()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        raise w.WeightsError(f"unknown weights name(s) {', '.join(unknown)}; known: {', '.join(known)} "
                             "(see `wsvol weights list`)")
    failed = 0
    for name in args.names or list(known):
        try:
            path, _ = w.find_weights(name, known)
        except w.WeightsError as err:
            failed += 1
            print(f"FAIL     {name}: {err}")
            continue
        if path is None:
            if args.names:
                failed += 1
                print(f"missing  {name}: put {known[name].file.filename} in {w.weights_dir()}")
            continue
        status, text = _check_one(path, known[name])
        failed += status == "FAIL"
        print(f"{status:<8} {name}: {text}")
    return 1 if failed else 0


def _check_one(path, known) -> tuple[str, str]:
    """('ok'|'FAIL'|'skipped', what happened) for one file and the first installed component using it."""
    from wsvol.registry import Registries
    from wsvol.weights import read_weights

    try:
        weights = read_weights(path)
    except Exception as err:  # a refused or unreadable file: the reader's message names it
        return "FAIL", f"{path}: {err}"
    what = f"{path} ({weights.format}: {weights.title}, {len(weights.state)} tensors)"
    registries = {r.kind: r for r in Registries.all().values()}
    for use in known.uses:
        registry = registries.get(use.kind)
        if registry is None or use.type not in registry.entries():
            continue
        cfg = {"type": use.type, **dict(use.args), known.file.arg: str(path)}
        try:
            registry.build(cfg)
        except Exception as err:
            return "FAIL", f"{what} into {use}:\n" + textwrap.indent(str(err), " " * 9)
        return "ok", f"{what} loads into {use}"
    return "skipped", f"{what}: no installed component uses it (see `wsvol weights list`)"
