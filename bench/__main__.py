"""python -m bench import | import-memory N | import-child FILE | national | national-job NOW BATCH
| copy-ab | web"""

from __future__ import annotations

import sys

from . import copy_ab, import_siecle, national, web

COMMANDS = {
    "import": lambda argv: import_siecle.main(argv),
    "import-memory": lambda argv: import_siecle.peak_memory_child(int(argv[0])) or 0,
    "import-child": lambda argv: import_siecle.import_child(argv),
    "national": lambda argv: national.main(argv),
    "national-job": lambda argv: national.job_child(*argv),
    "copy-ab": lambda argv: copy_ab.main(argv),
    "web": lambda argv: web.main(argv),
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m bench {{{'|'.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


sys.exit(main())
