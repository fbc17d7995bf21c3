"""Query-count helpers: a page must cost the same number of queries whatever the number of rows."""

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.forms import forget_kept_choices


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

    forget_kept_choices()
    n, sqls = count_queries(get)
    assert response.status_code == status, f"GET {url} answered {response.status_code}"
    assert n == expected, f"GET {url} made {n} queries, expected {expected}:\n" + "\n".join(sqls)


def assert_constant_queries(client, url: str, add_rows: Callable[[int], object], small: int = 5, large: int = 50):
    """Assert GET `url` costs the same with `small` rows as with `large` rows (`add_rows(n)` adds n more)."""
    return assert_constant_queries_of(client, [url], add_rows, small, large)[url]


def assert_constant_queries_of(
    client, urls: list[str], add_rows: Callable[[int], object], small: int = 5, large: int = 50
) -> dict[str, int]:
    """`assert_constant_queries` for several pages that show the same rows, made once for all of them: every page
    of `urls` answers 200 and costs the same with `small` rows as with `large`; returns each page's count."""

    def counts() -> dict[str, tuple[int, list[str]]]:
        found = {}
        for url in urls:
            forget_kept_choices()  # the filters' options as they are drawn first, not kept from the last request
            response = None

            def get(url=url):
                nonlocal response
                response = client.get(url)

            found[url] = count_queries(get)
            assert response.status_code == 200, f"GET {url} answered {response.status_code}"
        return found

    add_rows(small)
    with_small = counts()
    add_rows(large - small)
    with_large = counts()
    grew = [
        f"GET {url}: {with_small[url][0]} queries with {small} rows, {with_large[url][0]} with {large}:\n"
        + "\n".join(with_large[url][1])
        for url in urls
        if with_small[url][0] != with_large[url][0]
    ]
    assert not grew, "\n\n".join(grew)
    return {url: with_large[url][0] for url in urls}
