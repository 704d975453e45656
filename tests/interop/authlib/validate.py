"""Validates access tokens with Authlib's JWTBearerTokenValidator (RFC 9068 §4).

    python validate.py < request.json

The request is one JSON object: {"token": ..., "jwks": {JWKS}, "issuer": ...,
"resource_server": ..., "scopes": [...] (optional: the route's required scopes)}, or a JSON
array of such objects (one process for many tokens).

Prints one JSON object per request (an array for an array): {"valid": true, "header": ...,
"claims": ...}, or {"valid": false, "error": <OAuth error code>, "cause": <the joserfc error
behind it, if any>}. Exits 0 either way; anything else (bad input, a crash) exits non-zero.
"""

import json
import sys

from joserfc.jwk import KeySet

from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator


class Validator(JWTBearerTokenValidator):
    def __init__(self, issuer, resource_server, jwks):
        super().__init__(issuer=issuer, resource_server=resource_server)
        self.jwks = KeySet.import_key_set(jwks)

    def get_jwks(self):
        return self.jwks


def verdict(request):
    validator = Validator(request["issuer"], request["resource_server"], request["jwks"])
    try:
        claims = validator.authenticate_token(request["token"])
        validator.validate_token(claims, request.get("scopes"), None)
    except OAuth2Error as e:
        cause = e.__cause__
        return {
            "valid": False,
            "error": e.error,
            "cause": f"{type(cause).__name__}: {cause}" if cause is not None else None,
        }
    return {"valid": True, "header": dict(claims.header), "claims": dict(claims)}


def main():
    request = json.load(sys.stdin)
    if isinstance(request, list):
        out = [verdict(r) for r in request]
    else:
        out = verdict(request)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
