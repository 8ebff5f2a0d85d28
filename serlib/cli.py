"""The ``serlib`` command line: argument parsing only, over the package's functions.

Every user error is printed as one ``serlib: error: ...`` message (no
traceback) with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import SerlibError


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write a synthetic corpus in the layout of IEMOCAP or emoDB")
    p.add_argument("--layout", choices=["iemocap", "emodb"], default="iemocap")
    p.add_argument("--out", type=Path, required=True, help="folder to write the corpus into")
    p.add_argument("--utterances", type=int, default=1000, help="number of utterances")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> None:
    from .corpora import synthesize

    out = synthesize(args.out, args.layout, args.utterances, args.seed, jobs=args.jobs)
    print(f"synthetic {args.layout} corpus of {args.utterances} utterances in {out}")


def _add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="write the utterance table of a corpus")
    p.add_argument("--corpus", choices=["iemocap", "emodb"], required=True)
    p.add_argument("--root", type=Path, required=True, help="the corpus's root folder")
    p.add_argument("--preset", default=None,
                   help="improvised-4 (IEMOCAP default), full-4, emodb-7 (emoDB default), "
                        "emodb-4, or a mapping such as 'ang=anger,exc=happiness'")
    p.add_argument("--improvised-only", "--improvised_only", action="store_true", default=None,
                   help="IEMOCAP: keep improvised dialogs only")
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.set_defaults(run=_run_index)


def _run_index(args: argparse.Namespace) -> None:
    from .corpora import index_corpus

    index = index_corpus(args.corpus, args.root, args.preset,
                         improvised_only=args.improvised_only)
    path = index.to_csv(args.out)
    print(index.summary())
    print(f"table written to {path}")


def _add_download(sub: argparse._SubParsersAction) -> None:
    from .corpora import EMODB_URL

    p = sub.add_parser("download", help="download a public corpus (emoDB)")
    p.add_argument("--corpus", choices=["emodb"], default="emodb")
    p.add_argument("--out", type=Path, required=True, help="folder to unpack into")
    p.add_argument("--url", default=EMODB_URL, help="address of the zip (default: official)")
    p.set_defaults(run=_run_download)


def _run_download(args: argparse.Namespace) -> None:
    from .corpora import download_emodb

    download_emodb(args.out, args.url)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job on the synthetic corpus (or IEMOCAP_DIR)")
    p.add_argument("--data", type=Path, default=Path("data"), help="folder for generated data")
    p.add_argument("--utterances", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    from .demo import DemoConfig, run_demo

    run_demo(DemoConfig(args.data, args.utterances, args.seed))


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``serlib`` command."""
    parser = argparse.ArgumentParser(
        prog="serlib", description="Speech emotion recognition with pre-trained image classifiers")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_synth, _add_index, _add_download, _add_demo):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except SerlibError as e:
        print(f"serlib: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("serlib: interrupted", file=sys.stderr)
        return 130
    return 0
