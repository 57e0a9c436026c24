"""The few HTML pages of sign-in: device code entry, password form, results.

Plain HTML, no scripts; every interpolated value is escaped. The web layer
serves them with a strict Content-Security-Policy and ``frame-ancestors
'none'`` so no other site can frame the approve button.
"""

from __future__ import annotations

from html import escape

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;"
    "color:#1d2330}input,button{font-size:1.1rem;padding:.5rem;margin:.3rem 0}"
    "code{font-size:1.4rem;letter-spacing:.15rem}.err{color:#a31818}.muted{color:#5a6270}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _error(error: str | None) -> str:
    return f"<p class=err>{escape(error)}</p>" if error else ""


def device_entry(*, user_code: str, csrf: str, methods: list[str], error: str | None = None) -> str:
    choices = "".join(
        f"<button name=method value={escape(m)}>Sign in with {escape(_label(m))}</button> "
        for m in methods
    )
    confirm = (
        "<p>Check that this code is the one your terminal shows. "
        "<strong>Only continue if you ran <code>warden login</code> yourself just now.</strong></p>"
        if user_code
        else "<p>Enter the code your terminal shows.</p>"
    )
    return _page(
        "Sign in to Warden",
        f"{_error(error)}{confirm}"
        "<form method=post action=/auth/device>"
        f"<input type=hidden name=csrf value='{escape(csrf)}'>"
        f"<input name=user_code value='{escape(user_code)}' placeholder=BCDF-GHJK "
        "autocomplete=off autocapitalize=characters required><br>"
        f"{choices}<button name=action value=deny>This wasn't me</button></form>",
    )


def password_form(*, state: str, error: str | None = None) -> str:
    return _page(
        "Sign in to Warden",
        f"{_error(error)}<form method=post action=/auth/login/local>"
        f"<input type=hidden name=state value='{escape(state)}'>"
        "<label>User<br><input name=username autocomplete=username required></label><br>"
        "<label>Password<br><input name=password type=password "
        "autocomplete=current-password required></label><br>"
        "<button>Sign in</button></form>",
    )


def message(title: str, text: str, *, error: bool = False) -> str:
    cls = " class=err" if error else ""
    return _page(title, f"<p{cls}>{escape(text)}</p>")


def _label(method: str) -> str:
    return {"oidc": "your company account", "saml": "SAML", "local": "a Warden account"}.get(
        method, method
    )
