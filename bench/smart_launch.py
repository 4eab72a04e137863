"""A browser doing SMART standalone launches against ipa-server through the documented form
contract (login, picker, consent), with the Python standard library. For benchmarks only: used by
bench/token.py (one access token) and bench/codes.py (many authorization codes)."""
import base64, hashlib, http.cookiejar, os, re, urllib.parse, urllib.request

REDIRECT = "http://127.0.0.1:9/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden(page, name):
    return re.search(r'name="%s" value="([^"]*)"' % name, page).group(1)


class Launch:
    """One browser (cookie jar) doing standalone launches of `client_id` against `base`."""

    def __init__(self, base, client_id, scope):
        self.base, self.client_id, self.scope = base, client_id, scope
        self.origin = base[: base.index("/", 8)]
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        self.csrf = None
        self.scopes = None

    def call(self, url, data=None):
        if not url.startswith("http"):
            url = self.origin + url
        body = urllib.parse.urlencode(data, doseq=True).encode() if data else None
        try:
            r = self.opener.open(urllib.request.Request(url, data=body))
            return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def authorize(self):
        """Starts an authorization request; returns (location, request id, code_verifier)."""
        verifier, challenge = pkce()
        q = urllib.parse.urlencode({"response_type": "code", "client_id": self.client_id,
                                    "redirect_uri": REDIRECT, "scope": self.scope, "state": "bench",
                                    "aud": self.base, "code_challenge": challenge,
                                    "code_challenge_method": "S256"})
        status, headers, _ = self.call(self.origin + "/auth/authorize?" + q)
        loc = headers["Location"]
        req_id = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["request"][0]
        return loc, req_id, verifier

    def approve(self, req_id):
        """Approves every scope shown on the consent page; returns the code."""
        _, headers, _ = self.call("/auth/consent", {"request": req_id, "csrf_token": self.csrf,
                                                    "scope": self.scopes, "decision": "approve"})
        return urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]

    def first_code(self, username, password, patient):
        """The whole launch: login, picker when shown, consent. Returns (code, verifier)."""
        loc, req_id, verifier = self.authorize()
        _, _, page = self.call(loc)
        status, headers, _ = self.call("/auth/login", {"request": req_id, "csrf_token": hidden(page, "csrf_token"),
                                                       "username": username, "password": password})
        loc = headers["Location"]
        while "/auth/consent" not in loc:
            _, _, page = self.call(loc)
            status, headers, _ = self.call("/auth/select-patient", {"request": req_id,
                                                                   "csrf_token": hidden(page, "csrf_token"),
                                                                   "patient": patient})
            loc = headers["Location"]
        _, _, page = self.call(loc)
        self.csrf = hidden(page, "csrf_token")
        self.scopes = re.findall(r'name="scope" id="[^"]*" value="([^"]*)"', page)
        return self.approve(req_id), verifier

    def next_code(self):
        """Another code in the signed-in session (the user has one patient: no picker)."""
        loc, req_id, verifier = self.authorize()
        if "/auth/consent" not in loc:
            raise SystemExit("bench: expected the consent page after authorize, got " + loc)
        return self.approve(req_id), verifier

    def exchange(self, code, verifier):
        _, _, body = self.call("/auth/token", {"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": REDIRECT, "client_id": self.client_id,
                                               "code_verifier": verifier})
        return body
