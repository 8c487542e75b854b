"""inboxpilot load and fault suite: DMs keep arriving while workers die, PostgreSQL restarts,
the LLM slows down and the Send API fails; then every DM must be stored and answered once.

    .venv/bin/python bench/faults.py [--dms 5000] [--accounts 50] [--rate 12] [--quick]

(bench/faults.py only calls `bench.faultsuite.cli.main`.)

Not a unit test: it prints figures, and exits 1 only when an invariant breaks (or the run
could not be set up), 130 on Ctrl-C. Everything runs on 127.0.0.1 against a fresh PostgreSQL
database (dropped at the end): the fakes of bench/fakes.py (Send API, LLM), two web
processes (`inboxpilot serve --no-worker`) and three `inboxpilot worker` processes.

The run:
1. Setup: migrate, start everything, register `--accounts` accounts (Instagram and Messenger
   in turn; autopilot; one cooperation each, so the fake LLM's answer is sent automatically),
   one smoke DM per platform (the run stops if it gets no reply).
2. Load: `--dms` DMs, each from its own follower with its own mid, paced at `--rate` per
   second (open loop), alternating between the two web processes, plus `--redeliver` (10%)
   of them posted again byte for byte 0-20 s later, to either web process, as Meta does. A
   non-200 (or a refused / timed-out connection) is posted again with backoff (0.5 s doubling
   to 15 s), as Meta redelivers; every attempt's status and latency is kept.
3. Faults, at fixed fractions of the load window, each logged with its time: kill -9 a random
   worker holding leases, three times (a replacement starts at once, as a supervisor would);
   HTTP 500 bursts and a throttling burst (Graph codes 613 / 4 / 32 / 80006) at the fake Send
   API; the LLM answering in `--llm-delay` s for `--llm-seconds`; one restart of the
   PostgreSQL cluster.
4. Drain: until every acknowledged DM is answered or parked for a human and no inbox event or
   job is waiting (or `--drain-timeout`).
5. Invariants, from the database and the fake Send API's records (see `check_invariants`).

Definitions used in the report:
- backlog: DMs acknowledged (200) by a web process whose follower has no reply at the fake
  Send API yet and that are not parked for a human (a failed/expired send, a pending draft).
- oldest waiting: the age of the oldest DM in the backlog (since its acknowledgement).
- drain time after a fault: from the fault's end (the replacement worker started, the
  restart command returned, the fake switched back) until the backlog is back at its level
  before the fault (median of the 10 s before it, plus the DMs of one second at `--rate`),
  and, separately, until the oldest waiting DM is younger than `--recovered-age` s; each
  counted only if it then stays so until the next fault starts.
- throughput: replies at the fake Send API / (last reply - first webhook sent).

Results: a Markdown report on stdout and in bench/results/faults-latest.md (+ .json with the
per-second timeline); process logs in bench/results/faults-logs/. See bench/README.md.
"""
