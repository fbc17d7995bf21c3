"""Query-count helpers: a page must cost the same number of queries whatever the number of rows."""

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def count_queries(func: Callable[[], object]) -> tuple[int, list[str]]:
    """Run `func` and return how many queries it made, with their SQL (for the failure message)."""
    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def assert_get_queries(client, url: str, expected: int, status: int = 200) -> None:
    """GET `url` and assert the exact query count; on failure the message lists every query."""
    response = None

    def get():
        nonlocal response
        response = client.get(url)

    n, sqls = count_queries(get)
    assert response.status_code == status, f"GET {url} answered {response.status_code}"
    assert n == expected, f"GET {url} made {n} queries, expected {expected}:\n" + "\n".join(sqls)


def assert_constant_queries(client, url: str, add_rows: Callable[[int], object], small: int = 5, large: int = 50):
    """Assert GET `url` costs the same with `small` rows as with `large` rows (`add_rows(n)` adds n more)."""
    add_rows(small)
    n_small, _ = count_queries(lambda: client.get(url))
    add_rows(large - small)
    n_large, sqls = count_queries(lambda: client.get(url))
    assert n_small == n_large, f"GET {url}: {n_small} queries with {small} rows, {n_large} with {large}:\n" + "\n".join(
        sqls
    )
    return n_large
