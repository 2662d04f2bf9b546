"""chromium — Debian's headless chromium for the dashboard tests, driven by
Debian's chromium-driver through Debian's python3-selenium (no npm, no
particular Node.js version).

One Page is one browser session with its own profile, so its own
sessionStorage (a signed-in viewer and a signed-in operator side by side).
The Chrome DevTools protocol gives what WebDriver lacks: the viewport (as a
device-metrics override, the same on every window manager), full-page
screenshots, a script run before the page's own, and the performance log,
from which every request the page makes and the bytes received are read.
Every session is quit on any exit of the test (registered with the harness).
"""

import base64
import json
import os
import shutil
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from pgvigil_base import _register

CHROMIUM = os.environ.get("PGVIGIL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("PGVIGIL_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--window-size=1280,900")


class BrowserError(AssertionError):
    """An expectation about the page that did not hold."""


class Page:
    """A headless chromium session on the dashboard at base."""

    def __init__(self, base, width=1280, height=900):
        self.base = base
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ARGS:
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        _register(self.close)
        self.driver.set_script_timeout(20)
        self.cdp("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.external = []  # requests to anything but the dashboard
        self.bytes_received = 0

    def close(self):
        if self.driver:
            try:
                self.driver.quit()
            except Exception:  # already gone
                pass
            self.driver = None

    def cdp(self, method, params=None):
        return self.driver.execute_cdp_cmd(method, params or {})

    def read_network_log(self):
        """Account for the requests and received bytes since the last call."""
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            params = msg.get("params", {})
            if msg["method"] == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(self.base) and not url.startswith("data:"):
                    self.external.append(url)
            elif msg["method"] == "Network.dataReceived":
                self.bytes_received += params.get("encodedDataLength", 0)

    def before_scripts(self, source):
        """Run source in every document of this session before the page's own scripts."""
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def goto(self, path):
        self.driver.get(self.base + path)

    def js(self, expr, *args):
        """The value of a JavaScript expression (args as arguments[0..])."""
        return self.driver.execute_script("return (" + expr + ");", *args)

    def js_async(self, body):
        """Run body, which calls done(value); the value."""
        return self.driver.execute_async_script("const done = arguments[arguments.length - 1];\n" + body)

    def wait(self, expr, what, timeout=15, *args, interval=0.1):
        """Poll a JavaScript expression every interval seconds until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expr, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError("expected %s within %g s (%s)" % (what, timeout, expr))
            time.sleep(interval)

    def wait_visible(self, selector, timeout=15):
        """Wait until an element matching selector is rendered (as playwright's waitForSelector)."""
        self.wait("(() => { const e = document.querySelector(arguments[0]);"
                  " return e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'; })()",
                  "an element %s on the page" % selector, timeout, selector)

    def text(self, selector):
        return self.js("(document.querySelector(arguments[0]) || {}).textContent || ''", selector)

    def count(self, selector):
        return self.js("document.querySelectorAll(arguments[0]).length", selector)

    def click(self, selector, timeout=10):
        # Found and clicked in one step inside the page: live views re-render
        # their tables (a stream event may arrive between a find and a click
        # made in two round trips, and the element found would be stale).
        self.wait("(() => { const e = document.querySelector(arguments[0]);"
                  " if (!e) return false; e.click(); return true; })()",
                  "an element %s to click" % selector, timeout, selector)

    def fill(self, selector, value):
        e = self.driver.find_element("css selector", selector)
        e.clear()
        e.send_keys(value)

    def screenshot(self, path, full_page=True):
        """A PNG of the page (the whole scrollable page when full_page)."""
        params = {"format": "png"}
        if full_page:
            size = self.cdp("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode(self.cdp("Page.captureScreenshot", params)["data"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def sign_in(self, token, role):
        """Open the dashboard and sign in with token; wait until the page knows the role."""
        self.goto("/")
        self.wait_visible("#token")
        self.fill("#token", token)
        self.click("#signin-button")
        self.wait("window.pgvigil && window.pgvigil.me && window.pgvigil.me.role === arguments[0]",
                  "signed in as " + role, 15, role)
        return self
