"""The `ganzoo` command line: list, train, sample, eval, bench, theory, report, compare.

User errors (`GanzooError`) print one paragraph and exit with status 2, with
no traceback; Ctrl-C during training checkpoints and exits with 130.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
import warnings

from ganzoo.cli.parser import build_parser, commands, unknown_options_message
from ganzoo.errors import GanzooError, GanzooWarning, PluginError
from ganzoo.plugin.manager import PluginLoadWarning
from ganzoo.training import distributed


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, (PluginLoadWarning, GanzooWarning)):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning  # before the parser: it loads the plugins (their commands)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = commands(parser).get(args.command, parser)
        command.error(unknown_options_message(command, unknown))  # usage and the message, exit status 2
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except PluginError as exc:  # a plugin's own bug: its traceback, for its author, then who to tell
        if exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GanzooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"\n{exc or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`ganzoo list | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        advice = FILE_SYSTEM_ADVICE.get(exc.errno) if exc.errno is not None else None
        if advice is None:
            raise  # not a place the user chose: a bug, keep its traceback
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"error: cannot write{where}: {exc.strerror}. {advice} Nothing written before this is lost: "
            "checkpoints and results are replaced whole, and a run resumes from its last checkpoint.",
            file=sys.stderr,
        )
        return 2


def entry_point() -> None:
    """`ganzoo` and `python -m ganzoo` (torchrun's workers too): main(), then leave the process."""
    try:
        code = main()
    except BaseException as exc:
        if not distributed.joined_a_group():
            raise
        if not isinstance(exc, SystemExit):  # a bug: its traceback
            traceback.print_exc()
            code = 1
        elif exc.code is None or isinstance(exc.code, int):  # argparse's, or a plugin's sys.exit: its status
            code = exc.code or 0
        else:  # sys.exit("message") prints it, as the interpreter would
            print(exc.code, file=sys.stderr)
            code = 1
    distributed.leave(code)


#: What to do when the file system refuses a write (the output folder is the user's choice).
FILE_SYSTEM_ADVICE = {
    errno.ENOSPC: "The disk is full: free some space, or pass an --out on another disk.",
    errno.EDQUOT: "The disk quota is used up: free some space, or pass an --out elsewhere.",
    errno.EROFS: "That file system is read-only: pass an --out you can write to.",
    errno.EACCES: "Permission denied: pass an --out you can write to, or fix the folder's permissions.",
    errno.EPERM: "Permission denied: pass an --out you can write to, or fix the folder's permissions.",
    errno.ENOTDIR: "A part of that path is a file, not a folder: pass an --out that names a folder.",
    errno.EISDIR: "That path is a folder where a file belongs: pass another --out.",
}
