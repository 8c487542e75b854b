"""inboxpilot load and fault suite; the code is in bench/faultsuite/ (see its docstring and
bench/README.md).

    .venv/bin/python bench/faults.py [--dms 5000] [--accounts 50] [--rate 12] [--quick]
"""

from bench.faultsuite.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
