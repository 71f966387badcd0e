"""MSAL Python's side of the interoperability test (tests/cache/msal_python.rs).

    python3 msal_cache.py sign-in  AUTHORITY CA_PEM CLIENT_ID CACHE
        Signs in with MSAL's device flow against the test authority and writes
        MSAL's serialized cache to CACHE.
    python3 msal_cache.py silent   AUTHORITY CA_PEM CLIENT_ID CACHE USERNAME [ACCESS_TOKEN]
        Reads CACHE (written by devicecode), checks that MSAL lists USERNAME,
        that acquire_token_silent returns ACCESS_TOKEN from the cache when one
        is given, then forces a refresh with the cached refresh token and
        writes the cache back.
    python3 msal_cache.py scopes   AUTHORITY CA_PEM CLIENT_ID CACHE USERNAME SCOPE=[ACCESS_TOKEN]...
        Reads CACHE and, for each scope in turn, calls acquire_token_silent:
        with an ACCESS_TOKEN it must be that token from the cache; without one
        MSAL gets a token however it does (a refresh for a scope set it has
        no token for). Writes the cache back; prints each scope's token and
        where it came from.

Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import json
import os
import sys

# requests lets these override the `verify` MSAL passes on (a known quirk).
for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(name, None)

import msal


def app(authority, ca_pem, client_id, cache):
    return msal.PublicClientApplication(
        client_id,
        authority=authority,
        token_cache=cache,
        verify=ca_pem,
        # A loopback authority is not a known Microsoft host.
        instance_discovery=False,
    )


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    sys.exit(1)


def sign_in(authority, ca_pem, client_id, path):
    cache = msal.SerializableTokenCache()
    client = app(authority, ca_pem, client_id, cache)
    flow = client.initiate_device_flow(scopes=["User.Read"])
    if "user_code" not in flow:
        fail(f"no device code: {flow}")
    result = client.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        fail(f"no token: {result.get('error')} {result.get('error_description')}")
    with open(path, "w") as out:
        out.write(cache.serialize())
    print(json.dumps({"ok": True, "username": result["id_token_claims"].get("preferred_username")}))


def silent(authority, ca_pem, client_id, path, username, access_token=None):
    cache = msal.SerializableTokenCache()
    with open(path) as src:
        cache.deserialize(src.read())
    client = app(authority, ca_pem, client_id, cache)
    accounts = client.get_accounts()
    names = [a.get("username") for a in accounts]
    if names != [username]:
        fail(f"accounts {names}, expected [{username}]")
    account = accounts[0]
    seen = {"ok": True, "accounts": names, "home_account_id": account["home_account_id"]}
    if access_token:
        hit = client.acquire_token_silent(["User.Read"], account=account)
        if not hit or hit.get("access_token") != access_token:
            fail(f"no cache hit on our access token: {hit and hit.get('token_source')}")
        seen["cache_hit"] = hit.get("token_source")
    refreshed = client.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    if not refreshed or "access_token" not in refreshed:
        fail(f"refresh with our refresh token failed: {refreshed}")
    seen["refreshed"] = refreshed.get("token_source")
    seen["refreshed_access_token"] = refreshed["access_token"]
    with open(path, "w") as out:
        out.write(cache.serialize())
    print(json.dumps(seen))


def scopes(authority, ca_pem, client_id, path, username, *wanted):
    cache = msal.SerializableTokenCache()
    with open(path) as src:
        cache.deserialize(src.read())
    client = app(authority, ca_pem, client_id, cache)
    accounts = [a for a in client.get_accounts() if a.get("username") == username]
    if len(accounts) != 1:
        fail(f"no single account {username}")
    seen = {"ok": True}
    for pair in wanted:
        scope, _, expected = pair.partition("=")
        result = client.acquire_token_silent([scope], account=accounts[0])
        if not result or "access_token" not in result:
            fail(f"no token for {scope}: {result}")
        if expected and (result["access_token"] != expected or result.get("token_source") != "cache"):
            fail(f"{scope}: not our cached token ({result.get('token_source')})")
        seen[scope] = {"access_token": result["access_token"], "source": result.get("token_source")}
    with open(path, "w") as out:
        out.write(cache.serialize())
    print(json.dumps(seen))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "sign-in":
        sign_in(*args)
    elif mode == "silent":
        silent(*args)
    elif mode == "scopes":
        scopes(*args)
    else:
        fail(f"unknown mode {mode}")
