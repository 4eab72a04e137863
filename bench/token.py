#!/usr/bin/env python3
"""Gets an access token from ipa-server by the SMART standalone launch, driving the documented
form contract (login, picker, consent) with the Python standard library. For benchmarks only.
Usage: token.py BASE CLIENT_ID USERNAME PASSWORD PATIENT [SCOPE]"""
import base64, hashlib, html.parser, http.cookiejar, os, re, sys, urllib.parse, urllib.request

base, client_id, username, password, patient = sys.argv[1:6]
scope = sys.argv[6] if len(sys.argv) > 6 else "launch/patient patient/*.rs"
redirect = "http://127.0.0.1:9/callback"
origin = base[: base.index("/", 8)]
verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def call(url, data=None):
    req = urllib.request.Request(url, data=urllib.parse.urlencode(data, doseq=True).encode() if data else None)
    try:
        r = opener.open(req)
        return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def hidden(page, name):
    return re.search(r'name="%s" value="([^"]*)"' % name, page).group(1)


q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                            "scope": scope, "state": "bench", "aud": base, "code_challenge": challenge,
                            "code_challenge_method": "S256"})
status, headers, _ = call(origin + "/auth/authorize?" + q)
loc = headers["Location"]
_, _, page = call(loc if loc.startswith("http") else origin + loc)
req_id, csrf = hidden(page, "request"), hidden(page, "csrf_token")
status, headers, _ = call(origin + "/auth/login", {"request": req_id, "csrf_token": csrf,
                                                    "username": username, "password": password})
loc = headers["Location"]
while "/auth/consent" not in loc:
    _, _, page = call(loc if loc.startswith("http") else origin + loc)
    status, headers, _ = call(origin + "/auth/select-patient",
                              {"request": req_id, "csrf_token": hidden(page, "csrf_token"), "patient": patient})
    loc = headers["Location"]
_, _, page = call(loc if loc.startswith("http") else origin + loc)
scopes = re.findall(r'name="scope" id="[^"]*" value="([^"]*)"', page)
status, headers, _ = call(origin + "/auth/consent", {"request": req_id, "csrf_token": hidden(page, "csrf_token"),
                                                      "scope": scopes, "decision": "approve"})
code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
status, _, body = call(origin + "/auth/token", {"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": redirect, "client_id": client_id,
                                                 "code_verifier": verifier})
print(re.search(r'"access_token":"([^"]+)"', body).group(1))
