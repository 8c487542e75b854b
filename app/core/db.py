"""Engine, sessions and the few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    Table,
    all_,
    any_,
    bindparam,
    case,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.dml import Insert


def normalise_url(url: str) -> str:
    """Accept the plain driver names an operator may type, and pick the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        url = "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    url = normalise_url(url)
    if is_sqlite(url):
        # Kept once opened, as below: each SQLite connection is a thread of aiosqlite's
        # and its PRAGMAs.
        engine = create_async_engine(
            url, pool_size=2 * pool_size, max_overflow=0, connect_args={"timeout": 30}
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a transaction per checkout. A connection that died with a
    # database restart fails once, SQLAlchemy invalidates the pool, and the job retries.
    # At most 2 x `pool_size` connections (DATABASE_POOL_SIZE, docs/operations.md), and
    # each is kept once opened: as overflow beyond `pool_size` they were closed on their
    # return, and a busy worker (16 items in flight, its heartbeat, its claims) opened one
    # for about every third DM, each time a new server process, with every statement
    # prepared again (issue 15).
    return create_async_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        # asyncpg's cache of prepared statements, per connection (SQLAlchemy's default is
        # 100): a statement pushed out is prepared again, a round trip, on its next use.
        connect_args={"prepared_statement_cache_size": PREPARED_STATEMENTS},
    )


# Room for every statement a process runs, as one text each (`among`): the worker runs
# a few dozen, the web process more with its pages and API.
PREPARED_STATEMENTS = 500


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; take control so that a
        # write transaction starts with BEGIN IMMEDIATE and never fails to upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READER):
            return  # a reader (`create_reader`): each statement on its own, no lock
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# The execution option that marks a reader's connections (`create_reader`).
READER = "inboxpilot_reader"


def create_reader(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that need no transaction of their own (`reading`): each
    statement runs on its own, with no BEGIN and COMMIT, which cost two round trips and
    about 0.35 ms of CPU per transaction (issue 15). On PostgreSQL nothing else changes,
    since READ COMMITTED already gives each statement of a transaction its own snapshot;
    on SQLite the reads no longer take the write lock (BEGIN IMMEDIATE).

    PostgreSQL: the AUTOCOMMIT isolation level (asyncpg then starts no transaction).
    SQLite: its connections are in autocommit already (`_configure_sqlite`), and a
    reader's skips the BEGIN IMMEDIATE; changing pysqlite's isolation level instead
    would hand the connection back to the pool with the module's own implicit
    transactions switched on."""
    options: dict[str, Any] = {READER: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return async_sessionmaker(
        engine.execution_options(**options), expire_on_commit=False, autoflush=False
    )


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session of `create_reader`'s, for reads only: what it writes is not undone."""
    async with sessionmaker() as session:
        yield session


@asynccontextmanager
async def each_on_its_own(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session of `create_reader`'s for writes that are each whole in one statement
    (a claim, a batch of completions, a profile saved): every statement commits as it
    runs, without the BEGIN and COMMIT round trips of a transaction. Nothing is rolled
    back: when a later statement fails, the earlier ones stand, so use it only where each
    one may stand alone."""
    async with sessionmaker() as session:
        yield session


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def bound_row(table: Table, columns: Iterable[str], *, prefix: str = "") -> dict[str, Any]:
    """`columns` of `table`, each as a bound parameter of the column's type named
    `prefix` + the column: the VALUES of an INSERT built once and run with each row's
    values (`{prefix + column: value}`)."""
    return {column: bindparam(prefix + column, type_=table.c[column].type) for column in columns}


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def dialect_insert(
    bind: AsyncSession | AsyncConnection, table: Any
) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT construct (`on_conflict_do_*`, `excluded`), which both
    databases spell alike; `table` may be a mapped class, for ORM RETURNING."""
    dialect = bind.dialect.name if isinstance(bind, AsyncConnection) else dialect_name(bind)
    return dialect_insert_for(dialect, table)


def dialect_insert_for(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """`dialect_insert` by the dialect's name: for statements built once per dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


InsertT = TypeVar("InsertT", bound=Insert)


def with_rows(statement: InsertT, rows: Sequence[Mapping[str, Any]]) -> InsertT:
    """`statement` inserting `rows`. One row is given as a single-row VALUES, which
    SQLAlchemy compiles once and caches; a multi-row VALUES has no cache key and is
    compiled on every execution (about a millisecond of CPU for a job row), so only a
    real batch pays for it."""
    if len(rows) == 1:
        return statement.values(rows[0])
    return statement.values(list(rows))


def insert_ignore(
    bind: AsyncSession | AsyncConnection,
    table: Any,
    conflict_columns: Sequence[str],
    *,
    index_where: Any = None,
) -> Insert:
    """An INSERT that silently skips rows violating the unique key on `conflict_columns`
    (a partial unique index: give its condition as `index_where`)."""
    return dialect_insert(bind, table).on_conflict_do_nothing(
        index_elements=list(conflict_columns), index_where=index_where
    )


def upsert(
    bind: AsyncSession,
    table: Any,
    conflict_columns: Sequence[str],
    *,
    values: Mapping[str, Any],
    set_: Mapping[str, Any],
    where: Any = None,
) -> Insert:
    """INSERT `values`, or on a conflict on `conflict_columns` UPDATE the row with `set_`
    (only if `where` holds): one atomic statement, so concurrent callers each see the
    row as the previous one left it. Add `.returning(...)`: no row comes back when `where`
    kept the row unchanged."""
    return (
        dialect_insert(bind, table)
        .values(dict(values))
        .on_conflict_do_update(index_elements=list(conflict_columns), set_=dict(set_), where=where)
    )


async def end_transaction(session: AsyncSession) -> None:
    """Commits what the unit of work did so far, before slow work that must hold no lock
    (a password hash): on SQLite any open transaction holds the database's one write lock,
    on PostgreSQL an upserted row stays locked until commit. The session's next statement
    begins a new transaction, which the unit of work commits or rolls back as usual."""
    await session.commit()


async def lock_for_transaction(session: AsyncSession, key: str) -> None:
    """Waits until no other transaction holds `key`, and holds it until this one ends:
    for check-then-insert on rows no existing row can be locked for. On PostgreSQL a
    transaction-scoped advisory lock; on SQLite nothing, as every transaction already
    holds the database's write lock from its BEGIN IMMEDIATE."""
    if dialect_name(session) == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


def picked_once(dialect: str, candidates: Select[Any]) -> Select[Any]:
    """The ids `candidates` selects, to use in `IN (...)` of the UPDATE that claims them,
    evaluated once. On PostgreSQL they are row-locked, and rows another worker is taking
    are skipped rather than waited for; SQLite serialises writers, so it needs no lock.

    On PostgreSQL the `LIMIT ... FOR UPDATE SKIP LOCKED` select sits in a MATERIALIZED
    CTE: as a plain subquery the planner may rescan it once per row of the UPDATE, and
    each rescan skips the rows this statement has just updated and yields the next ones,
    so the UPDATE claimed every waiting row whatever the limit."""
    if dialect == "postgresql":
        picked = candidates.with_for_update(skip_locked=True).cte("picked")
        picked = picked.prefix_with("MATERIALIZED")
        return select(picked.c[0])
    return candidates


def among(
    dialect: str, column: ColumnElement[int], name: str, *, negate: bool = False
) -> ColumnElement[bool]:
    """`column IN` (or, with `negate`, `NOT IN`) the list of integers bound as `name`,
    with one SQL text whatever the list's length. An expanding `IN (...)` writes one
    text per length, and each new text is a statement the driver prepares again (on
    PostgreSQL a round trip) and keeps in its per-connection cache, pushing the hot
    statements out: the worker's claims and completions, whose lists vary with what it
    holds, did that (with SQLAlchemy's default cache of 100) to about one statement in
    nine (issue 15).

    PostgreSQL: `= ANY(array)` / `<> ALL(array)`. SQLite: `IN (SELECT value FROM
    json_each(list))`, the list sent as JSON text."""
    if dialect == "postgresql":
        array = bindparam(name, type_=postgresql.ARRAY(Integer))
        return column != all_(array) if negate else column == any_(array)
    values = select(func.json_each(bindparam(name, type_=JSON)).table_valued("value").c.value)
    return column.not_in(values) if negate else column.in_(values)


def utc_day(session: AsyncSession, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, to group by in SQL. SQLite stores UTC
    text and answers 'YYYY-MM-DD'; PostgreSQL answers a date in the session's time zone
    unless told UTC."""
    if dialect_name(session) == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def json_array_elements(session: AsyncSession, column: Any) -> Any:
    """The elements of a JSON array column as a table (column `value`) to join each row
    with, as text: `json_each` on SQLite, `jsonb_array_elements_text` on PostgreSQL.
    Join it with `true()`; both databases let it read the row it is joined to."""
    if dialect_name(session) == "postgresql":
        # A JSON null or object where a list belongs yields nothing instead of an error.
        array = case((func.jsonb_typeof(column) == "array", column), else_=func.jsonb_build_array())
        return func.jsonb_array_elements_text(array).table_valued("value")
    return func.json_each(column).table_valued("value")
