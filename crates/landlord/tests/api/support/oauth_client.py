# An OAuth 2.1 / OpenID Connect client built on authlib (a library no one
# here wrote), run by apps_oauth.rs against a live server. It reads its
# settings as JSON on stdin (the server's base URL, a signed-in browser
# session's cookie, two apps' credentials), walks the whole flow through
# the real consent page, checks every refusal, and prints a JSON report of
# the steps that held as its last line. Any failed check raises.
import base64
import html
import json
import re
import sys
import time
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

cfg = json.load(sys.stdin)
BASE = cfg["base"].rstrip("/")
REDIRECT = cfg["redirect_uri"]
report = {}
seen_tokens = []


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


# Discovery: every endpoint from the document. The issuer is the server's
# public URL, which tests do not serve on: the endpoints are taken by path
# and asked of the server under test.
discovery = requests.get(BASE + "/.well-known/openid-configuration")
expect(discovery.status_code == 200, discovery.text)
meta = discovery.json()
ISSUER = meta["issuer"]


def endpoint(name):
    return BASE + urlparse(meta[name]).path


AUTHORIZE = endpoint("authorization_endpoint")
TOKEN = endpoint("token_endpoint")
USERINFO = endpoint("userinfo_endpoint")
REVOKE = endpoint("revocation_endpoint")
INTROSPECT = endpoint("introspection_endpoint")
JWKS = endpoint("jwks_uri")
expect(meta["code_challenge_methods_supported"] == ["S256"], "only S256")
expect("RS256" in meta["id_token_signing_alg_values_supported"], meta)
report["discovery"] = True

# The person's browser: signed in to the console.
browser = requests.Session()
browser.cookies.set("landlord_session", cfg["session"])


def consent(url):
    """The person opens the authorization URL and allows: the redirect."""
    page = browser.get(url, allow_redirects=False)
    if page.status_code == 303:
        return page.headers["Location"]
    expect(page.status_code == 200, f"consent page: {page.status_code} {page.text[:500]}")
    expect("Allow" in page.text and "Deny" in page.text, "Allow and Deny")
    fields = [
        (name, html.unescape(value))
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text
        )
    ]
    fields.append(("decision", "allow"))
    answer = browser.post(BASE + "/oauth/consent", data=fields, allow_redirects=False)
    expect(answer.status_code == 303, f"consent answer: {answer.status_code} {answer.text[:300]}")
    return answer.headers["Location"]


def confidential(**extra):
    return OAuth2Session(
        cfg["client_id"],
        cfg["client_secret"],
        scope="openid profile email",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        **extra,
    )


def sign_in(client, nonce=None):
    verifier = generate_token(64)
    uri, state = client.create_authorization_url(
        AUTHORIZE, code_verifier=verifier, nonce=nonce
    )
    location = consent(uri)
    expect(location.startswith(REDIRECT), location)
    token = client.fetch_token(
        TOKEN, authorization_response=location, code_verifier=verifier
    )
    seen_tokens.extend([token["access_token"], token["refresh_token"]])
    return token, location, verifier


def introspect(token):
    answer = requests.post(
        INTROSPECT,
        data={"token": token},
        auth=(cfg["client_id"], cfg["client_secret"]),
    )
    expect(answer.status_code == 200, answer.text)
    return answer.json()


# 1. Authorization code with PKCE S256 through the consent page.
client = confidential()
nonce = generate_token(16)
token, location, _ = sign_in(client, nonce=nonce)
expect(token["token_type"].lower() == "bearer", token)
expect(token["access_token"].startswith("lla_"), token)
expect(token["refresh_token"].startswith("llr_"), token)
expect(set(token["scope"].split()) == {"openid", "profile", "email"}, token)
report["authorization_code"] = True

# 2. The ID token, verified against the JWKS by the library.
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

keys = JsonWebKey.import_key_set(requests.get(JWKS).json())
claims = jwt.decode(
    token["id_token"],
    keys,
    claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "value": ISSUER}},
    claims_params={"nonce": nonce, "client_id": cfg["client_id"]},
)
claims.validate(leeway=5)
expect(claims["sub"] == cfg["user_id"], claims)
expect(claims["aud"] == cfg["client_id"], claims)
expect(claims["email"] == cfg["email"], claims)
expect(claims["nonce"] == nonce, claims)
header = json.loads(base64.urlsafe_b64decode(token["id_token"].split(".")[0] + "=="))
expect(header["alg"] == "RS256" and header.get("kid"), header)
report["id_token_verified"] = True
# A token altered by one character does not verify.
id_token = token["id_token"]
forged = id_token[:-2] + ("A" if id_token[-2] != "A" else "B") + id_token[-1]
try:
    jwt.decode(forged, keys, claims_cls=CodeIDToken)
    raise AssertionError("a forged ID token verified")
except Exception as error:  # authlib's BadSignatureError
    name = type(error).__name__.lower()
    expect("signature" in name or "signature" in str(error).lower(), repr(error))

# 3. Userinfo with the access token.
info = client.get(USERINFO).json()
expect(info["sub"] == cfg["user_id"], info)
expect(info["email"] == cfg["email"] and info["email_verified"] is False, info)
report["userinfo"] = True

# 4. Refresh: rotated; the old one once more within the grace; reused
# after it, the whole family is revoked.
old_refresh = token["refresh_token"]
fresh = client.refresh_token(TOKEN, refresh_token=old_refresh)
seen_tokens.extend([fresh["access_token"], fresh["refresh_token"]])
expect(fresh["refresh_token"] != old_refresh, "a new refresh token")
expect(fresh["access_token"] != token["access_token"], "a new access token")
expect(introspect(fresh["access_token"])["active"] is True, "the new one works")
report["refresh_rotated"] = True
again = client.refresh_token(TOKEN, refresh_token=old_refresh)
seen_tokens.append(again["refresh_token"])
expect(introspect(again["access_token"])["active"] is True, "the grace use works")
report["grace_once"] = True
time.sleep(cfg["grace_secs"] + 0.2)
late = requests.post(
    TOKEN,
    data={"grant_type": "refresh_token", "refresh_token": old_refresh},
    auth=(cfg["client_id"], cfg["client_secret"]),
)
expect(late.status_code == 400 and late.json()["error"] == "invalid_grant", late.text)
for t in [fresh["access_token"], fresh["refresh_token"], again["access_token"], again["refresh_token"]]:
    expect(introspect(t) == {"active": False}, f"family revoked: {t[:8]}")
report["reuse_revokes_family"] = True

# 5. Revocation (a refresh token with a wrong hint) and introspection.
client = confidential()
token, _, _ = sign_in(client)
active = client.introspect_token(INTROSPECT, token=token["access_token"]).json()
expect(active["active"] is True, active)
expect(active["client_id"] == cfg["client_id"] and active["sub"] == cfg["user_id"], active)
expect(active["token_type"] == "Bearer" and active["exp"] > active["iat"], active)
expect(active.get("organization_id"), active)
report["introspected"] = True
revoked = client.revoke_token(
    REVOKE, token=token["refresh_token"], token_type_hint="access_token"
)
expect(revoked.status_code == 200, revoked.text)
expect(introspect(token["access_token"]) == {"active": False}, "revoked family")
expect(introspect(token["refresh_token"]) == {"active": False}, "revoked")
unknown = client.revoke_token(REVOKE, token="llr_unknown")
expect(unknown.status_code == 200, unknown.text)
report["revoked"] = True

# 6. A public client: PKCE, no secret.
spa = OAuth2Session(
    cfg["public_client_id"],
    scope="openid email",
    redirect_uri=REDIRECT,
    code_challenge_method="S256",
    token_endpoint_auth_method="none",
)
spa_token, _, _ = sign_in(spa)
expect(spa.get(USERINFO).json()["email"] == cfg["email"], "public client's userinfo")
report["public_client"] = True

# 7. Refusals.
verifier = generate_token(64)
challenge = create_s256_code_challenge(verifier)


def authorize(**params):
    query = {
        "client_id": cfg["client_id"],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(params)
    query = {k: v for k, v in query.items() if v is not None}
    return browser.get(AUTHORIZE + "?" + urlencode(query), allow_redirects=False)


def refused_to_app(answer, error):
    expect(answer.status_code == 303, answer.status_code)
    location = answer.headers["Location"]
    expect(location.startswith(REDIRECT), location)
    query = parse_qs(urlparse(location).query)
    expect(query.get("error") == [error], query)
    expect(query.get("state") == ["xyz"], query)
    expect("code" not in query, query)


refused_to_app(authorize(code_challenge=verifier, code_challenge_method="plain"), "invalid_request")
report["refused_plain_pkce"] = True
refused_to_app(authorize(code_challenge=None, code_challenge_method=None), "invalid_request")
report["refused_missing_pkce"] = True
for wrong in [REDIRECT[:-1] + "K", REDIRECT + "/"]:
    answer = authorize(redirect_uri=wrong)
    expect(answer.status_code == 400, f"{wrong}: {answer.status_code}")
    expect("Location" not in answer.headers, f"{wrong}: not redirected")
report["refused_redirect_uri"] = True

client = confidential()
token, location, verifier = sign_in(client)
code = parse_qs(urlparse(location).query)["code"][0]
replay = requests.post(
    TOKEN,
    data={
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    },
    auth=(cfg["client_id"], cfg["client_secret"]),
)
expect(replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text)
expect(introspect(token["access_token"]) == {"active": False}, "the replayed code's tokens")
report["refused_replayed_code"] = True

wrong = OAuth2Session(
    cfg["client_id"],
    "llcs_wrong",
    redirect_uri=REDIRECT,
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_post",
)
answer = wrong.post(
    TOKEN,
    data={
        "grant_type": "refresh_token",
        "refresh_token": "llr_x",
        "client_id": cfg["client_id"],
        "client_secret": "llcs_wrong",
    },
    withhold_token=True,
)
expect(answer.status_code == 401 and answer.json()["error"] == "invalid_client", answer.text)
report["refused_wrong_secret"] = True

answer = requests.post(
    TOKEN,
    data={"grant_type": "client_credentials", "client_id": cfg["public_client_id"]},
)
expect(
    answer.status_code == 400 and answer.json()["error"] == "unauthorized_client",
    answer.text,
)
report["refused_public_client_credentials"] = True

report["seen_tokens"] = seen_tokens
print(json.dumps(report))
