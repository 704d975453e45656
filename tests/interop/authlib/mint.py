"""Mints one RFC 9068 access token with Authlib's JWTBearerTokenGenerator.

    python mint.py [--alg RS256|ES256|HS256] [--issuer URL] [--audience AUD ...] [--scope S]
                   [--expires-in SECONDS] [--user SUB] [--client-id ID] [--no-kid]
                   [--claims JSON]

Prints one JSON object: {"token": ..., "jwks": {public JWKS; for HS256 the secret}, "issuer": ..., "header": ...,
"claims": ...} (header and claims decoded, for the test's messages).

Authlib's generator is used as its documentation says: a subclass implementing get_jwks()
and get_extra_claims(); get_audiences() is overridden because Authlib does not implement
RFC 8707 resource indicators yet (its default audience is the client_id).
"""

import argparse
import base64
import json
import sys

from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator


class Client:
    """The few methods of authlib.oauth2.rfc6749.ClientMixin the generator calls."""

    def __init__(self, client_id, scope):
        self.client_id = client_id
        self.scope = scope

    def get_client_id(self):
        return self.client_id

    def get_allowed_scope(self, scope):
        return scope if scope is not None else self.scope


class User:
    def __init__(self, sub):
        self.sub = sub

    def get_user_id(self):
        return self.sub


class Generator(JWTBearerTokenGenerator):
    def __init__(self, issuer, alg, key, audiences, extra, expires_in):
        super().__init__(issuer=issuer, alg=alg, expires_generator=lambda c, g: expires_in)
        self.key = key
        self.audiences = audiences
        self.extra = extra

    def get_jwks(self):
        return self.key

    def get_extra_claims(self, client, grant_type, user, scope):
        return self.extra

    def get_audiences(self, client, user, scope):
        return self.audiences[0] if len(self.audiences) == 1 else self.audiences


def decode_part(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--alg", default="RS256", choices=["RS256", "ES256", "HS256"])
    p.add_argument("--issuer", default="https://authlib.example")
    p.add_argument("--audience", action="append")
    p.add_argument("--scope", default="items:read")
    p.add_argument("--expires-in", type=int, default=300)
    p.add_argument("--user")
    p.add_argument("--client-id", default="authlib-client")
    p.add_argument("--no-kid", action="store_true", help="sign with a bare key: no kid header")
    p.add_argument("--claims", default="{}", help="extra claims, a JSON object")
    a = p.parse_args()

    params = {"kid": "authlib-key-1", "use": "sig", "alg": a.alg}
    if a.alg == "RS256":
        private = RSAKey.generate_key(2048, parameters=params, private=True)
    elif a.alg == "ES256":
        private = ECKey.generate_key("P-256", parameters=params, private=True)
    else:  # HS256: the "jwks" printed is then the shared secret itself
        private = OctKey.generate_key(256, parameters=params, private=True)
    signing = private if a.no_kid else KeySet([private])

    generator = Generator(
        a.issuer, a.alg, signing, a.audience or ["https://api.example"], json.loads(a.claims), a.expires_in
    )
    user = User(a.user) if a.user else None
    grant = "authorization_code" if user else "client_credentials"
    response = generator.generate(grant, Client(a.client_id, a.scope), user=user, scope=a.scope)
    token = response["access_token"]
    header, claims, _ = token.split(".")
    json.dump(
        {
            "token": token,
            "jwks": KeySet([private]).as_dict(private=False),
            "issuer": a.issuer,
            "header": decode_part(header),
            "claims": decode_part(claims),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
