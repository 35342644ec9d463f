#!/usr/bin/python3
"""mailkeep serve in a real browser: Debian's chromium (headless), driven
through chromedriver by python3-selenium.

  browser_test.py write-mbox FILE   writes the test messages (an mbox) and
                                    prints the beacon port they point at
  browser_test.py run URL PORT DIR  drives the browser against a running
                                    `mailkeep serve` at URL, the beacon on
                                    PORT, downloads into DIR

The messages: a thread of two, one with a PDF attachment, and one whose
HTML part tries every usual way to run script or load something
(script, onerror, javascript: links, SVG, CSS url(), meta refresh, iframe
srcdoc, remote images). Everything such a message could fetch points at a
"beacon" HTTP server run by this script: a request reaching it, a changed
page title, or an alert means the message ran something. Screenshots go to
$MAILKEEP_SCREENSHOTS when it is set.
"""
import http.server
import os
import sys
import threading
import time
import urllib.request

PDF_BYTES = b"%PDF-1.4\n% mailkeep browser test attachment\n" + bytes(range(256)) + b"\n%%EOF\n"


def mbox_message(headers, body):
    lines = ["From mailkeep-test Thu Jan  1 00:00:00 2024"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("")
    out = []
    for line in body.split("\n"):
        out.append(">" + line if line.startswith("From ") else line)
    return "\n".join(lines + out) + "\n\n"


def xss_html(beacon):
    b = beacon
    return f"""<html><head>
<meta http-equiv="refresh" content="0;url=javascript:document.title='pwned-meta'">
<base href="{b}/base/">
<style>body {{ background: url({b}/css-url) }} @import url({b}/css-import);</style>
<script>document.title='pwned-script'; new Image().src='{b}/script';</script>
</head><body onload="fetch('{b}/body-onload')">
<p id="visible">Quarterly numbers are in the table below.</p>
<img src="{b}/remote-image.png" alt="remote image">
<img src="x" onerror="document.title='pwned-onerror'; fetch('{b}/onerror')">
<a id="jslink" href="javascript:document.title='pwned-link';fetch('{b}/jslink')">open the report</a>
<a href="JaVaScRiPt&#58;fetch('{b}/entity-link')">entity link</a>
<svg onload="fetch('{b}/svg')"><script>fetch('{b}/svg-script')</script></svg>
<iframe srcdoc="&lt;script&gt;parent.fetch('{b}/srcdoc')&lt;/script&gt;"></iframe>
<div style="background-image: url('{b}/inline-style')">styled</div>
<form action="{b}/form"><button formaction="javascript:fetch('{b}/formaction')">go</button></form>
<object data="{b}/object"></object><embed src="{b}/embed">
<img src=x onerror=fetch('{b}/unquoted')>
<scr<script>ipt>fetch('{b}/split-tag')</scr</script>ipt>
<table><tr><td>Revenue</td><td>42</td></tr></table>
</body></html>"""


def write_mbox(path, beacon):
    parts = []
    parts.append(mbox_message(
        [("From", "Ada Lovelace <ada@example.org>"), ("To", "team@example.org"),
         ("Subject", "Plans for the engine archive"), ("Date", "Mon, 15 Jan 2024 10:00:00 +0000"),
         ("Message-ID", "<plans-1@example.org>"), ("Content-Type", "text/plain; charset=utf-8")],
        "Let us keep every message for ten years.\nAda\n"))
    parts.append(mbox_message(
        [("From", "Charles Babbage <charles@example.org>"), ("To", "ada@example.org"),
         ("Subject", "Re: Plans for the engine archive"), ("Date", "Tue, 16 Jan 2024 09:30:00 +0000"),
         ("Message-ID", "<plans-2@example.org>"), ("In-Reply-To", "<plans-1@example.org>"),
         ("References", "<plans-1@example.org>"), ("Content-Type", "text/plain; charset=utf-8")],
        "> Let us keep every message for ten years.\n\nAgreed; the difference engine needs them.\n"))
    import base64
    pdf = base64.encodebytes(PDF_BYTES).decode()
    parts.append(mbox_message(
        [("From", "Grace Hopper <grace@example.org>"), ("To", "ada@example.org"),
         ("Subject", "Quarterly report attached"), ("Date", "Wed, 14 Feb 2024 08:00:00 +0000"),
         ("Message-ID", "<report-1@example.org>"), ("MIME-Version", "1.0"),
         ("Content-Type", 'multipart/mixed; boundary="b1"')],
        "--b1\nContent-Type: text/plain; charset=utf-8\n\nThe report is attached.\n"
        "--b1\nContent-Type: application/pdf; name=\"report 2024.pdf\"\n"
        "Content-Disposition: attachment; filename=\"report 2024.pdf\"\n"
        "Content-Transfer-Encoding: base64\n\n" + pdf + "--b1--\n"))
    html = xss_html(beacon)
    parts.append(mbox_message(
        [("From", "Mallory <mallory@example.net>"), ("To", "ada@example.org"),
         ("Subject", "Invoice <script>document.title='pwned-subject'</script>"),
         ("Date", "Thu, 15 Feb 2024 12:00:00 +0000"), ("Message-ID", "<xss-1@example.net>"),
         ("MIME-Version", "1.0"), ("Content-Type", 'multipart/alternative; boundary="b2"')],
        "--b2\nContent-Type: text/plain; charset=utf-8\n\nQuarterly numbers.\n"
        "--b2\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n--b2--\n"))
    with open(path, "w") as f:
        f.write("".join(parts))


class Beacon(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        Beacon.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


class Check:
    failures = 0

    @staticmethod
    def that(ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            Check.failures += 1


def browser(download_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--window-size=1200,900"]:
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    return driver


def no_alert(driver):
    from selenium.common.exceptions import NoAlertPresentException
    try:
        driver.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


def shot(driver, name):
    out = os.environ.get("MAILKEEP_SCREENSHOTS")
    if out:
        os.makedirs(out, exist_ok=True)
        driver.save_screenshot(os.path.join(out, name + ".png"))


def run(url, download_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    driver = browser(download_dir)
    wait = WebDriverWait(driver, 20)
    try:
        # Search.
        driver.get(url + "/")
        box = wait.until(ec.presence_of_element_located((By.ID, "q")))
        box.send_keys("engine archive", Keys.ENTER)
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result"))
        Check.that(len(rows) == 2, f"search 'engine archive' lists 2 messages (got {len(rows)})")
        shot(driver, "1-search")
        # A syntax error is shown on the page, not as a failure.
        driver.get(url + "/?q=" + urllib.request.quote("subject:("))
        Check.that("error" in driver.page_source.lower(), "a query syntax error is shown inline")
        # Open a message, then its thread.
        driver.get(url + "/?q=" + urllib.request.quote("subject:plans"))
        links = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result a.subject"))
        target = [a for a in links if a.text.startswith("Re:")]
        Check.that(len(target) == 1, "the reply is among the results")
        target[0].click()
        headers = wait.until(ec.presence_of_element_located((By.ID, "headers")))
        Check.that("Charles Babbage" in headers.text, "the message page shows its headers")
        body = driver.find_element(By.ID, "body")
        Check.that("difference engine" in body.text, "the message page shows its text")
        shot(driver, "2-message")
        driver.find_element(By.ID, "thread").click()
        wait.until(lambda d: "/thread/" in d.current_url)
        page = driver.page_source
        Check.that("Plans for the engine archive" in page and "Re: Plans for the engine archive" in page,
                   "the thread page lists both messages")
        shot(driver, "3-thread")
        # Download an attachment through the browser.
        driver.get(url + "/?q=" + urllib.request.quote("attachment:report"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result a.subject"))[0].click()
        attachment = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "a.attachment")))
        shot(driver, "4-attachment")
        attachment.click()
        got = None
        for _ in range(100):
            files = [f for f in os.listdir(download_dir) if not f.endswith(".crdownload")]
            if files:
                with open(os.path.join(download_dir, files[0]), "rb") as f:
                    got = (files[0], f.read())
                break
            time.sleep(0.2)
        Check.that(got is not None, "the attachment was downloaded")
        if got:
            Check.that(got[1] == PDF_BYTES, f"the downloaded {got[0]!r} has the attachment's exact bytes")
            Check.that("/" not in got[0] and got[0].endswith(".pdf"), f"the download's name is safe ({got[0]!r})")
        # The hostile message runs nothing and loads nothing.
        driver.get(url + "/?q=" + urllib.request.quote("from:mallory@example.net"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result a.subject"))[0].click()
        frame = wait.until(ec.presence_of_element_located((By.ID, "html")))
        sandbox = set(frame.get_attribute("sandbox").split())
        Check.that(sandbox <= {"allow-popups", "allow-popups-to-escape-sandbox"},
                   f"the HTML part's iframe allows no script, no same origin, no form ({sorted(sandbox)})")
        time.sleep(1)
        title = driver.title
        # Every payload that runs sets the title to "pwned-...": the subject
        # itself holds that text, shown (escaped) in the title.
        Check.that(not title.startswith("pwned"), f"the page title is untouched ({title!r})")
        driver.switch_to.frame(frame)
        Check.that("Quarterly numbers" in driver.find_element(By.TAG_NAME, "body").text,
                   "the sanitized HTML part is shown")
        for link in driver.find_elements(By.TAG_NAME, "a"):
            try:
                link.click()
            except Exception:
                pass
        driver.switch_to.default_content()
        shot(driver, "5-hostile-message")
        time.sleep(2)
        Check.that(no_alert(driver), "no alert was raised")
        Check.that(not driver.title.startswith("pwned"), "the title is still untouched after clicking every link")
        Check.that(not Beacon.hits, f"nothing was fetched from the beacon (got {Beacon.hits})")
        # The same message's HTML opened on its own (not in the iframe): the
        # CSP of that response forbids script too.
        driver.get(url + "/?q=" + urllib.request.quote("from:mallory@example.net"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result a.subject"))[0].click()
        src = wait.until(ec.presence_of_element_located((By.ID, "html"))).get_attribute("src")
        driver.get(src)
        time.sleep(2)
        Check.that(no_alert(driver) and not driver.title.startswith("pwned") and not Beacon.hits,
                   "the HTML part opened directly runs and fetches nothing")
    finally:
        driver.quit()


def main():
    if sys.argv[1] == "write-mbox":
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        write_mbox(sys.argv[2], f"http://127.0.0.1:{port}")
        print(port)
        return 0
    url, beacon_port, download_dir = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", beacon_port), Beacon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run(url, download_dir)
    server.shutdown()
    print(f"{Check.failures} failure(s)")
    return 1 if Check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
