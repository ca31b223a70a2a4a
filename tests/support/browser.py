"""Steps the browser tests share."""


def sign_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def until(expression):
    """A JavaScript expression as a predicate for `page.wait_for_function`.

    Playwright evaluates a bare expression again on every poll with `eval`,
    which the pages' Content-Security-Policy (no 'unsafe-eval') refuses after
    the first try; a function's source is evaluated once and then called."""
    return f"() => ({expression})"
