#!/usr/bin/env python3
"""Gets an access token from ipa-server by the SMART standalone launch, driving the documented
form contract (login, picker, consent) with the Python standard library. For benchmarks only.
Usage: token.py BASE CLIENT_ID USERNAME PASSWORD PATIENT [SCOPE]"""
import re, sys

from smart_launch import Launch

if __name__ == "__main__":
    base, client_id, username, password, patient = sys.argv[1:6]
    scope = sys.argv[6] if len(sys.argv) > 6 else "launch/patient patient/*.rs"
    launch = Launch(base, client_id, scope)
    code, verifier = launch.first_code(username, password, patient)
    print(re.search(r'"access_token":"([^"]+)"', launch.exchange(code, verifier)).group(1))
