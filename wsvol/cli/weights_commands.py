"""``wsvol weights list`` and ``wsvol weights check``: the named weights files, where each goes,
and whether the files found load into the models that use them."""

from __future__ import annotations

import argparse
import shutil
import textwrap

from wsvol.cli.help import ExamplesFormatter

_INDENT = 11  # "  get it   "


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add weights (list, check)."""
    w = sub.add_parser("weights", help="list named weights, the files expected and where to put them",
                       description="The named weights files configs may use: the file each name expects in the "
                                   "weights folder, where to get it, and whether the files found load "
                                   "(docs/weights.md). wsvol never downloads anything.",
                       epilog="examples:\n"
                              "  wsvol weights list\n"
                              "  wsvol weights check\n"
                              "  wsvol weights ACTION --help   # an action's options and examples",
                       formatter_class=ExamplesFormatter)
    w.set_defaults(_parser=w)
    w_sub = w.add_subparsers(dest="weights_command", metavar="ACTION")
    w_sub.add_parser("list", help="every named weights file: expected file, format, where to get it, "
                     "where it was found",
                     description="Every weights name a config may use (built-ins and plugins): the file expected "
                                 "in the weights folder, its format, where to get it, what uses it, and where it "
                                 "was found.",
                     epilog="examples:\n  wsvol weights list\n  WSVOL_WEIGHTS=~/wsvol-weights wsvol weights list",
                     formatter_class=ExamplesFormatter).set_defaults(func=_weights_list)
    p = w_sub.add_parser("check", help="read each weights file found (or those named, or those a config "
                         "uses) and load it, strictly, into the component that uses it",
                         description="Read each weights file found (or the named ones, or those configs use) "
                                     "and load it, strictly, into a component that uses it: ok, or FAIL with the "
                                     "file and every mismatched key.",
                         epilog="examples:\n  wsvol weights check\n  wsvol weights check dino_vits16\n"
                                "  wsvol weights check configs/trcamv_ytov1.yaml",
                         formatter_class=ExamplesFormatter)
    p.add_argument("names", nargs="*", metavar="NAME|CONFIG",
                   help="weights names, or config files (.yaml/.py) whose weights to check (default: every "
                   "named weights file found)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides")
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

    configs = [a for a in args.names if a.endswith((".yaml", ".yml", ".py"))]
    names = [a for a in args.names if a not in configs]
    known = w.known_weights()
    unknown = [n for n in names if n not in known]
    if unknown:
        import difflib

        close = {n: difflib.get_close_matches(n, list(known), n=1, cutoff=0.5) for n in unknown}
        hints = [f"{c[0]!r}" + (f" (for {n!r})" if len(unknown) > 1 else "") for n, c in close.items() if c]
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise w.WeightsError(f"unknown weights name(s) {', '.join(unknown)}{hint}; known: {', '.join(known)} "
                             "(see `wsvol weights list`)")
    failed = reported = 0
    for name in names or ([] if configs else list(known)):
        try:
            path, _ = w.find_weights(name, known)
        except w.WeightsError as err:
            failed += 1
            print(f"FAIL     {name}: {err}")
            continue
        if path is None:
            if names:
                failed += 1
                print(f"missing  {name}: put {known[name].file.filename} in {w.weights_dir()}")
            continue
        reported += 1
        uses = [(u.kind, {"type": u.type, **dict(u.args), known[name].file.arg: str(path)}) for u in known[name].uses]
        status, text = _check_one(path, uses)
        failed += status == "FAIL"
        print(f"{status:<8} {name}: {text}")
    if not args.names and not failed and not reported:  # nothing failed: none to check is no error
        folder = w.weights_dir()
        where = "" if folder.is_dir() else ", which does not exist"
        print(f"no weights files found in {folder}{where} (the weights folder: ${w.ENV}, else <user cache "
              "dir>/wsvol/weights), nor from a plugin: nothing to check. `wsvol weights list` shows the file "
              "each name expects and where to get it.")
    built: dict[str, tuple[str, str]] = {}  # a component two configs share is built once
    for config in configs:
        failed += _check_config(config, args.cfg_options, built)
    return 1 if failed else 0


def _check_config(path: str, cfg_options: list[str], built: dict[str, tuple[str, str]]) -> int:
    """Resolve every weights argument of a config, then check each file in its component; the number failed."""
    import wsvol.weights as w
    from wsvol.config import load_config

    data = load_config(path, cfg_options).to_dict()
    if data.get("baseline"):  # the baseline stage writes the pseudo-label source's checkpoint
        data.pop("pseudo_labels", None)
    try:
        found = w.check_weights(data)  # names → files, in place
    except w.WeightsError as err:
        print(f"FAIL     {path}: {err}")
        return 1
    failed = 0
    for res in found:
        node: object = data
        for part in res.key.split(".")[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key = repr(sorted(node.items()))
        status, text = built[key] = built.get(key) or _check_one(res.path, [(None, dict(node))])
        failed += status == "FAIL"
        print(f"{status:<8} {path}: {res.key}: {text}")
    if not found:
        print(f"ok       {path}: names no weights")
    return failed


def _check_one(path, uses: list[tuple[str | None, dict]]) -> tuple[str, str]:
    """('ok'|'FAIL'|'skipped', what happened) for one file built into the first installed component of
    ``uses`` ((registry kind or None for any, component config))."""
    from wsvol.registry import Registries
    from wsvol.weights import read_weights

    try:
        weights = read_weights(path)
    except Exception as err:  # a refused or unreadable file: the reader's message names it
        return "FAIL", f"{path}: {err}"
    what = f"{path} ({weights.format}: {weights.title}, {len(weights.state)} tensors)"
    registries = list(Registries.all().values())
    for kind, cfg in uses:
        found = [r for r in registries if (kind is None or r.kind == kind) and cfg["type"] in r.entries()]
        if len(found) != 1:
            continue
        try:
            found[0].build(cfg)
        except Exception as err:
            return "FAIL", f"{what} into {found[0].kind} {cfg['type']}:\n" + textwrap.indent(str(err), " " * 9)
        return "ok", f"{what} loads into {found[0].kind} {cfg['type']}" + _args(cfg)
    types = ", ".join(dict.fromkeys(cfg["type"] for _, cfg in uses))
    return "skipped", (f"{what}: read, but not loaded: no installed component "
                       + (f"{types!r}" if types else "uses it (a plugin's?)"))


def _args(cfg: dict) -> str:
    shown = [f"{k}: {cfg[k]}" for k in ("arch", "backbone", "model_name", "img_size") if k in cfg]
    return f" ({', '.join(shown)})" if shown else ""
